import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseComment, parseEmail } from '../../src/domain/account.js';
import { checkText, decodeUtf8, escapeText, firstInvalidLine, safeJson, unsafeCodePoint } from '../../src/domain/text.js';
import { UsageError } from '../../src/errors.js';

/** The characters the rule refuses, listed the long way, as the brief lists them. */
function refused(cp: number): boolean {
  return (
    cp <= 0x1f ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    (cp >= 0xd800 && cp <= 0xdfff)
  );
}

/** Text of any UTF-16 units, lone surrogates included, biased towards the interesting ones. */
const anyText = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u)),
    fc.constantFrom('\x1b', '\n', '\r', '\t', '\x7f', '\x9b', '\u202e', '\u2066', '\u2028', '\u2029', '\ud800', '\udfff', 'a', 'é', '😀'),
  ),
  maxLength: 40,
});

describe('the text rule', () => {
  it('refuses exactly the control, bidi, separator and lone-surrogate code points', () => {
    const wrong: string[] = [];
    for (let cp = 0; cp <= 0xffff; cp++) {
      if ((unsafeCodePoint(String.fromCharCode(cp)) !== null) !== refused(cp)) wrong.push(`U+${cp.toString(16)}`);
    }
    expect(wrong).toEqual([]);
    // A surrogate pair is one code point outside the BMP, not two lone halves.
    expect(unsafeCodePoint('😀')).toBeNull();
    expect(unsafeCodePoint('a\ud83d')).toBe(0xd83d);
  });

  it('accepts text as a person writes it: accents, scripts, emoji, punctuation', () => {
    for (const text of ['José Müller', 'Дмитрий', '王伟', 'ομάδα', 'team 😀 (ops)', 'a/b:c;d, "e" <f>', 'مرحبا']) {
      expect(checkText(text, 'comment', 256)).toBe(text);
    }
  });

  it('checkText passes safe text through and refuses the rest with a one-line error that never shows it', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const safe = ![...text].some((c) => refused(c.codePointAt(0) as number));
        if (safe) {
          expect(checkText(text, 'comment', 256)).toBe(text);
          return;
        }
        try {
          checkText(text, 'comment', 256);
          expect.fail('accepted unsafe text');
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          const message = (e as Error).message;
          expect(message).toMatch(/^invalid comment: it holds U\+[0-9A-F]{4} \(/);
          expect(unsafeCodePoint(message)).toBeNull();
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('counts the length limit in code points, as a person counts', () => {
    expect(checkText('😀'.repeat(256), 'comment', 256)).toHaveLength(512);
    expect(() => checkText('a'.repeat(257), 'comment', 256)).toThrow('at most 256 characters');
  });

  it('is the rule of comments and email addresses', () => {
    expect(() => parseComment('red\x1b[31m')).toThrow('U+001B');
    expect(() => parseComment('two\nlines')).toThrow('U+000A');
    expect(() => parseComment('\u202etxt.exe')).toThrow('U+202E');
    expect(() => parseComment('para\u2029graph', 'description')).toThrow('invalid description: it holds U+2029');
    expect(() => parseEmail('a\x9b@b.example')).toThrow('invalid email address: it holds U+009B');
    expect(() => parseEmail('a\u2066@b.example')).toThrow('U+2066');
    expect(parseComment('fine, thanks')).toBe('fine, thanks');
  });
});

describe('escapeText', () => {
  it('leaves nothing the rule refuses, keeps safe text as it is, and is idempotent', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const shown = escapeText(text);
        expect(unsafeCodePoint(shown)).toBeNull();
        expect(escapeText(shown)).toBe(shown);
        if (unsafeCodePoint(text) === null) expect(shown).toBe(text);
      }),
      { numRuns: 3000 },
    );
  });

  it('shows each character visibly', () => {
    expect(escapeText('a\x1b[31mb\nc\rd\te\x7f\x9b\u202ef\u2028g\ud800')).toBe('a\\x1b[31mb\\nc\\rd\\te\\x7f\\x9b\\u202ef\\u2028g\\ud800');
  });
});

describe('safeJson', () => {
  it('parses back to the same value and holds no character the rule refuses', () => {
    fc.assert(
      fc.property(fc.jsonValue(), anyText, (value, text) => {
        for (const v of [value, { text }, [text, value]]) {
          const json = safeJson(v);
          expect(unsafeCodePoint(json)).toBeNull();
          expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(v)));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decodeUtf8', () => {
  it('decodes valid UTF-8 exactly as Node does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (text) => {
        expect(decodeUtf8(Buffer.from(text, 'utf8'))).toBe(text);
      }),
    );
  });

  it('turns every byte that is not UTF-8 into a lone surrogate, never into U+FFFD', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const text = decodeUtf8(bytes);
        const valid = Buffer.from(Buffer.from(bytes).toString('utf8'), 'utf8').equals(Buffer.from(bytes));
        expect(/\p{Cs}/u.test(text)).toBe(!valid);
        // Nothing is lost: the escaped bytes come back where they were.
        const back = [...text].flatMap((c) => {
          const cp = c.codePointAt(0) as number;
          return cp >= 0xdc80 && cp <= 0xdcff ? [cp - 0xdc00] : [...Buffer.from(c, 'utf8')];
        });
        expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses overlong forms and encoded surrogates, and names the line of the first bad byte', () => {
    expect(decodeUtf8(Uint8Array.from([0xc0, 0xaf]))).toBe('\udcc0\udcaf');
    expect(decodeUtf8(Uint8Array.from([0xed, 0xa0, 0x80]))).toBe('\udced\udca0\udc80');
    expect(firstInvalidLine(decodeUtf8(Buffer.from('ok\nfine\nbad \xff here', 'latin1')))).toBe(3);
    expect(firstInvalidLine('all\ngood')).toBeNull();
  });
});
