import { parseComment, parseEmail } from '../../domain/account.js';
import { parseDate } from '../../domain/dates.js';
import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { openSession } from '../../services/session.js';
import { addUser } from '../../services/users.js';
import { arg, boolOpt, requireSecretInput, stringOpt } from '../options.js';
import { userFields } from '../render.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0));
  const withPassword = boolOpt(inv, 'password') !== false;
  const email = parseEmail(stringOpt(inv, 'email') ?? '');
  const comment = parseComment(stringOpt(inv, 'comment') ?? '');
  const expireText = stringOpt(inv, 'expire');
  const expire = expireText === undefined ? null : parseDate(expireText, 'expiry date');
  if (withPassword) requireSecretInput(inv, `a password for ${userid.id}`, ', or --no-password to create the account without one');

  const session = await openSession(inv);
  const user = await addUser(session, {
    userid,
    password: withPassword ? () => session.secrets.read(`a new password for ${userid.id}`, { confirm: true }) : null,
    admin: boolOpt(inv, 'admin') === true,
    enabled: boolOpt(inv, 'disabled') !== true,
    email,
    comment,
    expire,
  });
  inv.out.result(user, (u, style) => `${style.green('added')} ${u.userid}\n${userFields(u, style)}`);
}
