import { UsageError } from '../errors.js';

/**
 * The one rule for free text that tfactl stores or shows (comments, email addresses, names,
 * descriptions, issuers): no character that can rewrite a terminal or the layout of a line.
 * - C0 and C1 controls and DEL (\p{Cc}): ESC starts terminal escape sequences, CR and LF forge
 *   lines, TAB shifts columns, 0x9B is an 8-bit CSI on some terminals;
 * - bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they reorder
 *   what is shown after them (a user id can be made to read as another);
 * - U+2028 and U+2029, line and paragraph separators some viewers break lines at;
 * - lone surrogates: not text at all, and what invalid UTF-8 decodes to (decodeUtf8).
 * In a `u` regular expression \p{Cs} matches only lone surrogates: a paired one is a code point
 * outside the BMP.
 */
const UNSAFE_SOURCE = String.raw`[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]|\p{Cs}`;
const UNSAFE = new RegExp(UNSAFE_SOURCE, 'u');
const UNSAFE_ALL = new RegExp(UNSAFE_SOURCE, 'gu');

/** The first character the rule refuses, as a code point; null when the text is safe. */
export function unsafeCodePoint(text: string): number | null {
  const m = UNSAFE.exec(text);
  return m ? (m[0].codePointAt(0) as number) : null;
}

/** Says what an unsafe code point is, without showing it: `U+001B (a control character)`. */
export function describeUnsafe(codePoint: number): string {
  const hex = `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return `${hex} (a lone surrogate: the input was not valid UTF-8 or UTF-16)`;
  if (codePoint === 0x2028 || codePoint === 0x2029) return `${hex} (a line or paragraph separator)`;
  if (codePoint >= 0x202a && codePoint <= 0x2069) return `${hex} (a bidirectional override)`;
  return `${hex} (a control character)`;
}

/**
 * Checks free text against the rule and a length limit in code points (as a person counts). The
 * message names the field and the offending code point, never the text itself.
 */
export function checkText(input: string, what: string, maxLength: number, code = 'invalid_text'): string {
  const bad = unsafeCodePoint(input);
  if (bad !== null) {
    throw new UsageError(`invalid ${what}: it holds ${describeUnsafe(bad)}; use one line of text without control, bidirectional-override or line-separator characters`, code);
  }
  if (maxLength < Infinity && [...input].length > maxLength) throw new UsageError(`invalid ${what}: at most ${maxLength} characters`, code);
  return input;
}

const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Shows every character the rule refuses as a visible escape (`\x1b`, `\n`, `\u202e`, `\ud800`), so
 * text that reached a store some other way can neither forge a line nor recolour a terminal.
 * Backslashes are left alone, so escaping twice changes nothing.
 */
export function escapeText(text: string): string {
  if (!UNSAFE.test(text)) return text;
  return text.replace(UNSAFE_ALL, (c) => {
    const named = NAMED_ESCAPES[c];
    if (named) return named;
    const cp = c.charCodeAt(0);
    return cp < 0x100 ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  });
}

/**
 * JSON.stringify escapes C0 controls and lone surrogates but leaves DEL, C1 controls, U+2028/2029
 * and bidirectional overrides as they are. They can only occur inside strings, where `\uXXXX` means
 * the same: the result parses to the same value and is safe on a terminal and in the store.
 */
export function safeJson(value: unknown, space?: number): string {
  const json = JSON.stringify(value, null, space);
  return json.replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** One decoder for every call (a bulk import decodes each field of each row), made on first use. */
let strictUtf8: TextDecoder | undefined;

/**
 * Decodes UTF-8 without losing track of bytes that are not UTF-8: each such byte becomes the lone
 * surrogate U+DC80 + byte (Python's "surrogateescape"), which the text rule and the user id parser
 * refuse. A plain decoder would turn them into U+FFFD and the mistake would be stored unnoticed.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    strictUtf8 ??= new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    return strictUtf8.decode(bytes);
  } catch {
    // Invalid somewhere: decoded by hand below.
  }
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    const need = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
    let cp = need === 1 ? b & 0x1f : need === 2 ? b & 0x0f : b & 0x07;
    let ok = b < 0x80 || need > 0;
    for (let k = 1; ok && k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
    if (ok && need === 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    if (ok && need === 3 && (cp < 0x10000 || cp > 0x10ffff)) ok = false;
    if (!ok) {
      out += String.fromCharCode(0xdc00 + b);
      i += 1;
    } else if (b < 0x80) {
      out += String.fromCharCode(b);
      i += 1;
    } else {
      out += String.fromCodePoint(cp);
      i += need + 1;
    }
  }
  return out;
}

/** The 1-based line of the first lone surrogate (a byte that was not UTF-8); null when there is none. */
export function firstInvalidLine(text: string): number | null {
  const m = /\p{Cs}/u.exec(text);
  return m ? text.slice(0, m.index).split('\n').length : null;
}

/** `n` of a thing, the noun singular for one: `1 user`, `3 users`. */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/** `has` for one, `have` for more (or none). */
export function hasOrHave(n: number): string {
  return n === 1 ? 'has' : 'have';
}

/** What was typed, cut to 80 characters for a message (`aaaa...`), as quote() cuts what it quotes. */
export function shortened(text: string): string {
  const chars = [...text];
  return chars.length > 80 ? `${chars.slice(0, 77).join('')}...` : text;
}

/**
 * `text` with the secret of anything in it shaped as an API token's value (`USERID!NAME=SECRET`)
 * replaced by `…`: errors and warnings may quote what was typed where something else belonged.
 */
export function hideTokenSecrets(text: string): string {
  // The shape as messages name it (`USERID!NAME=SECRET`) is left as it is; a secret ends at a blank, a quote or `)`.
  // A match starts only where its user id can (the lookbehind): else each position of a long word
  // without a token in it was tried, each to the word's end (seconds for an argument of 64 KiB).
  return text.replace(/(?<![^\s!"'(])([^\s!"'(]*![A-Za-z][A-Za-z0-9._-]{0,31}=)(?!SECRET\b)[^\s"')]+/g, '$1…');
}
