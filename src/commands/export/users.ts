import type { Invocation } from '../../invocation.js';
import { exportUsers } from '../../services/export.js';
import { openSession } from '../../services/session.js';

export async function run(inv: Invocation): Promise<void> {
  const session = await openSession(inv);
  inv.out.result(await exportUsers(session), (r) => JSON.stringify(r, null, 2));
}
