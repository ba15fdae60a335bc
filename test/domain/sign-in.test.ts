import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { challengeId, countEnabled, requirement, type SignInFacts, signInStatus } from '../../src/domain/sign-in.js';

const NOW = 1_800_000_000;
const none = { totp: 0, yubico: 0, webauthn: 0, u2f: 0, recoveryKeysLeft: null };

describe('requirement', () => {
  it.each([
    ['no factors, nothing enforced: the password alone', 'none', none, { required: false, usable: [] }],
    ['a TOTP factor: it is required', 'none', { ...none, totp: 1 }, { required: true, usable: ['totp'] }],
    ['only disabled factors (none counted): the password alone', 'none', none, { required: false, usable: [] }],
    ['TOTP enforced, none enrolled: required, nothing usable', 'totp', none, { required: true, usable: [] }],
    ['TOTP enforced: a YubiKey does not count, a recovery key does', 'totp', { ...none, yubico: 1, recoveryKeysLeft: 3 }, { required: true, usable: ['recovery'] }],
    ['YubiKey enforced: TOTP does not count', 'yubico', { ...none, totp: 2, yubico: 1 }, { required: true, usable: ['yubico'] }],
    ['a recovery set with no keys left: required, nothing usable', 'none', { ...none, recoveryKeysLeft: 0 }, { required: true, usable: [] }],
    ['only WebAuthn: required, the key usable', 'none', { ...none, webauthn: 1 }, { required: true, usable: ['webauthn'] }],
    ['only U2F: required, the key usable', 'none', { ...none, u2f: 1 }, { required: true, usable: ['u2f'] }],
    ['TOTP enforced: a WebAuthn key does not count', 'totp', { ...none, webauthn: 1, u2f: 1 }, { required: true, usable: [] }],
  ] as const)('%s', (_what, enforce, enabled, expected) => {
    expect(requirement(enforce, enabled)).toMatchObject(expected);
  });

  it('counts only enabled factors, and the keys left of an enabled recovery set', () => {
    const f = (type: 'totp' | 'yubico', enabled: boolean) => ({ type, enabled });
    const recovery = (enabled: boolean, keysLeft: number) => ({ type: 'recovery' as const, enabled, keysLeft });
    expect(countEnabled([f('totp', true), f('totp', false), f('yubico', false), recovery(true, 4)])).toEqual({ ...none, totp: 1, recoveryKeysLeft: 4 });
    expect(countEnabled([recovery(false, 4)])).toEqual(none);
    // A security key whose registration could not be read (credential id null) cannot answer.
    const key = (type: 'webauthn' | 'u2f', credentialId: string | null) => ({ type, enabled: true, credentialId });
    expect(countEnabled([key('webauthn', 'AAAA'), key('webauthn', null), key('u2f', 'BBBB'), key('u2f', null)])).toEqual({ ...none, webauthn: 1, u2f: 1 });
  });
});

describe('signInStatus', () => {
  const facts = (over: Partial<SignInFacts> = {}): SignInFacts => ({
    userid: 'ann@corp',
    realm: 'corp',
    enforce: 'none',
    enabled: true,
    expire: null,
    hasPassword: true,
    factors: none,
    totpLocked: false,
    lockedUntil: 0,
    passwordBannedUntil: 0,
    yubicoUnchecked: 0,
    ...over,
  });

  it.each([
    ['a plain user', {}, null],
    ['a disabled account', { enabled: false }, 'tfactl user modify ann@corp --enable'],
    ['an expired account', { expire: '2020-01-01' }, 'tfactl user modify ann@corp --expire never'],
    ['no password', { hasPassword: false }, 'tfactl user passwd ann@corp'],
    ['banned password sign-ins', { passwordBannedUntil: NOW + 60 }, 'tfactl tfa unlock ann@corp'],
    ['a realm enforcing TOTP without one', { enforce: 'totp' }, 'tfactl tfa add totp ann@corp'],
    ['a realm enforcing YubiKey OTP without one', { enforce: 'yubico', factors: { ...none, totp: 1 } }, 'tfactl tfa add yubico ann@corp --otp OTP'],
    ['every factor locked', { factors: { ...none, totp: 1 }, lockedUntil: NOW + 60 }, 'tfactl tfa unlock ann@corp'],
    ['TOTP locked and nothing else', { factors: { ...none, totp: 1 }, totpLocked: true }, 'tfactl tfa unlock ann@corp'],
    ['only a YubiKey nothing can check (online, no service)', { factors: { ...none, yubico: 1 }, yubicoUnchecked: 1 }, 'tfactl realm set-yubico corp --api-id ID --api-key @FILE'],
    ['the same where the realm enforces YubiKey OTP', { enforce: 'yubico', factors: { ...none, yubico: 2 }, yubicoUnchecked: 2 }, 'tfactl realm set-yubico corp --api-id ID --api-key @FILE'],
  ] as const)('%s', (_what, over, fix) => {
    const status = signInStatus(facts(over as Partial<SignInFacts>), NOW);
    expect(status.ok ? null : status.fix).toBe(fix);
  });

  it('lets an unchecked YubiKey pass when another factor (a checkable key, TOTP, recovery keys) is left', () => {
    for (const factors of [{ ...none, yubico: 2 }, { ...none, yubico: 1, totp: 1 }, { ...none, yubico: 1, recoveryKeysLeft: 1 }]) {
      expect(signInStatus(facts({ factors, yubicoUnchecked: 1 }), NOW).ok).toBe(true);
    }
    expect(signInStatus(facts({ enforce: 'yubico', factors: { ...none, yubico: 1, recoveryKeysLeft: 3 }, yubicoUnchecked: 1 }), NOW).ok).toBe(true);
  });

  it('lets a TOTP lock pass when recovery keys are left, and past locks and bans pass', () => {
    expect(signInStatus(facts({ factors: { ...none, totp: 1, recoveryKeysLeft: 2 }, totpLocked: true }), NOW).ok).toBe(true);
    expect(signInStatus(facts({ factors: { ...none, totp: 1 }, lockedUntil: NOW - 1, passwordBannedUntil: NOW - 1 }), NOW).ok).toBe(true);
  });

  it('does not fault root@local for having no password: the store\'s owner acts as root@local', () => {
    expect(signInStatus(facts({ userid: 'root@local', realm: 'local', hasPassword: false }), NOW).ok).toBe(true);
  });
});

describe('challengeId', () => {
  it('is 43 base64url characters that never start with "-", so --challenge ID is never an option', () => {
    expect(challengeId(Buffer.alloc(32, 0xff))).toMatch(/^f/);
    expect(challengeId(Buffer.alloc(32, 0xfb))).not.toMatch(/^-/);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const id = challengeId(bytes);
        expect(id).toMatch(/^[A-Za-f][A-Za-z0-9_-]{42}$/);
        // Only the first bit is given up: the rest of the bytes come through.
        expect(Buffer.from(id, 'base64url').subarray(1)).toEqual(Buffer.from(bytes).subarray(1));
      }),
    );
  });
});
