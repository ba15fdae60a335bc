import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { openSession } from '../../services/session.js';
import { setPassword } from '../../services/users.js';
import { arg, requireSecretInput } from '../options.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0));
  requireSecretInput(inv, `a new password for ${userid.id}`);
  const session = await openSession(inv);
  await setPassword(session, userid.id, () => session.secrets.read(`a new password for ${userid.id}`, { confirm: true }));
  inv.out.result({ userid: userid.id, password: 'changed' }, (r, style) => `${style.green('password changed')} for ${r.userid}`);
}
