import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { unlockUser } from '../../services/factors.js';
import { openSession } from '../session.js';
import { arg } from '../options.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const session = await openSession(inv, { op: 'tfa.unlock', action: 'tfa.unlock', target: userid });
  const before = await unlockUser(session, userid);
  inv.out.result({ userid, wasTotpLocked: before.totpLocked, wasLockedUntil: before.lockedUntil || null, failures: 0 }, (r, style) =>
    `${style.green('unlocked')} ${r.userid}${r.wasTotpLocked || r.wasLockedUntil ? '' : ' (it was not locked)'}`,
  );
}
