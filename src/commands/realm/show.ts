import { parseRealmName } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { showRealm } from '../../services/realms.js';
import { openSession } from '../session.js';
import { arg } from '../options.js';
import { realmFields } from '../render.js';
import { realmView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const name = parseRealmName(arg(inv, 0));
  const session = await openSession(inv, { op: 'realm.read', action: 'realm.show', target: name });
  inv.out.result(realmView(await showRealm(session, name)), realmFields);
}
