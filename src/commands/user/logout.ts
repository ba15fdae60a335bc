import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { endUserSessions } from '../../services/sessions.js';
import { arg } from '../options.js';
import { openSession } from '../session.js';

/** `user logout USERID`: ends every session of a user, kept on any host (the user, or an admin). */
export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const session = await openSession(inv, { op: 'user.modify-self', action: 'user.logout', target: userid });
  const ended = await endUserSessions(session, userid);
  inv.out.result({ userid, ended }, (r, style) => `${style.green('ended')} ${r.ended} session${r.ended === 1 ? '' : 's'} of ${r.userid}`);
}
