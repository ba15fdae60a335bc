import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalName, parseRealmName, parseSignInUserId, parseUserId, quote, realmPassedFor, USERID_SHAPE } from '../../src/domain/userid.js';
import { UsageError } from '../../src/errors.js';

describe('parseUserId', () => {
  it('puts a bare name in realm local', () => {
    expect(parseUserId('alice')).toEqual({ name: 'alice', realm: 'local', id: 'alice@local' });
  });

  it('splits name@realm', () => {
    expect(parseUserId('bob@corp')).toEqual({ name: 'bob', realm: 'corp', id: 'bob@corp' });
    expect(parseUserId('j.doe-1@ad.example')).toMatchObject({ name: 'j.doe-1', realm: 'ad.example' });
  });

  it.each(['', '@local', 'a b', 'a@', 'a@b', 'a@1corp', 'a/b', 'a:b', 'x@y@z', 'tab\there', 'x'.repeat(65), 'a@b c'])(
    'rejects %j with a usage error',
    (input) => {
      expect(() => parseUserId(input)).toThrow(UsageError);
    },
  );

  it('never throws anything but a UsageError, and a parsed id parses to itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (input) => {
        try {
          const id = parseUserId(input);
          expect(parseUserId(id.id)).toEqual(id);
          expect(id.id).toBe(`${id.name}@${id.realm}`);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          expect((e as Error).message).not.toContain('\n');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts every name of safe characters in every valid realm, in lower case', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
        fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{1,31}$/),
        (name, realm) => {
          const lower = { name: name.toLowerCase(), realm: realm.toLowerCase() };
          expect(parseUserId(`${name}@${realm}`)).toEqual({ ...lower, id: `${lower.name}@${lower.realm}` });
        },
      ),
    );
  });

  it.each([
    ['ROOT@LOCAL', 'root@local'],
    ['ｒｏｏｔ', 'root@local'],
    ['ｒｏｏｔ＠ＬＯＣＡＬ', 'root@local'],
    ['Alice@PVE', 'alice@pve'],
    ['STRASSE', 'strasse@local'],
    ['Straße', 'strasse@local'],
    ['\u1E9Ee', 'sse@local'],
    ['ǅ', 'dž@local'],
    ['Ⅻ@corp', 'xii@corp'],
    ['e\u0301', 'é@local'],
  ])('reads %j as %s: one user however it is spelt', (input, id) => {
    expect(parseUserId(input).id).toBe(id);
  });

  it('keeps names that differ by more than case and width apart', () => {
    expect(parseUserId('rооt').id).not.toBe('root@local');
    expect(parseUserId('josé').id).toBe('josé@local');
    expect(parseUserId('jose').id).toBe('jose@local');
  });

  it.each([
    ['a lone surrogate', 'al\ud800ice', 'not valid Unicode'],
    ['the replacement character of a decoder', 'al\ufffdice', 'U+FFFD'],
    ['a bidi override', 'al\u202eice', 'the name before'],
    ['a line separator', 'al\u2028ice', 'the name before'],
  ])('refuses %s with a usage error that does not show it', (_what, input, message) => {
    expect(() => parseUserId(input)).toThrow(message);
    try {
      parseUserId(input);
    } catch (e) {
      expect((e as Error).message).not.toMatch(/[\ud800-\udfff\u202e\u2028]/);
    }
  });
});

describe('canonicalName', () => {
  it('is idempotent: folding a folded name changes nothing', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (input) => {
        const once = canonicalName(input);
        expect(canonicalName(once)).toBe(once);
      }),
      { numRuns: 5000 },
    );
  });

  it('is idempotent for every single code point, and for pairs of graphemes', () => {
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const once = canonicalName(String.fromCodePoint(cp));
      if (canonicalName(once) !== once) expect.fail(`U+${cp.toString(16)}: ${once} folds again`);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 12 }), (a, b) => {
        const once = canonicalName(a + b);
        expect(canonicalName(once)).toBe(once);
      }),
      { numRuns: 5000 },
    );
  });

  it('ignores case and width, as NFKC and case folding do', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (s) => {
        expect(canonicalName(s.toUpperCase())).toBe(canonicalName(s.toLowerCase()));
        expect(canonicalName(s.normalize('NFKD'))).toBe(canonicalName(s));
      }),
      { numRuns: 3000 },
    );
  });

  it('parses a canonical id to itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (input) => {
        let id;
        try {
          id = parseUserId(input);
        } catch {
          return;
        }
        expect(id.id).toBe(canonicalName(id.id));
        expect(parseUserId(id.id)).toEqual(id);
        expect(parseUserId(id.id.toUpperCase())).toEqual(id);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('parseRealmName', () => {
  it('accepts names like Proxmox realm ids, in lower case', () => {
    expect(parseRealmName('pve')).toBe('pve');
    expect(parseRealmName('Corp_AD-2.eu')).toBe('corp_ad-2.eu');
    expect(parseRealmName('LOCAL')).toBe('local');
    expect(parseRealmName('ＬＯＣＡＬ')).toBe('local');
  });

  it('rejects anything else with a one-line usage error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (input) => {
        const valid = /^[A-Za-z][A-Za-z0-9._-]{1,31}$/.test(input);
        if (valid) expect(parseRealmName(input)).toBe(input.toLowerCase());
        else if (!/^[A-Za-z][A-Za-z0-9._-]{1,31}$/.test(canonicalName(input))) expect(() => parseRealmName(input)).toThrow(UsageError);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('realmPassedFor', () => {
  it('finds the realm a new one differs from only in dots, dashes and underscores', () => {
    expect(realmPassedFor('local.', ['local', 'corp'])).toBe('local');
    expect(realmPassedFor('c-o_rp', ['local', 'corp'])).toBe('corp');
    expect(realmPassedFor('corp2', ['local', 'corp'])).toBeNull();
    expect(realmPassedFor('corp', ['corp'])).toBeNull();
  });

  it('finds it whatever punctuation is put into a realm name, and never for a name with other letters', () => {
    const realm = fc.stringMatching(/^[a-z][a-z0-9]{1,20}$/);
    fc.assert(
      fc.property(realm, fc.array(fc.tuple(fc.nat(), fc.constantFrom('.', '-', '_')), { minLength: 1, maxLength: 4 }), (name, marks) => {
        const chars = [...name];
        for (const [at, mark] of marks) chars.splice(1 + (at % chars.length), 0, mark);
        expect(realmPassedFor(chars.join(''), ['local', name])).toBe(name);
        expect(realmPassedFor(`${name}x`, [name])).toBeNull();
      }),
      { numRuns: 300 },
    );
  });
});

/** The message a parser refuses input with, or null when it takes it. */
const refusal = (parse: (input: string) => unknown) => (input: string) => {
  try {
    parse(input);
  } catch (e) {
    return (e as Error).message;
  }
  return null;
};

describe('a refused user id that holds a character shown as ?', () => {
  it('names the first such character, as the text rule names one', () => {
    const message = refusal(parseUserId);
    expect(message('a\u001bb')).toBe(`invalid user id "a?b": it holds U+001B, shown as ?; the name before '@' must be 1 to 64 characters without spaces or any of : / @ \\ , ; " ' \` < > |`);
    expect(message('ab\u200bc@x y')).toMatch(/^invalid user id "ab\?c@x y": it holds U\+200B, shown as \?; /);
    expect(message('bad/name')).toMatch(/^invalid user id "bad\/name": the name before '@'/);
  });
});

describe('parseSignInUserId', () => {
  const message = refusal(parseSignInUserId);

  it('parses a user id as parseUserId does', () => {
    expect(parseSignInUserId('Bob@corp')).toEqual(parseUserId('Bob@corp'));
  });

  it('shows a password typed where the user id goes by its length only', () => {
    expect(message('Hunter2 secret!')).toMatch(/^invalid user id of 15 characters: /);
    expect(message('Hunter2 secret!')).not.toContain('Hunter2');
  });

  it('names an id with a user id\'s shape as typed, as sshd names an invalid user', () => {
    expect(message('bob@x')).toMatch(/^invalid user id "bob@x": /);
  });

  it('never repeats input that holds a sign no user id holds (a password\'s)', () => {
    const signs = fc.constantFrom(' ', ':', '/', '"', "'", ',', ';', '\\', '`', '<', '>', '|');
    fc.assert(
      fc.property(fc.string({ minLength: 2, maxLength: 30 }), signs, fc.string({ minLength: 2, maxLength: 30 }), (before, sign, after) => {
        const input = `${before}${sign}${after}`;
        expect(USERID_SHAPE.test(input)).toBe(false);
        const m = message(input);
        expect(m).not.toBeNull();
        expect(m).not.toContain(input);
        expect(m).toMatch(/^invalid user id( of \d+ characters: |: that is an API token's value)/);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('quote', () => {
  it('shows only what shows as itself: other spaces, controls and invisible characters become ?', () => {
    expect(quote('a\u00a0b\u034fc\u3164d\u200be\tf g\u2800')).toBe('"a?b?c?d?e?f g?"');
  });

  it('keeps any input on one short line of visible characters', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.string({ unit: fc.constantFrom('"', '\\', 'a', '\u034f'), maxLength: 200 })), (input) => {
        const q = quote(input);
        expect([...(JSON.parse(q) as string)].length).toBeLessThanOrEqual(80);
        expect(q).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]|[^\S ]/u);
      }),
    );
  });
});
