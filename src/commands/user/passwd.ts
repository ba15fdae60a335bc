import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { newPasswordInput } from '../credentials.js';
import { openSession } from '../session.js';
import { setPassword } from '../../services/users.js';
import { arg, requireSecretInput } from '../options.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0));
  requireSecretInput(inv, `a new password for ${userid.id}`);
  const password = newPasswordInput(inv, `a new password for ${userid.id}`);
  const session = await openSession(inv, { op: 'user.passwd', action: 'user.passwd', target: userid.id, precheck: (store) => password.precheck(store) });
  await setPassword(session, userid.id, password.read);
  inv.out.result({ userid: userid.id, password: 'changed' }, (r, style) => `${style.green('password changed')} for ${r.userid}`);
}
