import type { Invocation } from '../../invocation.js';
import { openSession } from '../session.js';
import { changeSetting } from '../../services/settings.js';
import { arg, boolOpt } from '../options.js';
import { settingView } from '../views.js';

/** `settings unset KEY`: the setting's default applies again. */
export async function run(inv: Invocation): Promise<void> {
  const key = arg(inv, 0);
  const session = await openSession(inv, { op: 'settings.change', action: 'settings.unset', target: key });
  const { setting, warnings } = await changeSetting(session, key, null, { force: boolOpt(inv, 'force') === true });
  for (const w of warnings) inv.out.warn(w);
  inv.out.result(settingView(setting), (s, style) => `${style.green('unset')} ${s.key}: its default applies (${s.value === '' ? 'empty' : s.value})`);
}
