import { isoTime } from '../../domain/dates.js';
import { keptFrom, pruneAudit } from '../../services/audit.js';
import type { Session } from '../../services/session.js';
import { auditKeepDays } from '../../services/settings.js';

/** How often tfactl serve applies audit.keep-days (and once as it starts). */
export const RETENTION_EVERY_MS = 3_600_000;

/** Lends a session of the store's owner for the time `fn` runs. */
export type OwnerSession = <T>(fn: (session: Session) => Promise<T>) => Promise<T>;

export interface Retention {
  /** No more rounds; one under way ends after the batch it is in. Resolves once it has. */
  stop(): Promise<void>;
}

/**
 * Keeps the audit trail to audit.keep-days while tfactl serve runs: as it starts (resolving once
 * the setting is read) and every `every` ms, the setting read afresh (root@local may change it meanwhile), the older entries pruned as
 * `audit prune` prunes them (in batches, its own entry saying so), what went said in the log.
 * Unset, nothing is removed. Trouble (the store unreachable) is logged and tried again next round.
 */
export async function keepAuditTrail(withOwner: OwnerSession, log: (entry: Record<string, unknown>) => void, every = RETENTION_EVERY_MS): Promise<Retention> {
  let stopped = false;
  let round: Promise<void> = Promise.resolve();
  const once = async () => {
    try {
      await withOwner(async (session) => {
        const days = await auditKeepDays(session.store);
        if (days === null) return;
        const before = keptFrom(session.now(), days);
        const why = { keepDays: days, setting: 'audit.keep-days', by: 'tfactl serve' };
        const { entries, stopped: cut } = await pruneAudit(session, before, { dryRun: false, why, confirmed: async () => undefined, stopping: () => stopped });
        if (entries > 0 || cut) log({ audit: 'pruned', entries, before: isoTime(before), keepDays: days, ...(cut && { stopped: true, found: cut.found }) });
      });
    } catch (e) {
      log({ audit: 'pruning failed', trouble: e instanceof Error ? e.message : String(e) });
    }
  };
  const start = () => {
    // One round at a time: a slow one (a first pruning of years) is not overlapped by the next.
    round = round.then(once);
  };
  // The first round's reading of the setting is awaited (the service listens after it), so the
  // connection it takes is the pool's from the start, not opened under the first requests; its
  // pruning, however long, is not.
  let set = false;
  try {
    set = (await withOwner((session) => auditKeepDays(session.store))) !== null;
  } catch (e) {
    log({ audit: 'pruning failed', trouble: e instanceof Error ? e.message : String(e) });
  }
  if (set) start();
  const timer = setInterval(start, every);
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
      return round;
    },
  };
}
