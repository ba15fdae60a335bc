import { isRoot } from '../domain/permissions.js';
import type { FactorRecord, UserOverview } from '../store/types.js';
import { authorize } from './authz.js';
import { realmMissing, requireUser } from './lookup.js';
import type { Listing, Session } from './session.js';

// Apart from factors.ts so that listing loads none of the enrolment code: start-up time.

export type { FactorRecord, UserOverview };

export interface UserFactors {
  readonly user: UserOverview;
  readonly factors: readonly FactorRecord[];
}

/**
 * Factors (never secrets) with each user's locks and realm rule: of one user, of a realm's users,
 * or of every user the actor may see; users without factors too. Read as consumed. An unknown
 * realm is exit 3 for admins only, as in listUsers.
 */
export async function listUserFactors(session: Session, filter: { userid?: string | undefined; realm?: string | undefined }): Promise<Listing<UserFactors>> {
  const admin = session.actor.admin || isRoot(session.actor);
  if (admin && filter.realm !== undefined && !(await session.store.getRealm(filter.realm))) throw await realmMissing(session.store, filter.realm);
  const userid = filter.userid ?? (admin ? undefined : session.actor.userid);
  if (userid !== undefined) {
    await authorize(session, 'tfa.read', 'tfa.list', userid);
    await requireUser(session.store, userid);
  }
  return () => session.store.usersWithFactors({ userid, realm: filter.realm });
}
