import type { Invocation } from '../../invocation.js';
import { checkPamAnswer } from '../../services/pam.js';
import { UsageError } from '../../errors.js';
import { LineTooLongError } from '../../stdio.js';
import { boolOpt } from '../options.js';
import { PAM_ANSWER_MAX_BYTES } from '../../pam-argv.js';
import { authDeps, openSession } from '../session.js';
import { pamKeyAdvice, pamUser } from './pam-user.js';


/**
 * `tfactl pam check`, run by pam_exec.so with expose_authtok: the second factor PAM collected
 * (standard input, no line end) of PAM_USER mapped to a user id by --realm, checked as `login`
 * checks it (lockout, replay, audit, with PAM_SERVICE, PAM_RHOST and PAM_TTY in the entry). Exit 0
 * lets PAM go on; any other code refuses. A user whose realm and factors ask for no second factor
 * passes only with --nullok. With --password (sudo, the console: no other first factor), what PAM
 * passes is the user's tfactl password with the code typed right after it.
 */
export async function run(inv: Invocation): Promise<void> {
  try {
    await check(inv);
  } catch (e) {
    throw pamKeyAdvice(e);
  }
}

async function check(inv: Invocation): Promise<void> {
  const { userid, pam } = pamUser(inv);
  // The answer first (pam_exec wrote it before tfactl started): the store is not held while a
  // client of tfactl serve sends it (a client sends it with the command: remote/client.ts).
  // One longer than any code, key or password with a code is not taken for none: said as it is.
  const answer = (
    await inv.ctx.io.readLine(PAM_ANSWER_MAX_BYTES).catch((e: unknown) => {
      if (e instanceof LineTooLongError) throw new UsageError(`the answer on standard input is longer than ${PAM_ANSWER_MAX_BYTES} bytes: no code, key or password is`, 'answer_too_long');
      return null;
    })
  )?.replace(/\0+$/, '').trim() ?? '';
  const session = await openSession(inv, { op: 'auth.verify', action: 'pam', target: userid }, { trusted: true });
  const base = authDeps(inv, session.store, (tx) => session.secretKey(tx), userid);
  // Through a service, the entry also names the API token the check came with.
  const via = session.actor.token && { via: `${session.actor.userid}!${session.actor.token.name}` };
  const deps = { ...base, audit: (entry: Parameters<typeof base.audit>[0], tx?: Parameters<typeof base.audit>[1]) => base.audit({ ...entry, detail: { ...entry.detail, pam, ...via } }, tx) };
  const outcome = await checkPamAnswer(deps, userid, { answer, nullok: boolOpt(inv, 'nullok') === true, withPassword: boolOpt(inv, 'password') === true });
  for (const w of outcome.warnings) inv.out.warn(w);
  inv.out.result({ userid, method: outcome.method, recoveryKeysLeft: outcome.recoveryLeft }, (r) =>
    r.method !== null ? `${r.userid}: second factor accepted (${r.method})` : `${r.userid}: no second factor needed (--nullok)`,
  );
}
