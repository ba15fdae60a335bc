import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { unlockUser } from '../../services/factors.js';
import { openSession, viewTime } from '../session.js';
import { arg } from '../options.js';
import { lockView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const session = await openSession(inv, { op: 'tfa.unlock', action: 'tfa.unlock', target: userid });
  const before = lockView(await unlockUser(session, userid), await viewTime(inv, session));
  const wasLocked = before.totp || before.secondFactorsUntil !== null || before.passwordUntil !== null;
  inv.out.result({ userid, before }, (r, style) => `${style.green('unlocked')} ${r.userid}${wasLocked ? '' : ' (it was not locked)'}`);
}
