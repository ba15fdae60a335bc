import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { oneLineError, type RunResult, TempStore } from './harness.js';

/**
 * Every file tfactl reads is a regular file of bounded size, checked before a byte is read: a FIFO
 * or a device never makes it wait or read for ever, and a huge file never fills memory. Each run is
 * killed after TIMEOUT_MS, so a hang fails its test instead of stalling the run.
 */
const TIMEOUT_MS = 10_000;
const MiB = 1024 * 1024;

const store = new TempStore();
afterAll(() => store.remove());

const fifo = join(store.dir, 'fifo');
const directory = join(store.dir, 'a-directory');
mkdirSync(directory);
execFileSync('mkfifo', [fifo]);

/** A sparse file of `bytes` bytes (no disk used) that starts with something that must never be echoed. */
function bigFile(name: string, bytes: number): string {
  const f = join(store.dir, name);
  writeFileSync(f, 'CONTENT-THAT-MUST-NOT-SHOW\n');
  truncateSync(f, bytes);
  return f;
}

function refusedAtOnce(r: RunResult, exitCode: number, message: string): void {
  expect(r.timedOut, 'the command hung and was killed').toBe(false);
  expect(r.code, r.stderr).toBe(exitCode);
  expect(oneLineError(r)).toBe(`error: ${message}`);
  expect(r.stderr).not.toContain('CONTENT-THAT-MUST-NOT-SHOW');
}

describe('import proxmox', () => {
  const user = join(store.dir, 'user.cfg');
  writeFileSync(user, 'user:root@pam:1:0::::::\n');
  const tfa = join(store.dir, 'tfa.cfg');
  writeFileSync(tfa, '{}\n');
  const run = (args: string[]) => store.run(['import', 'proxmox', ...args], { timeoutMs: TIMEOUT_MS });

  it('refuses a device, a FIFO or a directory for any of its four files, naming the flag and the file', async () => {
    refusedAtOnce(await run(['--tfa-cfg', '/dev/zero', '--user-cfg', user]), 2, 'the --tfa-cfg file /dev/zero is not a regular file');
    refusedAtOnce(await run(['--tfa-cfg', tfa, '--user-cfg', fifo]), 2, `the --user-cfg file ${fifo} is not a regular file`);
    refusedAtOnce(
      await run(['--tfa-cfg', tfa, '--user-cfg', user, '--domains-cfg', directory]),
      2,
      `the --domains-cfg file ${directory} is not a regular file`,
    );
    refusedAtOnce(await run(['--tfa-cfg', tfa, '--user-cfg', user, '--datacenter-cfg', fifo]), 2, `the --datacenter-cfg file ${fifo} is not a regular file`);
    // Refused before the store is opened: nothing was created.
    expect(store.exists()).toBe(false);
  });

  it('refuses a file larger than 64 MiB before reading it', async () => {
    const big = bigFile('big-tfa.cfg', 64 * MiB + 1);
    refusedAtOnce(await run(['--tfa-cfg', big, '--user-cfg', user]), 2, `the --tfa-cfg file ${big} is larger than 64 MiB`);
    refusedAtOnce(await run(['--tfa-cfg', tfa, '--user-cfg', user, '--datacenter-cfg', big]), 2, `the --datacenter-cfg file ${big} is larger than 64 MiB`);
  });

  it('says which file is missing', async () => {
    const missing = join(store.dir, 'missing.cfg');
    refusedAtOnce(await run(['--tfa-cfg', tfa, '--user-cfg', missing]), 2, `cannot read the --user-cfg file ${missing}: no such file or directory (ENOENT)`);
  });
});

describe('user import', () => {
  const run = (args: string[], options: { input?: string; stdinFd?: number } = {}) =>
    store.run(['user', 'import', ...args], { ...options, timeoutMs: TIMEOUT_MS });

  it('refuses a FIFO, a device or a directory instead of waiting on it', async () => {
    refusedAtOnce(await run([fifo]), 2, `the import file ${fifo} is not a regular file`);
    refusedAtOnce(await run(['/dev/zero']), 2, 'the import file /dev/zero is not a regular file');
    refusedAtOnce(await run([directory]), 2, `the import file ${directory} is not a regular file`);
  });

  it('refuses a file larger than 64 MiB before reading it', async () => {
    const big = bigFile('big.csv', 64 * MiB + 1);
    refusedAtOnce(await run([big]), 2, `the import file ${big} is larger than 64 MiB`);
  });

  it('reads at most 64 MiB of standard input, from a pipe or from an endless device', async () => {
    const tooMuch = `userid,password\n${'x'.repeat(64 * MiB)}`;
    refusedAtOnce(await run(['-'], { input: tooMuch }), 2, 'standard input is larger than 64 MiB');
    const zero = openSync('/dev/zero', 'r');
    try {
      refusedAtOnce(await run(['-'], { stdinFd: zero }), 2, 'standard input is larger than 64 MiB');
    } finally {
      closeSync(zero);
    }
  });

  it('still imports from standard input and from a file', async () => {
    const csv = 'userid,password\nina,\n';
    const fromStdin = await run(['-', '--json'], { input: csv });
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    const file = join(store.dir, 'users.csv');
    writeFileSync(file, 'userid,password\nolaf,\n');
    const fromFile = await run([file, '--json']);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(store.hasUser('ina')).toBe(true);
    expect(store.hasUser('olaf')).toBe(true);
  });
});

describe('--password-stdin', () => {
  it('reads a line of at most 64 KiB from standard input', async () => {
    const zero = openSync('/dev/zero', 'r');
    try {
      const r = await store.run(['user', 'add', 'pia', '--password-stdin'], { stdinFd: zero, timeoutMs: TIMEOUT_MS });
      refusedAtOnce(r, 2, '--password-stdin: line 1 of standard input (a new password for pia@local) is longer than 65536 bytes');
    } finally {
      closeSync(zero);
    }
    expect(store.hasUser('pia')).toBe(false);
  });
});

describe('restore', () => {
  const restore = (file: string) => store.run(['restore', file, '--yes', '--json'], { timeoutMs: TIMEOUT_MS });

  it('refuses a FIFO, a device or a directory before SQLite opens it, changing nothing', async () => {
    await store.run(['init']);
    const before = store.snapshot();
    refusedAtOnce(await restore(fifo), 2, `the backup ${fifo} is not a regular file`);
    refusedAtOnce(await restore('/dev/zero'), 2, 'the backup /dev/zero is not a regular file');
    refusedAtOnce(await restore(directory), 2, `the backup ${directory} is not a regular file`);
    expect(store.snapshot()).toBe(before);
  });

  it('refuses a backup larger than 2 GiB before reading it', async () => {
    const big = bigFile('big.db', 2 * 1024 * MiB + 1);
    const before = store.snapshot();
    refusedAtOnce(await restore(big), 2, `the backup ${big} is larger than 2 GiB`);
    expect(store.snapshot()).toBe(before);
  });

  it('refuses a backup with changes waiting in a WAL file beside it, which the file alone does not hold', async () => {
    const file = join(store.dir, 'snap.db');
    expect((await store.run(['backup', file])).code).toBe(0);
    const pristine = readFileSync(file);
    // A connection that is still open keeps its changes in snap.db-wal; copied as they are.
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE later (x)');
    const copy = join(store.dir, 'copied.db');
    copyFileSync(file, copy);
    copyFileSync(`${file}-wal`, `${copy}-wal`);
    db.close();
    const before = store.snapshot();
    const r = await restore(copy);
    expect(r.code, r.stderr).toBe(6);
    expect(oneLineError(r)).toContain(`changes to it wait in ${copy}-wal`);
    expect(store.snapshot()).toBe(before);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'store.restore', outcome: 'refused' });
    // The backup itself, without a WAL beside it, restores (as it was written: closing the
    // connection above put its table into the file, which restore would refuse as not tfactl's).
    writeFileSync(file, pristine);
    expect((await restore(file)).code).toBe(0);
  });

  it('refuses a SQLite file marked as another application\'s, even with tfactl\'s tables', async () => {
    const file = join(store.dir, 'foreign-app.db');
    expect((await store.run(['backup', file])).code).toBe(0);
    const db = new Database(file);
    db.pragma('application_id = 1234');
    db.close();
    const r = await restore(file);
    expect(r.code).toBe(6);
    expect(oneLineError(r)).toBe(`error: refusing to restore ${file}: it is not a tfactl store`);
  });
});
