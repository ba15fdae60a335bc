import type { Invocation } from '../../invocation.js';
import { openSession } from '../session.js';
import { changeSetting } from '../../services/settings.js';
import { arg } from '../options.js';
import { settingView } from '../views.js';

export async function run(inv: Invocation): Promise<void> {
  const key = arg(inv, 0);
  const value = arg(inv, 1);
  const session = await openSession(inv, { op: 'settings.change', action: 'settings.set', target: key });
  const setting = await changeSetting(session, key, value);
  inv.out.result(settingView(setting), (s, style) => `${style.green('set')} ${s.key} = ${s.value}`);
}
