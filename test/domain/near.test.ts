import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nearest } from '../../src/domain/near.js';

describe('nearest', () => {
  const names = ['session.minutes', 'password.min-length', 'password.max-length', 'totp.issuer'];

  it('names what a typo was near, and nothing three edits away', () => {
    expect(nearest('session.minute', names)).toBe('session.minutes');
    expect(nearest('pasword.min-length', names)).toBe('password.min-length');
    expect(nearest('totp.isuser', names)).toBe('totp.issuer');
    expect(nearest('bogus', ['logout'])).toBeUndefined();
  });

  it('answers at once for a word far longer than any name (no edit distance is measured)', () => {
    const started = process.hrtime.bigint();
    expect(nearest('a'.repeat(65_536), names)).toBeUndefined();
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(100);
  });

  it('only ever names one of the names, at most two edits from the word', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 24 }), (word) => {
        const near = nearest(word, names);
        if (near !== undefined) {
          expect(names).toContain(near);
          expect(Math.abs(near.length - word.length)).toBeLessThanOrEqual(2);
        }
      }),
    );
  });
});
