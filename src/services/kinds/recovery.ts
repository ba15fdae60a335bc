import { findRecoverySlot, hashRecoveryKey, parseRecoveryKey } from '../../domain/recovery.js';
import { open, secretContext } from '../../domain/secret-box.js';
import { StoreError } from '../../errors.js';
import type { SignInKind } from './kind.js';

/** A recovery key at sign-in: one unused key of the user's enabled set, spent by one conditional write. */
export const recovery: SignInKind = {
  kind: 'recovery',
  countsOnTotpLock: false,
  waitsOnNetwork: false,
  liftsTotpLock: true,
  async verify({ deps, user }, answer) {
    const key = parseRecoveryKey(answer);
    if (key === null) return { ok: false, reason: 'malformed recovery key' };
    const set = await deps.store.getRecoverySet(user.userid);
    if (!set || !set.enabled) return { ok: false, reason: 'no recovery keys' };
    const secret = open(await deps.secretKey(), set.sealedSecret, secretContext(user.userid, set.id, 'recovery'));
    if (secret === null) throw new StoreError("the recovery key set cannot be decrypted: is this the store's key file?", 'key_mismatch');
    const slot = findRecoverySlot(secret, key, set.slots);
    if (slot === null) return { ok: false, reason: 'wrong or used recovery key' };
    const hash = hashRecoveryKey(secret, key);
    return {
      ok: true,
      recoveryLeft: set.slots.filter((h) => h !== null).length - 1,
      spend: async (tx) =>
        (await tx.consumeRecoverySlot(set.id, slot, hash, deps.now())) ? { spent: true, factorId: set.id } : { spent: false, reason: 'recovery key used concurrently' },
    };
  },
};
