import { newRecoverySet, hashRecoveryKey } from '../../domain/recovery.js';
import { seal, secretContext } from '../../domain/secret-box.js';
import { authorize, refuse } from '../authz.js';
import type { Session } from '../session.js';
import type { NewRecoverySet } from '../../store/types.js';
import { requireUser } from '../lookup.js';
import { newFactorId } from '../factors.js';

/**
 * Enrolling recovery keys (the recovery kind's enrolment; its sign-in is kinds/recovery.ts): ten
 * single-use keys, shown once, stored as HMAC-SHA256 hashes under a sealed per-set secret.
 */

/** A new set of recovery keys, ready to store (`set`), and the keys themselves, to show once. */
export interface PreparedRecoverySet {
  readonly set: NewRecoverySet;
  readonly keys: readonly string[];
}

/** Makes a user's recovery keys and the row that stores them (hashes and the sealed secret). */
export async function prepareRecoverySet(session: Session, userid: string): Promise<PreparedRecoverySet> {
  const made = newRecoverySet((n) => session.random.bytes(n));
  const id = newFactorId(session);
  const sealedSecret = seal(await session.secretKey(), session.random.bytes(12), made.secret, secretContext(userid, id, 'recovery'));
  return {
    set: { id, userid, description: 'recovery keys', created: session.now(), sealedSecret, hashes: made.keys.map((k) => hashRecoveryKey(made.secret, k)) },
    keys: made.keys,
  };
}

export interface RecoveryKeys {
  readonly id: string;
  readonly userid: string;
  readonly keys: readonly string[];
  readonly regenerated: boolean;
}

/**
 * Creates the user's recovery key set (one per user), or replaces it with `regenerate`. The keys
 * are returned once and stored only as keyed hashes. Allowed whatever the realm enforces.
 * `beforeStoring` is handed the keys before anything is stored, and nothing is if it throws: keys
 * stored that never reached anyone (a file on a full disk) would replace the user's with none.
 * `shown` is handed the result inside the storing transaction, before it commits: it shows the keys,
 * and nothing is stored if it throws (standard output that cannot be written).
 */
export async function addRecoveryKeys(
  session: Session,
  userid: string,
  regenerate: boolean,
  beforeStoring?: (keys: readonly string[]) => void,
  shown?: (result: RecoveryKeys) => void | Promise<void>,
): Promise<RecoveryKeys> {
  await authorize(session, 'tfa.manage', 'tfa.add', userid);
  await requireUser(session.store, userid);
  const existing = await session.store.getRecoverySet(userid);
  if (existing && !regenerate) {
    // A set whose keys are all used is still one set a user: said so, rather than as keys that work.
    const spent = existing.slots.every((slot) => slot === null);
    await refuse(session, 'tfa.add', userid, spent ? `${userid} has used every recovery key of their set: use --regenerate to make a new one` : `${userid} already has recovery keys: use --regenerate to replace them`, 'exists');
  }
  const { set, keys } = await prepareRecoverySet(session, userid);
  const id = set.id;
  beforeStoring?.(keys);
  const stored = await session.store.transaction(async (tx) => {
    const ok = await tx.putRecoverySet(set, regenerate);
    if (!ok) return null;
    await session.audit({ action: 'tfa.add', target: userid, outcome: 'ok', detail: { type: 'recovery', id, regenerated: existing !== undefined } }, tx);
    const result: RecoveryKeys = { id, userid, keys, regenerated: existing !== undefined };
    await shown?.(result);
    return result;
  });
  return stored ?? refuse(session, 'tfa.add', userid, `${userid} already has recovery keys: use --regenerate to replace them`, 'exists');
}

