import type { Invocation } from '../../invocation.js';
import { exportUsers } from '../../services/export.js';
import type { UserFactors } from '../../services/factor-list.js';
import { openSession, viewTime } from '../session.js';
import { factorView, realmView, userView } from '../views.js';

/**
 * Realms, then every user with their factors, as JSON (no secrets): with --json as the envelope's
 * result, else the same document alone. Users are read and written one at a time.
 */
export async function run(inv: Invocation): Promise<void> {
  const session = await openSession(inv, { op: 'store.read', action: 'export.users' });
  const { realms, users } = await exportUsers(session);
  const at = await viewTime(inv, session);
  const entry = (u: UserFactors) => ({ user: userView(u.user, at), factors: u.factors.map(factorView) });
  const before = { realms: realms.map(realmView) };
  if (inv.out.json) {
    await inv.out.list(users, { headers: [], empty: '', rows: () => [], json: entry, wrap: { before, key: 'users' } });
    return;
  }
  inv.out.display(`${JSON.stringify(before).slice(0, -1)},"users":[`);
  let first = true;
  for await (const u of users()) {
    inv.out.display(`${first ? '' : ','}${JSON.stringify(entry(u))}`);
    first = false;
    const behind = inv.out.caughtUp();
    if (behind) await behind;
  }
  inv.out.display(']}');
}
