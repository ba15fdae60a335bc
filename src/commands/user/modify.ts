import { parseComment, parseEmail } from '../../domain/account.js';
import { parseDate } from '../../domain/dates.js';
import { parseUserId } from '../../domain/userid.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { openSession, viewTime } from '../session.js';
import { modifyOperation, modifyUser, type UserPatch } from '../../services/users.js';
import { arg, boolOpt, stringOpt } from '../options.js';
import { userFields } from '../render.js';
import { userView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0));
  const email = stringOpt(inv, 'email');
  const comment = stringOpt(inv, 'comment');
  const expire = stringOpt(inv, 'expire');
  const admin = boolOpt(inv, 'admin');
  const enabled = boolOpt(inv, 'enable') ? true : boolOpt(inv, 'disabled') ? false : undefined;
  const patch: UserPatch = {
    ...(admin !== undefined && { admin }),
    ...(enabled !== undefined && { enabled }),
    ...(email !== undefined && { email: parseEmail(email) }),
    ...(comment !== undefined && { comment: parseComment(comment) }),
    ...(expire !== undefined && { expire: expire === 'never' ? null : parseDate(expire, 'expiry date') }),
  };
  if (Object.keys(patch).length === 0) {
    throw new UsageError('nothing to change: give at least one of --admin, --no-admin, --email, --comment, --expire, --disabled, --enable');
  }
  const session = await openSession(inv, { op: modifyOperation(patch), action: 'user.modify', target: userid.id });
  const { user, changed } = await modifyUser(session, userid.id, patch);
  inv.out.result(userView(user, await viewTime(inv, session)), (u, style) =>
    changed.length === 0 ? `${u.userid} had that already: nothing changed\n${userFields(u, style)}` : `${style.green('modified')} ${u.userid}\n${userFields(u, style)}`,
  );
}
