import type { Invocation } from '../../invocation.js';
import { listRealms } from '../../services/realms.js';
import { openSession } from '../session.js';
import { boolOpt } from '../options.js';
import { realmList } from '../render.js';
import { realmView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const session = await openSession(inv, { op: 'realm.read', action: 'realm.list' });
  await inv.out.listOf((await listRealms(session)).map(realmView), realmList, { wide: boolOpt(inv, 'wide') });
}
