import { parseComment, parseFactorIdArg } from '../../domain/account.js';
import { parseUserId } from '../../domain/userid.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { describeFactor } from '../../services/factors.js';
import { openSession } from '../session.js';
import { arg, stringOpt } from '../options.js';
import { factorView } from '../views.js';
import { userBeforeFactor } from './argument-order.js';
import { factorName } from './render.js';

/** `tfa modify USERID ID --description TEXT`: what a factor is called, as Proxmox's TFA update changes it. */
export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const id = parseFactorIdArg(arg(inv, 1));
  const given = stringOpt(inv, 'description');
  if (given === undefined) throw new UsageError('nothing to change: give --description');
  const description = parseComment(given, 'description');
  if (description === null) throw new UsageError('a factor\'s description cannot be empty: name the device or app', 'invalid_comment');
  const factor = await userBeforeFactor('tfa modify', { typed: arg(inv, 0), id: userid }, arg(inv, 1), async () =>
    describeFactor(await openSession(inv, { op: 'tfa.manage', action: 'tfa.modify', target: userid }), userid, id, description),
  );
  inv.out.result(factorView(factor), (f, style) => `${style.green('modified')} ${factorName(f.type)} ${f.id} of ${f.userid}: ${f.description}`);
}
