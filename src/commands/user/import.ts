import { readFileSync } from 'node:fs';
import { parseImport } from '../../domain/import-rows.js';
import { TfaError, UsageError } from '../../errors.js';
import type { GlobalOptions, Invocation } from '../../invocation.js';
import { importUsers, type ImportSummary } from '../../services/import.js';
import { openSession } from '../../services/session.js';
import { table, type Style } from '../../output.js';
import { arg, boolOpt } from '../options.js';

/** Some rows failed: the summary was printed; the exit code says so. */
class ImportIncomplete extends TfaError {
  override name = 'ImportIncomplete';
  constructor(failed: number) {
    super(`${failed} row${failed === 1 ? '' : 's'} could not be imported (see above)`, 'import_incomplete', 2);
  }
}

export async function run(inv: Invocation): Promise<void> {
  const source = arg(inv, 0);
  const globals = inv.opts as GlobalOptions;
  if (source === '-' && globals.passwordStdin) {
    throw new UsageError('the import is read from standard input, so passwords cannot be: authenticate on a terminal, or import from a file');
  }
  let text: string;
  try {
    text = source === '-' ? await inv.ctx.io.readStdin() : readFileSync(source, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${source}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'file_error');
  }
  const rows = parseImport(text);
  const session = await openSession(inv);
  const bar = inv.ctx.io.stdinIsTTY && !inv.out.json ? await progressBar(rows.length) : undefined;
  let summary: ImportSummary;
  try {
    summary = await importUsers(session, rows, {
      update: boolOpt(inv, 'update') === true,
      atomic: boolOpt(inv, 'atomic') === true,
      ...(bar && { progress: (done: number) => bar.update(done) }),
    });
  } finally {
    bar?.stop();
  }
  inv.out.result(summary, describe);
  if (summary.failed > 0) throw new ImportIncomplete(summary.failed);
}

async function progressBar(total: number) {
  const { default: progress } = await import('cli-progress');
  const bar = new progress.SingleBar(
    { format: 'importing [{bar}] {value}/{total} users', stream: process.stderr, hideCursor: true, clearOnComplete: true },
    progress.Presets.legacy,
  );
  bar.start(total, 0);
  return bar;
}

function describe(s: ImportSummary, style: Style): string {
  const problems = s.results.filter((r) => r.status === 'failed');
  const secrets = s.results.filter((r) => r.totp || r.recoveryKeys);
  return [
    `${style.green(`${s.created} created`)}, ${s.updated} updated, ${s.skipped} skipped, ${s.failed ? style.red(`${s.failed} failed`) : '0 failed'}`,
    ...problems.map((r) => `  ${r.error}`),
    ...(secrets.length
      ? [
          '',
          table(
            ['USER', 'TOTP SECRET', 'RECOVERY KEYS'],
            secrets.map((r) => [r.userid ?? '', r.totp?.secret ?? '-', r.recoveryKeys?.join(' ') ?? '-']),
            style,
          ),
        ]
      : []),
  ].join('\n');
}
