import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { RefusedError, UsageError } from './errors.js';

/** Creates `path` with mode 0600 and writes `data`; refuses (exit 4) when it exists. */
export function writeNewPrivateFile(path: string, data: Buffer | string): void {
  createPrivateFile(path).write(data);
}

export interface PrivateFile {
  /** Writes the content and closes the file. */
  write(data: Buffer | string): void;
  /** Closes and removes the (still empty) file: the command failed. */
  discard(): void;
}

/**
 * Creates a new 0600 file now, to be filled later: a command that must not lose secrets claims its
 * output file before it changes the store. Refuses (exit 4) when the file exists.
 */
export function createPrivateFile(path: string): PrivateFile {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new RefusedError(`${path} exists: tfactl does not overwrite files that hold secrets`, 'file_exists');
    throw new UsageError(`cannot create ${path}: ${code ?? String(e)}`, 'file_error');
  }
  return {
    write(data) {
      try {
        writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      } finally {
        closeSync(fd);
      }
    },
    discard() {
      closeSync(fd);
      rmSync(path, { force: true });
    },
  };
}
