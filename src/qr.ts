import { UsageError } from './errors.js';
import { writeNewPrivateFile } from './files.js';

/**
 * QR codes for TOTP enrolment. The terminal rendering paints every cell with an explicit black
 * foreground on a white background and keeps a four-module quiet zone, so it scans on dark and light
 * themes alike (Proxmox bug 4610 was a QR code without a light quiet zone). qrcode is loaded only
 * when a QR code is drawn.
 */
export const QUIET_ZONE = 4;

export interface QrMatrix {
  readonly size: number;
  dark(x: number, y: number): boolean;
}

export async function qrMatrix(text: string): Promise<QrMatrix> {
  const { default: QRCode } = await import('qrcode');
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
  return { size: modules.size, dark: (x, y) => x >= 0 && y >= 0 && x < modules.size && y < modules.size && modules.get(x, y) === 1 };
}

/** Columns the terminal rendering needs. */
export function terminalWidth(m: QrMatrix): number {
  return m.size + 2 * QUIET_ZONE;
}

/**
 * Two modules per character cell with half blocks. `colour`: black on white, any theme. Without
 * colour (NO_COLOR) light modules are drawn as blocks, which reads right on dark themes only.
 */
export function renderTerminal(m: QrMatrix, colour: boolean): string {
  const from = -QUIET_ZONE;
  const to = m.size + QUIET_ZONE;
  const lines: string[] = [];
  for (let y = from; y < to; y += 2) {
    let line = '';
    for (let x = from; x < to; x++) {
      const top = m.dark(x, y);
      const bottom = y + 1 < to && m.dark(x, y + 1);
      const ink = colour ? [top, bottom] : [!top, !(bottom || y + 1 >= to)];
      line += ink[0] ? (ink[1] ? '█' : '▀') : ink[1] ? '▄' : ' ';
    }
    lines.push(colour ? `\u001b[30;47m${line}\u001b[0m` : line);
  }
  return lines.join('\n');
}

export type QrTarget = { readonly kind: 'terminal' } | { readonly kind: 'none' } | { readonly kind: 'png' | 'svg'; readonly path: string };

/** Parses `--qr terminal|none|png:FILE|svg:FILE`. */
export function parseQrTarget(input: string): QrTarget {
  // The kind in any case, as every choice (`NONE`, `PNG:FILE`); the file name as typed.
  const lower = input.toLowerCase();
  if (lower === 'terminal' || lower === 'none') return { kind: lower };
  const m = /^(png|svg):(.+)$/i.exec(input);
  const kind = m?.[1]?.toLowerCase() as 'png' | 'svg' | undefined;
  if (m?.[2] === '-') throw new UsageError(`--qr ${kind}: takes a file name, not - (standard output is not used here; ./- is a file named -)`);
  if (m?.[2]?.trim() === '') throw new UsageError(`--qr ${kind}: takes a file name, and it is empty`);
  if (kind && m?.[2]) return { kind, path: m[2] };
  throw new UsageError(`invalid --qr ${JSON.stringify(input)}: expected terminal, none, png:FILE or svg:FILE`);
}

/** Writes the QR code as a new PNG or SVG file, 0600: it holds the secret. Never overwrites. */
export async function writeQrFile(kind: 'png' | 'svg', path: string, text: string): Promise<void> {
  const { default: QRCode } = await import('qrcode');
  const data =
    kind === 'png'
      ? await QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M', margin: QUIET_ZONE, scale: 8 })
      : Buffer.from(await QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: QUIET_ZONE }));
  writeNewPrivateFile(path, data);
}
