import { parsePositiveInt } from '../../domain/account.js';
import { dateOf, formatTime, isoTime, parseDate, startOfDate } from '../../domain/dates.js';
import { countOf } from '../../domain/text.js';
import { UsageError } from '../../errors.js';
import { listenForInterrupts } from '../../interrupts.js';
import type { Invocation } from '../../invocation.js';
import { pruneAudit } from '../../services/audit.js';
import { confirm, requireConfirmation, requireConfirmationBeforeSignIn } from '../confirm.js';
import { openSession } from '../session.js';
import { boolOpt, stringOpt } from '../options.js';

const DAY_SECONDS = 86_400;
/** --keep-days up to a hundred years. */
const MAX_KEEP_DAYS = 36_500;

export async function run(inv: Invocation): Promise<void> {
  const before = cutOff(stringOpt(inv, 'before'), stringOpt(inv, 'keepDays'), inv.ctx.clock.nowSeconds());
  const dryRun = boolOpt(inv, 'dryRun') === true;
  const what = `this removes the audit entries from before ${formatTime(before)} for good (a backup keeps them)`;
  if (!dryRun) requireConfirmationBeforeSignIn(inv, what);
  const session = await openSession(inv, { op: 'audit.prune', action: 'audit.prune' }, { readOnly: dryRun });
  const interruption = listenForInterrupts(inv.ctx.io);
  try {
    const outcome = await pruneAudit(session, before, {
      dryRun,
      confirmed: async (entries) => {
        requireConfirmation(inv, what);
        await confirm(inv, `Remove ${countOf(entries, 'audit entry', 'audit entries')} from before ${formatTime(before)}? They cannot be brought back (a backup keeps them).`);
      },
      stopping: interruption.heard,
    });
    inv.out.result({ before: isoTime(outcome.before), entries: outcome.entries, dryRun: outcome.dryRun }, (r, style) => {
      const entries = countOf(r.entries, 'audit entry', 'audit entries');
      const from = `from before ${formatTime(outcome.before)}`;
      if (r.entries === 0) return `no audit entries ${from}: nothing removed`;
      return r.dryRun ? `would remove ${entries} ${from} (dry run: nothing removed)` : `${style.green('removed')} ${entries} ${from}`;
    });
  } finally {
    interruption.stop();
  }
}

/** Where pruning cuts (epoch seconds): the start of the day --before names, or --keep-days days before now. */
function cutOff(before: string | undefined, keepDays: string | undefined, now: number): number {
  if (before !== undefined && keepDays !== undefined) throw new UsageError('give --before or --keep-days, not both', 'conflicting_options');
  if (keepDays !== undefined) return now - parsePositiveInt(keepDays, '--keep-days', MAX_KEEP_DAYS) * DAY_SECONDS;
  if (before === undefined) throw new UsageError('say which entries go: --before YYYY-MM-DD, or --keep-days N', 'usage');
  const day = parseDate(before, '--before date');
  const today = dateOf(now);
  if (day > today) throw new UsageError(`--before ${day} is after today (${today}): that would remove entries not yet written`, 'invalid_date');
  return startOfDate(day);
}
