import type { Invocation } from '../../invocation.js';
import { exportUsers } from '../../services/export.js';
import { openSession } from '../session.js';

export async function run(inv: Invocation): Promise<void> {
  const session = await openSession(inv, { op: 'store.manage', action: 'export.users' });
  inv.out.result(await exportUsers(session), (r) => JSON.stringify(r, null, 2));
}
