import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkPassword, DEFAULT_PASSWORD_POLICY, guessableBy } from '../../src/domain/password-policy.js';
import { UsageError } from '../../src/errors.js';

describe('checkPassword', () => {
  it('accepts 8 to 256 characters by default', () => {
    expect(() => checkPassword('tin 8 cm', DEFAULT_PASSWORD_POLICY)).not.toThrow();
    expect(() => checkPassword('xy'.repeat(128), DEFAULT_PASSWORD_POLICY)).not.toThrow();
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
    expect(() => checkPassword('🔑🗝🔑🗝🔑🗝🔑🗝', DEFAULT_PASSWORD_POLICY)).not.toThrow();
    expect(() => checkPassword('🔑🗝🔑🗝🔑🗝🔑', DEFAULT_PASSWORD_POLICY)).toThrow(/8 to 256 characters long \(it has 7\)/);
  });

  it('rejects control characters and surrounding whitespace', () => {
    expect(() => checkPassword('abc\u0007defgh', DEFAULT_PASSWORD_POLICY)).toThrow(/control/);
    expect(() => checkPassword(' abcdefgh', DEFAULT_PASSWORD_POLICY)).toThrow(/whitespace/);
  });

  it('decides by length and guessability alone for printable passwords', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcXYZ019!#€ü'), maxLength: 300 }), (pw) => {
        const ok = pw.length >= 8 && [...pw].length <= 256 && guessableBy(pw) === null;
        if (ok) expect(() => checkPassword(pw, DEFAULT_PASSWORD_POLICY)).not.toThrow();
        else expect(() => checkPassword(pw, DEFAULT_PASSWORD_POLICY)).toThrow(UsageError);
      }),
    );
  });

  it('refuses the passwords guessers try first, whatever their case, without repeating them', () => {
    for (const [pw, why] of [
      ['password123', 'it is one of the most common passwords'],
      ['Password1', 'it is one of the most common passwords'],
      ['QWERTYUIOP', 'it is one of the most common passwords'],
      ['iloveyou', 'it is one of the most common passwords'],
      ['12345678', 'it is a run of characters in order'],
      ['qwerty123', 'it is one of the most common passwords'],
      ['aaaaaaaaaa', 'it is one character repeated'],
      ['🔑🔑🔑🔑🔑🔑🔑🔑', 'it is one character repeated'],
      ['abcdefghij', 'it is a run of characters in order'],
      ['98765432', 'it is a run of characters in order'],
      // Neither case nor a digit or two and a symbol after it saves a repeat or a run.
      ['Aaaaaaaa', 'it is one character repeated'],
      ['aaaaaaaa1', 'it is one character repeated'],
      ['Abcdefgh', 'it is a run of characters in order'],
      ['Zyxwvuts', 'it is a run of characters in order'],
      ['abcdefgh1', 'it is a run of characters in order'],
      ['12345678!', 'it is a run of characters in order'],
      ['ABCDEFGH12', 'it is a run of characters in order'],
    ] as const) {
      expect(guessableBy(pw), pw).toBe(why);
      try {
        checkPassword(pw, DEFAULT_PASSWORD_POLICY);
        expect.unreachable(pw);
      } catch (e) {
        expect({ code: (e as UsageError).code, message: (e as Error).message }).toEqual({ code: 'weak_password', message: `password rejected: ${why}, which guessers try first: choose another` });
      }
    }
  });

  it('lets through what is not on the list, in order or repeated', () => {
    for (const pw of ['correct horse battery', 'password123!x', 'abcdefgx', 'aaaaaaab', 'acegikmo', 'Übermut 2026', '🔑🗝🔑🗝🔑🗝🔑🗝', 'abcdefgh123', '1abcdefgh', 'aaaa1aaaa']) expect(guessableBy(pw), pw).toBeNull();
  });

  it('finds any repeat or run of letters or digits, in any case (a property)', () => {
    const anyCase = (text: string, upper: boolean[]) => [...text].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c)).join('');
    const upper = fc.array(fc.boolean(), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(fc.constantFrom(...'abcxyz0159'), fc.integer({ min: 2, max: 40 }), upper, (c, n, u) => {
        expect(guessableBy(anyCase(c.repeat(n), u))).toBe('it is one character repeated');
      }),
    );
    const alphabet = 'abcdefghijklmnopqrstuvwxyz';
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 18 }), fc.integer({ min: 8, max: 26 }), fc.boolean(), upper, (start, n, down, u) => {
        const run = alphabet.slice(start, start + n);
        expect(guessableBy(anyCase(down ? [...run].reverse().join('') : run, u))).toBe('it is a run of characters in order');
      }),
    );
  });

  it('finds a listed password as well in any case (a property)', () => {
    const listed = ['sunshine', 'princess', 'trustno1', 'baseball', 'starwars', 'whatever'];
    fc.assert(
      fc.property(fc.constantFrom(...listed), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), (pw, upper) => {
        const cased = [...pw].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('');
        expect(guessableBy(cased)).toBe('it is one of the most common passwords');
      }),
    );
  });
});
