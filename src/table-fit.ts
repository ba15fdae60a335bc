/**
 * Fitting a table to a terminal's width: free text cut (ending in …) or wrapped, and columns a
 * person can do without left out, so a listing reads on an 80-column SSH session instead of
 * wrapping every row. Pure: the widths in, a plan out; the plan lays out each row. Widths are
 * terminal columns (text-width.ts): a CJK name takes two a character.
 */
import { charWidth, clipToWidth, padToWidth, textWidth } from './text-width.js';

/** How a table may be narrowed. Columns are named by their headers. */
export interface TableFit {
  /** Columns of free text that may be narrowed: cut, ending in `…` (or wrapped, for the last one with wrapLast). */
  readonly narrow: readonly string[];
  /** The last column, when it is in `narrow`, is wrapped onto more lines instead of cut: nothing of it is lost. */
  readonly wrapLast?: boolean;
  /** Columns left out, in this order, when narrowing to a comfortable width is not enough. */
  readonly drop?: readonly string[];
  /**
   * Columns of names (user ids, token ids), cut in the middle (`firstna…ny-realm`: where it starts
   * and how it ends) as a last resort: when every column that may go has gone and free text is at
   * its narrowest, if that makes the table fit.
   */
  readonly names?: readonly string[];
}

/** What the table will look like: which columns, how wide, and what was given up. */
export interface TablePlan {
  /** The indices of the columns shown, in order. */
  readonly shown: readonly number[];
  /** The width of each column shown (the last is not padded). */
  readonly widths: readonly number[];
  /** For each column shown, whether it is narrower than its widest cell (its cells are cut to fit). */
  readonly narrowed: readonly boolean[];
  /** For each column shown, whether its cells are cut in the middle (names), not at the end. */
  readonly middle: readonly boolean[];
  /** Whether the last column shown wraps instead. */
  readonly wrap: boolean;
  /** The headers of the columns left out. */
  readonly dropped: readonly string[];
}

/** The columns a table laid out by `plan` takes (a last column that wraps, at its width). */
export function planWidth(plan: TablePlan): number {
  return plan.widths.reduce((sum, w) => sum + w, 0) + GAP * Math.max(0, plan.widths.length - 1);
}

/** Free text is narrowed no further than this (or its header) before a column is left out... */
export const COMFORTABLE_WIDTH = 20;
/** ...and no further than this when every column that may go has gone (text that wraps, only when that makes it fit). */
export const NARROWEST_WIDTH = 8;
/** ...and names no further than this, when that makes the table fit. */
export const NAME_WIDTH = 12;
/** Between two columns. */
const GAP = 2;
const SEP = ' '.repeat(GAP);

/**
 * The plan for a table whose cells are at most `natural` wide, to fit `width` columns (undefined:
 * as wide as it is). In order: as it is; free text narrowed to no less than COMFORTABLE_WIDTH,
 * leaving out the `drop` columns one by one until that fits; with all of them out, free text that
 * is cut down to NARROWEST_WIDTH, then text that wraps too, then names down to NAME_WIDTH. What
 * cannot fit even so is laid out at the free text's narrowest widths, text that wraps at
 * COMFORTABLE_WIDTH and names whole (the terminal wraps it). A column is never narrower than its
 * header.
 */
export function planTable(headers: readonly string[], natural: readonly number[], fit: TableFit | undefined, width: number | undefined): TablePlan {
  const all = headers.map((_, i) => i);
  const full = (i: number) => natural[i] ?? 0;
  if (width === undefined || fit === undefined) return { shown: all, widths: all.map(full), narrowed: all.map(() => false), middle: all.map(() => false), wrap: false, dropped: [] };
  const narrowable = new Set(fit.narrow.map((h) => headers.indexOf(h)).filter((i) => i >= 0));
  const names = new Set((fit.names ?? []).map((h) => headers.indexOf(h)).filter((i) => i >= 0));
  const drops = (fit.drop ?? []).map((h) => headers.indexOf(h)).filter((i) => i >= 0);
  const wraps = (i: number) => fit.wrapLast === true && i === all.length - 1;
  const floors = (shown: readonly number[], floor: number, wrapFloor = floor, nameFloor = Infinity) =>
    shown.map((i) => {
      const least = narrowable.has(i) ? (wraps(i) ? wrapFloor : floor) : names.has(i) ? nameFloor : Infinity;
      return Math.min(full(i), Math.max(textWidth(headers[i] ?? ''), least));
    });
  const plan = (shown: readonly number[], widths: readonly number[]): TablePlan => {
    const last = shown.at(-1) ?? 0;
    return {
      shown,
      widths,
      narrowed: shown.map((i, k) => (widths[k] ?? 0) < full(i)),
      middle: shown.map((i) => names.has(i)),
      wrap: wraps(last) && narrowable.has(last) && (widths.at(-1) ?? 0) < full(last),
      dropped: all.filter((i) => !shown.includes(i)).map((i) => headers[i] ?? ''),
    };
  };
  const room = (shown: readonly number[]) => width - GAP * (shown.length - 1);
  let shown = all;
  for (let k = 0; ; k++) {
    const widths = narrowTo(shown.map(full), floors(shown, COMFORTABLE_WIDTH), room(shown));
    if (widths !== null) return plan(shown, widths);
    const next = drops[k];
    if (next === undefined) break;
    shown = shown.filter((i) => i !== next);
  }
  // Text that wraps keeps a comfortable width while the others can give way; below the narrowest
  // it would be a column of single words, so a table that overflows anyway keeps it at that.
  for (const wrapFloor of [COMFORTABLE_WIDTH, NARROWEST_WIDTH]) {
    const widths = narrowTo(shown.map(full), floors(shown, NARROWEST_WIDTH, wrapFloor), room(shown));
    if (widths !== null) return plan(shown, widths);
  }
  // Long user ids: cut where it costs least to read, and only if that is enough.
  const withNames = narrowTo(shown.map(full), floors(shown, NARROWEST_WIDTH, NARROWEST_WIDTH, NAME_WIDTH), room(shown));
  if (withNames !== null) return plan(shown, withNames);
  return plan(shown, floors(shown, NARROWEST_WIDTH, COMFORTABLE_WIDTH));
}

/**
 * Widths between `floor` and `natural` summing to at most `room`, the widest narrowed first (to
 * one level, so like columns end alike), or null when the floors alone are wider.
 */
export function narrowTo(natural: readonly number[], floor: readonly number[], room: number): number[] | null {
  const at = (level: number) => natural.map((n, i) => Math.max(floor[i] ?? n, Math.min(n, level)));
  const sum = (ws: readonly number[]) => ws.reduce((a, b) => a + b, 0);
  if (sum(natural) <= room) return [...natural];
  if (sum(floor) > room) return null;
  // The highest level that fits: a binary search, as a cell may be a megabyte wide.
  let low = 0;
  let high = Math.max(...natural);
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (sum(at(mid)) <= room) low = mid;
    else high = mid - 1;
  }
  const widths = at(low);
  // What the level leaves over goes to the columns it narrowed, one each, left to right.
  let spare = room - sum(widths);
  for (let i = 0; i < widths.length && spare > 0; i++) {
    if ((widths[i] ?? 0) < (natural[i] ?? 0)) {
      widths[i] = (widths[i] ?? 0) + 1;
      spare--;
    }
  }
  return widths;
}

/**
 * The lines of one row laid out by `plan`: cells (already escaped: no control characters) padded
 * to their column, a narrowed one's cut to end in `…`, or the last one wrapped at spaces onto lines
 * of its own under its column. `cut` is told whether anything was cut. A cell wider than a column
 * not narrowed (a row changed between a long listing's two reads) stands out of it, as it is.
 */
export function layRow(cells: readonly string[], plan: TablePlan, cut?: () => void): string[] {
  const shown = plan.shown.map((i) => cells[i] ?? '');
  const lastAt = shown.length - 1;
  const first = shown.map((cell, k) => {
    const w = plan.widths[k] ?? 0;
    if (k === lastAt && plan.wrap) return cell;
    if (plan.narrowed[k] !== true || textWidth(cell) <= w) return k === lastAt ? cell : padToWidth(cell, w);
    cut?.();
    return padToWidth(plan.middle[k] === true ? cutMiddle(cell, w) : `${clipToWidth(cell, w - 1)}…`, k === lastAt ? 0 : w);
  });
  if (!plan.wrap) return [first.join(SEP).trimEnd()];
  const lines = wrapText(shown[lastAt] ?? '', plan.widths[lastAt] ?? 1);
  const indent = ' '.repeat(plan.widths.slice(0, lastAt).reduce((a, w) => a + w + GAP, 0));
  return [[...first.slice(0, lastAt), lines[0] ?? ''].join(SEP).trimEnd(), ...lines.slice(1).map((l) => `${indent}${l}`)];
}

/** `text` in at most `width` columns: its start, `…`, and its end (about as wide). */
export function cutMiddle(text: string, width: number): string {
  const head = clipToWidth(text, Math.ceil((width - 1) / 2));
  const chars = [...text.slice(head.length)];
  let room = width - 1 - textWidth(head);
  let from = chars.length;
  while (from > 0 && charWidth(chars[from - 1] ?? '') <= room) room -= charWidth(chars[--from] ?? '');
  // A mark is drawn on what comes before it: not on the ….
  while (from < chars.length && charWidth(chars[from] ?? '') === 0) from++;
  return `${head}…${chars.slice(from).join('')}`;
}

/**
 * `text` in lines of at most `width` columns, broken at spaces where it can be, else anywhere
 * (never inside a character; at least one a line, however wide).
 */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let rest = text.trim();
  while (textWidth(rest) > width) {
    const fits = clipToWidth(rest, width + 1);
    const space = fits.lastIndexOf(' ');
    const piece = space > 0 ? rest.slice(0, space) : clipToWidth(rest, width) || String.fromCodePoint(rest.codePointAt(0) ?? 32);
    lines.push(piece.trimEnd());
    rest = rest.slice(piece.length).trimStart();
  }
  lines.push(rest);
  return lines;
}
