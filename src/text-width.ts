import { eastAsianWidth } from 'get-east-asian-width';

/**
 * How many terminal columns text takes, as a terminal draws it: a CJK ideograph, a Hangul
 * syllable, a fullwidth form or an emoji two; a combining mark, a variation selector, a
 * zero-width space or joiner none; anything else one. Tables pad and cut by this, so a column of
 * Chinese names lines up as one of Latin names does. Text reaches here escaped (no controls).
 */

/** Drawn on the character before them, or not at all: combining marks, format characters (ZWJ, ZWSP, soft hyphen...), Hangul's medial and final jamo. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\u1160-\u11ff\ud7b0-\ud7ff]$/u;
/** Format characters drawn before the text they go with (Arabic number signs and the like): one column. */
const PREPENDED = /^[\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\u{110bd}\u{110cd}]$/u;
/** Text every character of which is one column: nearly all of it. */
const NARROW_ONLY = /^[\x20-\x7e\u00a0-\u02ff]*$/;

/** The columns one character (a code point) takes. */
export function charWidth(char: string): 0 | 1 | 2 {
  const cp = char.codePointAt(0) ?? 0;
  if (cp < 0x300) return 1;
  if (ZERO_WIDTH.test(char)) return PREPENDED.test(char) ? 1 : 0;
  return eastAsianWidth(cp) === 2 ? 2 : 1;
}

/** The columns `text` takes. */
export function textWidth(text: string): number {
  if (NARROW_ONLY.test(text)) return text.length;
  let width = 0;
  for (const char of text) width += charWidth(char);
  return width;
}

/** `text` followed by spaces up to `width` columns (as it is when it is that wide or wider). */
export function padToWidth(text: string, width: number): string {
  const missing = width - textWidth(text);
  return missing > 0 ? text + ' '.repeat(missing) : text;
}

/**
 * The longest start of `text` at most `width` columns wide: never half a character or a pair of
 * surrogates, and the marks drawn on its last character kept with it.
 */
export function clipToWidth(text: string, width: number): string {
  if (NARROW_ONLY.test(text)) return text.slice(0, Math.max(0, width));
  let used = 0;
  let end = 0;
  for (const char of text) {
    const w = charWidth(char);
    if (used + w > width) break;
    used += w;
    end += char.length;
  }
  return text.slice(0, end);
}
