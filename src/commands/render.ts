import { formatTime } from '../domain/dates.js';
import { describeTotpParams } from '../domain/totp-params.js';
import { fields, table, type Style } from '../output.js';
import type { AuditRecord, RealmRecord, RealmSummary, UserRecord } from '../store/types.js';

const yesNo = (b: boolean) => (b ? 'yes' : 'no');
const orDash = (s: string | null) => s ?? '-';


export function userFields(u: UserRecord, style: Style): string {
  return fields(
    [
      ['user', u.userid],
      ['realm', u.realm],
      ['admin', yesNo(u.admin)],
      ['state', u.enabled ? 'enabled' : 'disabled', u.enabled ? style.green : style.red],
      ['password', u.hasPassword ? 'set' : 'none'],
      ['email', orDash(u.email)],
      ['comment', orDash(u.comment)],
      ['expires', u.expire ?? 'never'],
      ['created', formatTime(u.created)],
      ['modified', formatTime(u.modified)],
    ],
    style,
  );
}

export function userTable(users: readonly UserRecord[], style: Style): string {
  if (users.length === 0) return 'no users';
  return table(
    ['USER', 'ADMIN', 'STATE', 'PASSWORD', 'EXPIRES', 'EMAIL', 'COMMENT'],
    users.map((u) => [
      u.userid,
      yesNo(u.admin),
      u.enabled ? 'enabled' : 'disabled',
      u.hasPassword ? 'set' : 'none',
      u.expire ?? 'never',
      orDash(u.email),
      orDash(u.comment),
    ]),
    style,
  );
}

export function enforcement(r: RealmRecord): string {
  if (r.enforce === 'totp' && r.totp) return `totp (${describeTotpParams(r.totp)})`;
  return r.enforce;
}

function yubicoValidation(r: RealmRecord): string {
  if (!r.yubico) return '-';
  return r.yubico.mode === 'offline' ? 'offline (keys\' AES secrets)' : `service: client ${r.yubico.apiId}, ${r.yubico.urls.join(', ')}`;
}

export function realmFields(r: RealmSummary, style: Style): string {
  return fields(
    [
      ['realm', r.name],
      ['built in', yesNo(r.builtin)],
      ['enforces', enforcement(r)],
      ['yubikeys', yubicoValidation(r)],
      ['users', String(r.userCount)],
      ['comment', orDash(r.comment)],
      ['created', formatTime(r.created)],
    ],
    style,
  );
}

export function realmTable(realms: readonly RealmSummary[], style: Style): string {
  return table(
    ['REALM', 'ENFORCES', 'USERS', 'COMMENT'],
    realms.map((r) => [r.name, enforcement(r), String(r.userCount), orDash(r.comment)]),
    style,
  );
}

export function auditTable(entries: readonly AuditRecord[], style: Style): string {
  if (entries.length === 0) return 'no audit entries';
  return table(
    ['TIME', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME', 'DETAIL'],
    entries.map((e) => [
      formatTime(e.ts),
      orDash(e.actor),
      e.action,
      orDash(e.target),
      e.outcome,
      e.detail ? JSON.stringify(e.detail) : '',
    ]),
    style,
  );
}
