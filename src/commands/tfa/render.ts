import { shellWord, tfactlLine } from '../../domain/command-line.js';
import { describeTotpParams } from '../../domain/totp-params.js';
import type { ListView, Style } from '../../output.js';
import type { UserFactors } from '../../services/factor-list.js';
import { describeLock } from '../render.js';
import { userFactorsView, type FactorView, type TotpEnrolmentView, type ViewTime } from '../views.js';

/** How many characters of a factor id a table shows; any unique prefix is accepted as input. */
export const SHORT_ID = 8;

/** A factor's type as its messages name it. */
export const FACTOR_NAMES: Readonly<Record<string, string>> = { totp: 'TOTP factor', yubico: 'YubiKey', recovery: 'recovery key set', webauthn: 'WebAuthn key', u2f: 'U2F key' };
/** `totp` as people read it: `TOTP factor`. */
export const factorName = (type: string): string => FACTOR_NAMES[type] ?? `${type} factor`;

export function describeEnrolled(r: TotpEnrolmentView, style: Style): string {
  return `${style.green('added')} TOTP factor ${r.id} (${r.description}) for ${r.userid}${r.verified ? '' : ' ' + style.yellow('(not verified)')}`;
}

/**
 * Said after a TOTP factor is enrolled for a user without recovery keys. `actingAs`: the user the
 * command acted as by signing in (--as), whom the line must name too; never a token's.
 */
export function recoveryHint(userid: string, actingAs?: string): string {
  return `next: keep a way in for when the phone is lost: '${tfactlLine('tfa add recovery', [userid], actingAs === undefined ? '' : `--as ${shellWord(actingAs)}`)}' makes ten single-use recovery keys`;
}

/** Whom a suggested command line must name with --as: the actor, when they signed in as themselves (not the store's owner, not a token). */
export function actingAs(actor: { readonly userid: string; readonly viaOwnership: boolean; readonly token?: unknown }): string | undefined {
  return actor.viaOwnership || actor.token ? undefined : actor.userid;
}

/** Said whenever a TOTP factor is stored without a code having confirmed it. */
export function unverifiedWarning(t: { readonly id: string; readonly userid: string }): string {
  return `TOTP factor ${t.id} of ${t.userid} is unverified (--no-verify): no code from it has been checked; the first sign-in with it does`;
}

function factorDetail(f: FactorView): string {
  // First, so a column cut to fit a terminal still shows it.
  if (f.type === 'totp' && f.totp) return (f.verified ? '' : 'not verified, ') + describeTotpParams(f.totp);
  if (f.type === 'recovery') return `${f.recoveryKeysLeft ?? 0} keys left`;
  if (f.type === 'yubico') return `key ${f.publicId ?? '?'}`;
  if (f.credential) {
    if (f.credential.id === null) return 'unreadable registration: cannot sign in';
    const rp = f.credential.rpId ?? (f.type === 'u2f' ? 'the u2f.appid setting' : 'the webauthn.rp-id setting');
    return f.type === 'u2f' ? `appid ${rp}` : `RP id ${rp}`;
  }
  return '';
}

/** An ISO time from a view, as people read it: `2026-11-27 20:52:17Z`. */
const human = (iso: string) => iso.replace('T', ' ');

/**
 * `tfa list`: a row a factor, and a row for a user without any; the user's first row says whether
 * they can sign in (locks, and what their realm enforces) and which command fixes it.
 */
export function factorList(at: ViewTime): ListView<UserFactors> {
  return {
    headers: ['USER', 'ID', 'TYPE', 'DESCRIPTION', 'ENABLED', 'CREATED', 'LAST USED', 'DETAIL', 'SIGN-IN'],
    empty: 'no users',
    // Whether and how a user can sign in says what to run: wrapped, never cut.
    fit: { narrow: ['DESCRIPTION', 'DETAIL', 'SIGN-IN'], wrapLast: true, drop: ['CREATED', 'LAST USED'], names: ['USER'] },
    json: (item) => userFactorsView(item, at),
    rows: (item) => {
      const u = userFactorsView(item, at);
      const lock = describeLock(u.lock);
      const state = u.signIn.possible ? (lock === 'no' ? 'ok' : `ok (locked: ${lock})`) : `NO: ${u.signIn.problem}; fix: ${u.signIn.fix}`;
      if (u.factors.length === 0) return [[u.userid, '-', '-', 'no second factors', '-', '-', '-', '-', state]];
      return u.factors.map((f, i) => [
        u.userid,
        f.id.slice(0, SHORT_ID),
        f.type,
        f.description,
        f.enabled ? 'yes' : 'no',
        human(f.created),
        f.lastUsed === null ? 'never' : human(f.lastUsed),
        factorDetail(f),
        i === 0 ? state : '',
      ]);
    },
  };
}

const KEYS_ADVICE = 'Each key works once. Print them and lock them away, or keep them in a password vault: they are shown only now.';

/** What a file of recovery keys (--output, --recovery-output) holds. */
export function recoveryKeysFileText(userid: string, keys: readonly string[]): string {
  return `Recovery keys for ${userid}\nEach key works once. Print them and lock them away, or keep them in a password vault, then delete this file: tfactl keeps only their hashes.\n\n${keys.join('\n')}\n`;
}

/**
 * Recovery keys as a person reads them, after `done` (what was made): numbered, with what to do
 * with them; or, written to `output`, where they are and not the keys (a file was asked for so that
 * they are not in a terminal's scrollback or a CI job's log; --json still holds them).
 */
export function recoveryKeysText(done: string, keys: readonly string[], output: string | null): string {
  if (output !== null) return `${done}: the ${keys.length} keys are in ${output} (mode 0600), not shown here. Each works once: print them and lock them away, or keep them in a password vault, then delete the file.`;
  return [`${done}:`, '', ...keys.map((k, i) => `  ${String(i + 1).padStart(2)}. ${k}`), '', KEYS_ADVICE].join('\n');
}
