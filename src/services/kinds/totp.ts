import { typedCode } from '../../domain/second-factor.js';
import { open, secretContext, totpSecretMark } from '../../domain/secret-box.js';
import { StoreError } from '../../errors.js';
import type { SignInKind } from './kind.js';

/** TOTP at sign-in: a code of any enabled TOTP factor, newer than the last step that factor accepted. */
export const totp: SignInKind = {
  kind: 'totp',
  countsOnTotpLock: true,
  waitsOnNetwork: false,
  liftsTotpLock: true,
  async verify({ deps, user }, answer) {
    const { matchTotp } = await import('../../domain/totp.js');
    const key = await deps.secretKey();
    const now = deps.now();
    const code = typedCode(answer);
    let replayed = false;
    const matches: { readonly id: string; readonly step: number; readonly mark: string }[] = [];
    for (const factor of await deps.store.getTotpSecrets(user.userid)) {
      const secret = open(key, factor.sealedSecret, secretContext(user.userid, factor.id, 'totp'));
      if (secret === null) throw new StoreError(`the TOTP secret of factor ${factor.id} cannot be decrypted: is this the store's key file?`, 'key_mismatch');
      const match = matchTotp(secret, code, factor.params, now);
      if (!match.valid) continue;
      if (factor.lastStep !== null && match.step <= factor.lastStep) {
        replayed = true;
        continue;
      }
      matches.push({ id: factor.id, step: match.step, mark: totpSecretMark(key, user.userid, secret, factor.params) });
    }
    if (matches.length === 0) return { ok: false, reason: replayed ? 'totp code reused' : 'wrong totp code' };
    return {
      ok: true,
      async spend(tx) {
        for (const m of matches) if (await tx.advanceTotpStep(m.id, m.step, now, m.mark)) return { spent: true, factorId: m.id };
        return { spent: false, reason: 'totp code reused' }; // Another sign-in took this step first.
      },
    };
  },
};
