import { formatTime } from '../../domain/dates.js';
import { describeTotpParams } from '../../domain/totp-params.js';
import type { ListView, Style } from '../../output.js';
import type { FactorRecord, UserFactors } from '../../services/factor-list.js';
import { describeLock } from '../render.js';
import { lockView, signInView, userFactorsView, type TotpEnrolmentView } from '../views.js';

/** How many characters of a factor id a table shows; any unique prefix is accepted as input. */
export const SHORT_ID = 8;

export function describeEnrolled(r: TotpEnrolmentView, style: Style): string {
  return `${style.green('added')} TOTP factor ${r.id} (${r.description}) for ${r.userid}${r.verified ? '' : ' ' + style.yellow('(not verified)')}`;
}

/** Said after a TOTP factor is enrolled for a user without recovery keys. */
export function recoveryHint(userid: string): string {
  return `next: keep a way in for when the phone is lost: 'tfactl tfa add recovery ${userid}' makes ten single-use recovery keys`;
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

/**
 * `tfa list`: a row a factor, and a row for a user without any; the user's first row says whether
 * they can sign in (locks, and what their realm enforces) and which command fixes it.
 */
export function factorList(now: number): ListView<UserFactors> {
  return {
    headers: ['USER', 'ID', 'TYPE', 'DESCRIPTION', 'ENABLED', 'CREATED', 'LAST USED', 'DETAIL', 'SIGN-IN'],
    empty: 'no users',
    json: (item) => userFactorsView(item, now),
    rows: ({ user, factors }) => {
      const signIn = signInView(user, now);
      const lock = describeLock(lockView(user, now));
      const state = signIn.possible ? (lock === 'no' ? 'ok' : `ok (locked: ${lock})`) : `NO: ${signIn.problem}; fix: ${signIn.fix}`;
      if (factors.length === 0) return [[user.userid, '-', '-', 'no second factors', '-', '-', '-', '-', state]];
      return factors.map((f, i) => [
        user.userid,
        f.id.slice(0, SHORT_ID),
        f.type,
        f.description,
        f.enabled ? 'yes' : 'no',
        formatTime(f.created),
        f.lastUsed === null ? 'never' : formatTime(f.lastUsed),
        factorDetail(f),
        i === 0 ? state : '',
      ]);
    },
  };
}
