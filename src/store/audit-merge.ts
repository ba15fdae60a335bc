/** What an audit entry says, as either backend reads it back (PostgreSQL gives a BIGINT as text). */
export interface AuditContent {
  readonly ts: number | string;
  readonly actor: string | null;
  readonly action: string;
  readonly target: string | null;
  readonly outcome: string;
  readonly detail: string | null;
}

const contentKey = (a: AuditContent): string => JSON.stringify([a.actor, a.action, a.target, a.outcome, a.detail]);

/**
 * The entries of a backup's audit trail (`backup`, in time order) that a restore appends to the
 * store's: each as many times as the backup holds it more often than the store does, by what it
 * says (not by id: the store gave its own copy an id of its own). So a second restore of one backup
 * appends nothing, and two like entries of one second stay two. `existingAt(ts)` gives the store's
 * entries of one second (SQLite reads them a second at a time; PostgreSQL, one round trip, all).
 */
export function* auditEntriesToAppend<T extends AuditContent>(backup: Iterable<T>, existingAt: (ts: number) => Iterable<AuditContent>): Generator<T> {
  let second: number | null = null;
  let held = new Map<string, number>();
  for (const a of backup) {
    const ts = Number(a.ts);
    if (ts !== second) {
      second = ts;
      held = new Map();
      for (const e of existingAt(ts)) held.set(contentKey(e), (held.get(contentKey(e)) ?? 0) + 1);
    }
    const k = contentKey(a);
    const n = held.get(k) ?? 0;
    if (n > 0) held.set(k, n - 1);
    else yield a;
  }
}

/** How many entries `entries` yields (a restore's dry run counts what it would append). */
export function sizeOf(entries: Iterable<unknown>): number {
  let n = 0;
  for (const _ of entries) n++;
  return n;
}

/**
 * The id an entry a restore appends is given: the one it had in the backup when that is below this
 * store's oldest (`oldestId`, read before any is appended; null: the trail is empty), where a
 * prune took the store's own entries from; else null (the next id). A restore into the store the
 * backup came from, after its oldest entries were pruned, so puts them back where they were:
 * listings go by id (`audit --limit` shows the newest ids), and appended they would list as the
 * newest. Never into a gap further on (a rolled-back id on PostgreSQL, another store's entries),
 * where it would list out of time, nor above the newest, where the ids given after it would run
 * into it (PostgreSQL's sequence does not know of it).
 */
export function restoredAuditId(backupId: unknown, oldestId: number | null): number | null {
  const id = Number(backupId);
  return oldestId !== null && Number.isSafeInteger(id) && id > 0 && id < oldestId ? id : null;
}
