import { open, secretContext } from '../../domain/secret-box.js';
import { StoreError } from '../../errors.js';
import type { SignInKind } from './kind.js';

/** TOTP at sign-in: a code of any enabled TOTP factor, newer than the last step that factor accepted. */
export const totp: SignInKind = {
  kind: 'totp',
  countsOnTotpLock: true,
  liftsTotpLock: true,
  async verify({ deps, user }, answer) {
    const { matchTotp } = await import('../../domain/totp.js');
    const key = await deps.secretKey();
    const now = deps.now();
    const code = answer.trim();
    let replayed = false;
    for (const factor of await deps.store.getTotpSecrets(user.userid)) {
      const secret = open(key, factor.sealedSecret, secretContext(user.userid, factor.id, 'totp'));
      if (secret === null) throw new StoreError(`the TOTP secret of factor ${factor.id} cannot be decrypted: is this the store's key file?`, 'key_mismatch');
      const match = matchTotp(secret, code, factor.params, now);
      if (!match.valid) continue;
      if (factor.lastStep !== null && match.step <= factor.lastStep) {
        replayed = true;
        continue;
      }
      if (await deps.store.advanceTotpStep(factor.id, match.step, now)) return { ok: true, factorId: factor.id };
      replayed = true; // Another sign-in took this step first.
    }
    return { ok: false, reason: replayed ? 'totp code reused' : 'wrong totp code' };
  },
};
