import type { Invocation } from '../../invocation.js';
import { table } from '../../output.js';
import { openSession } from '../session.js';
import { listSettings } from '../../services/settings.js';

export async function run(inv: Invocation): Promise<void> {
  const session = await openSession(inv, { op: 'store.manage', action: 'settings.list' });
  inv.out.result(await listSettings(session), (settings, style) =>
    table(['SETTING', 'VALUE', 'DESCRIPTION'], settings.map((s) => [s.key, s.isDefault ? `${s.value} (default)` : s.value, s.description]), style),
  );
}
