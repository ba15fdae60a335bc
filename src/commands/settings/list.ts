import type { Invocation } from '../../invocation.js';
import type { ListView } from '../../output.js';
import { openSession } from '../session.js';
import { boolOpt } from '../options.js';
import { listSettings } from '../../services/settings.js';
import { settingView, type SettingView } from '../views.js';

export const settingList: ListView<SettingView> = {
  headers: ['SETTING', 'VALUE', 'DESCRIPTION'],
  empty: 'no settings',
  json: (s) => s,
  rows: (s) => {
    // An empty value (no origins, U2F not configured) would be a blank cell.
    const value = s.value === '' ? '""' : s.value;
    return [[s.key, s.default ? `${value} (default)` : value, s.description]];
  },
  fit: { narrow: ['VALUE', 'DESCRIPTION'], wrapLast: true },
};

export async function run(inv: Invocation): Promise<void> {
  const session = await openSession(inv, { op: 'store.read', action: 'settings.list' });
  await inv.out.listOf((await listSettings(session)).map(settingView), settingList, { wide: boolOpt(inv, 'wide') });
}
