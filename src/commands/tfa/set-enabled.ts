import { parseFactorIdArg } from '../../domain/account.js';
import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { factorRemovalRefusal, setFactorEnabled } from '../../services/factors.js';
import { openSession } from '../session.js';
import { arg } from '../options.js';
import { factorView } from '../views.js';
import { userBeforeFactor } from './argument-order.js';
import { factorName } from './render.js';

/** `tfa enable` and `tfa disable`: the same flags, one service call. */
export async function runSetEnabled(inv: Invocation, enabled: boolean): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const id = parseFactorIdArg(arg(inv, 1));
  const command = enabled ? 'tfa enable' : 'tfa disable';
  const { factor, warnings, changed } = await userBeforeFactor(command, { typed: arg(inv, 0), id: userid }, arg(inv, 1), async () => {
    const session = await openSession(inv, {
      op: 'tfa.manage',
      action: enabled ? 'tfa.enable' : 'tfa.disable',
      target: userid,
      ...(!enabled && { precheck: (store, actor) => factorRemovalRefusal(store, actor, userid, { id }) }),
    });
    return setFactorEnabled(session, userid, id, enabled);
  });
  for (const w of warnings) inv.out.warn(w);
  const state = enabled ? 'enabled' : 'disabled';
  inv.out.result(factorView(factor), (f, style) =>
    changed ? `${style.green(state)} ${factorName(f.type)} ${f.id} of ${f.userid}` : `${factorName(f.type)} ${f.id} of ${f.userid} was ${state} already: nothing changed`,
  );
}
