import type { Duplex } from 'node:stream';
import type { Ctx, InputFiles, Io, Prompter, RemoteRun, TicketBox } from '../context.js';
import { CancelledError, ExitCode, StoreError, TfaError, UsageError, type ExitCodeValue } from '../errors.js';
import { describeSize, type CheckedFileOptions, type InputFile, type FileProblem, INPUT_LIMITS, KiB, MiB } from '../files.js';
import { LineTooLongError } from '../stdio.js';
import { ARG_MAX_BYTES, argvProblem, ENV_TO_SERVICE, FILE_PIECE, PROTOCOL, readFrames, sendFrame, type ErrorFrame, type FileProblemFrame, type Frame } from './frames.js';
import { writtenFileFlag } from '../named-files.js';

/**
 * tfactl serve's side of the CLI protocol (see frames.ts): runs one command of a client, the very
 * command the CLI runs, on the service's store, with a Ctx whose terminal, questions, standard
 * input, session tickets and named files are the client's. The client is nobody until it signs in
 * (--as, a kept session, or a token): never the store's owner, whatever its OS user.
 */

export interface ServiceSide {
  readonly storePath: string;
  readonly keyPath: string;
  /** The service's own context: its clock, randomness and host name. */
  readonly base: Ctx;
  /** How a run with this command line gets the store (its close() gives it back). */
  storeFor(argv: readonly string[]): Ctx['openStore'];
  /** One line of the request log. */
  log(entry: Record<string, unknown>): void;
  /**
   * Takes a place for a run about to start (`firstLine`: its line of standard input came with it;
   * `sentFile`: a file the client sent with it, whole, or undefined); resolves to what gives the
   * place back when the run ends, or why there is none (the service is busy: exit 6). Without it,
   * every run starts.
   */
  startRun?(argv: readonly string[], firstLine: boolean, sentFile: (path: string) => Buffer | undefined): Promise<(() => void) | string>;
  /**
   * What every run holds of the files its client sent, together (they stay until the run ends,
   * and a run may wait on its user for long): a client whose files would take more is turned
   * away as busy. Without it, only each run's own limit holds.
   */
  readonly files?: FileBudget;
}

/** Bytes held for runs, service-wide, up to a limit. */
export interface FileBudget {
  /** Takes `bytes`; false (nothing taken) when they would pass the limit. */
  take(bytes: number): boolean;
  give(bytes: number): void;
}

/** A FileBudget of `limit` bytes. */
export function fileBudget(limit: number): FileBudget & { readonly held: () => number } {
  let held = 0;
  return {
    take(bytes) {
      if (held + bytes > limit) return false;
      held += bytes;
      return true;
    },
    give(bytes) {
      held -= bytes;
    },
    held: () => held,
  };
}

/** A question may wait this long for its answer (a QR code being scanned); then the client is gone. */
const IDLE_MS = 15 * 60_000;
/**
 * How much of a run's output the service holds for a client that reads no further before the
 * run waits for it (a listing of 200,000 users is about 60 MB; 256 runs at once). Output under
 * this never waits: a small listing ends, and lets go of the store, at once.
 */
const OUTPUT_AHEAD_BYTES = 1024 * 1024;
/** What a client may send of the files its command names, in all (before it has signed in). */
const FILES_MAX_BYTES = INPUT_LIMITS.proxmoxFile + MiB;
/**
 * What a run's files may take before they count against the service's budget (ServiceSide.files):
 * a connection that has said nothing yet holds at most this much apart from it (64 of them wait
 * at most: 4 MiB), and a token file is far smaller.
 */
const FILES_FREE_BYTES = 64 * KiB;
/** How many files, and how long a path or a problem's text may be. */
const FILES_MAX = 16;
const PATH_MAX_BYTES = 4 * KiB;
/** A client says what to run at once; one that does not is dropped. */
const START_MS = 10_000;

/** Commands that work on the service's own files or host: run them there, as the store's owner. */
const NOT_THROUGH_SERVICE = new Set(['init', 'serve', 'backup', 'restore', 'completion', '__complete', 'pam config']);

interface SentFile {
  pieces: Buffer[];
  size: number;
  done: boolean;
  tooLarge?: boolean;
  problem?: FileProblemFrame;
  /** Its permission bits on the client's side, as the client said. */
  mode?: number;
}

/** A client's command while it runs: stop() ends its waiting for the client (the service is stopping). */
export interface CliRun {
  stop(): void;
  /** The command's path (`user show`), once known. */
  readonly command: string | undefined;
  /** Whom it signs in, once known (for the request log). */
  readonly userid: string | undefined;
  /** Resolves when the run has ended and its connection is closed. */
  readonly ended: Promise<void>;
}

/** How a run and its client exchange frames: a socket (the CLI), or one HTTP request and its answer. */
export interface Transport {
  send(frame: Frame): void;
  /** Hands each of the client's frames to `onFrame`, and calls `onEnd` once when the client has gone. */
  listen(onFrame: (f: Frame) => void, onEnd: () => void): void;
  /** After the last frame. */
  end(): void;
  destroy(): void;
  /** Resolves when the exchange is over. */
  readonly ended: Promise<void>;
  /** Null, or while the client is far behind in reading what was sent, a promise of its catching up. */
  caughtUp?(): Promise<void> | null;
  /** An HTTP request's run is logged by the request's own line. */
  readonly logged?: boolean;
}

/** The CLI's connection, upgraded to the tfactl-cli protocol: frames as lines (frames.ts). */
export function socketTransport(socket: Duplex, head: Buffer): Transport {
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${PROTOCOL}\r\nConnection: Upgrade\r\n\r\n`);
  const net = socket as Partial<import('node:net').Socket>;
  net.setTimeout?.(IDLE_MS, () => socket.destroy());
  return {
    send: (frame) => {
      // Many small writes (a table's rows) leave as few packets.
      if (frame.t === 'out' && !net.writableCorked) {
        net.cork?.();
        process.nextTick(() => net.uncork?.());
      }
      sendFrame(socket, frame);
    },
    listen: (onFrame, onEnd) => readFrames(socket, head, onFrame, () => onEnd()),
    end: () => socket.end(),
    destroy: () => socket.destroy(),
    ended: new Promise<void>((resolve) => socket.once('close', () => resolve())),
    caughtUp: () =>
      socket.writableLength <= OUTPUT_AHEAD_BYTES
        ? null
        : new Promise<void>((resolve) => {
            const done = () => {
              socket.off('drain', done).off('close', done);
              resolve();
            };
            socket.on('drain', done).on('close', done);
          }),
  };
}

/**
 * Runs one command of a client over `transport`. Once stopped, a run that waits for its client (a
 * question, standard input, or its reading of the output) ends at once with exit 6 (the last cut
 * off: the client is not reading); one that is working on the store finishes.
 */
export function acceptCliRun(transport: Transport, side: ServiceSide): CliRun {
  const files = new Map<string, SentFile>();
  let filesSize = 0;
  /**
   * What this run took of side.files: given back once its connection has ended and its command
   * (if it started one) has returned, which holds the files until then; or when it is refused.
   */
  let budgeted = 0;
  const giveBack = () => {
    side.files?.give(budgeted);
    budgeted = 0;
  };
  let runSettled: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => (runSettled = resolve));
  void transport.ended.then(() => {
    if (!started) runSettled();
  });
  void Promise.all([transport.ended, settled]).then(giveBack);
  let started = false;
  let gone = false;
  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  const interrupts = new Set<() => void>();
  let cancelled = false;
  let stopping = false;
  /** While its output waits for the client to read. */
  let waitingToWrite = false;
  let command: string | undefined;
  let userid: string | undefined;
  const stoppingError = () => new StoreError('the tfactl service is stopping: run the command again once it is back', 'service_stopping');
  const { ended } = transport;

  const cancel = () => {
    cancelled = true;
    for (const p of pending.values()) p.reject(new CancelledError());
    pending.clear();
  };
  const call = (fn: string, args: unknown[] = [], signal?: AbortSignal): Promise<unknown> => {
    if (gone || cancelled) return Promise.reject(new CancelledError());
    if (stopping) return Promise.reject(stoppingError());
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      signal?.addEventListener('abort', () => {
        if (!pending.delete(id)) return;
        transport.send({ t: 'cancel', id });
        reject(new CancelledError());
      });
      transport.send({ t: 'call', id, fn, args });
    });
  };
  let refused = false;
  /** Ends the conversation before a command runs: what the client sent is wrong (exit 2), or (`busy`) the service has no place for it. */
  const refuse = (why: string, busy = false) => {
    if (refused) return;
    refused = true;
    started = true;
    clearTimeout(startDeadline);
    side.log({ method: 'RUN', refused: why });
    // The client fails as when the service answers 503: its own error (exit 6, --json's envelope);
    // one from before `busy` reads the line and the exit code after it.
    if (busy) transport.send({ t: 'busy', message: why });
    transport.send({ t: 'out', fd: 2, s: `error: ${why}\n` });
    transport.send({ t: 'exit', code: busy ? ExitCode.store : ExitCode.usage });
    transport.end();
    files.clear();
    giveBack();
    runSettled();
  };
  // Declared after refuse, which it calls; refuse runs only once a frame or this timer fires.
  const startDeadline = setTimeout(() => refuse(`no command within ${START_MS / 1000} s`), START_MS);
  startDeadline.unref();

  transport.listen(
    (f: Frame) => {
      if (f.t === 'reply') {
        const p = pending.get(Number(f.id));
        // An answer to nothing asked (or asked and taken back): only a stray after a cancel is harmless.
        if (!p) return;
        pending.delete(Number(f.id));
        if (f.error !== undefined) p.reject(fromErrorFrame(f.error));
        else p.resolve(f.value);
      } else if (f.t === 'interrupt') {
        if (interrupts.size > 0) for (const fn of [...interrupts]) fn();
        else cancel();
      } else if (f.t === 'file' && !started) {
        const path = String(f.path);
        if (Buffer.byteLength(path) > PATH_MAX_BYTES || (!files.has(path) && files.size >= FILES_MAX)) return refuse(`at most ${FILES_MAX} files, each path at most ${PATH_MAX_BYTES} bytes`);
        const entry = files.get(path) ?? { pieces: [], size: 0, done: false };
        files.set(path, entry);
        if (entry.done) return;
        if (f.problem !== undefined) {
          const problem: unknown = f.problem;
          if (typeof problem !== 'object' || problem === null) return refuse('a file frame whose problem is not an object');
          const { message, code } = problem as Partial<Record<keyof FileProblemFrame, unknown>>;
          const text = typeof message === 'string' ? message : 'the client could not read the file';
          filesSize += Buffer.byteLength(text);
          entry.problem = { message: text.slice(0, PATH_MAX_BYTES * 2), code: code === 'file_too_large' || code === 'file_permissions' ? code : 'file_error' };
        }
        if (f.tooLarge === true) entry.tooLarge = true;
        if (typeof f.mode === 'number' && Number.isInteger(f.mode) && f.mode >= 0 && f.mode <= 0o777) entry.mode = f.mode;
        if (typeof f.data === 'string') {
          const piece = Buffer.from(f.data, 'base64');
          filesSize += piece.length;
          if (piece.length > FILE_PIECE || filesSize > FILES_MAX_BYTES) return refuse(`the files this command names are over ${describeSize(FILES_MAX_BYTES)} in all`);
          // The first FILES_FREE_BYTES of a run's files are its own (a token file, PAM's lines'
          // one): a flood of big files must not turn away the sign-ins that send small ones.
          const charged = Math.max(0, filesSize - FILES_FREE_BYTES) - budgeted;
          if (charged > 0 && side.files && !side.files.take(charged)) return refuse('the tfactl service holds as many files of other commands as it may: try again shortly', true);
          if (charged > 0) budgeted += charged;
          entry.pieces.push(piece);
          entry.size += piece.length;
        }
        entry.done = f.more !== true;
      } else if (f.t === 'start' && !started) {
        clearTimeout(startDeadline);
        started = true;
        const start = parseStart(f);
        if (typeof start === 'string') return refuse(start);
        // Nothing a run does may end the service: a failure no command caught ends this conversation.
        startWhenPlaced(start).catch(() => {
          runSettled();
          transport.destroy();
        });
      } else {
        // Anything else (a frame out of turn, an unknown one) ends the conversation.
        transport.destroy();
      }
    },
    () => {
      gone = true;
      cancel();
      for (const fn of [...interrupts]) fn();
    },
  );

  return {
    ended,
    get command() {
      return command;
    },
    get userid() {
      return userid;
    },
    stop: () => {
      stopping = true;
      if (waitingToWrite) transport.destroy();
      if (!started) transport.destroy();
      // The client takes its prompts back first, so the error that follows is not written into one.
      for (const [id, p] of pending) {
        transport.send({ t: 'cancel', id });
        p.reject(stoppingError());
      }
      pending.clear();
    },
  };

  /** Runs the command once it has a place (the service's side may look at its token first). */
  async function startWhenPlaced(start: Start): Promise<void> {
    const sentFile = (path: string) => {
      const f = files.get(path);
      return f?.done && !f.problem && !f.tooLarge ? Buffer.concat(f.pieces) : undefined;
    };
    const place = side.startRun ? await side.startRun(start.argv, start.firstLine !== undefined, sentFile).catch((e: unknown) => (e instanceof Error ? e.message : String(e))) : () => undefined;
    if (typeof place === 'string') return refuse(place, true);
    await runCommand(start).finally(() => {
      place();
      runSettled();
    });
  }

  async function runCommand(start: Start): Promise<void> {
    const began = performance.now();
    let { firstLine } = start;
    const write = (fd: 1 | 2) => (text: string) => {
      if (gone) return;
      transport.send({ t: 'out', fd, s: text });
    };
    // Output the client will never read ends the command (exit 6 in the log too), instead of
    // reading the rest of the store to write it nowhere.
    const caughtUp = (): Promise<void> | null => {
      if (gone) return Promise.reject(new CancelledError('the client has gone'));
      const behind = transport.caughtUp?.() ?? null;
      if (behind === null) return null;
      if (stopping) {
        transport.destroy();
        return Promise.reject(stoppingError());
      }
      waitingToWrite = true;
      return behind.then(() => {
        waitingToWrite = false;
        if (gone) throw stopping ? stoppingError() : new CancelledError('the client has gone');
      });
    };
    const io: Io = {
      // The client says whether what it was sent reached its standard output (a secret shown before its commit).
      stdout: { write: write(1), isTTY: start.tty.stdout, columns: start.tty.columns, discarded: start.tty.discarded, caughtUp, delivered: () => delivered(call) },
      stderr: { write: write(2), isTTY: start.tty.stderr, columns: start.tty.columns },
      stdinIsTTY: start.tty.stdin,
      stdinChunks: () => stdinChunks(call),
      readLine: async (maxBytes) => {
        // The line the client read before it sent the command (`pam check`'s answer).
        if (firstLine !== undefined) {
          const line = firstLine;
          firstLine = undefined;
          if (line !== null && Buffer.byteLength(line) > maxBytes) throw new LineTooLongError(`a line of standard input is longer than ${maxBytes} bytes`);
          return line;
        }
        // Saying whether a line came with the command: a client asked for its first line by a
        // service that did not take the one it sent gives that one.
        const line = await call('stdin.line', [maxBytes, start.firstLine !== undefined]);
        return typeof line === 'string' ? line : null;
      },
      onInterrupt: (fn) => {
        interrupts.add(fn);
        return () => interrupts.delete(fn);
      },
    };
    const prompter: Prompter = {
      password: async (message, options) => String(await call('prompt.password', [message], options?.signal)),
      input: async (message, defaultValue, options) => String(await call('prompt.input', [message, defaultValue ?? null], options?.signal)),
      confirm: async (message, defaultValue, options) => (await call('prompt.confirm', [message, defaultValue], options?.signal)) === true,
    };
    const remote: RemoteRun = {
      files: sentFiles(files),
      tickets: start.tickets ? remoteTickets(call) : null,
      admit: (cmd, opts) => {
        command = cmd;
        admit(cmd, opts);
        // An HTTP request's output goes back with its answer, once the command has ended: a page
        // would say its address to no one while it waits for a browser.
        if (start.buffered && opts.page === true) {
          throw new UsageError("--page through POST /api/v1/run: the page's address would come back only with the answer, after it has given up waiting; use --begin and --finish", 'not_through_service');
        }
      },
      signingIn: (id) => {
        userid = id;
      },
    };
    const { base } = side;
    const ctx: Ctx = {
      io,
      prompter,
      clock: base.clock,
      random: base.random,
      // The service's store and key, whatever the client's environment says.
      env: { ...start.env, TFACTL_DB: side.storePath, TFACTL_KEY_FILE: side.keyPath },
      uid: -1,
      home: '/nonexistent',
      hostname: base.hostname,
      remote,
      openStore: side.storeFor(start.argv),
    };
    let code: number;
    try {
      const { main } = await import('../main.js');
      code = await main(start.argv, ctx);
    } catch {
      code = ExitCode.internal;
    }
    if (cancelled && code !== ExitCode.ok) code = ExitCode.cancelled;
    transport.send({ t: 'exit', code });
    transport.end();
    if (!transport.logged) side.log({ method: 'RUN', ...(command !== undefined && { command }), ...(userid !== undefined && { userid }), exit: code, ms: Math.round((performance.now() - began) * 10) / 10 });
  }
}

interface Start {
  readonly argv: string[];
  readonly env: Record<string, string>;
  readonly tty: { readonly stdin: boolean; readonly stdout: boolean; readonly stderr: boolean; readonly columns: number | undefined; readonly discarded: boolean };
  readonly tickets: boolean;
  /** The first line of standard input, read by the client before it sent the command (null: it had ended); the run's first readLine is answered with it. */
  readonly firstLine: string | null | undefined;
  /** An HTTP request's run (POST /api/v1/run): its output is sent back only when it ends. */
  readonly buffered: boolean;
}

/** The `start` frame, checked; a string says what is wrong with it. */
function parseStart(f: Frame): Start | string {
  const { argv, env, tty, tickets, stdinLine, buffered } = f as Record<string, unknown>;
  if (!Array.isArray(argv)) return 'the command line sent is not a list of arguments';
  const problem = argvProblem(argv);
  if (problem !== null) return problem;
  if (stdinLine !== undefined && stdinLine !== null && (typeof stdinLine !== 'string' || Buffer.byteLength(stdinLine) > ARG_MAX_BYTES)) {
    return `the line of standard input sent is not text of at most ${ARG_MAX_BYTES / KiB} KiB`;
  }
  const allowed = new Set<string>(ENV_TO_SERVICE);
  const picked: Record<string, string> = {};
  if (env !== null && typeof env === 'object') {
    for (const [k, v] of Object.entries(env)) if (allowed.has(k) && typeof v === 'string') picked[k] = v;
  }
  const t = (tty ?? {}) as Record<string, unknown>;
  const columns = typeof t.columns === 'number' && Number.isInteger(t.columns) && t.columns > 0 && t.columns < 10_000 ? t.columns : undefined;
  return {
    argv: argv as string[],
    env: picked,
    tty: { stdin: t.stdin === true, stdout: t.stdout === true, stderr: t.stderr === true, columns, discarded: t.discarded === true },
    tickets: tickets === true,
    firstLine: stdinLine as string | null | undefined,
    buffered: buffered === true,
  };
}

/**
 * Refuses, before it runs, what a client may not ask of the service: commands on the service's own
 * files, another store, and files written on the service's side (the service writes none for a client).
 */
function admit(command: string, opts: Readonly<Record<string, unknown>>): void {
  const here = "run it on the service's host as the store's owner";
  // init is also how a user keeps a store of their own beside the service (README).
  const own = command === 'init' ? ', or, for a store of your own, leave out --server and unset TFACTL_SERVER' : '';
  if (NOT_THROUGH_SERVICE.has(command)) throw new UsageError(`tfactl ${command} does not go through the tfactl service: ${here}${own}`, 'not_through_service');
  if (opts.db !== undefined) throw new UsageError('--db names a store, and the tfactl service has its own: leave out --db, or --server to use that store directly', 'not_through_service');
  const writes = writtenFileFlag(opts);
  if (writes !== null) {
    throw new UsageError(`${writes} writes a file, and the tfactl service writes none for its clients: leave it out (the output comes to this terminal), or ${here}`, 'not_through_service');
  }
  // The page listens on the service's host, with the service's rights: the port is the service's to pick.
  if (opts.port !== undefined) throw new UsageError("--port picks a port on the service's host, which a client may not: leave it out (the page says its port)", 'not_through_service');
}

/** The files the client sent, refused or handed out exactly as readInputFile and openInputFile would. */
function sentFiles(files: ReadonlyMap<string, SentFile>): InputFiles {
  const take = (path: string, options: CheckedFileOptions & { readonly maxBytes: number }): Buffer => {
    const { name, maxBytes } = options;
    const fail = options.fail ?? ((m: string, p: FileProblem) => new UsageError(m, p));
    const f = files.get(path);
    if (!f?.done) throw fail(`cannot read ${name} ${path}: the tfactl client did not send it`, 'file_error');
    if (f.problem) throw fail(f.problem.message.replaceAll('\0', name), f.problem.code);
    if (f.tooLarge || f.size > maxBytes) throw fail(`${name} ${path} is larger than ${describeSize(maxBytes)}`, 'file_too_large');
    return Buffer.concat(f.pieces);
  };
  return {
    read: take,
    open: (path, options): InputFile => {
      const data = take(path, options);
      return {
        async *chunks() {
          for (let off = 0; off < data.length; off += 64 * KiB) yield Buffer.from(data.subarray(off, off + 64 * KiB));
        },
        close: () => undefined,
      };
    },
    mode: (path) => files.get(path)?.mode,
  };
}

/**
 * How long a client may take to say it wrote a result shown before its commit: the store's write
 * lock is held meanwhile, and a client that never answers must not hold it from everyone else.
 */
const DELIVERED_WAIT_MS = 10_000;

/** The client's word that all output so far reached its standard output (Io's stdout.delivered). */
async function delivered(call: (fn: string, args?: unknown[], signal?: AbortSignal) => Promise<unknown>): Promise<void> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), DELIVERED_WAIT_MS);
  try {
    await call('stdout.delivered', [], abort.signal);
  } catch (e) {
    if (abort.signal.aborted) throw new StoreError(`the client did not say within ${DELIVERED_WAIT_MS / 1000} s that it wrote the result`, 'output_failed');
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** The client's session tickets for this service, kept in its $XDG_RUNTIME_DIR. */
function remoteTickets(call: (fn: string, args?: unknown[]) => Promise<unknown>): TicketBox {
  return {
    read: async (userid) => {
      const v = await call('ticket.read', [userid]);
      return typeof v === 'string' ? v : null;
    },
    write: async (userid, secret) => String(await call('ticket.write', [userid, secret])),
    // Where the ticket will go, checked before a sign-in spends a code on it.
    prepare: async () => void (await call('ticket.prepare')),
    remove: async (userid) => void (await call('ticket.remove', [userid])),
    list: async () => {
      const v = await call('ticket.list');
      return Array.isArray(v) ? v.filter((u): u is string => typeof u === 'string') : [];
    },
  };
}

/** The client's standard input, at most INPUT_LIMITS.stdin bytes of it, as readStdinChunks gives it. */
async function* stdinChunks(call: (fn: string) => Promise<unknown>): AsyncGenerator<Uint8Array> {
  let length = 0;
  for (;;) {
    const piece = await call('stdin.chunk');
    if (typeof piece !== 'string') return;
    const chunk = Buffer.from(piece, 'base64');
    length += chunk.length;
    if (length > INPUT_LIMITS.stdin) throw new UsageError(`standard input is larger than ${describeSize(INPUT_LIMITS.stdin)}`, 'file_too_large');
    yield chunk;
  }
}

/** The error a call ended with on the client, as the command would have met it here. */
function fromErrorFrame(frame: unknown): Error {
  // What a client sends is checked, not trusted: any shape that is not an error frame's is an error of no kind.
  if (typeof frame !== 'object' || frame === null) return new Error('the client answered with an error it did not describe');
  const e = frame as Partial<Record<keyof ErrorFrame, unknown>>;
  const message = typeof e.message === 'string' ? e.message : 'the client answered with an error it did not describe';
  if (e.name === 'LineTooLongError') return new LineTooLongError(message);
  if (e.exitCode === ExitCode.cancelled) return new CancelledError(message);
  if (e.exitCode === ExitCode.usage) return new UsageError(message, typeof e.code === 'string' ? e.code : undefined);
  // A store error of the client's (a ticket directory that is not its user's alone): met as one here.
  if (e.exitCode === ExitCode.store && typeof e.code === 'string') return new StoreError(message, e.code);
  if (typeof e.exitCode === 'number' && typeof e.code === 'string') return new TfaError(message, e.code, e.exitCode as ExitCodeValue);
  return new Error(message);
}

/** A command asked for in one HTTP request: POST /api/v1/run, or /api/v1/pam/check and /prompt. */
export interface RunRequest {
  readonly args: readonly string[];
  /** Its standard input (`--password-stdin`, `user import -`, `--code -`, pam check's answer). */
  readonly stdin: string;
  /** The API token of the Authorization header, as TFACTL_TOKEN would give it. */
  readonly token: string | undefined;
  /** Variables of its environment (PAM's items): only those a CLI would send (frames.ts). */
  readonly env?: Readonly<Record<string, string>>;
  /** With --json (the default); false: what it prints for a person, as PAM shows it. */
  readonly json?: boolean;
  /** A PAM check or prompt with its answer: it waits on no one (tfactl serve gives it a PAM place). */
  readonly pam?: boolean;
}

/** How a command of an HTTP request ended: its exit code and what it printed. */
export interface RunOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly command: string | undefined;
  readonly userid: string | undefined;
}

/**
 * Runs a command asked for in one HTTP request, as the CLI would run it with --json (unless
 * `json` is false), no terminal (nothing is asked: a command that would ask fails, naming the flag
 * to use) and the request's standard input; returns its exit code and what it printed.
 */
export function runRequest(request: RunRequest, side: ServiceSide): Promise<RunOutcome> {
  let onFrame: ((f: Frame) => void) | undefined;
  let stdout = '';
  let stderr = '';
  let input = request.stdin;
  let code: number = ExitCode.internal;
  let finish: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (finish = resolve));
  const reply = (id: unknown, answer: { value: unknown } | { error: ErrorFrame }) => queueMicrotask(() => onFrame?.({ t: 'reply', id, ...answer }));
  const nextLine = (max: number): { value: unknown } | { error: ErrorFrame } => {
    if (input === '') return { value: null };
    const nl = input.indexOf('\n');
    const line = nl < 0 ? input : input.slice(0, nl);
    input = nl < 0 ? '' : input.slice(nl + 1);
    if (Buffer.byteLength(line) > max) return { error: { name: 'LineTooLongError', message: `a line of standard input is longer than ${max} bytes` } };
    return { value: line.replace(/\r$/, '') };
  };
  const transport: Transport = {
    send: (f) => {
      if (f.t === 'out' && f.fd === 1) stdout += String(f.s);
      else if (f.t === 'out') stderr += String(f.s);
      else if (f.t === 'exit') code = Number(f.code);
      else if (f.t === 'call' && f.fn === 'stdin.line') reply(f.id, nextLine(Number((f.args as unknown[])[0])));
      else if (f.t === 'call' && f.fn === 'stdin.chunk') {
        const rest = input;
        input = '';
        reply(f.id, { value: rest === '' ? null : Buffer.from(rest).toString('base64') });
      } else if (f.t === 'call' && f.fn === 'stdout.delivered') {
        // Kept to be sent whole as the answer: as delivered as an HTTP answer can be said to be here.
        reply(f.id, { value: null });
      } else if (f.t === 'call') reply(f.id, { error: { name: 'Error', message: `${String(f.fn)}: not in an HTTP request` } });
    },
    listen: (f) => {
      onFrame = f;
      const env = { ...request.env, ...(request.token !== undefined && { TFACTL_TOKEN: request.token }) };
      const argv = request.json === false ? request.args : ['--json', ...request.args];
      queueMicrotask(() => f({ t: 'start', argv, env, tty: {}, tickets: false, buffered: true }));
    },
    end: () => finish(),
    destroy: () => finish(),
    ended,
    logged: true,
  };
  const run = acceptCliRun(transport, side);
  return ended.then(() => ({ code, stdout, stderr, command: run.command, userid: run.userid }));
}
