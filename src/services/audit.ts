import { DAY_SECONDS, isoTime } from '../domain/dates.js';
import { isRoot } from '../domain/permissions.js';
import type { AuditFilter, AuditRecord } from '../store/types.js';
import { authorize } from './authz.js';
import type { Listing, Session } from './session.js';

export type { AuditFilter, AuditRecord };

/**
 * The audit trail the actor may read: everything for admins; for other users only entries where
 * they acted or were acted on (asking for someone else is refused), since their account was made:
 * a user given the name of one deleted before does not read that one's history. Read as it is
 * consumed.
 */
export async function readAudit(session: Session, filter: AuditFilter): Promise<Listing<AuditRecord>> {
  const { actor } = session;
  if (actor.admin || isRoot(actor)) return () => session.store.auditEntries(filter);
  if (filter.user !== undefined && filter.user !== actor.userid) {
    await authorize(session, 'audit.read-all', 'audit.read', filter.user);
  }
  const created = await ownTrailStart(session);
  return () => session.store.auditEntries({ ...filter, user: actor.userid, since: Math.max(filter.since ?? created, created) });
}

/** The actions of the entries readAudit would read for `filter`, whatever its action, days and outcome. */
export async function auditActionsSeen(session: Session, filter: AuditFilter): Promise<string[]> {
  const { actor } = session;
  if (actor.admin || isRoot(actor)) return session.store.auditActions({ ...(filter.user !== undefined && { user: filter.user }) });
  return session.store.auditActions({ user: actor.userid, since: await ownTrailStart(session) });
}

/** Where a user's own trail starts: when their account was made. */
async function ownTrailStart(session: Session): Promise<number> {
  return (await session.store.getUser(session.actor.userid))?.created ?? session.now();
}

/** Where keeping `days` days of entries cuts the trail at `now` (epoch seconds): days of 24 hours. */
export const keptFrom = (now: number, days: number): number => now - days * DAY_SECONDS;

/** Entries deleted in one unit of work: sign-ins wait for one batch (milliseconds), not a whole trail. */
export const PRUNE_BATCH = 5000;

export interface PruneOutcome {
  /** The entries from before this time (epoch seconds) went, or would. */
  readonly before: number;
  /** How many went (a dry run: how many would). */
  readonly entries: number;
  readonly dryRun: boolean;
  /** Stopped between batches (options.stopping): `entries` went, `found` were there to go. */
  readonly stopped?: { readonly found: number };
}

export interface PruneOptions {
  readonly dryRun: boolean;
  /** Asked once the number is known and is not 0 (not for a dry run): throws to change nothing. */
  readonly confirmed: (entries: number) => Promise<void>;
  /** Whether to stop (Ctrl-C, SIGTERM): checked between batches. */
  readonly stopping: () => boolean;
  /** More for the entry that says so (why these went: `keepDays`, the setting). */
  readonly why?: Readonly<Record<string, unknown>>;
  readonly batch?: number;
}

/**
 * Removes the audit entries from before `before` (root@local only; a dry run, admins too), oldest first, a batch per unit
 * of work. The batch that ends it writes one entry of its own (`audit.prune`, how many went and
 * from before when), so the trail says it was pruned, by whom and how far; stopped between
 * batches, that entry says how many went before it stopped, and so does the outcome (`stopped`).
 * What one batch removed stays removed.
 */
export async function pruneAudit(session: Session, before: number, options: PruneOptions): Promise<PruneOutcome> {
  // A dry run only counts entries: whoever reads the whole trail may.
  await authorize(session, options.dryRun ? 'audit.read-all' : 'audit.prune', 'audit.prune');
  const found = await session.store.countAuditBefore(before);
  if (options.dryRun || found === 0) return { before, entries: found, dryRun: options.dryRun };
  await options.confirmed(found);
  const batch = options.batch ?? PRUNE_BATCH;
  let removed = 0;
  let stop = false;
  for (;;) {
    stop = options.stopping();
    const step = await session.store.transaction(async (tx) => {
      const n = stop ? 0 : await tx.pruneAudit(before, batch);
      const last = stop || n < batch;
      if (last) {
        const detail = { before: isoTime(before), entries: removed + n, ...options.why, ...(stop && { stopped: true }) };
        await session.audit({ action: 'audit.prune', target: null, outcome: 'ok', detail }, tx);
      }
      return { n, last };
    });
    removed += step.n;
    if (step.last) break;
    // Signals are delivered by the event loop, which a run of SQLite's answers never lets turn.
    await new Promise((turned) => setImmediate(turned));
  }
  // Heard after the last batch, it changes nothing: the work is done.
  return { before, entries: removed, dryRun: false, ...(stop && { stopped: { found } }) };
}
