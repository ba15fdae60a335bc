import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { listUserFactors } from '../../services/factor-list.js';
import { openSession } from '../session.js';
import { factorTable } from './render.js';

export async function run(inv: Invocation): Promise<void> {
  const userText = inv.args[0];
  const userid = userText === undefined ? undefined : parseUserId(userText).id;
  const session = await openSession(inv, userid === undefined ? undefined : { op: 'tfa.read', action: 'tfa.list', target: userid });
  inv.out.result(await listUserFactors(session, userid), factorTable);
}
