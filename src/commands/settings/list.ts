import type { Invocation } from '../../invocation.js';
import { table } from '../../output.js';
import { openSession } from '../session.js';
import { listSettings } from '../../services/settings.js';
import { settingView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const session = await openSession(inv, { op: 'store.read', action: 'settings.list' });
  inv.out.result((await listSettings(session)).map(settingView), (settings, style) =>
    table(['SETTING', 'VALUE', 'DESCRIPTION'], settings.map((s) => {
      // An empty value (no origins, U2F not configured) would be a blank cell.
      const value = s.value === '' ? '""' : s.value;
      return [s.key, s.default ? `${value} (default)` : value, s.description];
    }), style),
  );
}
