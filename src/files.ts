import { closeSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { RefusedError, StoreError, UsageError } from './errors.js';

/** Opens a new file with mode 0600; refuses (exit 4) when it exists: files that hold secrets are never overwritten. */
function openNewPrivate(path: string): number {
  try {
    return openSync(path, 'wx', 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new RefusedError(`${path} exists: tfactl does not overwrite files that hold secrets`, 'file_exists');
    throw new UsageError(`cannot create ${path}: ${code ?? String(e)}`, 'file_error');
  }
}

/** Writes all of `bytes` (writeSync may write less than asked, on a full disk) and flushes them to disk. */
function writeAllAndFlush(fd: number, bytes: Buffer): void {
  for (let done = 0; done < bytes.length; ) {
    const n = writeSync(fd, bytes, done, bytes.length - done);
    if (n <= 0) throw Object.assign(new Error('no progress'), { code: 'EIO' });
    done += n;
  }
  fsyncSync(fd);
}

const writeFailed = (path: string, e: unknown, kept: string) =>
  new StoreError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)} (${kept})`, 'file_error');

/** Creates `path` with mode 0600 and writes `data`; refuses (exit 4) when it exists. */
export function writeNewPrivateFile(path: string, data: Buffer | string): void {
  createPrivateFile(path).write(data);
}

export interface PrivateFile {
  /**
   * Writes all of `data`, flushes it to disk and closes the file. On any failure (a full disk) the
   * file is removed and a StoreError (exit 6) thrown: a half-written export of secrets is worse
   * than none.
   */
  write(data: Buffer | string): void;
  /** Closes the still empty file so something else (SQLite's backup) can fill it. */
  close(): void;
  /** Closes (if still open) and removes the file: the command failed. */
  discard(): void;
}

/**
 * Creates a new 0600 file now, to be filled later: a command that must not lose secrets claims its
 * output file before it changes the store. Refuses (exit 4) when the file exists.
 */
export function createPrivateFile(path: string): PrivateFile {
  let fd: number | null = openNewPrivate(path);
  const close = () => {
    if (fd !== null) closeSync(fd);
    fd = null;
  };
  const discard = () => {
    try {
      close();
    } finally {
      rmSync(path, { force: true });
    }
  };
  return {
    write(data) {
      try {
        writeAllAndFlush(fd as number, typeof data === 'string' ? Buffer.from(data) : data);
        close();
      } catch (e) {
        discard();
        throw writeFailed(path, e, 'nothing was kept');
      }
    },
    close,
    discard,
  };
}

export interface PrivateLog {
  /** Appends one line and flushes it to disk before returning. */
  append(line: string): void;
  close(): void;
}

/**
 * A new 0600 file written line by line, each line on disk before the next step: what a long job
 * has done survives the job being killed. Refuses (exit 4) when the file exists.
 */
export function createPrivateLog(path: string): PrivateLog {
  const fd = openNewPrivate(path);
  return {
    append(line) {
      try {
        writeAllAndFlush(fd, Buffer.from(line.endsWith('\n') ? line : `${line}\n`));
      } catch (e) {
        throw writeFailed(path, e, 'the lines before are kept');
      }
    },
    close() {
      closeSync(fd);
    },
  };
}
