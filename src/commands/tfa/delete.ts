import type { FactorType } from '../../domain/sign-in.js';
import { countOf } from '../../domain/text.js';
import { parseFactorIdArg } from '../../domain/account.js';
import { parseUserId } from '../../domain/userid.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { deleteFactors, factorRemovalRefusal, type FactorSelection } from '../../services/factors.js';
import { confirmDeletion } from '../confirm.js';
import { openSession } from '../session.js';
import { arg, boolOpt, stringOpt } from '../options.js';
import { userBeforeFactor } from './argument-order.js';

export async function run(inv: Invocation): Promise<void> {
  const userid = parseUserId(arg(inv, 0)).id;
  const id = inv.args[1] === undefined ? undefined : parseFactorIdArg(inv.args[1]);
  const all = boolOpt(inv, 'all') === true;
  // commander has checked --type against its choices (cli.ts).
  const type = stringOpt(inv, 'type') as FactorType | undefined;
  const chosen = [id !== undefined, all, type !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('give one of: a factor id (or a unique start of one), --type TYPE or --all', chosen > 1 ? 'conflicting_options' : 'usage');
  const which: FactorSelection = all ? 'all' : type !== undefined ? { type } : { id: id as string };
  // Deleting more than one factor at a time is asked about (or --yes); one named factor is not.
  const many = all ? `every second factor of ${userid}` : type !== undefined ? `every ${type} factor of ${userid}` : null;
  const confirmed = many === null ? async () => undefined : await confirmDeletion(inv, `this deletes ${many}`, `Delete ${many}?`);
  const { deleted, warnings } = await userBeforeFactor('tfa delete', { typed: arg(inv, 0), id: userid }, inv.args[1], async () => {
    const session = await openSession(inv, { op: 'tfa.manage', action: 'tfa.delete', target: userid, precheck: (store, actor) => factorRemovalRefusal(store, actor, userid, which) });
    return deleteFactors(session, userid, which, confirmed);
  });
  for (const w of warnings) inv.out.warn(w);
  inv.out.result({ userid, deleted }, (r, style) =>
    r.deleted.length === 0 ? `${r.userid} had no such factors` : `${style.green('deleted')} ${countOf(r.deleted.length, 'factor')} of ${r.userid}: ${r.deleted.join(', ')}`,
  );
}
