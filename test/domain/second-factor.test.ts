import { describe, expect, it } from 'vitest';
import { describeOffer } from '../../src/domain/second-factor.js';

describe('describeOffer', () => {
  it.each([
    [['totp', 'recovery'], 3, 'TOTP code or recovery key (3 left)'],
    [['yubico'], null, 'YubiKey OTP (touch the key)'],
    [['webauthn', 'u2f', 'recovery'], 1, 'security key or recovery key (1 left)'],
    [['u2f'], null, 'U2F security key'],
  ] as const)('%j', (kinds, recoveryLeft, text) => {
    expect(describeOffer({ userid: 'kim@pve', kinds, recoveryLeft })).toBe(text);
  });
});
