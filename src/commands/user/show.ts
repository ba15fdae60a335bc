import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { openSession, viewTime } from '../session.js';
import { showUser } from '../../services/users.js';
import { arg } from '../options.js';
import { userFields } from '../render.js';
import { userView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0));
  const session = await openSession(inv, { op: 'user.read', action: 'user.show', target: userid.id });
  inv.out.result(userView(await showUser(session, userid.id), await viewTime(inv, session)), userFields);
}
