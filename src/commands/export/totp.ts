import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeNewPrivateFile } from '../../files.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { exportTotp, type TotpExportEntry } from '../../services/export.js';
import { openSession } from '../../services/session.js';
import { stringOpt } from '../options.js';

const FORMATS = ['csv', 'uri', 'png-dir'] as const;
type Format = (typeof FORMATS)[number];

function csvField(value: string | number | boolean): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function totpCsv(entries: readonly TotpExportEntry[]): string {
  const header = ['userid', 'id', 'description', 'enabled', 'secret', 'algorithm', 'digits', 'period', 'uri'] as const;
  return [header.join(','), ...entries.map((e) => header.map((h) => csvField(e[h])).join(','))].join('\n') + '\n';
}

export async function run(inv: Invocation): Promise<void> {
  const format = (stringOpt(inv, 'format') ?? 'csv') as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`invalid --format ${JSON.stringify(format)}: expected csv, uri or png-dir`);
  const output = stringOpt(inv, 'output');
  if (format === 'png-dir' && output === undefined) throw new UsageError('--format png-dir needs --output DIR');
  const session = await openSession(inv);
  const entries = await exportTotp(session);
  inv.out.warn('this export holds TOTP secrets in plain text: move it to the new system and delete it');
  if (format === 'png-dir') {
    const dir = output as string;
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      throw new UsageError(`cannot create directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (it must not exist yet)`, 'file_error');
    }
    const { writeQrFile } = await import('../../qr.js');
    for (const e of entries) await writeQrFile('png', join(dir, `${e.userid}-${e.id}.png`), e.uri);
  } else {
    const text = format === 'csv' ? totpCsv(entries) : entries.map((e) => e.uri).join('\n') + (entries.length ? '\n' : '');
    if (output !== undefined) writeNewPrivateFile(output, text);
    else if (!inv.out.json) {
      inv.out.result(entries, () => text);
      return;
    }
  }
  inv.out.result(entries, () => `exported ${entries.length} TOTP factor(s) to ${output}`);
}
