import { AuthError, UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { beginSecondFactor, finishSignIn, secondFactorOffer } from '../../services/authenticate.js';
import { boolOpt } from '../options.js';
import { authDeps, openSession } from '../session.js';
import { pamUser } from './pam-user.js';

/** The longest answer read: a browser's or fido2-assert's answer fits many times over. */
const ANSWER_MAX_BYTES = 16 * 1024;

/**
 * `tfactl pam check`, run by pam_exec.so with expose_authtok: the second factor PAM collected
 * (standard input, no line end) of PAM_USER mapped to a user id by --realm, checked as `login`
 * checks it (lockout, replay, audit, with PAM_SERVICE, PAM_RHOST and PAM_TTY in the entry). Exit 0
 * lets PAM go on; any other code refuses. A user whose realm and factors ask for no second factor
 * passes only with --nullok.
 */
export async function run(inv: Invocation): Promise<void> {
  const { userid, pam } = pamUser(inv);
  const nullok = boolOpt(inv, 'nullok') === true;
  const session = await openSession(inv, { op: 'auth.verify', action: 'pam', target: userid });
  const answer = (await inv.ctx.io.readLine(ANSWER_MAX_BYTES).catch(() => null))?.replace(/\0+$/, '').trim() ?? '';
  const base = authDeps(inv, session.store, () => session.secretKey(), userid);
  const deps = { ...base, audit: (entry: Parameters<typeof base.audit>[0]) => base.audit({ ...entry, detail: { ...entry.detail, pam } }) };
  const context = { userid, action: 'pam' };
  // Who needs no second factor is known before anything is written (a challenge, an attempt).
  const offer = await secondFactorOffer(session.store, userid, session.now());
  if (offer === 'none') {
    if (!nullok) {
      await deps.audit({ action: 'pam', target: userid, outcome: 'failed', detail: { reason: 'no second factor (without --nullok)' } });
      throw new AuthError(`authentication failed: ${userid} has no second factor, and --nullok is not given`);
    }
    await deps.audit({ action: 'pam', target: userid, outcome: 'ok', detail: { method: 'none', nullok: true } });
    inv.out.result({ userid, method: null, recoveryKeysLeft: null }, (r) => `${r.userid}: no second factor needed (--nullok)`);
    return;
  }
  if (answer === '') throw new UsageError('no second factor on standard input: tfactl pam check reads what pam_exec expose_authtok passes', 'no_answer');
  const begun = await beginSecondFactor(deps, context);
  if ('none' in begun) throw new AuthError(`authentication failed: ${userid} changed while signing in: try again`);
  const signedIn = await finishSignIn(deps, context, begun.challenge.id, { code: answer, kind: undefined });
  for (const w of signedIn.warnings) inv.out.warn(w);
  inv.out.result({ userid, method: signedIn.method, recoveryKeysLeft: signedIn.recoveryLeft }, (r) => `${r.userid}: second factor accepted (${r.method})`);
}
