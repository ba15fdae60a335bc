import type { CodeKind, SecondFactorOffer } from '../domain/second-factor.js';
import { splitPasswordAndCode } from '../domain/typed-answer.js';
import { AuthError, UsageError } from '../errors.js';
import { beginSecondFactor, beginSignIn, findKeyChallenge, finishSignIn, lockStateNow, secondFactorOffer, typedFactorsOf, type SignedIn, type SignInChallenge } from './authenticate.js';
import type { AuthDeps } from './kinds/kind.js';

export interface PamAnswer {
  /** What PAM passed: a second factor, or with `withPassword` the password and a code typed as one. */
  readonly answer: string;
  /** Let a user pass whose realm and factors ask for no second factor. */
  readonly nullok: boolean;
  /** No other first factor checked this user (sudo, the console): the tfactl password comes first. */
  readonly withPassword: boolean;
}

export interface PamOutcome {
  /** How the user passed; null when no second factor was needed (--nullok). */
  readonly method: CodeKind | null;
  readonly recoveryLeft: number | null;
  readonly warnings: readonly string[];
}

/**
 * Checks what PAM passed for `userid` as `login` checks it: lockout, replay and audit are
 * login's, under the action `pam`. Whether a user needs no second factor is known before anything
 * is written (a challenge, an attempt). Failures are audited and throw AuthError (exit 5); an empty
 * answer from a user who needs one is a UsageError. Preconditions: the caller has checked that
 * its actor may have `userid` checked (auth.verify), and `deps.audit` adds the PAM items.
 */
export async function checkPamAnswer(deps: AuthDeps, userid: string, input: PamAnswer): Promise<PamOutcome> {
  const context = { userid, action: 'pam' };
  const offer = await secondFactorOffer(deps.store, userid, deps.now());
  if (offer === 'none' && !input.nullok) {
    await deps.audit({ action: 'pam', target: userid, outcome: 'failed', detail: { reason: 'no second factor (without --nullok)' } });
    throw new AuthError(`authentication failed: ${userid} has no second factor, and --nullok is not given`);
  }
  if (offer === 'none' && !input.withPassword) {
    await deps.audit({ action: 'pam', target: userid, outcome: 'ok', detail: { method: 'none', nullok: true } });
    return { method: null, recoveryLeft: null, warnings: [] };
  }
  if (input.answer === '') {
    // The user pressed Enter (or the line was run by hand without one): a sign-in refused, as any
    // other, but no guess to count toward a lockout.
    await deps.audit({ action: 'pam', target: userid, outcome: 'failed', detail: { reason: 'no answer' } });
    throw new UsageError('nothing on standard input: tfactl pam check reads what pam_exec expose_authtok passes', 'no_answer');
  }
  let signedIn: SignedIn;
  if (input.withPassword) {
    // The password, and the code typed right after it: what ends it decides where the password stops.
    const split = offer === 'none' ? null : splitPasswordAndCode(input.answer, await typedFactorsOf(deps.store, userid));
    const begun = await beginSignIn(deps, context, split?.password ?? input.answer);
    signedIn = 'signedIn' in begun ? begun.signedIn : await finishSignIn(deps, context, begun.challenge.id, { code: split?.code ?? '', kind: undefined });
  } else {
    // A security key's answer to the challenge `pam prompt` issued names that challenge itself.
    const issued = await findKeyChallenge(deps.store, userid, 'pam', input.answer, deps.now());
    if (issued !== null) {
      const signed = await finishSignIn(deps, { ...context, channel: 'pam' }, issued, { code: input.answer, kind: undefined });
      return { method: signed.method === 'password' ? null : signed.method, recoveryLeft: signed.recoveryLeft, warnings: signed.warnings };
    }
    const begun = await beginSecondFactor(deps, context);
    if ('none' in begun) throw new AuthError(`authentication failed: ${userid} changed while signing in: try again`);
    signedIn = await finishSignIn(deps, context, begun.challenge.id, { code: input.answer, kind: undefined });
  }
  return { method: signedIn.method === 'password' ? null : signedIn.method, recoveryLeft: signedIn.recoveryLeft, warnings: signedIn.warnings };
}

export interface PamPrompt {
  /** What the user may answer with: null for someone who cannot sign in; 'none' when nothing is asked. */
  readonly offer: SecondFactorOffer | 'none' | null;
  /** The challenge a security key signs through fido2-assert (its lines in `fido2`); null without one. */
  readonly keys: SignInChallenge | null;
}

/**
 * What `pam prompt` tells the user before PAM reads the answer. For a security key it issues the
 * challenge the key is to sign (through fido2-assert, whose lines the prompt shows), on the `pam`
 * channel: `pam check`, another process, finds it by the answer (findKeyChallenge). Only for a user
 * who may answer now (known, enabled, not locked): for anyone else nothing is written or audited.
 */
export async function pamPrompt(deps: AuthDeps, userid: string): Promise<PamPrompt> {
  const offer = await secondFactorOffer(deps.store, userid, deps.now());
  if (offer === null || offer === 'none' || !offer.kinds.some((k) => k === 'webauthn' || k === 'u2f')) return { offer, keys: null };
  const lock = await lockStateNow(deps.store, userid, deps.now());
  if (lock && lock.lockedUntil > deps.now()) return { offer, keys: null };
  const begun = await beginSecondFactor(deps, { userid, action: 'pam', channel: 'pam' });
  return { offer, keys: 'challenge' in begun && begun.challenge.fido2.length > 0 ? begun.challenge : null };
}
