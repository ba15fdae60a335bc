import { parseRealmName } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { deleteRealm } from '../../services/realms.js';
import { openSession } from '../session.js';
import { arg, boolOpt } from '../options.js';

export async function run(inv: Invocation): Promise<void> {
  const name = parseRealmName(arg(inv, 0));
  const session = await openSession(inv, { op: 'realm.manage', action: 'realm.delete', target: name });
  const { deletedUsers } = await deleteRealm(session, name, boolOpt(inv, 'force') === true);
  inv.out.result({ realm: name, deleted: true, deletedUsers }, (r, style) =>
    [`${style.green('deleted')} realm ${r.realm}`, ...(r.deletedUsers > 0 ? [`deleted ${r.deletedUsers} user(s) with it`] : [])].join('\n'),
  );
}
