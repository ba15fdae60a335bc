import { fstatSync, readSync, writeSync } from 'node:fs';

/**
 * Standard output and error without Node's stream objects where they are not needed.
 *
 * Touching `process.stdout` builds a stream (for a pipe, a whole net.Socket): about 3 ms of start-up,
 * more than `tfa list` spends on its own work. Pipes, regular files and sockets are written with
 * plain blocking writes instead; a terminal, or anything else, gets Node's stream as before.
 */

export type FdKind = 'terminal-or-device' | 'pipe-or-file' | 'closed';

/** What `fd` is, without loading the tty module (which loads net and the streams). */
export function fdKind(fd: number): FdKind {
  try {
    const st = fstatSync(fd);
    return st.isFIFO() || st.isFile() || st.isSocket() ? 'pipe-or-file' : 'terminal-or-device';
  } catch {
    return 'closed';
  }
}

export interface Writer {
  write(text: string): void;
  readonly isTTY: boolean;
  /** The terminal's width; undefined when not a terminal. */
  readonly columns: number | undefined;
}

/**
 * A writer for fd 1 or 2. `stream` is Node's stream for the same fd, built only if needed: for a
 * terminal, or when a write would block (a non-blocking descriptor shared with another process), in
 * which case it takes over so the order of the output is kept. A reader that has gone away (EPIPE,
 * e.g. `| head -1`) ends the output quietly, as it does for other command-line tools.
 */
export function fdWriter(fd: 1 | 2, stream: () => NodeJS.WriteStream): Writer {
  const kind = fdKind(fd);
  let direct = kind === 'pipe-or-file';
  let closed = kind === 'closed';
  /** Hands the rest of the output to Node's stream, which also ends quietly on EPIPE. */
  const takeOver = () => {
    direct = false;
    stream().on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      closed = true;
    });
  };
  return {
    get isTTY() {
      return !direct && !closed && stream().isTTY === true;
    },
    get columns() {
      return this.isTTY ? stream().columns : undefined;
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
        } else if (code === 'EAGAIN') {
          takeOver();
          stream().write(data.subarray(off));
        } else {
          throw e;
        }
      }
    },
  };
}

/** Whether fd 0 is a terminal; `stream` (process.stdin) is only built when fd 0 might be one. */
export function stdinIsTerminal(stream: () => NodeJS.ReadStream): boolean {
  return fdKind(0) === 'terminal-or-device' && stream().isTTY === true;
}

/**
 * All of standard input. From a pipe or file it is read with plain blocking reads (no stream to
 * build); from a terminal, or if a read would block, through `stream` (process.stdin), keeping what
 * was already read.
 */
export async function readAllStdin(stream: () => NodeJS.ReadStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const kind = fdKind(0);
  if (kind === 'closed') return Buffer.alloc(0);
  if (kind === 'pipe-or-file') {
    // One buffer for every read, and a copy of each chunk's bytes: a slow writer sending a line at
    // a time must not pin 64 KiB per line.
    const buf = Buffer.allocUnsafe(64 * 1024);
    try {
      for (;;) {
        const n = readSync(0, buf, 0, buf.length, null);
        if (n === 0) return Buffer.concat(chunks);
        chunks.push(Buffer.from(buf.subarray(0, n)));
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
  const input = stream();
  return new Promise<Buffer>((resolve, reject) => {
    input.on('data', (c: Buffer) => chunks.push(c));
    input.on('end', () => resolve(Buffer.concat(chunks)));
    input.on('error', reject);
  });
}
