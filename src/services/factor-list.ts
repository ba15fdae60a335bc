import { isRoot } from '../domain/permissions.js';
import type { FactorRecord, LockState } from '../store/types.js';
import { authorize } from './authz.js';
import { requireUser } from './lookup.js';
import type { Session } from './session.js';

// Apart from factors.ts so that listing loads none of the enrolment code: start-up time.

export interface UserFactors {
  readonly userid: string;
  readonly totpLocked: boolean;
  /** Epoch seconds until which every factor is locked, or null. */
  readonly lockedUntil: number | null;
  readonly failures: number;
  readonly factors: readonly FactorRecord[];
}

/** Factors (never secrets) with lock state: of one user, or of every user the actor may see. */
export async function listUserFactors(session: Session, userid: string | undefined): Promise<UserFactors[]> {
  const everyone = userid === undefined && (session.actor.admin || isRoot(session.actor));
  const target = userid ?? session.actor.userid;
  if (!everyone) {
    await authorize(session, 'tfa.read', 'tfa.list', target);
    await requireUser(session.store, target);
  }
  const factors = await session.store.listFactors(everyone ? undefined : target);
  const ids = everyone ? [...new Set(factors.map((f) => f.userid))] : [target];
  const now = session.now();
  return Promise.all(
    ids.map(async (id) => {
      const lock = (await session.store.getLockState(id)) as LockState;
      return {
        userid: id,
        totpLocked: lock.totpLocked,
        lockedUntil: lock.lockedUntil > now ? lock.lockedUntil : null,
        failures: lock.failures,
        factors: factors.filter((f) => f.userid === id),
      };
    }),
  );
}
