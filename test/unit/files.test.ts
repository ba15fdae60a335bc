import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreError, UsageError } from '../../src/errors.js';
import { describeSize, makePrivateDirectories, readInputFile, refuseOpenToOthers } from '../../src/files.js';

const dir = mkdtempSync(join(tmpdir(), 'tfactl-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const failure = (f: () => unknown): Error => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('no error');
};

describe('readInputFile', () => {
  it('returns exactly the bytes of a file up to the limit and refuses one byte more', () => {
    let n = 0;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 300 }), (bytes, limit) => {
        const f = join(dir, `p${n++}`);
        writeFileSync(f, bytes);
        const read = () => readInputFile(f, { name: 'the --x file', maxBytes: limit });
        if (bytes.length <= limit) return Buffer.compare(read(), Buffer.from(bytes)) === 0;
        const e = failure(read);
        return e instanceof UsageError && e.message === `the --x file ${f} is larger than ${limit} bytes` && e.code === 'file_too_large';
      }),
    );
  });

  it('reads a file that says it is empty but is not (/proc), up to the limit', () => {
    expect(readInputFile('/proc/self/status', { name: 'the status file', maxBytes: 1024 * 1024 }).toString()).toContain('Pid:');
    const e = failure(() => readInputFile('/proc/self/status', { name: 'the status file', maxBytes: 10 }));
    expect(e.message).toBe('the status file /proc/self/status is larger than 10 bytes');
  });

  it('refuses a FIFO, a device and a directory without opening them, with the error the caller chose', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    for (const path of [fifo, '/dev/zero', dir]) {
      const e = failure(() => readInputFile(path, { name: 'the store', maxBytes: 10, fail: (m) => new StoreError(m) }));
      expect(e).toBeInstanceOf(StoreError);
      expect(e.message).toBe(`the store ${path} is not a regular file`);
    }
  });

  it('refuses a private file its group or others may open, naming the chmod that fixes it', () => {
    const f = join(dir, 'key');
    writeFileSync(f, 'k', { mode: 0o640 });
    expect(failure(() => readInputFile(f, { name: 'the key file', maxBytes: 10, private: true })).message).toBe(
      `the key file ${f} is readable by its group (mode 0640): run 'chmod 600 ${f}'`,
    );
  });
});

describe('refuseOpenToOthers', () => {
  it('accepts exactly the modes without group or other bits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0o777 }), (mode) => {
        const refused = (() => {
          try {
            refuseOpenToOthers('/x', 'the store', mode);
            return false;
          } catch {
            return true;
          }
        })();
        return refused === ((mode & 0o077) !== 0);
      }),
    );
  });
});

describe('makePrivateDirectories', () => {
  it('makes every missing directory 0700, and fails at once where mkdir cannot (/proc)', () => {
    const deep = join(dir, 'a', 'b', 'c');
    makePrivateDirectories(deep);
    makePrivateDirectories(deep);
    for (const d of [join(dir, 'a'), join(dir, 'a', 'b'), deep]) expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(failure(() => makePrivateDirectories('/proc/nope/deeper')).message).toContain('ENOENT');
  });
});

describe('describeSize', () => {
  it('says bytes, MiB or GiB', () => {
    expect([4096, 64 * 1024 * 1024, 2 * 1024 ** 3, 1024 * 1024 + 1].map(describeSize)).toEqual(['4096 bytes', '64 MiB', '2 GiB', '1048577 bytes']);
  });
});
