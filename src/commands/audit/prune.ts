import { parsePositiveInt } from '../../domain/account.js';
import { dateOf, formatTime, isoTime, parseDate, startOfDate } from '../../domain/dates.js';
import { countOf } from '../../domain/text.js';
import { parseUserId, ROOT_USERID } from '../../domain/userid.js';
import { CancelledError, UsageError } from '../../errors.js';
import { listenForInterrupts } from '../../interrupts.js';
import type { Invocation } from '../../invocation.js';
import { keptFrom, pruneAudit } from '../../services/audit.js';
import type { Session } from '../../services/session.js';
import { auditKeepDays } from '../../services/settings.js';
import { confirm, requireConfirmation, signsInFirst } from '../confirm.js';
import { openSession } from '../session.js';
import { boolOpt, stringOpt } from '../options.js';

/** --keep-days up to a hundred years. */
const MAX_KEEP_DAYS = 36_500;

export async function run(inv: Invocation): Promise<void> {
  const now = inv.ctx.clock.nowSeconds();
  const given = cutOff(stringOpt(inv, 'before'), stringOpt(inv, 'keepDays'), now);
  const dryRun = boolOpt(inv, 'dryRun') === true;
  const what = (before: number) => `this removes the audit entries from before ${formatTime(before)} for good (a backup keeps them)`;
  // Without a terminal, --yes is asked for first, whatever the trail holds (a cron line without it
  // fails on its first run, not on the first day something is old enough), as restore asks, and
  // before a sign-in as root@local spends a code. Anyone else signing in (or an API token's user)
  // is refused once known (exit 4, audited), whatever --yes says: not first told to add it.
  // Without --before or --keep-days, the store's owner is asked once the setting is read: with
  // audit.keep-days unset, that there is nothing to go by comes first, not advice to add --yes.
  const early = !dryRun && actsAsRoot(inv) && (given !== null || signsInFirst(inv));
  if (early) requireConfirmation(inv, given === null ? 'this removes the audit entries older than audit.keep-days for good (a backup keeps them)' : what(given.before));
  // A dry run only counts: what reads the whole trail (an admin, a read-only token) may.
  const session = await openSession(inv, { op: dryRun ? 'audit.read-all' : 'audit.prune', action: 'audit.prune' }, { readOnly: dryRun });
  const { before, why } = given ?? (await fromSetting(session));
  if (!dryRun && actsAsRoot(inv) && !early) requireConfirmation(inv, what(before));
  const interruption = listenForInterrupts(inv.ctx.io);
  try {
    const outcome = await pruneAudit(session, before, {
      dryRun,
      why,
      confirmed: async (entries) => {
        requireConfirmation(inv, what(before));
        await confirm(inv, `Remove ${countOf(entries, 'audit entry', 'audit entries')} from before ${formatTime(before)}? They cannot be brought back (a backup keeps them).`);
      },
      stopping: interruption.heard,
    });
    const view = { before: isoTime(outcome.before), entries: outcome.entries, dryRun: outcome.dryRun };
    // Stopped (Ctrl-C, SIGTERM): exit 130, what went said, with --json in the error envelope's result.
    if (outcome.stopped) {
      throw new CancelledError(`interrupted: ${countOf(outcome.entries, 'audit entry', 'audit entries')} of ${outcome.stopped.found} removed, the rest kept`).withResult(view);
    }
    inv.out.result(view, (r, style) => {
      const entries = countOf(r.entries, 'audit entry', 'audit entries');
      const from = `from before ${formatTime(outcome.before)}`;
      if (r.entries === 0) return `no audit entries ${from}: nothing removed`;
      return r.dryRun ? `would remove ${entries} ${from} (dry run: nothing removed)` : `${style.green('removed')} ${entries} ${from}`;
    });
  } finally {
    interruption.stop();
  }
}

/** Whether the run acts as root@local before the store says so: its owner, or --as (TFACTL_AS) root@local; not an API token. */
function actsAsRoot(inv: Invocation): boolean {
  const opts = inv.opts as { as?: unknown; token?: unknown };
  if (opts.token !== undefined || (inv.ctx.env.TFACTL_TOKEN ?? '') !== '') return false;
  const as = opts.as ?? inv.ctx.env.TFACTL_AS;
  return typeof as !== 'string' || as === '' || parseUserId(as).id === ROOT_USERID;
}

interface CutOff {
  /** Entries from before this (epoch seconds) go. */
  readonly before: number;
  /** What the audit entry of the pruning says of why. */
  readonly why?: Readonly<Record<string, unknown>>;
}

/** Where pruning cuts: the start of the day --before names, or --keep-days days before now; null for neither (the setting says). */
function cutOff(before: string | undefined, keepDays: string | undefined, now: number): CutOff | null {
  if (before !== undefined && keepDays !== undefined) throw new UsageError('give --before or --keep-days, not both', 'conflicting_options');
  if (keepDays !== undefined) {
    const days = parsePositiveInt(keepDays, '--keep-days', MAX_KEEP_DAYS);
    return { before: keptFrom(now, days), why: { keepDays: days } };
  }
  if (before === undefined) return null;
  const day = parseDate(before, '--before date');
  const today = dateOf(now);
  if (day > today) throw new UsageError(`--before ${day} is after today (${today}): that would remove entries not yet written`, 'invalid_date');
  return { before: startOfDate(day) };
}

/** Neither --before nor --keep-days: the days audit.keep-days keeps, when it is set. */
async function fromSetting(session: Session): Promise<CutOff> {
  const days = await auditKeepDays(session.store);
  if (days === null) {
    throw new UsageError('say which entries go: --before YYYY-MM-DD or --keep-days N, or set audit.keep-days (tfactl settings set audit.keep-days 365)', 'usage');
  }
  return { before: keptFrom(session.now(), days), why: { keepDays: days, setting: 'audit.keep-days' } };
}
