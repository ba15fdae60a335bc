import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { openSession, viewTime } from '../session.js';
import { showUser } from '../../services/users.js';
import { arg } from '../options.js';
import { userFields } from '../render.js';
import { sessionView, userView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0));
  const session = await openSession(inv, { op: 'user.read', action: 'user.show', target: userid.id });
  const { user, sessions } = await showUser(session, userid.id);
  inv.out.result({ ...userView(user, await viewTime(inv, session)), sessions: sessions.map(sessionView) }, userFields);
}
