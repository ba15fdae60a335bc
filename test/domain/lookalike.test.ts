import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeNameProblem, lookalikeProblem, looksLikeAscii } from '../../src/domain/lookalike.js';
import { SCRIPTS } from '../../src/domain/lookalike-data.js';

/**
 * The confusables table against its source, ICU's spoof checker through Debian's python3-icu (a
 * real peer: `apt-get install python3-icu`; it is installed for Debian's /usr/bin/python3).
 */
const ROOT = resolve(import.meta.dirname, '../..');
const PYTHON = '/usr/bin/python3';

function python(script: string, input = ''): string {
  const r = spawnSync(PYTHON, ['-c', script], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${PYTHON} failed (is python3-icu installed?): ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

describe('the confusables table', () => {
  it('is what scripts/confusables.py makes from ICU today', () => {
    const r = spawnSync(PYTHON, [resolve(ROOT, 'scripts/confusables.py'), '--stdout'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`scripts/confusables.py failed (is python3-icu installed?): ${r.error?.message ?? r.stderr}`);
    expect(r.stdout).toBe(readFileSync(resolve(ROOT, 'src/domain/lookalike-data.ts'), 'utf8'));
  });

  it('says of random code points what ICU\'s skeleton says', () => {
    const sample = fc.sample(fc.integer({ min: 0x80, max: 0x2ffff }).filter((cp) => cp < 0xd800 || cp > 0xdfff), { numRuns: 3000, seed: 39 });
    const picked = [...sample, 0x43e, 0x3bf, 0x131, 0x430, 0x435, 0x440, 0x441, 0xe9, 0xfc, 0x436];
    const icu = JSON.parse(
      python(
        `import icu, json, sys
s = icu.SpoofChecker()
cps = json.load(sys.stdin)
ascii = lambda cp: icu.Char.charType(cp) != icu.UCharCategory.UNASSIGNED and all(ord(c) < 128 for c in s.getSkeleton(0, chr(cp)))
print(json.dumps([ascii(cp) for cp in cps]))`,
        JSON.stringify(picked),
      ),
    ) as boolean[];
    const disagree = picked.filter((cp, i) => looksLikeAscii(cp) !== icu[i]).map((cp) => `U+${cp.toString(16)}`);
    expect(disagree).toEqual([]);
    // The letters the brief names look like ASCII; accented Latin does not.
    expect(picked.slice(-10).map(looksLikeAscii)).toEqual([true, true, true, true, true, true, true, false, false, false]);
  });

  it('names only scripts JavaScript knows as Script_Extensions values', () => {
    for (const [code, name] of SCRIPTS) {
      expect(() => new RegExp(`\\p{Script_Extensions=${code}}`, 'u'), `${code} (${name})`).not.toThrow();
    }
    expect(SCRIPTS.map(([code]) => code)).toEqual(expect.arrayContaining(['Latn', 'Cyrl', 'Grek', 'Hani', 'Hira', 'Kana', 'Hang', 'Bopo']));
  });
});

describe('lookalikeProblem', () => {
  it.each([
    ['josé'],
    ['müller'],
    ['ŝtelo'],
    ['王伟'],
    ['жжж'],
    ['たなか'],
    ['tanaka太郎'],
    ['tanakaタロウ'],
    ['lin林ㄅ'],
    ['kim김철수'],
    ['김철수'],
    ['o\u0301scar'],
  ])('lets %s be created', (name) => {
    expect(lookalikeProblem(name.normalize('NFC'))).toBeNull();
  });

  it.each([
    ['rооt', 'mixes scripts (Cyrillic, Latin)'],
    ['kimчол', 'mixes scripts (Cyrillic, Latin)'],
    ['αβжж', 'mixes scripts (Cyrillic, Greek)'],
    ['user١٢', 'mixes scripts (Arabic, Latin)'],
    ['тасо', 'holds U+0430 (а), which looks like an ASCII character'],
    ['ολγα', 'holds U+03BF (ο), which looks like an ASCII character'],
    ['дмитрий', 'holds U+0440 (р), which looks like an ASCII character'],
    ['ıı', 'holds U+0131 (ı), which looks like an ASCII character'],
    ['root\u034f', 'holds U+034F, which shows as nothing'],
    ['ali\u3164ce', 'holds U+3164, which shows as nothing'],
    ['\u115fbob', 'holds U+115F, which shows as nothing'],
    ['ev\ufe0fe', 'holds U+FE0F, which shows as nothing'],
    ['ann\u{e0100}', 'holds U+E0100, which shows as nothing'],
    ['ann\u2800', 'holds U+2800, which shows as nothing'],
    ['김\u3164철수', 'holds U+3164, which shows as nothing'],
    // Marks that compose with an ASCII letter into no letter of its own, and show as little on it.
    ['admi\u0307n', 'holds U+0307 on "i", a mark that can show as nothing on it'],
    ['r\u0335oot', 'holds U+0335 on "r", a mark that can show as nothing on it'],
    ['root\u0358', 'holds U+0358 on "t", a mark that can show as nothing on it'],
    ['ro\u0338ot', 'holds U+0338 on "o", a mark that can show as nothing on it'],
  ])('refuses %s: it %s', (name, reason) => {
    const problem = lookalikeProblem(name);
    expect(problem).not.toBeNull();
    expect(describeNameProblem(problem as NonNullable<typeof problem>)).toBe(reason);
  });

  it('calls invisible exactly what ICU calls Default_Ignorable_Code_Point, and the blank braille cell', () => {
    const icu = JSON.parse(
      python(`import icu, json
p = icu.UProperty.DEFAULT_IGNORABLE_CODE_POINT
print(json.dumps([cp for cp in list(range(0x80, 0x30000)) + list(range(0xe0000, 0xe1000)) if icu.Char.hasBinaryProperty(cp, p)]))`),
    ) as number[];
    const ours: number[] = [];
    for (const cp of [...Array.from({ length: 0x30000 - 0x80 }, (_, i) => 0x80 + i), ...Array.from({ length: 0x1000 }, (_, i) => 0xe0000 + i)]) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      if (lookalikeProblem(`a${String.fromCodePoint(cp)}`)?.kind === 'invisible') ours.push(cp);
    }
    expect(icu.length).toBeGreaterThan(4000);
    expect(ours).toEqual([...icu, 0x2800].sort((a, b) => a - b));
  });

  it('never objects to an ASCII name', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 64 }), (name) => {
        expect(lookalikeProblem(name)).toBeNull();
      }),
    );
  });

  it('objects to any name with an ASCII lookalike in it, wherever it stands', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z]{0,10}$/), fc.constantFrom('о', 'а', 'е', 'р', 'с', 'ο', 'ı'), fc.stringMatching(/^[a-z]{0,10}$/), (before, c, after) => {
        expect(lookalikeProblem(`${before}${c}${after}`)).not.toBeNull();
      }),
    );
  });
});
