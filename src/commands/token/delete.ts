import { parseTokenName } from '../../domain/api-token.js';
import { parseUserId } from '../../domain/userid.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { deleteToken } from '../../services/tokens.js';
import { arg } from '../options.js';
import { openSession } from '../session.js';

/** `token delete USERID NAME` (or `USERID!NAME`, the form token list shows): revokes one token at once. */
export async function run(inv: Invocation): Promise<void> {
  const given = arg(inv, 0);
  const bang = given.lastIndexOf('!');
  if (inv.args[1] === undefined && bang < 0) throw new UsageError("missing the token's name: tfactl token delete USERID NAME (or USERID!NAME, as token list shows it)");
  // Split only when the name is not given: a user name may hold a ! itself (a token's never does).
  const split = inv.args[1] === undefined;
  const userid = parseUserId(split ? given.slice(0, bang) : given).id;
  const name = parseTokenName(split ? given.slice(bang + 1) : arg(inv, 1));
  const session = await openSession(inv, { op: 'token.manage', action: 'token.delete', target: userid });
  await deleteToken(session, userid, name);
  inv.out.result({ tokenid: `${userid}!${name}`, deleted: true }, (r, style) => `${style.green('deleted')} API token ${r.tokenid}`);
}
