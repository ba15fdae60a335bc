import { mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { countOf, escapeText } from '../../domain/text.js';
import { createStagedPrivateFile, type PrivateFile, refuseHandedOver } from '../../files.js';
import { CancelledError, RefusedError, StoreError, UsageError } from '../../errors.js';
import { type Interruption, listenForInterrupts } from '../../interrupts.js';
import type { Invocation } from '../../invocation.js';
import { exportTotp, type TotpExportEntry } from '../../services/export.js';
import type { Session } from '../../services/session.js';
import { openSession } from '../session.js';
import { fileOpt, stringOpt } from '../options.js';
import { errnoText } from '../../domain/errno.js';

const FORMATS = ['csv', 'uri', 'png-dir'] as const;
type Format = (typeof FORMATS)[number];

/**
 * A CSV field; text the store should never hold (domain/text.ts) is written escaped, not raw. Text
 * a spreadsheet would take for a formula (=, +, -, @ first: a description a user chose, opened by
 * an admin) gets a leading ' and quotes, as OWASP advises, so it stays text.
 */
function csvField(value: string | number | boolean): string {
  let text = escapeText(String(value));
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]|^'/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const CSV_COLUMNS = ['userid', 'id', 'description', 'enabled', 'secret', 'algorithm', 'digits', 'period', 'issuer', 'uri'] as const;

/** One CSV line of an exported factor, with its line end. */
export function totpCsvLine(e: TotpExportEntry): string {
  return `${CSV_COLUMNS.map((h) => csvField(e[h])).join(',')}\n`;
}

export async function run(inv: Invocation): Promise<void> {
  const format = (stringOpt(inv, 'format') ?? 'csv') as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`invalid --format ${JSON.stringify(format)}: expected csv, uri or png-dir`);
  const output = fileOpt(inv, 'output', '--output');
  if (format === 'png-dir' && output === undefined) throw new UsageError('--format png-dir needs --output DIR');
  const session = await openSession(inv, { op: 'store.manage', action: 'export.totp' });
  // Heard from before the destination is claimed: whenever Ctrl-C comes, nothing of it is kept.
  const interruption = listenForInterrupts(inv.ctx.io);
  try {
    await exportTo(inv, session, format, output, interruption);
  } finally {
    interruption.stop();
  }
}

async function exportTo(inv: Invocation, session: Session, format: Format, output: string | undefined, interruption: Interruption): Promise<void> {
  // The destination is claimed before any secret is decrypted or the export audited.
  let file: PrivateFile | undefined;
  const written: string[] = [];
  if (format === 'png-dir') {
    // Made only where no other user could swap a directory on the way (as any file of secrets):
    // else the clean-up below could remove what they pointed it at.
    refuseHandedOver(output as string, 'the directory', (message, problem) => new StoreError(message, problem));
    try {
      mkdirSync(output as string, { mode: 0o700 });
    } catch (e) {
      // As for a file (createPrivateFile): what is there is never written into.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new RefusedError(`${output} exists: tfactl does not write secrets into what is there, only into a new directory`, 'file_exists');
      }
      throw new UsageError(`cannot create directory ${output}: ${errnoText(e)} (it must not exist yet)`, 'file_error');
    }
  } else if (output !== undefined) {
    // Written beside the name and renamed onto it at the end: a process killed half-way (SIGKILL)
    // leaves the name empty, not part of the secrets in a file that looks whole.
    file = createStagedPrivateFile(output, session.random.bytes(6).toString('hex'));
  }
  const line = format === 'csv' ? totpCsvLine : (e: TotpExportEntry) => `${e.uri}\n`;
  const header = format === 'csv' ? `${CSV_COLUMNS.join(',')}\n` : '';
  let factors = 0;
  try {
    const { entries, leftOut } = await exportTotp(session);
    inv.out.warn('this export holds TOTP secrets in plain text: move it to the new system and delete it');
    if (leftOut > 0) inv.out.warn(`root@local's ${countOf(leftOut, 'TOTP factor')} ${leftOut === 1 ? 'is' : 'are'} not in it: only root@local exports its own`);
    if (format === 'png-dir') {
      const { writeQrFile } = await import('../../qr.js');
      for await (const e of interruption.through(entries())) {
        const png = join(output as string, `${fileNamePart(e.userid)}-${e.id}.png`);
        await writeQrFile('png', png, e.uri);
        written.push(png);
        factors++;
      }
    } else if (file) {
      file.append(header);
      for await (const e of interruption.through(entries())) {
        file.append(line(e));
        factors++;
      }
      file.finish();
    } else {
      // To standard output: the secrets are the result (with --json, the envelope's result), read
      // and written one factor at a time.
      if (!inv.out.json && header !== '') inv.out.display(header);
      await inv.out.list(entries, { headers: [], empty: '', rows: () => [], json: (e) => e, text: line });
      return;
    }
  } catch (e) {
    // Nothing half-written stays: not a file that looks like a whole export (Ctrl-C, a full disk).
    file?.discard();
    if (format === 'png-dir') {
      // What this run wrote, then the directory it made: nothing else, whatever the name holds.
      for (const png of written) rmSync(png, { force: true });
      try {
        rmdirSync(output as string);
      } catch {
        // Not empty, or not there: left as it is.
      }
    }
    if (e instanceof CancelledError && output !== undefined) throw new CancelledError(`interrupted: nothing was kept at ${output}`);
    throw e;
  }
  // Written to a file: the result says where, and never repeats the secrets.
  inv.out.result({ output, format, factors }, (r) => `exported ${countOf(r.factors, 'TOTP factor')} to ${r.output}`);
}

/**
 * A user id as the start of a file name: cut (between characters) at 150 bytes of UTF-8, so that
 * with the factor id it stays under the 255 bytes a file name may have (64 characters of a user id
 * can be 256 bytes). The factor id keeps names apart.
 */
function fileNamePart(userid: string): string {
  let part = '';
  for (const ch of userid) {
    if (Buffer.byteLength(part + ch) > 150) break;
    part += ch;
  }
  return part;
}
