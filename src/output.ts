import type { Io } from './context.js';
import { escapeText, hideTokenSecrets, safeJson } from './domain/text.js';
import { OutputFailedError, StoreError, TfaError } from './errors.js';
import { listenForInterrupts } from './interrupts.js';
import { layRow, planTable, planWidth, type TableFit, type TablePlan } from './table-fit.js';
import { textWidth } from './text-width.js';

/** The one JSON envelope every command prints with --json. */
export type Envelope =
  | { readonly ok: true; readonly result: unknown; readonly warnings: readonly string[] }
  /** `result`, when present, is what the command achieved before it failed (a partial import). */
  | {
      readonly ok: false;
      readonly error: { readonly code: string; readonly message: string };
      readonly result?: unknown;
      readonly warnings: readonly string[];
    };

type Paint = (text: string) => string;

export interface Style {
  readonly bold: Paint;
  readonly dim: Paint;
  readonly red: Paint;
  readonly green: Paint;
  readonly yellow: Paint;
}

const PLAIN: Style = { bold: (t) => t, dim: (t) => t, red: (t) => t, green: (t) => t, yellow: (t) => t };

/** Loads chalk only when some stream will show colour: scripts and pipes never pay for it. */
async function colourStyle(): Promise<Style> {
  const { Chalk } = await import('chalk');
  // chalk ignores NO_COLOR and guesses from stdout alone; the caller has already decided.
  const c = new Chalk({ level: 1 });
  return { bold: c.bold, dim: c.dim, red: c.red, green: c.green, yellow: c.yellow };
}

/** Builds the Output for one run, loading colour support only when a TTY will show it. */
export async function createOutput(io: Io, options: OutputOptions): Promise<Output> {
  const { stdout, stderr } = colourWanted(io, options.env);
  const wantOut = stdout;
  const wantErr = stderr;
  const colour = wantOut || wantErr ? await colourStyle() : PLAIN;
  return new Output(io, options.json, wantOut ? colour : PLAIN, wantErr ? colour : PLAIN, wantOut, columnsFrom(options.env.COLUMNS), options.carried ?? '');
}

/** COLUMNS, when it is a width (as ls and others take it, before the terminal's own say). */
function columnsFrom(text: string | undefined): number | undefined {
  const n = Number(text);
  return text !== undefined && /^[0-9]+$/.test(text) && n > 0 ? n : undefined;
}

/**
 * Whether each stream gets colour: on a terminal, or anywhere with FORCE_COLOR (1, 2, 3 or empty, as
 * chalk and Node read it; 0 or false turn it off), and never with NO_COLOR (https://no-color.org),
 * which wins over FORCE_COLOR. A terminal that says it is dumb (TERM=dumb: Emacs' shell, some
 * serial consoles) shows escape codes as text, so it gets none unless FORCE_COLOR asks.
 */
export function colourWanted(io: Pick<Io, 'stdout' | 'stderr'>, env: Readonly<Record<string, string | undefined>>): { stdout: boolean; stderr: boolean } {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return { stdout: false, stderr: false };
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    const on = !['0', 'false'].includes(force.toLowerCase());
    return { stdout: on, stderr: on };
  }
  if (env.TERM === 'dumb') return { stdout: false, stderr: false };
  return { stdout: io.stdout.isTTY, stderr: io.stderr.isTTY };
}

export interface OutputOptions {
  readonly json: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * The options that named the store on the command line (`--db PATH`, `--server PATH`), as
   * typed into a shell: the tfactl command lines the output suggests get them too, or a line
   * copied from it would act on the default store.
   */
  readonly carried?: string;
}

/**
 * The only writer of command output. With --json: exactly one envelope on stdout. Without: human
 * text on stdout, warnings and errors on stderr; colour on a TTY or with FORCE_COLOR, never with NO_COLOR.
 *
 * Data never reaches a terminal raw: control characters, bidirectional overrides, line separators
 * and lone surrogates in it are shown escaped (`\x1b`, `\n`, `\u202e`), whatever got them into
 * the store. The text rule keeps them out of the store; this is the second line. Our own colours
 * are added after the data is escaped, so they still work.
 */
export class Output {
  private readonly warnings: string[] = [];
  /** Whether a status line (status()) is on the terminal now, with no newline after it. */
  private statusShown = false;
  private written = false;

  constructor(
    private readonly io: Io,
    readonly json: boolean,
    /** Styling for stdout text. */
    readonly style: Style = PLAIN,
    private readonly errStyle: Style = PLAIN,
    /** Whether stdout may carry colour (see colourWanted). */
    readonly colour = false,
    /** COLUMNS, when set to a width. */
    private readonly columnsSet?: number,
    /** See OutputOptions.carried. */
    private readonly carried = '',
  ) {}

  /** `text` with the store's options (OutputOptions.carried) in each tfactl command line it suggests. */
  private carry(text: string): string {
    return this.carried === '' ? text : withOptions(text, this.carried);
  }

  /**
   * Shows something to a person while a command is still running (a QR code before asking for its
   * code). Nothing with --json: the result carries what scripts need. Written as it is (the QR
   * code is drawn with escape sequences): callers put no stored free text in it.
   */
  display(text: string): void {
    if (!this.json) this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** What a loop of display() calls waits for between pieces (Io's stdout.caughtUp). */
  caughtUp(): Promise<void> | null {
    return this.io.stdout.caughtUp?.() ?? null;
  }

  /** Whether standard output reaches no one (/dev/null, or closed). */
  get discarded(): boolean {
    return this.io.stdout.discarded === true;
  }

  get isTTY(): boolean {
    return this.io.stdout.isTTY;
  }

  /**
   * How wide standard output is: COLUMNS when set, else the terminal's width, else 80. A terminal
   * that says 0 (a pty whose size was never set: script(1), some serial and SSH set-ups) is 80 wide.
   */
  get columns(): number {
    const terminal = this.io.stdout.columns;
    return this.columnsSet ?? (terminal !== undefined && terminal > 0 ? terminal : 80);
  }

  /** Prints a command's result: the envelope with --json, else what `human` makes of it. */
  result<T>(value: T, human: (value: T, style: Style) => string): void {
    if (this.written) throw new Error('a command printed two results');
    this.written = true;
    if (this.json) {
      this.io.stdout.write(`${safeJson({ ok: true, result: this.carried === '' ? value : mapStrings(value, (t) => this.carry(t)), warnings: this.warnings } satisfies Envelope)}\n`);
      return;
    }
    // The renderer sees the data already escaped, so whatever it interpolates (ids in a
    // sentence, cells it paints) is safe, and its own styling is left alone.
    const text = this.carry(human(escapeData(value), this.style));
    if (text !== '') this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }
  /**
   * Waits until what was written has been written where it goes (a client of tfactl serve writes
   * it): a result shown before its commit is not stored when it could not be. `undone` says so.
   */
  async delivered(undone: string): Promise<void> {
    try {
      await this.io.stdout.delivered?.();
    } catch (e) {
      if (e instanceof TfaError && e.code === 'output_failed') throw new StoreError(`${e.message}; ${undone}`, 'output_failed');
      throw e;
    }
  }

  /**
   * Prints a result that must reach its reader before what it shows is kept (recovery keys, shown
   * only now): called inside the transaction that stores them, it throws when standard output
   * cannot be written (a full disk) or its reader has gone (`| head -1`), so the store keeps
   * nothing no one was shown. `undone` says what the command leaves as it was.
   */
  resultBeforeCommit<T>(value: T, human: (value: T, style: Style) => string, undone: string): void {
    try {
      this.result(value, human);
    } catch (e) {
      if (e instanceof OutputFailedError) throw new StoreError(`cannot write standard output: ${e.reason}; ${undone}`, 'output_failed');
      throw e;
    }
    if (this.io.stdout.readerGone === true) throw new StoreError(`standard output was closed before the whole result was written; ${undone}`, 'output_failed');
  }


  /**
   * Prints a list read as it comes (a listing of any size, in bounded memory): with --json one
   * envelope whose `result` is the array of `view.json(item)` (inside `view.wrap` when given), else
   * a table of escaped cells (read once up to TABLE_KEPT_ROWS rows and TABLE_KEPT_TEXT characters,
   * else twice: once for the column widths), or `view.text` of each item. On a terminal the table
   * is fitted to its width as `view.fit` allows, unless `wide`; a note on stderr says what that
   * left out or cut.
   * An error while reading cuts a table short (the error follows on stderr, with its exit code).
   */
  async list<T>(items: () => AsyncIterable<T>, view: ListView<T>, options: ListOptions = {}): Promise<void> {
    if (this.written) throw new Error('a command printed two results');
    this.written = true;
    const out = new BatchedWriter(this.io.stdout);
    // Heard across both readings of a long table (widths, then rows), and between them.
    const interruption = listenForInterrupts(this.io);
    try {
      await this.writeList(out, () => interruption.through(items()), view, this.isTTY && options.wide !== true ? this.columns : undefined);
    } finally {
      interruption.stop();
      // What was read before an error still goes out, as it would have unbatched.
      out.flush();
    }
  }

  /** A list already read (a few realms, tokens or settings), printed as list() prints one. */
  async listOf<T>(items: readonly T[], view: ListView<T>, options: ListOptions = {}): Promise<void> {
    await this.list(async function* () {
      yield* items;
    }, view, options);
  }

  private async writeList<T>(out: BatchedWriter, items: () => AsyncIterable<T>, view: ListView<T>, width: number | undefined): Promise<void> {
    if (this.json) {
      // `ok` goes last here: only the end of the listing knows it. Key order means nothing in
      // JSON, so this is the same envelope, and it stays one valid document even when reading
      // fails half-way: then it says ok:false with the error, and `result` holds what was read.
      const wrap = view.wrap;
      const open = wrap ? `${safeJson({ ...wrap.before, [wrap.key]: [] }).slice(0, -3)}[` : '[';
      const close = `]${wrap ? '}' : ''}`;
      out.write(`{"result":${open}`);
      let first = true;
      try {
        for await (const item of items()) {
          const behind = out.paced(`${first ? '' : ','}${safeJson(view.json(item))}`);
          first = false;
          if (behind) await behind;
        }
      } catch (e) {
        out.write(`${close},"warnings":${safeJson(this.warnings)},"ok":false,"error":${safeJson(describeError(e))}}\n`);
        throw e;
      }
      out.write(`${close},"warnings":${safeJson(this.warnings)},"ok":true}\n`);
      return;
    }
    if (view.text) {
      for await (const item of items()) {
        const text = view.text(item);
        const behind = text === '' ? null : out.paced(text.endsWith('\n') ? text : `${text}\n`);
        if (behind) await behind;
      }
      return;
    }
    // The widths first. A table of up to TABLE_KEPT_ROWS rows and TABLE_KEPT_TEXT characters (the
    // service runs up to 256 commands at once) is kept as it is read and printed from memory: one
    // read, so the columns fit every row. A longer one is read again to be printed (bounded
    // memory), and a row changed between the reads may stand out of its columns.
    const widths = view.headers.map(textWidth);
    let rows = 0;
    let kept: string[][] | null = [];
    let keptText = 0;
    for await (const item of items()) {
      for (const row of view.rows(item)) {
        rows++;
        const cells = row.map(escapeText);
        cells.forEach((cell, i) => {
          widths[i] = Math.max(widths[i] ?? 0, textWidth(cell));
        });
        if (kept === null) continue;
        keptText += cells.reduce((n, c) => n + c.length, 0);
        if (rows <= TABLE_KEPT_ROWS && keptText <= TABLE_KEPT_TEXT) kept.push(cells);
        else kept = null;
      }
    }
    if (rows === 0) {
      out.write(`${view.empty}\n`);
      return;
    }
    const plan = planTable(view.headers, widths, view.fit, width);
    let cut = false;
    out.write(`${this.style.bold(layRow(view.headers, plan).join('\n'))}\n`);
    const print = async (cells: readonly string[]) => {
      const behind = out.paced(`${layRow(cells, plan, () => (cut = true)).join('\n')}\n`);
      if (behind) await behind;
    };
    if (kept !== null) for (const cells of kept) await print(cells);
    else for await (const item of items()) for (const row of view.rows(item)) await print(row.map(escapeText));
    if (width === undefined) return;
    // The table first: the note goes to stderr, on the same terminal.
    out.flush();
    this.sayNarrowed(plan, cut, width);
  }

  /** After a table fitted to the terminal: what it left out or cut, and how to see it whole. */
  private sayNarrowed(plan: TablePlan, cut: boolean, width: number): void {
    const what = [...(plan.dropped.length > 0 ? [`${plan.dropped.join(', ')} left out`] : []), ...(cut ? ['text cut short'] : [])];
    if (what.length === 0) return;
    // Narrowed as far as its columns go and still wider: said so, not claimed to fit.
    const fitted = planWidth(plan) <= width ? `fitted to ${width} columns` : `narrowed for ${width} columns, and still ${planWidth(plan)} wide`;
    this.note(`${fitted}: ${what.join(', ')} (--wide shows all)`);
  }

  /** A warning: on stderr now, and in the envelope's `warnings` with --json. */
  warn(said: string): void {
    const message = this.carry(hideTokenSecrets(said));
    this.warnings.push(message);
    this.toStderr(`${this.errStyle.yellow('warning:')} ${escapeText(message)}\n`);
  }

  /** Progress and hints for people; never part of the result. */
  note(message: string): void {
    if (!this.json) this.toStderr(`${escapeText(this.carry(message))}\n`);
  }

  /**
   * What a person must do for the command to go on (open this page): on stderr, with --json too,
   * since the command waits for it whoever reads its result.
   */
  instruct(message: string): void {
    this.toStderr(`${escapeText(message)}\n`);
  }

  /**
   * A status line rewritten in place on a terminal (a countdown); nothing elsewhere. An empty
   * message clears it.
   */
  status(message: string): void {
    if (!this.io.stderr.isTTY) return;
    this.statusShown = message !== '';
    this.io.stderr.write(message === '' ? '\r\x1b[K' : `\r\x1b[K${escapeText(message)}`);
  }

  /** A line on stderr, in place of the status line when one is shown (it is drawn again at its next change). */
  private toStderr(line: string): void {
    if (this.statusShown) {
      this.statusShown = false;
      this.io.stderr.write('\r\x1b[K');
    }
    this.io.stderr.write(line);
  }

  /** Prints an error: one line on stderr (plus the stack with --debug), and the envelope with --json. */
  error(err: unknown, debug: boolean): void {
    const { code, message: said } = describeError(err);
    const message = this.carry(said);
    if (this.json && !this.written) {
      this.written = true;
      const result = err instanceof TfaError ? err.result : undefined;
      // The warnings said before the failure (an unenforced realm, a key not checked) stay with it.
      const envelope: Envelope =
        result === undefined ? { ok: false, error: { code, message }, warnings: this.warnings } : { ok: false, error: { code, message }, result, warnings: this.warnings };
      try {
        this.io.stdout.write(`${safeJson(envelope)}\n`);
      } catch {
        // Standard output cannot be written (a full disk): the line below still says what failed.
      }
    }
    this.toStderr(`${this.errStyle.red('error:')} ${escapeText(message)}\n`);
    if (debug && err instanceof Error && err.stack) this.io.stderr.write(`${hideTokenSecrets(err.stack)}\n`);
  }
}

function describeError(err: unknown): { code: string; message: string } {
  // Whatever a message quotes, never the secret of an API token typed where something else belonged.
  if (err instanceof TfaError) return { code: err.code, message: hideTokenSecrets(oneLine(err.message)) };
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message: `internal error: ${hideTokenSecrets(oneLine(message))} (run with --debug for details)` };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** A copy of a result with every string escaped (escapeText); other values as they are. */
function escapeData<T>(value: T): T {
  return mapStrings(value, escapeText);
}

/** A copy of plain data with `fn` applied to every string in it; other values as they are. */
function mapStrings<T>(value: T, fn: (text: string) => string): T {
  if (typeof value === 'string') return fn(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => mapStrings(v, fn)) as T;
  if (value !== null && typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, fn)])) as T;
  }
  return value;
}

/**
 * The command lines messages suggest (`fix: tfactl user passwd bob`), which act on a store: a
 * command by its whole name (`user passwd`, not the prose of "a tfactl user name"), then the end,
 * a blank, a quote or a bracket. A test keeps it in step with cli.ts: a new command is listed here
 * or named there as one whose lines are not carried.
 */
const STORE_COMMAND = new RegExp(
  `(^|[\\s'"(\`])tfactl (?=(?:${[
    'user (?:add|modify|show|list|delete|passwd|import|logout)',
    'tfa (?:add|list|delete|modify|enable|disable|unlock)',
    'realm (?:add|list|show|delete|set-enforce|set-yubico)',
    'settings (?:list|set|unset)',
    'token (?:add|list|delete)',
    'export (?:users|totp)',
    'import proxmox',
    'audit(?: list| prune)?',
    'login',
    'logout',
    'init',
  ].join('|')})(?=$|[\\s'"\`)]))`,
  'g',
);

/** `text` with `options` after `tfactl` in each command line of STORE_COMMAND it holds. */
export function withOptions(text: string, options: string): string {
  // A function, not a replacement string: a path may hold `$&` or `$1`, which that would expand.
  return text.replace(STORE_COMMAND, (_, lead: string) => `${lead}tfactl ${options} `);
}

/**
 * Writes in pieces of about 64 KiB instead of a write per line: a listing of 200,000 rows spent
 * seconds in write calls alone.
 */
class BatchedWriter {
  private pending = '';
  constructor(private readonly out: Io['stdout']) {}

  /** For the pieces of a listing's loop: null, or (when it wrote a batch its reader is far behind on) a promise of the reader catching up, to await before the next. */
  paced(text: string): Promise<void> | null {
    this.pending += text;
    if (this.pending.length < 64 * 1024) return null;
    this.flush();
    return this.out.caughtUp?.() ?? null;
  }

  /** For what nothing waits on (a listing's opening and closing): never asks whether the reader is behind. */
  write(text: string): void {
    this.pending += text;
    if (this.pending.length >= 64 * 1024) this.flush();
  }

  flush(): void {
    if (this.pending === '') return;
    this.out.write(this.pending);
    this.pending = '';
  }
}

/** How a list is shown: a table of rows (each item may give several, or none), or its JSON. */
export interface ListView<T> {
  readonly headers: readonly string[];
  /** The table rows of one item: plain text cells (shown escaped). */
  rows(item: T): readonly (readonly string[])[];
  /** What a person sees when there are no rows. */
  readonly empty: string;
  /** With --json: the item as the result shows it. */
  json(item: T): unknown;
  /** Instead of a table: the text of one item (an export's lines). */
  readonly text?: (item: T) => string;
  /** With --json: the array goes under `key` of an object that starts with `before`. */
  readonly wrap?: { readonly before: Readonly<Record<string, unknown>>; readonly key: string };
  /** How the table may be narrowed to fit a terminal; without it, it is printed as wide as it is. */
  readonly fit?: TableFit;
}

/** How a listing is printed. */
export interface ListOptions {
  /** Every column whole, however wide the terminal (--wide). */
  readonly wide?: boolean;
}

/** The most rows, and characters of their cells, of a table kept in memory between working out its widths and printing it. */
export const TABLE_KEPT_ROWS = 10_000;
export const TABLE_KEPT_TEXT = 1024 * 1024;

/**
 * Lays out rows under headers in aligned columns. Cells are plain text, shown escaped so none can
 * break its row; the header is bold.
 */
export function table(headers: readonly string[], rawRows: readonly (readonly string[])[], style: Style): string {
  const rows = rawRows.map((r) => r.map(escapeText));
  // A loop, not Math.max(...cells): spreading a few hundred thousand cells overflows the stack.
  const widths = headers.map(textWidth);
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, textWidth(cell))));
  const plan = planTable(headers, widths, undefined, undefined);
  return [style.bold(layRow(headers, plan).join('\n')), ...rows.flatMap((r) => layRow(r, plan))].join('\n');
}

/**
 * `key: value` lines with aligned values, for one record. Values are plain text, shown escaped; a
 * third element paints the escaped value (colour is ours, never the data's).
 */
export function fields(pairs: readonly (readonly [string, string, Paint?])[], style: Style): string {
  const width = pairs.reduce((w, [k]) => Math.max(w, k.length), 0);
  return pairs.map(([k, v, paint]) => `${style.bold(`${k}:`.padEnd(width + 1))} ${(paint ?? String)(escapeText(v))}`).join('\n');
}
