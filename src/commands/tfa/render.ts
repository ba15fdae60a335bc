import { formatTime } from '../../domain/dates.js';
import { describeTotpParams } from '../../domain/totp-params.js';
import { table, type Style } from '../../output.js';
import type { UserFactors } from '../../services/factor-list.js';
import type { EnrolledTotp } from '../../services/factors.js';
import type { FactorRecord } from '../../store/types.js';

export function describeEnrolled(r: EnrolledTotp, style: Style): string {
  return [
    `${style.green('added')} TOTP factor ${r.id} (${r.description}) for ${r.userid}${r.verified ? '' : ' ' + style.yellow('(not verified)')}`,
  ].join('\n');
}

/** Said whenever a TOTP factor is stored without a code having confirmed it. */
export function unverifiedWarning(t: { readonly id: string; readonly userid: string }): string {
  return `TOTP factor ${t.id} of ${t.userid} is stored unverified (--no-verify): no code from it has been checked yet; the first sign-in with it does`;
}

function factorDetail(f: FactorRecord): string {
  if (f.type === 'totp' && f.totp) return describeTotpParams(f.totp) + (f.verified ? '' : ', not verified');
  if (f.type === 'recovery') return `${f.recoveryLeft ?? 0} keys left`;
  if (f.type === 'yubico') return `key ${f.publicId ?? '?'}`;
  return '';
}

export function factorTable(users: readonly UserFactors[], style: Style): string {
  const rows = users.flatMap((u) =>
    u.factors.map((f) => [
      u.userid,
      f.id,
      f.type,
      f.description,
      f.enabled ? 'yes' : 'no',
      formatTime(f.created),
      f.lastUsed === null ? 'never' : formatTime(f.lastUsed),
      factorDetail(f),
    ]),
  );
  const locks = users.flatMap((u) => [
    ...(u.lockedUntil !== null ? [style.red(`${u.userid}: every factor locked until ${formatTime(u.lockedUntil)} after ${u.failures} failures`)] : []),
    ...(u.totpLocked ? [style.red(`${u.userid}: TOTP locked after too many failures (a recovery key or 'tfactl tfa unlock' lifts it)`)] : []),
  ]);
  const body = rows.length === 0 ? 'no second factors' : table(['USER', 'ID', 'TYPE', 'DESCRIPTION', 'ENABLED', 'CREATED', 'LAST USED', 'DETAIL'], rows, style);
  return [body, ...locks].join('\n');
}
