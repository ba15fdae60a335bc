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
