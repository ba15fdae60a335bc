import { formatTime } from '../domain/dates.js';
import { tfactlLine } from '../domain/command-line.js';
import type { EnabledFactors } from '../domain/sign-in.js';
import { describeTotpParams } from '../domain/totp-params.js';
import { fields, type ListView, type Style } from '../output.js';
import type { AuditRecord } from '../services/audit.js';
import type { UserOverview } from '../services/factor-list.js';
import { auditView, type SessionView, userView, type LockView, type RealmView, type TokenView, type UserView, type ViewTime } from './views.js';

const yesNo = (b: boolean) => (b ? 'yes' : 'no');
const orDash = (s: string | null) => s ?? '-';
/** An ISO time from a view, as people read it: `2026-11-27 20:52:17Z`. */
const human = (iso: string) => iso.replace('T', ' ');

/** `totp, recovery (9 left)`: the enabled factors, or `none`. */
export function describeFactors(f: EnabledFactors): string {
  const parts: string[] = [];
  const kind = (name: string, n: number) => {
    if (n > 0) parts.push(n === 1 ? name : `${name} x${n}`);
  };
  kind('totp', f.totp);
  kind('yubikey', f.yubico);
  kind('webauthn', f.webauthn);
  kind('u2f', f.u2f);
  if (f.recoveryKeysLeft !== null) parts.push(`recovery (${f.recoveryKeysLeft} left)`);
  return parts.length ? parts.join(', ') : 'none';
}

/** `TOTP, all factors until ..., password until ...`, or `no`. */
export function describeLock(l: LockView): string {
  const parts = [
    ...(l.totp ? ['TOTP'] : []),
    ...(l.secondFactorsUntil ? [`all factors until ${human(l.secondFactorsUntil)}`] : []),
    ...(l.passwordUntil ? [`password until ${human(l.passwordUntil)}`] : []),
  ];
  return parts.length ? parts.join(', ') : 'no';
}

/**
 * The failures the locks and the password ban count: `none`, or `2 wrong second factors in a row,
 * 1 wrong TOTP code in a row, 3 failed password sign-ins since 2026-12-01 20:14:02Z`. The counts are
 * apart: a YubiKey that works ends the first, not the second. Failed password sign-ins are wrong
 * passwords and right ones that signed nothing in (no second factor given, the account disabled).
 */
export function describeFailures(l: LockView): string {
  const plural = (n: number, what: string) => `${n} wrong ${what}${n === 1 ? '' : 's'}`;
  const count = (n: number, what: string) => (n > 0 ? [`${plural(n, what)} in a row`] : []);
  const parts = [
    ...count(l.secondFactorFailures, 'second factor'),
    ...count(l.totpFailures, 'TOTP code'),
    ...(l.passwordFailures > 0 && l.passwordFailuresSince !== null
      ? [`${l.passwordFailures} failed password sign-in${l.passwordFailures === 1 ? '' : 's'} since ${human(l.passwordFailuresSince)}`]
      : []),
  ];
  return parts.length ? parts.join(', ') : 'none';
}

export function userFields(u: UserView, style: Style): string {
  return fields(
    [
      ['user', u.userid],
      ['realm', u.realm],
      ['admin', yesNo(u.admin)],
      ['state', u.enabled ? 'enabled' : 'disabled', u.enabled ? style.green : style.red],
      ['password', u.password ? 'set' : 'none'],
      ['factors', describeFactors(u.factors)],
      ['locked', describeLock(u.lock), u.lock.totp || u.lock.secondFactorsUntil || u.lock.passwordUntil ? style.red : undefined],
      ['failures', describeFailures(u.lock)],
      ['sign-in', u.signIn.possible ? 'possible' : `not possible: ${u.signIn.problem} (fix: ${u.signIn.fix})`, u.signIn.possible ? undefined : style.red],
      ...(u.sessions === undefined ? [] : [['sessions', describeSessions(u.userid, u.sessions)] as const]),
      ['email', orDash(u.email)],
      ['comment', orDash(u.comment)],
      ['expires', u.expire ?? 'never'],
      ['created', human(u.created)],
      ['modified', human(u.modified)],
    ],
    style,
  );
}

/** Kept sessions (login --session) that still hold: how many, until when, and what ends them. */
function describeSessions(userid: string, sessions: readonly SessionView[]): string {
  if (sessions.length === 0) return 'none';
  const last = sessions.reduce((a, b) => (b.expires > a.expires ? b : a));
  return `${sessions.length} kept, the last until ${human(last.expires)} (${tfactlLine('user logout', [userid])} ends them)`;
}

/** `user list`: one row a user, with factors and locks at a glance. */
export function userList(at: ViewTime): ListView<UserOverview> {
  return {
    headers: ['USER', 'ADMIN', 'STATE', 'PASSWORD', 'FACTORS', 'LOCKED', 'EXPIRES', 'EMAIL', 'COMMENT'],
    empty: 'no users',
    fit: { narrow: ['FACTORS', 'LOCKED', 'EMAIL', 'COMMENT'], drop: ['COMMENT', 'EMAIL', 'EXPIRES', 'PASSWORD', 'ADMIN'], names: ['USER'] },
    json: (u) => userView(u, at),
    rows: (overview) => {
      const u = userView(overview, at);
      return [
        [
          u.userid,
          yesNo(u.admin),
          u.enabled ? (u.signIn.possible ? 'enabled' : 'cannot sign in') : 'disabled',
          u.password ? 'set' : 'none',
          describeFactors(u.factors),
          describeLock(u.lock),
          u.expire ?? 'never',
          orDash(u.email),
          orDash(u.comment),
        ],
      ];
    },
  };
}

function enforcement(r: RealmView): string {
  if (r.enforce === 'totp' && r.totp) return `totp (${describeTotpParams(r.totp)})`;
  return r.enforce;
}

function yubicoValidation(r: RealmView): string {
  if (!r.yubico) return '-';
  return r.yubico.mode === 'offline' ? 'offline (keys\' AES secrets)' : `service: client ${r.yubico.apiId}, ${r.yubico.urls.join(', ')}`;
}

export function realmFields(r: RealmView, style: Style): string {
  return fields(
    [
      ['realm', r.name],
      ['built in', yesNo(r.builtin)],
      ['enforces', enforcement(r)],
      ['yubikeys', yubicoValidation(r)],
      ['users', String(r.users)],
      ['comment', orDash(r.comment)],
      ['created', human(r.created)],
    ],
    style,
  );
}

/** `realm list`. */
export const realmList: ListView<RealmView> = {
  headers: ['REALM', 'ENFORCES', 'USERS', 'COMMENT'],
  empty: 'no realms',
  json: (r) => r,
  rows: (r) => [[r.name, enforcement(r), String(r.users), orDash(r.comment)]],
  fit: { narrow: ['ENFORCES', 'COMMENT'] },
};

/** `token list`. */
export const tokenList: ListView<TokenView> = {
  headers: ['TOKEN', 'PRIVILEGES', 'EXPIRES', 'LAST USED', 'COMMENT'],
  empty: 'no API tokens',
  json: (t) => t,
  rows: (t) => [[t.tokenid, t.privileges, t.expires ?? 'never', t.lastUsed === null ? 'never' : human(t.lastUsed), orDash(t.comment)]],
  fit: { narrow: ['COMMENT'], drop: ['LAST USED'], names: ['TOKEN'] },
};

/**
 * An audit entry's detail as people read it, `reason=no second factor given, passwordFailures=1`
 * (what a cut column still shows something of; --json has it as it is).
 */
export function detailText(detail: Readonly<Record<string, unknown>>): string {
  return Object.entries(detail)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}

export const auditList: ListView<AuditRecord> = {
  headers: ['TIME', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME', 'DETAIL'],
  empty: 'no audit entries',
  json: auditView,
  rows: (e) => [[formatTime(e.ts), orDash(e.actor), e.action, orDash(e.target), e.outcome, e.detail ? detailText(e.detail) : '']],
  fit: { narrow: ['DETAIL'], names: ['ACTOR', 'TARGET'] },
};
