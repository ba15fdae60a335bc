import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

/**
 * Turns what a terminal shows (text with ANSI colours and half-block characters) into a greyscale
 * PGM image, as a terminal with the given theme would paint it, so zbarimg can read a QR code off
 * it. Cells whose colours are left at the default take the theme's colours.
 */
export type Theme = 'dark' | 'light';

const BLACK = 0;
const WHITE = 255;

export function terminalToPgm(text: string, theme: Theme, path: string, scale = 4): void {
  const defaultFg = theme === 'dark' ? WHITE : BLACK;
  const defaultBg = theme === 'dark' ? BLACK : WHITE;
  const rows: number[][] = []; // two pixel rows per text line
  for (const line of text.split(/\r?\n/)) {
    let fg = defaultFg;
    let bg = defaultBg;
    const top: number[] = [];
    const bottom: number[] = [];
    for (let i = 0; i < line.length; i++) {
      const sgr = /^\u001b\[([0-9;]*)m/.exec(line.slice(i));
      if (sgr) {
        for (const code of (sgr[1] || '0').split(';').map(Number)) {
          if (code === 0) [fg, bg] = [defaultFg, defaultBg];
          else if (code === 30) fg = BLACK;
          else if (code === 37 || code === 97) fg = WHITE;
          else if (code === 39) fg = defaultFg;
          else if (code === 40) bg = BLACK;
          else if (code === 47 || code === 107) bg = WHITE;
          else if (code === 49) bg = defaultBg;
        }
        i += sgr[0].length - 1;
        continue;
      }
      const ch = line[i];
      const [t, b] = ch === '█' ? [fg, fg] : ch === '▀' ? [fg, bg] : ch === '▄' ? [bg, fg] : [bg, bg];
      top.push(t);
      bottom.push(b);
    }
    rows.push(top, bottom);
  }
  const margin = 8;
  const width = Math.max(...rows.map((r) => r.length)) + 2 * margin;
  const height = rows.length + 2 * margin;
  const pixels = Buffer.alloc(width * scale * height * scale, defaultBg);
  rows.forEach((row, y) =>
    row.forEach((v, x) => {
      for (let dy = 0; dy < scale; dy++) {
        const offset = ((y + margin) * scale + dy) * width * scale + (x + margin) * scale;
        pixels.fill(v, offset, offset + scale);
      }
    }),
  );
  writeFileSync(path, Buffer.concat([Buffer.from(`P5\n${width * scale} ${height * scale}\n255\n`), pixels]));
}

/** Decodes a QR code image with Debian's zbarimg. */
export function zbar(path: string): string {
  const r = spawnSync('zbarimg', ['--raw', '-q', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`zbarimg found no QR code in ${path} (exit ${r.status})`);
  return r.stdout.trim();
}

/** The QR block of a terminal transcript: lines of half blocks, or of explicitly white cells (the quiet zone). */
export function qrLines(output: string): string {
  return output
    .split(/\r?\n/)
    .filter((l) => /[█▀▄]/.test(l) || l.includes('\u001b[30;47m'))
    .join('\n');
}
