import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkPassword, DEFAULT_PASSWORD_POLICY } from '../../src/domain/password-policy.js';
import { UsageError } from '../../src/errors.js';

describe('checkPassword', () => {
  it('accepts 8 to 256 characters by default', () => {
    expect(() => checkPassword('12345678', DEFAULT_PASSWORD_POLICY)).not.toThrow();
    expect(() => checkPassword('x'.repeat(256), DEFAULT_PASSWORD_POLICY)).not.toThrow();
  });

  it('rejects short and long passwords without repeating them', () => {
    for (const pw of ['short', 'x'.repeat(257)]) {
      try {
        checkPassword(pw, DEFAULT_PASSWORD_POLICY);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        expect((e as Error).message).toContain('8 to 256 characters');
        expect((e as Error).message).not.toContain(pw);
      }
    }
  });

  it('counts characters, not bytes', () => {
    expect(() => checkPassword('🔑🔑🔑🔑🔑🔑🔑🔑', DEFAULT_PASSWORD_POLICY)).not.toThrow();
  });

  it('rejects control characters and surrounding whitespace', () => {
    expect(() => checkPassword('abc\u0007defgh', DEFAULT_PASSWORD_POLICY)).toThrow(/control/);
    expect(() => checkPassword(' abcdefgh', DEFAULT_PASSWORD_POLICY)).toThrow(/whitespace/);
  });

  it('decides by length alone for printable passwords', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcXYZ019!#€ü'), maxLength: 300 }), (pw) => {
        const ok = pw.length >= 8 && [...pw].length <= 256;
        if (ok) expect(() => checkPassword(pw, DEFAULT_PASSWORD_POLICY)).not.toThrow();
        else expect(() => checkPassword(pw, DEFAULT_PASSWORD_POLICY)).toThrow(UsageError);
      }),
    );
  });
});
