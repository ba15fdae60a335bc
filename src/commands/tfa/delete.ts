import { parseUserId } from '../../domain/userid.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { deleteFactors } from '../../services/factors.js';
import { openSession } from '../session.js';
import { arg, boolOpt } from '../options.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const id = inv.args[1];
  const all = boolOpt(inv, 'all') === true;
  if ((id === undefined) === !all) throw new UsageError('give either a factor id or --all');
  const session = await openSession(inv, { op: 'tfa.manage', action: 'tfa.delete', target: userid });
  const { deleted, warnings } = await deleteFactors(session, userid, all ? 'all' : (id as string));
  for (const w of warnings) inv.out.warn(w);
  inv.out.result({ userid, deleted }, (r, style) =>
    r.deleted.length === 0 ? `${r.userid} had no factors` : `${style.green('deleted')} ${r.deleted.length} factor(s) of ${r.userid}: ${r.deleted.join(', ')}`,
  );
}
