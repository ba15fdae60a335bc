import type { Invocation } from '../../invocation.js';
import { listRealms } from '../../services/realms.js';
import { openSession } from '../session.js';
import { realmTable } from '../render.js';
import { realmView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const session = await openSession(inv, { op: 'realm.read', action: 'realm.list' });
  inv.out.result((await listRealms(session)).map(realmView), realmTable);
}
