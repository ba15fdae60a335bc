import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { openSession } from '../session.js';
import { deleteUser } from '../../services/users.js';
import { confirmDeletion } from '../confirm.js';
import { arg } from '../options.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0));
  const what = `this deletes ${userid.id} and every factor of theirs`;
  const confirmed = await confirmDeletion(inv, what, `Delete ${userid.id} and every factor of theirs?`);
  const session = await openSession(inv, { op: 'user.delete', action: 'user.delete', target: userid.id });
  await deleteUser(session, userid.id, confirmed);
  inv.out.result({ userid: userid.id, deleted: true }, (r, style) => `${style.green('deleted')} ${r.userid}`);
}
