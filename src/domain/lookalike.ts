import { ASCII_LOOKALIKES, SCRIPTS } from './lookalike-data.js';

/**
 * Whether a new user name could pass for another: the two checks of Unicode Technical Standard #39
 * that matter for ids people read and type.
 * - Mixed scripts: the name must be "highly restrictive": one script, or Latin with Han and
 *   Hiragana and Katakana, with Han and Bopomofo, or with Han and Hangul. Characters whose
 *   Script_Extensions are Common or Inherited (digits, `.`, `-`, combining accents) do not count.
 * - ASCII lookalikes: no non-ASCII character whose UTS #39 skeleton is pure ASCII (Cyrillic о,
 *   Greek ο, dotless ı), from ICU's confusables data (lookalike-data.ts, generated).
 * - Invisible characters: none that shows as nothing (Default_Ignorable_Code_Point, such as the
 *   combining grapheme joiner U+034F and the Hangul fillers, and the blank braille pattern U+2800),
 *   which would make `root` and `root` plus one of them two names that look the same.
 * Pure, and loaded only when a non-ASCII name is created: the tables cost start-up time that
 * ASCII names, and every lookup of an existing user, never pay.
 */

export type NameProblem =
  | { readonly kind: 'invisible'; readonly codePoint: number }
  | { readonly kind: 'marked-ascii'; readonly codePoint: number; readonly letter: string }
  | { readonly kind: 'mixed-scripts'; readonly scripts: readonly string[] }
  | { readonly kind: 'ascii-lookalike'; readonly codePoint: number };

/** Characters that show as nothing: what Unicode says may be ignored in display, and the blank braille cell. */
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\u2800]/u;

/** What makes `name` (canonical, see canonicalName) pass for another; null when nothing does. */
export function lookalikeProblem(name: string): NameProblem | null {
  const invisible = INVISIBLE.exec(name);
  if (invisible) return { kind: 'invisible', codePoint: invisible[0].codePointAt(0) as number };
  // A mark on an ASCII character that composes with it into no letter of its own (what NFC has
  // left): i with a dot above, o with a stroke overlay, r with a tilde overlay show as the plain
  // character in many fonts, so `admin` could be made again with one (UTS #39's nonspacing-mark check).
  const marked = /([\x21-\x7e])(\p{Mn})/u.exec(name);
  if (marked) return { kind: 'marked-ascii', codePoint: marked[2]!.codePointAt(0) as number, letter: marked[1]! };
  const mixed = mixedScripts(name);
  if (mixed) return { kind: 'mixed-scripts', scripts: mixed };
  for (const c of name) {
    const cp = c.codePointAt(0) as number;
    if (cp > 0x7f && looksLikeAscii(cp)) return { kind: 'ascii-lookalike', codePoint: cp };
  }
  return null;
}

/** Says what the problem is in words, for an error message. */
export function describeNameProblem(problem: NameProblem): string {
  if (problem.kind === 'mixed-scripts') return `mixes scripts (${problem.scripts.join(', ')})`;
  const hex = problem.codePoint.toString(16).toUpperCase().padStart(4, '0');
  if (problem.kind === 'invisible') return `holds U+${hex}, which shows as nothing`;
  if (problem.kind === 'marked-ascii') return `holds U+${hex} on ${JSON.stringify(problem.letter)}, a mark that can show as nothing on it`;
  const c = String.fromCodePoint(problem.codePoint);
  // Shown when it is a letter or digit; a mark or a space would only confuse the message.
  return `holds U+${hex}${/^[\p{L}\p{N}]$/u.test(c) ? ` (${c})` : ''}, which looks like an ASCII character`;
}

// ---------------------------------------------------------------------------------------------
// Characters that look like ASCII
// ---------------------------------------------------------------------------------------------

/** Start and end of each range, flat and ascending; decoded on first use. */
let lookalikes: Uint32Array | null = null;

function lookalikeRanges(): Uint32Array {
  if (lookalikes) return lookalikes;
  const pairs = ASCII_LOOKALIKES.split(',');
  const flat = new Uint32Array(pairs.length * 2);
  let previous = 0x7f;
  pairs.forEach((pair, i) => {
    const [gap = '', extra = ''] = pair.split('.');
    const start = previous + 1 + parseInt(gap, 36);
    const end = start + parseInt(extra, 36);
    flat[2 * i] = start;
    flat[2 * i + 1] = end;
    previous = end;
  });
  lookalikes = flat;
  return flat;
}

/** Whether the UTS #39 skeleton of this non-ASCII code point is pure ASCII. */
export function looksLikeAscii(codePoint: number): boolean {
  const ranges = lookalikeRanges();
  let lo = 0;
  let hi = ranges.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (codePoint < (ranges[2 * mid] as number)) hi = mid - 1;
    else if (codePoint > (ranges[2 * mid + 1] as number)) lo = mid + 1;
    else return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Mixed scripts
// ---------------------------------------------------------------------------------------------

/** The combinations of scripts UTS #39 allows in a highly restrictive name besides a single script. */
const ALLOWED_COMBINATIONS: readonly (readonly string[])[] = [
  ['Latn', 'Hani', 'Hira', 'Kana'],
  ['Latn', 'Hani', 'Bopo'],
  ['Latn', 'Hani', 'Hang'],
];

const COMMON_OR_INHERITED = /^[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]$/u;

let scriptPatterns: readonly (readonly [code: string, pattern: RegExp])[] | null = null;

/**
 * The scripts a character's Script_Extensions name; null for Common and Inherited ones, which do
 * not count. A character of a script newer than the table gets its own set, "Unknown", so it never
 * passes as part of another script.
 */
function scriptsOf(c: string): ReadonlySet<string> | null {
  if (COMMON_OR_INHERITED.test(c)) return null;
  scriptPatterns ??= SCRIPTS.map(([code]) => [code, new RegExp(`^\\p{Script_Extensions=${code}}$`, 'u')] as const);
  const found = new Set(scriptPatterns.filter(([, pattern]) => pattern.test(c)).map(([code]) => code));
  return found.size > 0 ? found : new Set(['Zzzz']);
}

/** The names of the scripts a name mixes, or null when it is highly restrictive. */
function mixedScripts(name: string): string[] | null {
  const sets = [...name].map(scriptsOf).filter((s): s is ReadonlySet<string> => s !== null);
  if (sets.length === 0) return null;
  const common = [...(sets[0] as ReadonlySet<string>)].filter((code) => sets.every((s) => s.has(code)));
  if (common.length > 0) return null;
  if (ALLOWED_COMBINATIONS.some((allowed) => sets.every((s) => allowed.some((code) => s.has(code))))) return null;
  const names = new Map(SCRIPTS);
  const used = new Set(sets.map((s) => [...s][0] as string));
  return [...used].map((code) => names.get(code) ?? 'Unknown').sort();
}
