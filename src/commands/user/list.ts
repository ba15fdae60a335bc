import { parseRealmName } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { openSession, viewTime } from '../session.js';
import { listUsers } from '../../services/users.js';
import { boolOpt, stringOpt } from '../options.js';
import { userList } from '../render.js';

export async function run(inv: Invocation): Promise<void> {
  const realmText = stringOpt(inv, 'realm');
  const realm = realmText === undefined ? undefined : parseRealmName(realmText);
  const session = await openSession(inv);
  const users = await listUsers(session, realm === undefined ? {} : { realm });
  await inv.out.list(users, userList(await viewTime(inv, session)), { wide: boolOpt(inv, 'wide') });
}
