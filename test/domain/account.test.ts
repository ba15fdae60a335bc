import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { factorIdShowable, parseComment, parseEmail, parseFactorIdArg, parsePositiveInt } from '../../src/domain/account.js';
import { parseTotpParams } from '../../src/domain/totp-params.js';
import { UsageError } from '../../src/errors.js';

describe('parseEmail and parseComment', () => {
  it('treats empty as none', () => {
    expect(parseEmail('')).toBeNull();
    expect(parseComment('')).toBeNull();
  });

  it('accepts ordinary addresses and rejects malformed ones', () => {
    expect(parseEmail('a.b+c@example.co.uk')).toBe('a.b+c@example.co.uk');
    for (const bad of ['a', 'a@b', 'a b@c.d', '@c.d', 'a@@c.d']) expect(() => parseEmail(bad)).toThrow(UsageError);
  });

  it('rejects multi-line and overlong comments', () => {
    expect(() => parseComment('a\nb')).toThrow(UsageError);
    expect(() => parseComment('x'.repeat(257))).toThrow(UsageError);
  });

  it('never throws anything but a UsageError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (input) => {
        for (const parse of [parseEmail, parseComment]) {
          try {
            parse(input);
          } catch (e) {
            expect(e).toBeInstanceOf(UsageError);
          }
        }
      }),
    );
  });
});

describe('factorIdShowable', () => {
  it('lets a message repeat only what could start a factor id: never a recovery key, a TOTP secret or a password', () => {
    for (const id of ['3f2a', '3F2A1B6C', '3f2a1b6c-', '3f2a1b6c-0000-4000-8000-000000000000', '123456']) expect(factorIdShowable(id), id).toBe(true);
    for (const text of ['6008-c778-81eb-d4c0', 'JBSWY3DPEHPK3PXP', 'hunter2', 'bob@local!ci=3f2a', '3f2a1b6c-0000-4000-8000-0000000000001', 'totp']) {
      expect(factorIdShowable(text), text).toBe(false);
    }
    // Every start of a real id may be shown; nothing with a character an id never holds may.
    fc.assert(
      fc.property(fc.uuid(), fc.nat(36), (uuid, n) => {
        expect(factorIdShowable(uuid.slice(0, Math.max(1, n)))).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (text) => {
        if (/[^0-9a-f-]/i.test(text)) expect(factorIdShowable(text)).toBe(false);
      }),
    );
  });
});

describe('parseFactorIdArg', () => {
  it('takes an id or a start of one of at least 4 characters, and refuses empty, spaced or invisible input with a UsageError', () => {
    for (const ok of ['3f2a', '3f2a1b6c-0000-4000-8000-000000000000']) expect(parseFactorIdArg(ok)).toBe(ok);
    expect(() => parseFactorIdArg('3f2')).toThrow('factor id 3f2 is too short: give at least 4 characters of it (see tfactl tfa list)');
    for (const bad of ['', ' ', 'a b', 'x\u200b', '\t', 'x'.repeat(65)]) expect(() => parseFactorIdArg(bad)).toThrow(/^invalid factor id[ :]/);
    // A passphrase given as the id is not repeated.
    expect(() => parseFactorIdArg('correct horse battery')).toThrow(/^invalid factor id: give the id tfa list shows/);
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (input) => {
        try {
          expect(parseFactorIdArg(input)).toBe(input);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          expect((e as Error).message).not.toMatch(/[\n\r]/);
        }
      }),
    );
  });
});

describe('parsePositiveInt', () => {
  it('accepts whole numbers from 1 up', () => {
    expect(parsePositiveInt('1', 'n')).toBe(1);
    expect(parsePositiveInt('250', 'n')).toBe(250);
  });
  it.each(['0', '-1', '1.5', '1e3', '', ' 1', 'x', '006', '+5', '0x10'])('rejects %j', (input) => expect(() => parsePositiveInt(input, 'n')).toThrow(UsageError));

  it('says the range it takes, without a bound nobody could reach', () => {
    expect(() => parsePositiveInt('0', '--limit')).toThrow('invalid --limit "0": expected a whole number of 1 or more');
    expect(() => parsePositiveInt('0', 'count', 100)).toThrow('invalid count "0": expected a whole number from 1 to 100');
  });
});

describe('parseTotpParams', () => {
  it('fills in the Proxmox defaults', () => {
    expect(parseTotpParams({})).toEqual({ digits: 6, period: 30, algorithm: 'SHA1' });
  });

  it('accepts 7 and 8 digits (Proxmox allows 6 to 8), steps from 10 to 300 s and SHA-256/512 in any case', () => {
    expect(parseTotpParams({ digits: '8', period: '10', algorithm: 'sha-256' })).toEqual({ digits: 8, period: 10, algorithm: 'SHA256' });
    expect(parseTotpParams({ digits: '7' })).toEqual({ digits: 7, period: 30, algorithm: 'SHA1' });
    expect(parseTotpParams({ period: '300', algorithm: 'SHA512' })).toMatchObject({ period: 300, algorithm: 'SHA512' });
  });

  it.each([{ digits: '5' }, { digits: '9' }, { digits: '07' }, { digits: '6.0' }, { period: '9' }, { period: '301' }, { period: '030' + '0' }, { algorithm: 'MD5' }])(
    'rejects %j',
    (input) => expect(() => parseTotpParams(input)).toThrow(UsageError),
  );

  it('never throws anything but a UsageError', () => {
    fc.assert(
      fc.property(fc.record({ digits: fc.string(), period: fc.string(), algorithm: fc.string() }, { requiredKeys: [] }), (input) => {
        try {
          const o = parseTotpParams(input);
          expect([6, 7, 8]).toContain(o.digits);
          expect(o.period).toBeGreaterThanOrEqual(10);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
    );
  });
});

