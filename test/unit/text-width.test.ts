import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { charWidth, clipToWidth, padToWidth, textWidth } from '../../src/text-width.js';

/**
 * glibc's wcwidth in the C.UTF-8 locale, for every code point it knows (it says -1 for the others
 * and for controls): an implementation of terminal widths independent of ours.
 */
function glibcWidths(): Map<number, number> {
  const script = `
import ctypes, locale, sys
locale.setlocale(locale.LC_ALL, 'C.UTF-8')
libc = ctypes.CDLL('libc.so.6')
libc.wcwidth.argtypes = [ctypes.c_wchar]
out = []
for cp in range(0x20, 0x40000):
    if 0xd800 <= cp <= 0xdfff: continue
    w = libc.wcwidth(chr(cp))
    if w >= 0: out.append('%x %d' % (cp, w))
sys.stdout.write('\\n'.join(out))
`;
  const r = spawnSync('python3', ['-c', script], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python3 could not ask glibc's wcwidth: ${r.stderr || r.error}`);
  return new Map(r.stdout.split('\n').map((l) => l.split(' ')).map(([cp, w]) => [parseInt(cp!, 16), Number(w)]));
}

/**
 * Where Unicode changed since glibc's tables (Debian 12's glibc has Unicode 15.0; the width data
 * we use is newer): Unicode 16 made these wide, or (the circled numbers) ambiguous, or (Ahom)
 * a spacing mark.
 */
const NEWER_UNICODE: readonly (readonly [number, number])[] = [
  [0x2630, 0x2637],
  [0x268a, 0x268f],
  [0x3248, 0x324f],
  [0x1171e, 0x1171e],
  [0x1d300, 0x1d356],
  [0x1d360, 0x1d376],
];

describe('the width of text on a terminal', () => {
  it('counts CJK, kana, Hangul, fullwidth forms and emoji as two, marks and joiners as none', () => {
    expect(textWidth('alice@pve')).toBe(9);
    expect(textWidth('张伟@local')).toBe(10);
    expect(textWidth('やまだ')).toBe(6);
    expect(textWidth('한국어')).toBe(6);
    expect(textWidth('ｌｏｃａｌ')).toBe(10);
    expect(textWidth('😀 ok')).toBe(5);
    expect(textWidth('jose\u0301')).toBe(4);
    expect(textWidth('a\u200bb')).toBe(2);
    expect(textWidth('\u1100\u1161\u11a8')).toBe(2);
    expect(textWidth('١٢٣\u0600')).toBe(4);
    expect(textWidth('')).toBe(0);
  });

  it("agrees with glibc's wcwidth on every code point it knows, but where Unicode has changed since", () => {
    const glibc = glibcWidths();
    expect(glibc.size).toBeGreaterThan(100_000);
    const differ: string[] = [];
    for (const [cp, w] of glibc) {
      if (NEWER_UNICODE.some(([from, to]) => cp >= from && cp <= to)) continue;
      if (charWidth(String.fromCodePoint(cp)) !== w) differ.push(`U+${cp.toString(16).toUpperCase()}: glibc ${w}, ours ${charWidth(String.fromCodePoint(cp))}`);
    }
    expect(differ).toEqual([]);
  });

  it('cuts to at most the width, never inside a character, keeping marks with their letter (property)', () => {
    const unit = fc.constantFrom('a', ' ', '张', 'e\u0301', '😀', 'ｌ', '\u200d', 'é');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 40 }), fc.integer({ min: 0, max: 60 }), (text, width) => {
        const cut = clipToWidth(text, width);
        expect(text.startsWith(cut)).toBe(true);
        expect(textWidth(cut)).toBeLessThanOrEqual(width);
        // The longest such start: the next character would not fit, and no mark is left behind.
        const next = [...text.slice(cut.length)][0];
        if (next !== undefined) expect(textWidth(cut) + charWidth(next)).toBeGreaterThan(width);
        const padded = padToWidth(cut, width);
        expect(textWidth(padded)).toBe(width);
        expect(padded.trimEnd()).toBe(cut.trimEnd());
      }),
    );
  });

  it('pads to the width, and leaves text at least that wide as it is', () => {
    expect(padToWidth('张伟', 6)).toBe('张伟  ');
    expect(padToWidth('张伟', 3)).toBe('张伟');
    expect(clipToWidth('张伟', 3)).toBe('张');
    expect(clipToWidth('😀😀', 3)).toBe('😀');
  });
});
