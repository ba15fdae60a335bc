import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMFORTABLE_WIDTH, cutMiddle, layRow, NAME_WIDTH, NARROWEST_WIDTH, narrowTo, planTable, wrapText, type TableFit } from '../../src/table-fit.js';
import { textWidth } from '../../src/text-width.js';

const headers = ['USER', 'ID', 'DESCRIPTION', 'CREATED', 'SIGN-IN'];
const fit: TableFit = { narrow: ['DESCRIPTION', 'SIGN-IN'], wrapLast: true, drop: ['CREATED'] };
const widthsOf = (rows: readonly (readonly string[])[]) => headers.map((h, i) => Math.max(h.length, ...rows.map((r) => textWidth(r[i] ?? ''))));
const lay = (rows: readonly (readonly string[])[], width: number | undefined, f: TableFit | null = fit) => {
  const plan = planTable(headers, widthsOf(rows), f ?? undefined, width);
  let cut = false;
  const lines = [headers, ...rows].flatMap((r) => layRow(r, plan, () => (cut = true)));
  return { plan, lines, cut };
};
const row = ['alice@pve', '6f132033', 'phone app on the old handset', '2026-12-01 20:19:18Z', 'NO: realm pve enforces TOTP; fix: tfactl tfa add totp alice@pve'];

describe('fitting a table to a terminal', () => {
  it('prints a table that fits, or one not on a terminal, or one with no fit, as it is', () => {
    const natural = lay([row], undefined).lines;
    expect(natural[1]).toBe(row.join('  '));
    expect(lay([row], 500).lines).toEqual(natural);
    expect(lay([row], 40, null).lines).toEqual(natural);
  });

  it('narrows free text to a comfortable width before leaving a column out, then leaves columns out in order', () => {
    const natural = widthsOf([row]).reduce((a, b) => a + b + 2, -2);
    // Just too wide: the widest free text (the sign-in text, wrapped) gives way, CREATED stays.
    const slightly = lay([row], natural - 10);
    expect([slightly.plan.dropped, slightly.plan.wrap, slightly.cut]).toEqual([[], true, false]);
    expect(slightly.lines.every((l) => l.length <= natural - 10)).toBe(true);
    // Narrower: both give way to one level, the description cut.
    const more = lay([row], natural - 50);
    expect([more.plan.dropped, more.plan.wrap, more.cut]).toEqual([[], true, true]);
    expect(more.lines.every((l) => l.length <= natural - 50)).toBe(true);
    // Too narrow for that at COMFORTABLE_WIDTH: CREATED goes first.
    const narrow = lay([row], 9 + 8 + COMFORTABLE_WIDTH * 2 + 6);
    expect(narrow.plan.dropped).toEqual(['CREATED']);
    expect(narrow.lines.every((l) => l.length <= 9 + 8 + COMFORTABLE_WIDTH * 2 + 6)).toBe(true);
    expect(narrow.lines.join('\n')).not.toContain('2026-12-01');
  });

  it('wraps the last column at spaces, under its own column, losing nothing, and cuts the others with …', () => {
    const { lines, plan } = lay([row], 60);
    expect(plan.wrap).toBe(true);
    const at = lines[0]!.indexOf('SIGN-IN');
    const signIn = lines.slice(1).map((l) => l.slice(at).trim()).join(' ');
    expect(signIn).toBe(row[4]);
    expect(lines[1]).toContain('…');
    expect(lines.slice(2).every((l) => l.slice(0, at).trim() === '')).toBe(true);
  });

  it('wraps narrower than COMFORTABLE_WIDTH only when that makes the table fit', () => {
    // 9 + 8 + 11 + 20 and three gaps is 54: one column less than that, and the sign-in text gives way.
    const fits = lay([row], 53);
    const [user, id, description, signIn] = fits.plan.widths as [number, number, number, number];
    expect([user, id]).toEqual([9, 8]);
    expect(signIn).toBeLessThan(COMFORTABLE_WIDTH);
    expect(signIn).toBeGreaterThanOrEqual(NARROWEST_WIDTH);
    expect(fits.lines.every((l) => l.length <= 53)).toBe(true);
    expect(fits.lines.slice(1).map((l) => l.slice(user + id + description + 6).trim()).join(' ')).toBe(row[4]);
  });

  it('never cuts a column below its header or NARROWEST_WIDTH, nor wraps one below COMFORTABLE_WIDTH when it overflows anyway', () => {
    const { plan, lines } = lay([row], 20);
    expect(plan.dropped).toEqual(['CREATED']);
    expect(plan.widths).toEqual([9, 8, 'DESCRIPTION'.length, COMFORTABLE_WIDTH]);
    expect(lines[0]).toContain('DESCRIPTION');
  });

  it('never splits a pair of surrogates when it cuts or wraps', () => {
    const emoji = '😀'.repeat(30);
    const cut = lay([['a', 'b', emoji, 'c', emoji]], 40);
    for (const l of cut.lines) expect(l).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
    for (const l of wrapText(emoji, 7)) expect(l).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
  });

  it('keeps every line within the width whenever the narrowest columns fit, and every word of wrapped text (property)', () => {
    // Wide characters (two columns), a letter with a combining accent (one), a pair of surrogates.
    const cell = fc.string({ unit: fc.constantFrom('a', 'b', ' ', 'xyz', '-', '张', 'e\u0301', '😀'), maxLength: 80 });
    fc.assert(
      fc.property(fc.array(fc.tuple(cell, cell, cell, cell, cell), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 200 }), (rows, width) => {
        const { plan, lines } = lay(rows, width);
        const floors = plan.shown.map((i, k) => (fit.narrow.includes(headers[i]!) ? Math.min(widthsOf(rows)[i]!, Math.max(headers[i]!.length, NARROWEST_WIDTH)) : plan.widths[k]!));
        if (floors.reduce((a, b) => a + b + 2, -2) <= width) expect(lines.every((l) => textWidth(l) <= width)).toBe(true);
        expect(plan.widths.every((w, k) => w >= headers[plan.shown[k]!]!.length)).toBe(true);
        // Columns keep their order; the ones left out are from `drop`.
        expect([...plan.shown].sort((a, b) => a - b)).toEqual(plan.shown);
        expect(plan.dropped.every((h) => fit.drop!.includes(h))).toBe(true);
      }),
    );
  });

  it('wraps text into lines of at most the width, keeping every character but the spaces it breaks at (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', ' ', 'word', '张', 'e\u0301', '😀'), maxLength: 200 }), fc.integer({ min: 2, max: 40 }), (text, width) => {
        const lines = wrapText(text, width);
        expect(lines.every((l) => textWidth(l) <= width)).toBe(true);
        expect(lines.join('').replace(/ /g, '')).toBe(text.replace(/ /g, ''));
      }),
    );
  });

  it('lines up, cuts and wraps by the columns a terminal draws: two for a CJK character, none for a combining mark', () => {
    const rows = [
      ['张伟@local', 'a1', '手机上的验证器应用程序', 'x', '已启用'],
      ['alice@pve', 'b2', 'phone app', 'x', 'yes'],
      ['jose\u0301@pve', 'c3', 'Jose\u0301s key', 'x', 'yes'],
    ];
    const natural = lay(rows, undefined).lines;
    // Every column starts at the same terminal column on every line.
    const starts = (line: string) => [...line.matchAll(/ {2}(?=\S)/g)].map((m) => textWidth(line.slice(0, (m.index ?? 0) + 2)));
    expect(new Set(natural.map((l) => starts(l).join()))).toHaveLength(1);
    const narrow = lay(rows, 40);
    expect(narrow.cut).toBe(true);
    expect(narrow.lines.every((l) => textWidth(l) <= 40)).toBe(true);
    // A cut that would split a wide character stops before it, and the cell is padded to its column.
    expect(narrow.lines[1]).toBe('张伟@local  a1  手机上的验证器…  已启用');
    expect(lay(rows, 37).lines[1]).toBe('张伟@local  a1  手机上的验…   已启用');
    expect(wrapText('手机上的验证器应用程序', 7)).toEqual(['手机上', '的验证', '器应用', '程序']);
  });

  it('cuts names in the middle only as a last resort, when that makes the table fit, never below NAME_WIDTH', () => {
    const named: TableFit = { ...fit, names: ['USER'] };
    const long = ['firstname.lastname@company-realm', '6f132033', 'phone', 'x', 'ok'];
    const natural = lay([long], undefined, named);
    const widthAt = (w: number) => lay([long], w, named);
    // Room enough once CREATED has gone: the name stays whole.
    expect(widthAt(66).plan.widths[0]).toBe(32);
    // Narrower: the name gives way, cut in the middle; the free text at its narrowest.
    const cut = widthAt(44);
    expect(cut.plan.dropped).toEqual(['CREATED']);
    expect(cut.lines.every((l) => l.length <= 44)).toBe(true);
    expect(cut.lines[1]).toMatch(/^firstn…realm {2}6f132033/);
    expect(cut.cut).toBe(true);
    // Too narrow even so: laid out with the name whole (the terminal wraps the rest).
    const over = widthAt(NAME_WIDTH + 8 + 'DESCRIPTION'.length + 'SIGN-IN'.length + 3 * 2 - 1);
    expect(over.lines[1]).toContain(long[0]);
    // Without names in the fit, as before.
    expect(lay([long], 44).lines[1]).toContain(long[0]);
    expect(natural.lines[1]).toContain(long[0]);
  });

  it('cuts in the middle to at most the width, keeping how the text starts and ends (property)', () => {
    expect(cutMiddle('firstname.lastname@company-realm', 16)).toBe('firstnam…y-realm');
    expect(cutMiddle('张伟张伟张伟@local', 9)).toBe('张伟…ocal');
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '@', '张', 'e\u0301', '😀'), minLength: 1, maxLength: 60 }), fc.integer({ min: 3, max: 40 }), (text, width) => {
        fc.pre(textWidth(text) > width);
        const cut = cutMiddle(text, width);
        expect(textWidth(cut)).toBeLessThanOrEqual(width);
        expect(textWidth(cut)).toBeGreaterThanOrEqual(width - 2);
        const [head = '', tail = ''] = cut.split('…');
        expect(text.startsWith(head) && text.endsWith(tail)).toBe(true);
      }),
    );
  });

  it('narrows the widest first, to one level, and gives what the level leaves over back', () => {
    expect(narrowTo([30, 10, 40], [5, 10, 5], 60)).toEqual([25, 10, 25]);
    expect(narrowTo([30, 10, 41], [5, 10, 5], 60)).toEqual([25, 10, 25]);
    expect(narrowTo([30, 10, 40], [5, 10, 5], 80)).toEqual([30, 10, 40]);
    expect(narrowTo([30, 10, 40], [25, 10, 30], 60)).toBeNull();
  });
});
