import { statSync } from 'node:fs';
import { connect as netConnect, isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Ctx, Io, TicketBox } from '../context.js';
import { parseUserId } from '../domain/userid.js';
import { ExitCode, OutputFailedError, StoreError, TfaError, UsageError } from '../errors.js';
import { INPUT_LIMITS, readInputFile, refuseReplaceableSocket } from '../files.js';
import { PAM_ANSWER_MAX_BYTES, PAM_COMMANDS, PAM_SERVICE_WAIT_MS } from '../pam-argv.js';
import { argvProblem, ENV_TO_SERVICE, FILE_PIECE, PROTOCOL, RUN_PATH, readFrames, sendFrame, type ErrorFrame, type Frame } from './frames.js';
import { namedInputFiles } from '../named-files.js';
import { checkServiceAddress, isSocketPath } from './route.js';

/**
 * The CLI as a client of tfactl serve: the command, parsed here as it would be run here, goes to
 * the service, which runs it on its store with this terminal: its output comes back as it is
 * written, and its questions (a password, a code), standard input, session tickets and the files
 * it names are answered here, by this user. Exit codes are the command's own; a service that
 * cannot be reached is exit 6.
 */


/** The most of one file sent: as much as any command reads of one. */
const FILE_MAX_BYTES = Math.max(INPUT_LIMITS.proxmoxFile, INPUT_LIMITS.importFile);

export interface ParsedCommand {
  /** `tfa add totp` */
  readonly command: string;
  readonly args: readonly string[];
  readonly opts: Readonly<Record<string, unknown>>;
}

/** Runs `argv` through the service at `address`; returns the command's exit code. */
export async function forward(argv: readonly string[], address: string, parsed: ParsedCommand, ctx: Ctx): Promise<number> {
  // Said here, as any usage error is (with --json, in its envelope), not by the service after a round trip.
  const problem = argvProblem(withoutServer(argv));
  if (problem !== null) throw new UsageError(problem, 'invalid_argument');
  const files = namedFiles(parsed);
  // `pam check` reads one line: the answer pam_exec wrote before it started tfactl, and closed
  // the pipe on. Read here first, it goes with the command, and the run on the service need not
  // ask for it: a round trip, and Node's stream for standard input, out of every PAM sign-in.
  const first = parsed.command === 'pam check' && !ctx.io.stdinIsTTY ? await readFirstLine(ctx.io) : null;
  const firstLine = first?.line;
  const { socket, answer } = await connect(address, ctx.uid);
  let deadline: NodeJS.Timeout | undefined;
  try {
    socket.write(`GET ${RUN_PATH} HTTP/1.1\r\nHost: tfactl\r\nConnection: Upgrade\r\nUpgrade: ${PROTOCOL}\r\n\r\n`);
    const command = { argv: withoutServer(argv), files, firstLine };
    const run = (async () => {
      // On a socket of root's or this user's (trustSocket), the command goes with the request for
      // the protocol, not a round trip after it: a service that does not take it (busy, stopping)
      // answers otherwise and closes, dropping it unread. Over TLS, where another web server could
      // be listening (and log what it is sent), the files and environment wait for tfactl's answer.
      if (isSocketPath(address)) sendCommand(socket, ctx, command);
      const head = await answer;
      if (!isSocketPath(address)) sendCommand(socket, ctx, command);
      return converse(socket, head, address, ctx, first);
    })();
    if (!(PAM_COMMANDS as readonly string[]).includes(parsed.command)) return await run;
    // What PAM runs: a service that stops answering does not hold the sign-in for ever.
    run.catch(() => undefined);
    const late = new Promise<never>((_, fail) => {
      deadline = setTimeout(() => fail(new StoreError(`the tfactl service at ${address} did not answer within ${PAM_SERVICE_WAIT_MS / 1000} s: the sign-in is refused`, 'service_unavailable')), PAM_SERVICE_WAIT_MS);
    });
    return await Promise.race([run, late]);
  } finally {
    clearTimeout(deadline);
    socket.destroy();
  }
}

/**
 * The first line of standard input (null: it had ended), read with plain reads before anything else
 * waits: `line` undefined when it could not be (too long, a failed read), which the run on the
 * service then meets when it reads the line through the same reader.
 */
async function readFirstLine(io: Io): Promise<FirstLine> {
  try {
    return { line: await io.readLine(PAM_ANSWER_MAX_BYTES) };
  } catch {
    return { line: undefined };
  }
}

interface FirstLine {
  readonly line: string | null | undefined;
}

/** The files the command reads that its user named: read here, with this user's rights. */
function namedFiles(parsed: ParsedCommand): string[] {
  return [...new Set(namedInputFiles(parsed.command, parsed.args, parsed.opts).map((f) => f.path))];
}

/** `argv` without --server and its value: the service is where it runs. */
function withoutServer(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a === '--server') i++;
    else if (!a.startsWith('--server=')) out.push(a);
  }
  return out;
}

function unavailable(address: string, e: unknown): StoreError {
  const code = (e as NodeJS.ErrnoException).code ?? String(e);
  const start = "start it (systemctl start tfactl.socket, or 'tfactl serve' as the store's owner)";
  if (code === 'ENOENT') return new StoreError(`no tfactl service at ${address} (ENOENT): ${start}`, 'service_unavailable');
  if (code === 'ECONNREFUSED') return new StoreError(`the tfactl service at ${address} is not answering (ECONNREFUSED): ${start}`, 'service_unavailable');
  return new StoreError(`cannot reach the tfactl service at ${address}: ${code}`, 'service_unavailable');
}

/**
 * A socket is trusted when root or this user owns it, and only they could have put it where its
 * name leads: a service of anyone else's could take the answers to its questions (passwords).
 */
function trustSocket(path: string, uid: number): void {
  let owner: number | undefined;
  try {
    owner = statSync(path).uid;
  } catch {
    owner = undefined; // Not there: connecting says so (exit 6), once its name is checked below.
  }
  if (owner !== undefined && owner !== 0 && owner !== uid) {
    throw new StoreError(`the socket ${path} belongs to uid ${owner}, neither root nor you: not a tfactl service to trust`, 'service_untrusted');
  }
  // Its owner is not enough: the connection opens the name again, and a symlink or directory on
  // the way that another user controls (a dangling symlink of theirs too) could lead elsewhere by then.
  refuseReplaceableSocket(path, uid, 'the socket');
}

/** Whether --server names a Unix socket (else an https:// URL). */

/**
 * A connection to the service (a Unix socket path, or https://HOST:PORT), being made, and its
 * answer to the request for the CLI protocol: what is written meanwhile is sent once it is made,
 * and a failure to make it is the answer (exit 6, saying why), so no turn of the event loop is spent
 * waiting for the connection. The answer is listened for from the moment the socket exists.
 */
async function connect(address: string, uid: number): Promise<{ socket: Duplex; answer: Promise<Buffer> }> {
  const open = await opener(address, uid);
  const socket = open();
  const answer = upgrade(socket, address);
  // Awaited by forward() once the command is written; a failure before that is not unhandled.
  answer.catch(() => undefined);
  return { socket, answer };
}

/** How to open a connection to the service at `address` (node:tls loaded first for https). */
async function opener(address: string, uid: number): Promise<() => Duplex> {
  if (isSocketPath(address)) {
    trustSocket(address, uid);
    return () => netConnect({ path: address });
  } else {
    const url = new URL(checkServiceAddress(address, '--server'));
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (url.protocol === 'https:') {
      // node:tls only for a service over TLS: a Unix socket's client never pays for loading it.
      const { connect: tlsConnect } = await import('node:tls');
      return () => tlsConnect({ host, port: Number(url.port || 443), ...(isIP(host) === 0 && { servername: host }), ALPNProtocols: ['http/1.1'] });
    } else {
      // Not plain http, even to loopback: any local user may take the port while the service is
      // down, and would be sent the answers to its questions (passwords, codes) and any token.
      throw new UsageError(`--server ${address}: use https://HOST:PORT or the service's socket path, never plain http`, 'invalid_server');
    }
  }
}

/** Waits for the service to take the CLI protocol; returns what came after its answer. */
async function upgrade(socket: Duplex, address: string): Promise<Buffer> {
  let received = Buffer.alloc(0);
  return new Promise<Buffer>((ok, fail) => {
    const done = (e?: unknown, rest?: Buffer) => {
      socket.off('data', take);
      socket.off('error', done);
      socket.off('close', closed);
      if (e !== undefined) fail(e);
      else ok(rest as Buffer);
    };
    const closed = () => done(new StoreError(`the tfactl service at ${address} closed the connection before answering`, 'service_unavailable'));
    const take = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) {
        if (received.length > 16 * 1024) done(new StoreError(`the tfactl service at ${address} answered with something other than HTTP`, 'service_unavailable'));
        return;
      }
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received.subarray(0, end).toString('latin1'))?.[1];
      if (status === '503') {
        done(new StoreError(`the tfactl service at ${address} is busy (HTTP 503): try again shortly`, 'service_busy'));
        return;
      }
      if (status !== '101') {
        done(new StoreError(`the service at ${address} does not take tfactl commands (HTTP ${status ?? '?'}): is it tfactl serve, of this version or newer?`, 'service_unavailable'));
        return;
      }
      done(undefined, received.subarray(end + 4));
    };
    socket.on('data', take);
    socket.once('error', (e) => done(unavailable(address, e)));
    socket.once('close', closed);
  });
}

interface Conversation {
  readonly argv: readonly string[];
  readonly files: readonly string[];
  /** Standard input's first line, already read (null: it had ended); undefined: not read. */
  readonly firstLine: string | null | undefined;
}

/** The files the command names, then the command itself. */
function sendCommand(socket: Duplex, ctx: Ctx, c: Conversation): void {
  const { io } = ctx;
  for (const path of c.files) sendFile(socket, path);
  sendFrame(socket, {
    t: 'start',
    argv: c.argv,
    env: Object.fromEntries(ENV_TO_SERVICE.filter((k) => ctx.env[k] !== undefined).map((k) => [k, ctx.env[k]])),
    // Whether standard output reaches anyone (not /dev/null, not closed): a command that shows
    // secrets once refuses to make them for no one, through the service as on the store.
    tty: { stdin: io.stdinIsTTY, stdout: io.stdout.isTTY, stderr: io.stderr.isTTY, columns: io.stdout.columns ?? null, discarded: io.stdout.discarded === true },
    tickets: ctx.env.XDG_RUNTIME_DIR ? true : false,
    ...(c.firstLine !== undefined && { stdinLine: c.firstLine }),
  });
}

/**
 * Answers the service's calls and writes the command's output, until it exits. `first`: the first
 * line of standard input was read here (by `ctx.io`) and went with the command; the rest, if asked
 * for, comes from the same reader, which holds what it read past the line. A service that asks for
 * the first line itself (one from before `stdinLine`: its call says nothing of a line sent) is
 * given the line read.
 */
function converse(socket: Duplex, head: Buffer, address: string, ctx: Ctx, first: FirstLine | null): Promise<number> {
  const { io } = ctx;
  const input = first ? io : (io.waitingStdin ?? io);
  let unsent = first?.line;
  const asked = new Map<number, AbortController>();
  /** The calls still answering (a prompt on the terminal), each settled once its prompt has cleaned up. */
  const answering = new Map<number, Promise<unknown>>();
  /** Those of them that end when taken back (a prompt: its AbortSignal). */
  const abortable = new Set<number>();
  let tickets: Promise<TicketBox | null> | undefined;
  let stdin: AsyncIterator<Uint8Array> | undefined;
  const calls: Record<string, (args: unknown[], signal: AbortSignal) => Promise<unknown>> = {
    'prompt.password': ([message], signal) => ctx.prompter.password(String(message), { signal }),
    'prompt.input': ([message, def], signal) => ctx.prompter.input(String(message), typeof def === 'string' ? def : undefined, { signal }),
    'prompt.confirm': ([message, def], signal) => ctx.prompter.confirm(String(message), def === true, { signal }),
    'stdin.line': async ([max, afterSent]) => {
      if (unsent !== undefined && afterSent !== true) {
        const line = unsent;
        unsent = undefined;
        return line;
      }
      unsent = undefined;
      return input.readLine(Number(max));
    },
    'stdin.chunk': async () => {
      stdin ??= input.stdinChunks()[Symbol.asyncIterator]();
      const next = await stdin.next();
      return next.done ? null : Buffer.from(next.value).toString('base64');
    },
    'ticket.read': async ([userid]) => (await box())?.read(String(userid)) ?? null,
    'ticket.write': async ([userid, secret]) => {
      // What a service may have this user keep: a user id's ticket, in the ticket's own shape.
      if (!/^[A-Za-z0-9_-]{43}$/.test(String(secret))) throw new UsageError('not a session ticket', 'invalid_ticket');
      return (await box())?.write(parseUserId(String(userid)).id, String(secret)) ?? null;
    },
    'ticket.prepare': async () => (await box())?.prepare?.() ?? null,
    'ticket.remove': async ([userid]) => (await box())?.remove(String(userid)) ?? null,
    'ticket.list': async () => (await box())?.list() ?? [],
  };
  const box = () =>
    (tickets ??= import('../commands/tickets.js').then(({ fileTicketBox }) => fileTicketBox(ctx.env, `tfactl-service:${address}`)));

  return new Promise<number>((ok, fail) => {
    const stopInterrupts = io.onInterrupt(() => sendFrame(socket, { t: 'interrupt' }));
    const finish = (code?: number, e?: unknown) => {
      stopInterrupts();
      io.waitingStdin?.close();
      for (const a of asked.values()) a.abort();
      if (code !== undefined) ok(code);
      else fail(e);
    };
    let exited = false;
    // Standard output that could not be written here (a full disk): the command runs on, and
    // unless it fails of its own accord, that is how this run ends (exit 6), not as the service's fault.
    let unwritten: { readonly error: unknown } | null = null;
    // Output and the end, in order, each after the prompts the service took back (cancel) have
    // put the cursor where it was: else an error (the service stopping) lands inside a prompt and
    // its clean-up wipes it. Prompts still open stay (a countdown is written beside one).
    let shown: Promise<void> = Promise.resolve();
    const takenBack = new Set<Promise<unknown>>();
    const inTurn = (show: () => void) => {
      const waits = [...takenBack];
      shown = waits.length === 0 ? shown.then(show) : shown.then(async () => {
        await Promise.race([Promise.allSettled(waits), new Promise((r) => setTimeout(r, 1000).unref())]);
        show();
      });
    };
    /** Whether all the output sent so far went out here: asked in turn, after it (a secret shown before its commit). */
    const delivered = async () => {
      if (unwritten !== null) {
        const e = unwritten.error;
        throw new StoreError(`cannot write standard output: ${e instanceof OutputFailedError ? e.reason : e instanceof Error ? e.message : String(e)}`, 'output_failed');
      }
      if (io.stdout.readerGone === true) throw new StoreError('standard output was closed before the whole result was written', 'output_failed');
      return null;
    };
    const takeBack = (id: number) => {
      asked.get(id)?.abort();
      const answered = answering.get(id);
      // Only a prompt that listens for being taken back is waited for, and not for ever.
      if (answered === undefined || !abortable.has(id)) return;
      const settled: Promise<unknown> = answered.finally(() => takenBack.delete(settled));
      takenBack.add(settled);
    };
    readFrames(
      socket,
      head,
      (f: Frame) => {
        // After the end (exit, or busy and the frames an older client reads instead), nothing.
        if (exited) return;
        if (f.t === 'out') {
          const write = () => {
            try {
              (f.fd === 2 ? io.stderr : io.stdout).write(String(f.s));
            } catch (e) {
              unwritten ??= { error: e };
            }
          };
          inTurn(write);
        } else if (f.t === 'exit') {
          exited = true;
          const code = typeof f.code === 'number' ? f.code : 1;
          // The command is over: any prompt still open is moot.
          for (const id of answering.keys()) takeBack(id);
          inTurn(() => {
            if (unwritten !== null && code === ExitCode.ok) finish(undefined, unwritten.error);
            else finish(code);
          });
        } else if (f.t === 'busy') {
          exited = true;
          finish(undefined, new StoreError(String(f.message), 'service_busy'));
        } else if (f.t === 'cancel') takeBack(Number(f.id));
        else if (f.t === 'call') {
          const id = Number(f.id);
          const fn = f.fn === 'stdout.delivered' ? delivered : Object.hasOwn(calls, String(f.fn)) ? calls[String(f.fn)] : undefined;
          const abort = new AbortController();
          asked.set(id, abort);
          const args = Array.isArray(f.args) ? (f.args as unknown[]) : [];
          // A prompt is drawn after the output before it (and after prompts being taken back); other calls start at once.
          const prompt = String(f.fn).startsWith('prompt.');
          let begin = () => undefined as void;
          const begun = new Promise<void>((go) => (begin = go));
          const answered = begun
            .then(() => (fn ? fn(args, abort.signal) : Promise.reject(new Error(`unknown call ${String(f.fn)}`))))
            .then((value) => sendFrame(socket, { t: 'reply', id, value: value ?? null }))
            .catch((e: unknown) => sendFrame(socket, { t: 'reply', id, error: errorFrame(e) }))
            .finally(() => {
              asked.delete(id);
              answering.delete(id);
              abortable.delete(id);
            });
          answering.set(id, answered);
          if (prompt) {
            abortable.add(id);
            inTurn(begin);
          } else if (f.fn === 'stdout.delivered') inTurn(begin);
          else begin();
        }
      },
      () => {
        if (!exited) {
          finish(undefined, new StoreError(`the tfactl service at ${address} closed the connection before the command ended: see with tfactl what was done`, 'service_unavailable'));
        }
      },
    );
  });
}

/** A file the command names, in pieces; what went wrong reading it, with `\0` for the reader's name of it. */
function sendFile(socket: Duplex, path: string): void {
  let data: Buffer;
  try {
    data = readInputFile(path, { name: '\0', maxBytes: FILE_MAX_BYTES });
  } catch (e) {
    if (e instanceof TfaError && e.code === 'file_too_large') sendFrame(socket, { t: 'file', path, tooLarge: true });
    else sendFrame(socket, { t: 'file', path, problem: { message: e instanceof Error ? e.message : String(e), code: e instanceof TfaError ? e.code : 'file_error' } });
    return;
  }
  // Its mode goes along: the command warns of a token file others may read, as it would here.
  let mode: number | undefined;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    mode = undefined;
  }
  for (let off = 0; off === 0 || off < data.length; off += FILE_PIECE) {
    const end = Math.min(off + FILE_PIECE, data.length);
    sendFrame(socket, { t: 'file', path, data: data.subarray(off, end).toString('base64'), more: end < data.length, ...(off === 0 && mode !== undefined && { mode }) });
    if (data.length === 0) break;
  }
}

function errorFrame(e: unknown): ErrorFrame {
  if (e instanceof TfaError) return { name: e.name, message: e.message, code: e.code, exitCode: e.exitCode };
  return { name: e instanceof Error ? e.name : 'Error', message: e instanceof Error ? e.message : String(e) };
}
