import { parseComment } from '../../domain/account.js';
import { parseRealmName } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { addRealm } from '../../services/realms.js';
import { openSession } from '../session.js';
import { arg, stringOpt } from '../options.js';
import { realmFields } from '../render.js';
import { realmView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const name = parseRealmName(arg(inv, 0));
  const comment = parseComment(stringOpt(inv, 'comment') ?? '');
  const session = await openSession(inv, { op: 'realm.manage', action: 'realm.add', target: name }, { creates: true });
  const realm = await addRealm(session, name, comment);
  inv.out.result(realmView(realm), (r, style) => `${style.green('added')} realm ${r.name}\n${realmFields(r, style)}`);
}
