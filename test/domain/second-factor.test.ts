import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeOffer, inferCodeKind, typedCode } from '../../src/domain/second-factor.js';

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

describe('typedCode', () => {
  it('joins a TOTP code typed in the groups apps show it in, and trims', () => {
    expect(typedCode(' 123 456 ')).toBe('123456');
    expect(typedCode('123-456')).toBe('123456');
    expect(typedCode('1234 5678')).toBe('12345678');
    expect(inferCodeKind('698 084')).toBe('totp');
  });

  it('leaves alone what is not a grouped code of 6 to 8 digits: a recovery key keeps its dashes', () => {
    for (const text of ['12 34', '123 456 789', '123  456', '12a 456', 'abcd-ef01-2345-6789', '1234-5678-9012-3456', 'cccccccbcjdk', '']) expect(typedCode(text)).toBe(text.trim());
  });

  it('gives back the same digits, whatever groups they were typed in', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{6,8}$/), fc.array(fc.constantFrom(' ', '-'), { maxLength: 7 }), (code, separators) => {
        let typed = code[0]!;
        for (let i = 1; i < code.length; i++) typed += (separators[i - 1] ?? '') + code[i];
        expect(typedCode(` ${typed} `)).toBe(code);
      }),
    );
  });
});
