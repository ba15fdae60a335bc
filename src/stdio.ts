import { fstatSync, readSync, writeSync, type Stats } from 'node:fs';
import { decodeUtf8 } from './domain/text.js';
import { ExitCode, OutputFailedError, StoreError, UsageError } from './errors.js';
import { describeSize } from './files.js';
import { errnoText } from './domain/errno.js';

/**
 * Standard output and error without Node's stream objects where they are not needed.
 *
 * Touching `process.stdout` builds a stream (for a pipe, a whole net.Socket): about 3 ms of start-up,
 * more than `tfa list` spends on its own work. Pipes, regular files and sockets are written with
 * plain blocking writes instead; a terminal, or anything else, gets Node's stream as before.
 */

export type FdKind = 'terminal-or-device' | 'pipe-or-file' | 'closed';

/**
 * What `fd` is, without loading the tty module (which loads net and the streams). /dev/null, where
 * pam_exec and cron send what nobody reads, and its kin are read and written as a file is: they are
 * never a terminal and never block.
 */
export function fdKind(fd: number): FdKind {
  try {
    const st = fstatSync(fd);
    return st.isFIFO() || st.isFile() || st.isSocket() || isMemoryDevice(st) ? 'pipe-or-file' : 'terminal-or-device';
  } catch {
    return 'closed';
  }
}

/** Whether `fd` is /dev/null (the memory device of minor 3), or cannot be looked at. */
function discards(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return isMemoryDevice(st) && st.rdev % 256 === 3;
  } catch {
    return true;
  }
}

/** /dev/null, /dev/zero, /dev/full and /dev/urandom (Linux's major 1, minors 3, 5, 7 and 9; not /dev/kmsg or /dev/random, which may wait). */
function isMemoryDevice(st: Stats): boolean {
  return process.platform === 'linux' && st.isCharacterDevice() && Math.floor(st.rdev / 256) % 4096 === 1 && [3, 5, 7, 9].includes(st.rdev % 256);
}

export interface Writer {
  write(text: string): void;
  readonly isTTY: boolean;
  /** Its reader has gone (EPIPE): see Io's stdout.readerGone. */
  readonly readerGone: boolean;
  /**
   * Nothing written reaches anyone: /dev/null (where Node also puts a descriptor closed before it
   * started, `>&-`), or closed.
   */
  readonly discarded: boolean;
  /** The terminal's width; undefined when not a terminal. */
  readonly columns: number | undefined;
}

/**
 * A writer for fd 1 or 2. `stream` is Node's stream for the same fd, built only if needed: for a
 * terminal, or when a write would block (a non-blocking descriptor shared with another process), in
 * which case it takes over so the order of the output is kept. A reader that has gone away (EPIPE,
 * e.g. `| head -1`) ends the output quietly, as it does for other command-line tools, and (as
 * their SIGPIPE does) not with success: see readerGone.
 */
export function fdWriter(fd: 1 | 2, stream: () => NodeJS.WriteStream): Writer {
  const kind = fdKind(fd);
  let direct = kind === 'pipe-or-file';
  let closed = kind === 'closed';
  let readerGone = false;
  /** Hands the rest of the output to Node's stream, which also ends quietly on EPIPE. */
  const takeOver = () => {
    direct = false;
    stream().on('error', (e: NodeJS.ErrnoException) => {
      closed = true;
      if (fd === 2) return;
      if (e.code === 'EPIPE') {
        // Found after the command may have returned: its exit code, best effort (see readerGone).
        readerGone = true;
        if (!process.exitCode) process.exitCode = ExitCode.store;
        return;
      }
      // Found after the write returned, so no longer the command's to throw: said on standard
      // error and in the exit code, as the direct path does (a terminal hung up, a full disk).
      try {
        writeSync(2, `error: ${outputFailed(e).message}\n`);
      } catch {
        // Nowhere left to say it.
      }
      process.exitCode = ExitCode.store;
    });
  };
  return {
    get isTTY() {
      return !direct && !closed && stream().isTTY === true;
    },
    get columns() {
      return this.isTTY ? stream().columns : undefined;
    },
    get readerGone() {
      return readerGone;
    },
    get discarded() {
      return closed || discards(fd);
    },
    write(text) {
      if (closed) return;
      if (!direct) {
        stream().write(text);
        return;
      }
      const data = Buffer.from(text, 'utf8');
      let off = 0;
      try {
        while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') {
          closed = true;
          readerGone = true;
        } else if (code === 'EAGAIN') {
          takeOver();
          stream().write(data.subarray(off));
        } else {
          // A full disk, a quota, an I/O error: nothing more is written here (the error line goes
          // to standard error), and standard output's failure is the command's, exit 6. What the
          // command changed stays changed: the message says so, not that nothing happened.
          closed = true;
          if (fd === 2) return;
          throw outputFailed(e);
        }
      }
    },
  };
}

function outputFailed(e: unknown): StoreError {
  return new OutputFailedError(errnoText(e));
}

/** Whether fd 0 is a terminal; `stream` (process.stdin) is only built when fd 0 might be one. */
export function stdinIsTerminal(stream: () => NodeJS.ReadStream): boolean {
  return fdKind(0) === 'terminal-or-device' && stream().isTTY === true;
}

export interface StdinOptions {
  /**
   * False: never a read that stops the whole process while it waits (a client of tfactl serve must
   * hear its service while it waits for input): what would wait is read through the stream.
   */
  readonly blocking?: boolean;
}

/** A line of standard input was longer than the bound its reader set: never read on without end. */
export class LineTooLongError extends Error {
  override name = 'LineTooLongError';
}

/**
 * Standard input one line at a time, reading only as far as the lines asked for: a writer that
 * never stops (`yes |`, /dev/zero) costs one bounded buffer, never all of its output, and from a
 * pipe or file nothing past the last newline asked for is taken from the next program. From a pipe or
 * file it reads with plain blocking reads; from a terminal, or when a read would block, through
 * `stream` (process.stdin), paused again after each chunk so an unread terminal keeps nothing alive.
 */
export function stdinLineReader(stream: () => NodeJS.ReadStream, options: StdinOptions = {}): (maxBytes: number) => Promise<string | null> {
  let pending = Buffer.alloc(0);
  let ended = false;
  let direct = fdKind(0) === 'pipe-or-file' && (options.blocking !== false || readsWithoutWaiting(stream));
  if (fdKind(0) === 'closed') ended = true;
  const chunk = Buffer.allocUnsafe(64 * 1024);

  const readChunk = async (): Promise<Buffer | null> => {
    if (direct) {
      try {
        const n = readSync(0, chunk, 0, chunk.length, null);
        return n === 0 ? null : Buffer.from(chunk.subarray(0, n));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        direct = false;
      }
    }
    return readStreamChunk(stream());
  };

  // From a pipe or file, a byte at a time up to the newline: what follows the lines asked for is
  // left where it is, for the next program of a script (`{ tfactl ...; tfactl ...; } <<EOF`). A
  // read that would wait (EAGAIN) hands what was read to the stream's way.
  const readDirectLine = (maxBytes: number): string | null | undefined => {
    const line = Buffer.allocUnsafe(maxBytes + 1);
    let length = 0;
    for (;;) {
      let n: number;
      try {
        n = readSync(0, line, length, 1, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        direct = false;
        pending = Buffer.from(line.subarray(0, length));
        return undefined;
      }
      if (n === 0) {
        ended = true;
        return length === 0 ? null : decodeUtf8(line.subarray(0, length)).replace(/\r$/, '');
      }
      if (line[length] === 10) return decodeUtf8(line.subarray(0, length)).replace(/\r$/, '');
      length += 1;
      if (length > maxBytes) throw new LineTooLongError(`a line of standard input is longer than ${maxBytes} bytes`);
    }
  };

  return async (maxBytes) => {
    if (direct && !ended && pending.length === 0) {
      const line = readDirectLine(maxBytes);
      if (line !== undefined) return line;
    }
    for (;;) {
      const newline = pending.indexOf(10);
      if (newline > maxBytes || (newline < 0 && pending.length > maxBytes)) throw new LineTooLongError(`a line of standard input is longer than ${maxBytes} bytes`);
      if (newline >= 0) {
        const line = pending.subarray(0, newline);
        pending = pending.subarray(newline + 1);
        return decodeUtf8(line).replace(/\r$/, '');
      }
      if (ended) {
        if (pending.length === 0) return null;
        const last = pending;
        pending = Buffer.alloc(0);
        return decodeUtf8(last).replace(/\r$/, '');
      }
      const next = await readChunk();
      if (next === null) ended = true;
      else pending = Buffer.concat([pending, next]);
    }
  };
}

/**
 * Whether plain reads of standard input (a pipe, socket or file) return at once, data or EAGAIN: a
 * regular file's always do; a pipe's or socket's do once Node has made its stream, for which libuv
 * sets O_NONBLOCK (a memory device never blocks either). What is there already (the answer pam_exec wrote) is then read without waiting a
 * turn of the event loop for the stream; a read that would wait goes to the stream.
 */
function readsWithoutWaiting(stream: () => NodeJS.ReadStream): boolean {
  const st = fstatSync(0);
  if (!st.isFile() && !isMemoryDevice(st)) stream();
  return true;
}

/** One chunk from a readable stream, or null at its end; the stream is paused again afterwards. */
function readStreamChunk(input: NodeJS.ReadStream): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const finish = (value: Buffer | null, error?: unknown) => {
      input.off('readable', attempt);
      input.off('end', ended);
      input.off('error', failed);
      input.pause();
      if (error !== undefined) reject(error);
      else resolve(value);
    };
    const attempt = () => {
      const data = input.read() as Buffer | string | null;
      if (data !== null) finish(typeof data === 'string' ? Buffer.from(data) : data);
      else if (input.readableEnded) finish(null);
    };
    const ended = () => finish(null);
    const failed = (e: unknown) => finish(null, e);
    input.on('readable', attempt);
    input.on('end', ended);
    input.on('error', failed);
  });
}

/**
 * Standard input as it comes, in pieces, at most `maxBytes` in all: more throws a UsageError (so an
 * endless producer such as `yes |` or `< /dev/zero` fails instead of running on), after the pieces
 * before it were handed out. From a pipe or file it is read with plain blocking reads; from a
 * terminal, or if a read would block, through `stream` (process.stdin). Read it once.
 */
export async function* readStdinChunks(stream: () => NodeJS.ReadStream, maxBytes: number, options: StdinOptions = {}): AsyncGenerator<Buffer> {
  let length = 0;
  const counted = (chunk: Buffer): Buffer => {
    length += chunk.length;
    if (length > maxBytes) throw new UsageError(`standard input is larger than ${describeSize(maxBytes)}`, 'file_too_large');
    return chunk;
  };
  const kind = fdKind(0);
  if (kind === 'closed') return;
  if (kind === 'pipe-or-file' && options.blocking !== false) {
    for (;;) {
      // A buffer of its own for each piece: whoever reads them may keep a piece.
      const chunk = Buffer.allocUnsafe(64 * 1024);
      let n: number;
      try {
        n = readSync(0, chunk, 0, chunk.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        break;
      }
      if (n === 0) return;
      // A slow writer sending a line at a time must not pin 64 KiB per line.
      yield counted(n < chunk.length / 2 ? Buffer.from(chunk.subarray(0, n)) : chunk.subarray(0, n));
    }
  }
  const input = stream();
  try {
    for await (const chunk of input as AsyncIterable<Buffer | string>) yield counted(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  } finally {
    input.pause();
  }
}
