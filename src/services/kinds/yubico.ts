import type { SignInKind } from './kind.js';

/**
 * A YubiKey OTP at sign-in: offline with the key's sealed AES key and private id (a counter that
 * must grow, advanced by one conditional write), or online by the realm's validation service
 * (which guards against replay itself), whenever the realm has one.
 */
export const yubico: SignInKind = {
  kind: 'yubico',
  countsOnTotpLock: false,
  waitsOnNetwork: true,
  liftsTotpLock: false,
  async verify({ deps, user, realm }, answer) {
    const { parseYubicoOtp } = await import('../../domain/yubico.js');
    const service = await import('../yubico.js');
    let otp;
    try {
      otp = parseYubicoOtp(answer);
    } catch {
      return { ok: false, reason: 'malformed yubikey otp' };
    }
    const factor = (await deps.store.getYubicoFactors(user.userid)).find((f) => f.publicId === otp.publicId);
    if (!factor) return { ok: false, reason: 'unknown yubikey' };
    const now = deps.now();
    // A realm that validates with a service has every key checked there, those registered with
    // their own AES key before it did too: a key revoked at the service stays revoked.
    if (factor.sealedSecret && realm?.yubico?.mode !== 'online') {
      const key = service.openOfflineKey(factor.sealedSecret, await deps.secretKey(), user.userid, factor.id);
      const check = service.checkOffline(key, otp);
      if (!check.ok) return { ok: false, reason: check.reason };
      return {
        ok: true,
        spend: async (tx) =>
          (await tx.advanceYubicoCounter(factor.id, check.counter, now)) ? { spent: true, factorId: factor.id } : { spent: false, reason: 'yubikey otp replayed or older' },
      };
    }
    const config = await service.onlineConfig(deps.store, user.realm, realm?.yubico ?? null, deps.secretKey);
    if (!config) return { ok: false, unavailable: true, reason: `realm ${user.realm} has no YubiKey validation service configured` };
    const { yubicoTimeoutSeconds } = await import('../settings.js');
    const result = await service.validateOnline({
      ...config,
      otp: otp.otp,
      nonce: deps.randomBytes(16).toString('hex'),
      timeoutMs: (await yubicoTimeoutSeconds(deps.store)) * 1000,
    });
    if (result.ok) {
      // The validation service guards against replay itself: only the last use is written here,
      // and for a key with its own AES key the counter it carries, so that the realm going back to
      // offline checks does not take this OTP again.
      let counter: number | undefined;
      if (factor.sealedSecret) {
        // The service has taken the OTP already: key material that does not open costs the sign-in nothing.
        try {
          const check = service.checkOffline(service.openOfflineKey(factor.sealedSecret, await deps.secretKey(), user.userid, factor.id), otp);
          if (check.ok) counter = check.counter;
        } catch {
          counter = undefined;
        }
      }
      return {
        ok: true,
        spend: async (tx) => {
          await tx.touchFactor(factor.id, now);
          if (counter !== undefined) await tx.advanceYubicoCounter(factor.id, counter, now);
          return { spent: true, factorId: factor.id };
        },
      };
    }
    return result.rejected ? { ok: false, reason: `validation service: ${result.status}` } : { ok: false, unavailable: true, reason: result.reason };
  },
};

