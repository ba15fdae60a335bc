import { AuthError, UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { splitPasswordAndCode } from '../../domain/typed-answer.js';
import { beginSecondFactor, beginSignIn, finishSignIn, secondFactorOffer, typedFactorsOf, type SignedIn } from '../../services/authenticate.js';
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
 * passes only with --nullok. With --password (sudo, the console: no other first factor), what PAM
 * passes is the user's tfactl password with the code typed right after it.
 */
export async function run(inv: Invocation): Promise<void> {
  const { userid, pam } = pamUser(inv);
  const nullok = boolOpt(inv, 'nullok') === true;
  const withPassword = boolOpt(inv, 'password') === true;
  const session = await openSession(inv, { op: 'auth.verify', action: 'pam', target: userid });
  const answer = (await inv.ctx.io.readLine(ANSWER_MAX_BYTES).catch(() => null))?.replace(/\0+$/, '').trim() ?? '';
  const base = authDeps(inv, session.store, () => session.secretKey(), userid);
  // Through a service, the entry also names the API token the check came with.
  const via = session.actor.token && { via: `${session.actor.userid}!${session.actor.token.name}` };
  const deps = { ...base, audit: (entry: Parameters<typeof base.audit>[0]) => base.audit({ ...entry, detail: { ...entry.detail, pam, ...via } }) };
  const context = { userid, action: 'pam' };
  // Who needs no second factor is known before anything is written (a challenge, an attempt).
  const offer = await secondFactorOffer(session.store, userid, session.now());
  if (offer === 'none' && !nullok) {
    await deps.audit({ action: 'pam', target: userid, outcome: 'failed', detail: { reason: 'no second factor (without --nullok)' } });
    throw new AuthError(`authentication failed: ${userid} has no second factor, and --nullok is not given`);
  }
  if (offer === 'none' && !withPassword) {
    await deps.audit({ action: 'pam', target: userid, outcome: 'ok', detail: { method: 'none', nullok: true } });
    inv.out.result({ userid, method: null, recoveryKeysLeft: null }, (r) => `${r.userid}: no second factor needed (--nullok)`);
    return;
  }
  if (answer === '') throw new UsageError('nothing on standard input: tfactl pam check reads what pam_exec expose_authtok passes', 'no_answer');
  let signedIn: SignedIn;
  if (withPassword) {
    // The password, and the code typed right after it: what ends it decides where the password stops.
    const split = offer === 'none' ? null : splitPasswordAndCode(answer, await typedFactorsOf(session.store, userid));
    const begun = await beginSignIn(deps, context, split?.password ?? answer);
    signedIn = 'signedIn' in begun ? begun.signedIn : await finishSignIn(deps, context, begun.challenge.id, { code: split?.code ?? '', kind: undefined });
  } else {
    const begun = await beginSecondFactor(deps, context);
    if ('none' in begun) throw new AuthError(`authentication failed: ${userid} changed while signing in: try again`);
    signedIn = await finishSignIn(deps, context, begun.challenge.id, { code: answer, kind: undefined });
  }
  for (const w of signedIn.warnings) inv.out.warn(w);
  const method = signedIn.method === 'password' ? null : signedIn.method;
  inv.out.result({ userid, method, recoveryKeysLeft: signedIn.recoveryLeft }, (r) => `${r.userid}: ${r.method === null ? 'password accepted (no second factor needed: --nullok)' : `second factor accepted (${r.method})`}`);
}
