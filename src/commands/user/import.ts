import { CancelledError, ExitCode, TfaError, UsageError } from '../../errors.js';
import type { GlobalOptions, Invocation } from '../../invocation.js';
import { createPrivateLog, INPUT_LIMITS } from '../../files.js';
import { countOutcomes, type ImportResult, importUsers, type ImportSummary } from '../../services/import.js';
import { importRows, surveyImportRecords } from '../../services/import-input.js';
import type { ParsedRow } from '../../domain/import-rows.js';
import { openSession } from '../session.js';
import { table, type Style } from '../../output.js';
import { arg, boolOpt, fileOpt, inputFiles } from '../options.js';
import { turning } from '../../interrupts.js';
import { totpEnrolmentView } from '../views.js';
import { refuseDiscardedSecret } from '../secrets.js';

/** What an import that makes secrets while standard output goes nowhere would lose, and what to do. */
const secretsOfRows = (line: number) => `the secrets made for rows that ask for them (line ${line} first)`;
const RESULTS_INSTEAD = 'give --results FILE, or let them be shown';

/** Some rows failed (exit 2); the summary of every row goes with it (see TfaError.result). */
class ImportIncomplete extends TfaError {
  override name = 'ImportIncomplete';
  constructor(failed: number, dryRun: boolean, first: string | null) {
    const rows = `${failed} row${failed === 1 ? '' : 's'}`;
    // The first reason goes with it: where the results went nowhere (> /dev/null), it is all said.
    const why = first === null ? '' : `${failed === 1 ? '' : 'the first: '}${first}; `;
    super(dryRun ? `${rows} would fail (${why}see the results; nothing was changed)` : `${rows} could not be imported (${why}see the results)`, 'import_incomplete', 2);
  }
}

/** The summary as --json shows it: every row with the same keys, secrets where users went in. */
function summaryView(s: ImportSummary, dryRun: boolean) {
  return {
    created: s.created,
    updated: s.updated,
    skipped: s.skipped,
    failed: s.failed,
    dryRun,
    results: s.results.map(rowView),
  };
}

function rowView(r: ImportResult) {
  return { line: r.line, userid: r.userid, status: r.status, error: r.error, totp: r.totp && totpEnrolmentView(r.totp), recoveryKeys: r.recoveryKeys };
}

export async function run(inv: Invocation): Promise<void> {
  const source = arg(inv, 0);
  const globals = inv.opts as GlobalOptions;
  const resultsPath = fileOpt(inv, 'results', '--results');
  if (source === '-' && globals.passwordStdin) {
    throw new UsageError('the import is read from standard input, so passwords cannot be: authenticate on a terminal, or import from a file');
  }
  // A file is read twice, never held whole: first to check its shape (an unknown column or broken
  // quoting refuses it with nothing changed) and count its rows for the progress bar, then to
  // import them as they are read. Standard input can be read once only: its rows are imported as
  // they come, and a shape error found past the first rows stops the import there (see below).
  const file = source === '-' ? undefined : inputFiles(inv).open(source, { name: 'the import file', maxBytes: INPUT_LIMITS.importFile });
  try {
    const survey = file && (await surveyImportRecords(file.chunks()));
    // A dry run is refused as the import would be: it says what the import would do.
    if (survey && survey.firstSecretLine !== null && resultsPath === undefined) refuseDiscardedSecret(inv, secretsOfRows(survey.firstSecretLine), RESULTS_INSTEAD);
    const total = survey?.records;
    // Standard input through its stream, never a blocking read: an interrupt must be heard while
    // the import waits for more rows (and argon2's finished hashes committed meanwhile).
    await importFrom(inv, file ? file.chunks() : (inv.ctx.io.waitingStdin ?? inv.ctx.io).stdinChunks(), total, resultsPath, source === '-');
  } finally {
    file?.close();
  }
}

async function importFrom(inv: Invocation, chunks: AsyncIterable<Uint8Array>, total: number | undefined, resultsPath: string | undefined, fromStdin: boolean): Promise<void> {
  const rows = importRows(chunks);
  try {
    await importRowsFrom(inv, rows, total, resultsPath, fromStdin);
  } finally {
    // Whatever happened (a sign-in that failed), the reading ends here: csv-parse, the input.
    await rows.return(undefined);
  }
}

async function importRowsFrom(inv: Invocation, rows: AsyncGenerator<ParsedRow>, total: number | undefined, resultsPath: string | undefined, fromStdin: boolean): Promise<void> {
  // Standard input's first rows are read before signing in: input that is wrong from its start is
  // refused before anything else happens, as a file is.
  const first = await rows.next();
  const dryRun = boolOpt(inv, 'dryRun') === true;
  const session = await openSession(inv, { op: 'user.create', action: 'user.import' }, { creates: !dryRun });
  // Each row's result (secrets included) is on disk right after its user commits: even a killed
  // import leaves nobody with secrets no one has seen.
  const log = resultsPath === undefined ? undefined : createPrivateLog(resultsPath);
  // The bar draws on this process's own terminal: a client of tfactl serve sees the summary only.
  const bar = total !== undefined && inv.ctx.io.stdinIsTTY && !inv.out.json && inv.ctx.remote === undefined ? await progressBar(total) : undefined;
  // Ctrl-C or SIGTERM: finish the users in flight and still print every secret already stored, so
  // nothing is created that nobody has seen. The same command later completes the import.
  let interrupted = false;
  // Every row as it became final: what the import did, should it fail as a whole half-way.
  const final: ImportResult[] = [];
  const restore = inv.ctx.io.onInterrupt(
    () => {
      interrupted = true;
      // A read of standard input waiting for rows that may never come ends here (the rows read stay).
      if (fromStdin) inv.ctx.io.waitingStdin?.close();
    },
    // A second one ends the process at once, without waiting for the users in flight: those
    // already created are shown first all the same (their secrets exist nowhere else).
    () => {
      bar?.stop();
      const view = summaryView(summarize([...final].sort((a, b) => a.line - b.line)), dryRun);
      const unshown = resultsPath === undefined ? 'may exist without its secrets shown (--results FILE keeps them on disk)' : `has its secrets in ${resultsPath} only`;
      const failure = new CancelledError(
        dryRun ? 'interrupted again: stopped at once (a dry run: nothing was changed)' : `interrupted again: stopped at once (a user whose commit was under way ${unshown}); run the same command again to import the rest`,
      );
      try {
        if (inv.out.json) inv.out.error(failure.withResult(view), false);
        else {
          inv.out.result(view, describe);
          inv.out.error(failure, false);
        }
      } catch {
        // Already said (the import had ended), or standard output cannot be written.
      }
    },
  );
  let summary: ImportSummary;
  try {
    summary = await importUsers(session, withFirst(first, rows), {
      update: boolOpt(inv, 'update') === true,
      atomic: boolOpt(inv, 'atomic') === true,
      dryRun,
      stopped: () => interrupted,
      onResult: (r: ImportResult) => {
        final.push(r);
        log?.append(JSON.stringify(rowView(r)));
      },
      // The secrets are on disk before the user that has them commits: a kill between the two
      // leaves a `pending` line, never a user with secrets no one has.
      ...(log && { beforeCommit: (r: ImportResult) => log.append(JSON.stringify({ ...rowView(r), status: 'pending' })) }),
      // Standard input is read once, so its rows are not surveyed first: a row that makes secrets
      // no one would see fails (all of an --atomic import), as a file's is refused before anything.
      ...(!log && {
        beforeCommit: (_: ImportResult, made: boolean) => {
          if (made) refuseDiscardedSecret(inv, 'the secrets made for this row', RESULTS_INSTEAD);
        },
      }),
      ...(bar && { progress: (done: number) => bar.update(done) }),
    });
  } catch (e) {
    // The store filled up or went away, or the results file could not be written: the users
    // already created are shown with their secrets all the same, or no one would ever see them.
    const wrote = final.filter((r) => r.status === 'created' || r.status === 'updated').length;
    if (wrote === 0) throw e;
    const view = summaryView(summarize([...final].sort((a, b) => a.line - b.line)), dryRun);
    const failure = e instanceof TfaError ? e : internalFailure(e);
    const kept = `${wrote} user${wrote === 1 ? ' was' : 's were'} created or updated before it, as the results say`;
    failure.message = `${failure.message} (${kept}: run the same command again once it is mended)`;
    if (inv.out.json) throw failure.withResult(view);
    inv.out.result(view, describe);
    throw failure;
  } finally {
    bar?.stop();
    restore();
    log?.close();
  }
  const view = summaryView(summary, dryRun);
  // Input that broke off where nothing was imported yet (or with --atomic, nothing at all) is
  // refused as any bad input is: one line, nothing changed.
  const input = summary.inputError;
  if (input && (summary.results.length === 0 || boolOpt(inv, 'atomic') === true)) throw input;
  // Interrupted, partly failed or broken off: with --json one error envelope that still holds every
  // row (secrets of the users created included) under `result`, where a success puts them; without,
  // the summary first, then the error line.
  const before = `the ${summary.results.length} row${summary.results.length === 1 ? '' : 's'} before it`;
  const failure = input
    ? new TfaError(
        dryRun ? `${input.message} (${before} would go through as the results say; nothing was changed)` : `${input.message} (${before} went through as the results say: fix the input and run the same command again)`,
        input.code,
        input.exitCode,
      )
    : interrupted && dryRun
      ? new CancelledError('interrupted: the rows read so far were checked, as the results say; nothing was changed')
    : interrupted
      ? new CancelledError(
          // --atomic commits all or nothing: an interrupt that came during its commit leaves all.
          boolOpt(inv, 'atomic') === true && summary.created + summary.updated === 0
            ? 'interrupted: nothing was imported (--atomic); run the same command again'
            : 'interrupted: run the same command again to import the rest',
        )
      : summary.failed > 0
        ? new ImportIncomplete(summary.failed, dryRun, firstReason(summary.results))
        : null;
  if (failure && inv.out.json) throw failure.withResult(view);
  inv.out.result(view, describe);
  if (failure) throw failure;
}

/** Why the first row that failed on its own failed: not one --atomic failed for another's sake. */
function firstReason(results: readonly ImportResult[]): string | null {
  const failed = results.filter((r) => r.status === 'failed');
  const own = failed.find((r) => !/^line \d+: (would )?not (be )?imported \(--atomic, and /.test(r.error ?? ''));
  return (own ?? failed[0])?.error ?? null;
}

/** Counts of rows that became final, as importUsers sums them. */
function summarize(results: readonly ImportResult[]): ImportSummary {
  return { ...countOutcomes(results), results, inputError: null };
}

/** An unforeseen failure as a TfaError (exit 1, as main.ts would say it), so that it can carry a result. */
function internalFailure(e: unknown): TfaError {
  const failure = new TfaError(`internal error: ${e instanceof Error ? e.message : String(e)}`, 'internal', ExitCode.internal);
  if (e instanceof Error && e.stack) failure.stack = e.stack;
  return failure;
}

/** `rows` with its first result, already read, in front again, letting the event loop turn (Ctrl-C, SIGTERM). */
async function* withFirst<T>(first: IteratorResult<T>, rows: AsyncGenerator<T>): AsyncGenerator<T> {
  if (first.done) return;
  yield first.value;
  yield* turning(rows, 32);
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

/** The skipped rows named in the summary; --json and --results list every one. */
const SKIPPED_SHOWN = 10;

function describe(s: ReturnType<typeof summaryView>, style: Style): string {
  const problems = s.results.filter((r) => r.status === 'failed');
  const skipped = s.results.filter((r) => r.status === 'skipped');
  const secrets = s.results.filter((r) => r.totp || r.recoveryKeys);
  const counts = s.dryRun
    ? `dry run: ${s.created} would be created, ${s.updated} updated, ${s.skipped} skipped, ${s.failed ? style.red(`${s.failed} would fail`) : '0 would fail'}; nothing was changed`
    : `${style.green(`${s.created} created`)}, ${s.updated} updated, ${s.skipped} skipped, ${s.failed ? style.red(`${s.failed} failed`) : '0 failed'}`;
  return [
    counts,
    ...problems.map((r) => `  ${r.error}`),
    ...skipped.slice(0, SKIPPED_SHOWN).map((r) => `  line ${r.line}: ${r.userid ?? '-'} ${s.dryRun ? 'would be skipped' : 'skipped'}: ${r.error ?? ''}`),
    ...(skipped.length > SKIPPED_SHOWN ? [`  and ${skipped.length - SKIPPED_SHOWN} more skipped (--json and --results list every row)`] : []),
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
