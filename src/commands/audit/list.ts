import { parsePositiveInt } from '../../domain/account.js';
import { DAY_SECONDS, parseDate, startOfDate } from '../../domain/dates.js';
import { parseUserId } from '../../domain/userid.js';
import type { Invocation } from '../../invocation.js';
import { parseAuditAction, unknownActionHint } from '../../domain/audit-filter.js';
import { auditActionsSeen, readAudit, type AuditFilter } from '../../services/audit.js';
import type { Session } from '../../services/session.js';
import { openSession } from '../session.js';
import { boolOpt, stringOpt } from '../options.js';
import { UsageError } from '../../errors.js';
import { auditList } from '../render.js';

/** What `audit` shows without --limit or --all: a trail of millions is not for a terminal. */
const DEFAULT_LIMIT = 100;

export async function run(inv: Invocation): Promise<void> {
  const user = stringOpt(inv, 'user');
  const since = stringOpt(inv, 'since');
  const until = stringOpt(inv, 'until');
  const limit = stringOpt(inv, 'limit');
  const all = boolOpt(inv, 'all') === true;
  const action = stringOpt(inv, 'action');
  const outcome = stringOpt(inv, 'outcome') as AuditFilter['outcome'];
  if (all && limit !== undefined) throw new UsageError('give --limit or --all, not both', 'conflicting_options');
  const sinceDay = since === undefined ? undefined : parseDate(since, '--since date');
  const untilDay = until === undefined ? undefined : parseDate(until, '--until date');
  if (sinceDay !== undefined && untilDay !== undefined && untilDay < sinceDay) {
    throw new UsageError(`--until ${untilDay} is before --since ${sinceDay}: no entry can be in both`, 'conflicting_options');
  }
  const filter = {
    ...(user !== undefined && { user: parseUserId(user).id }),
    ...(sinceDay !== undefined && { since: startOfDate(sinceDay) }),
    // The whole of that day: up to the start of the next.
    ...(untilDay !== undefined && { until: startOfDate(untilDay) + DAY_SECONDS }),
    ...(!all && { limit: limit === undefined ? DEFAULT_LIMIT : parsePositiveInt(limit, '--limit') }),
    ...(action !== undefined && { action: parseAuditAction(action) }),
    ...(outcome !== undefined && { outcome }),
  };
  const session = await openSession(inv, filter.user === undefined ? undefined : { op: 'audit.read-all', action: 'audit.read', target: filter.user });
  const listing = await readAudit(session, filter);
  let firstShown: number | undefined;
  let cut: string | null = null;
  await inv.out.list(async function* () {
    for await (const entry of listing()) {
      firstShown ??= entry.id;
      yield entry;
    }
    // Nothing of that action, perhaps a misspelt one: said (in the envelope's warnings too).
    if (firstShown === undefined && filter.action !== undefined) {
      const hint = unknownActionHint(filter.action, await auditActionsSeen(session, filter));
      if (hint !== null) inv.out.warn(hint);
    }
    // Cut at the limit: said (a trail of 174 showed 100 and no word of the rest), to a script in
    // the envelope's warnings, to a person after the table.
    cut = firstShown === undefined ? null : await olderLeftOut(session, filter, firstShown);
    if (cut !== null && inv.out.json) inv.out.warn(cut);
  }, auditList, { wide: boolOpt(inv, 'wide') });
  if (cut !== null && !inv.out.json) inv.out.note(cut);
}

/** What a listing of the newest `filter.limit` entries, the oldest shown `firstShown`, left out: null for nothing. */
async function olderLeftOut(session: Session, filter: AuditFilter, firstShown: number): Promise<string | null> {
  if (filter.limit === undefined) return null;
  // One more entry asked for starts earlier when there are older ones (newer ones written since only shift the window).
  for await (const entry of (await readAudit(session, { ...filter, limit: filter.limit + 1 }))()) {
    return entry.id < firstShown ? `only the newest ${filter.limit === 1 ? 'entry is' : `${filter.limit} entries are`} shown: --limit N or --all for older ones` : null;
  }
  return null;
}
