import type { Invocation } from '../../invocation.js';
import { listRealms } from '../../services/realms.js';
import { openSession } from '../../services/session.js';
import { realmTable } from '../render.js';

export async function run(inv: Invocation): Promise<void> {
  const session = await openSession(inv);
  inv.out.result(await listRealms(session), realmTable);
}
