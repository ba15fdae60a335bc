import { parseRealmName } from '../../domain/userid.js';
import { countOf } from '../../domain/text.js';
import type { Invocation } from '../../invocation.js';
import { deleteRealm } from '../../services/realms.js';
import { openSession } from '../session.js';
import { confirmDeletion } from '../confirm.js';
import { arg, boolOpt } from '../options.js';

export async function run(inv: Invocation): Promise<void> {
  const name = parseRealmName(arg(inv, 0));
  const force = boolOpt(inv, 'force') === true;
  const what = `this deletes realm ${name}${force ? ' and every user in it' : ''}`;
  const confirmed = await confirmDeletion(inv, what, `Delete realm ${name}${force ? ' and every user in it' : ''}?`);
  const session = await openSession(inv, { op: 'realm.manage', action: 'realm.delete', target: name });
  const { deletedUsers } = await deleteRealm(session, name, force, confirmed);
  inv.out.result({ realm: name, deleted: true, deletedUsers }, (r, style) =>
    [`${style.green('deleted')} realm ${r.realm}`, ...(r.deletedUsers > 0 ? [`deleted ${countOf(r.deletedUsers, 'user')} with it`] : [])].join('\n'),
  );
}
