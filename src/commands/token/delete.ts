import { parseTokenName } from '../../domain/api-token.js';
import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { deleteToken } from '../../services/tokens.js';
import { arg } from '../options.js';
import { openSession } from '../session.js';

/** `token delete USERID NAME`: revokes one token at once. */
export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const name = parseTokenName(arg(inv, 1));
  const session = await openSession(inv, { op: 'token.manage', action: 'token.delete', target: userid });
  await deleteToken(session, userid, name);
  inv.out.result({ tokenid: `${userid}!${name}`, deleted: true }, (r, style) => `${style.green('deleted')} API token ${r.tokenid}`);
}
