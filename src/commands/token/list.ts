import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { listTokens } from '../../services/tokens.js';
import { openSession } from '../session.js';
import { boolOpt } from '../options.js';
import { tokenList } from '../render.js';
import { tokenView } from '../views.js';

/** `token list [USERID]`: the tokens of a user, or every token an admin may see; never a secret. */
export async function run(inv: Invocation): Promise<void> {
  const given = inv.args[0];
  const userid = given === undefined ? undefined : parseUserId(given).id;
  // Without a user id it lists what the actor may see (their own, or everyone's): decided by the service.
  const session = await openSession(inv, userid === undefined ? undefined : { op: 'token.read', action: 'token.list', target: userid });
  await inv.out.listOf((await listTokens(session, userid)).map(tokenView), tokenList, { wide: boolOpt(inv, 'wide') });
}
