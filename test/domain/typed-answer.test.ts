import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitPasswordAndCode, type TypedFactors } from '../../src/domain/typed-answer.js';

const NONE: TypedFactors = { totpDigits: [], yubicoLengths: [], recovery: false };
const password = fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' });
const digits = (n: number) => fc.stringMatching(new RegExp(`^[0-9]{${n}}$`));
const modhex = (n: number) => fc.stringMatching(new RegExp(`^[cbdefghijklnrtuv]{${n}}$`));
const recoveryKey = fc.stringMatching(/^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/);

describe('a password and a second factor typed as one', () => {
  it('splits off a TOTP code of the digits the user has, whatever the password ends with', () => {
    fc.assert(
      fc.property(password, fc.constantFrom(6, 7, 8), fc.nat(), (pw, n, seed) => {
        const code = String(seed).padStart(n, '0').slice(-n);
        expect(splitPasswordAndCode(pw + code, { ...NONE, totpDigits: [n] })).toEqual({ password: pw, code });
      }),
    );
  });

  it('splits off a YubiKey OTP of the length of the user\'s key, and a recovery key as printed', () => {
    fc.assert(fc.property(password, modhex(44), (pw, otp) => {
      expect(splitPasswordAndCode(pw + otp, { ...NONE, yubicoLengths: [44] })).toEqual({ password: pw, code: otp });
    }));
    fc.assert(fc.property(password, recoveryKey, (pw, key) => {
      expect(splitPasswordAndCode(pw + key, { ...NONE, recovery: true })).toEqual({ password: pw, code: key });
    }));
    // Read out with spaces for its dashes, as login --code takes it too.
    fc.assert(fc.property(password, recoveryKey, (pw, key) => {
      const spaced = key.replace(/-/g, ' ');
      expect(splitPasswordAndCode(pw + spaced, { ...NONE, recovery: true })).toEqual({ password: pw, code: spaced });
    }));
    expect(splitPasswordAndCode('pw0123-4567 89ab cdef', { ...NONE, recovery: true })).toBeNull();
  });

  it('prefers the longer factor a user has, and a recovery key to a TOTP code', () => {
    fc.assert(
      fc.property(password, digits(8), (pw, code) => {
        expect(splitPasswordAndCode(pw + code, { ...NONE, totpDigits: [6, 8] })).toEqual({ password: pw, code });
      }),
    );
    expect(splitPasswordAndCode('pw1234-5678-9abc-def0', { totpDigits: [6], yubicoLengths: [], recovery: true })).toEqual({ password: 'pw', code: '1234-5678-9abc-def0' });
  });

  it('finds nothing when no factor of the user ends the text, or nothing is left for the password', () => {
    expect(splitPasswordAndCode('secret123456', NONE)).toBeNull();
    expect(splitPasswordAndCode('secret12345', { ...NONE, totpDigits: [6] })).toBeNull();
    expect(splitPasswordAndCode('123456', { ...NONE, totpDigits: [6] })).toBeNull();
    expect(splitPasswordAndCode('secret1234-5678-9abc-def0', { ...NONE, totpDigits: [6] })).toBeNull();
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (text) => {
      const split = splitPasswordAndCode(text, { totpDigits: [6], yubicoLengths: [44], recovery: true });
      if (split) expect(split.password + split.code).toBe(text);
    }));
  });
});
