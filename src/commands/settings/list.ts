import type { Invocation } from '../../invocation.js';
import { table } from '../../output.js';
import { openSession } from '../session.js';
import { listSettings } from '../../services/settings.js';
import { settingView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const session = await openSession(inv, { op: 'store.manage', action: 'settings.list' });
  inv.out.result((await listSettings(session)).map(settingView), (settings, style) =>
    table(['SETTING', 'VALUE', 'DESCRIPTION'], settings.map((s) => [s.key, s.default ? `${s.value} (default)` : s.value, s.description]), style),
  );
}
