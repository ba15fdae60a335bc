import { parseRealmName, parseUserId } from '../../domain/userid.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { listUserFactors } from '../../services/factor-list.js';
import { openSession, viewTime } from '../session.js';
import { boolOpt, stringOpt } from '../options.js';
import { factorList } from './render.js';

export async function run(inv: Invocation): Promise<void> {
  const userText = inv.args[0];
  const userid = userText === undefined ? undefined : parseUserId(userText).id;
  const realmText = stringOpt(inv, 'realm');
  const realm = realmText === undefined ? undefined : parseRealmName(realmText);
  if (userid !== undefined && realm !== undefined) throw new UsageError('give a user id or --realm, not both', 'conflicting_options');
  const session = await openSession(inv, userid === undefined ? undefined : { op: 'tfa.read', action: 'tfa.list', target: userid });
  await inv.out.list(await listUserFactors(session, { userid, realm }), factorList(await viewTime(inv, session)), { wide: boolOpt(inv, 'wide') });
}
