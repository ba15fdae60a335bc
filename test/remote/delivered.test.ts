import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorFrame } from '../../src/remote/frames.js';
import { runBin, setUpOn } from '../e2e/harness.js';
import { runOnServiceSide, runSaid } from './service-side.js';

/**
 * A secret shown only once through tfactl serve is stored only once the client says it wrote it
 * (`stdout.delivered`), and a client that never says so does not hold the store's write lock for
 * long. The service's side through acceptCliRun with the real command on a SQLite store; the
 * client's answers made here (client.test.ts runs the real client against a full disk and a closed pipe).
 */
const dir = mkdtempSync(join(tmpdir(), 'tfactl-delivered-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 'tfactl.db');
const tfactl = setUpOn(db);

let token = '';
beforeAll(() => {
  tfactl('user', 'add', 'keeper', '--admin', '--no-password');
  token = (JSON.parse(tfactl('token', 'add', 'keeper', 'keys', '--json')) as { result: { value: string } }).result.value;
}, 30_000);

/** Runs `user add USER --recovery-keys --json` (an admin's token) on the service's side, answering `stdout.delivered` with `answer` (undefined: never). */
async function addWithKeys(user: string, answer: { value: null } | { error: ErrorFrame } | undefined) {
  const argv = ['user', 'add', user, '--no-password', '--recovery-keys', '--json'];
  const sent = await runOnServiceSide(db, argv, { TFACTL_TOKEN: token }, (f) => (f.fn === 'stdout.delivered' ? answer : undefined));
  const users = (JSON.parse(tfactl('user', 'list', '--json')) as { result: { userid: string }[] }).result.map((u) => u.userid);
  const { code, calls, stderr } = runSaid(sent);
  return { code, delivered: calls.filter((c) => c === 'stdout.delivered').length, stderr, stored: users.includes(`${user}@local`) };
}

describe('a secret shown before its commit, through the service', () => {
  it('is stored once the client says it wrote it', async () => {
    expect(await addWithKeys('ann', { value: null })).toEqual({ code: 0, delivered: 1, stderr: '', stored: true });
  });

  it('is not stored when the client could not write it, and the client is told why', async () => {
    const failed = await addWithKeys('ben', { error: { name: 'StoreError', message: 'cannot write standard output: no space left on the device (ENOSPC)', code: 'output_failed', exitCode: 6 } });
    expect(failed).toEqual({ code: 6, delivered: 1, stderr: 'error: cannot write standard output: no space left on the device (ENOSPC); nothing was stored: ben@local was not added\n', stored: false });
  });

  it('is not stored when the client never says, and the store is not held meanwhile for longer than the wait (10 s)', async () => {
    const began = Date.now();
    const silent = addWithKeys('cat', undefined);
    // Another writer meanwhile (another process) is held up at most until the wait ends, not for ever.
    await new Promise((r) => setTimeout(r, 1000));
    const meanwhile = await runBin(['user', 'add', 'meanwhile', '--no-password'], { env: { TFACTL_DB: db } });
    expect(meanwhile.code, meanwhile.stderr).toBe(0);
    expect(await silent).toEqual({ code: 6, delivered: 1, stderr: 'error: the client did not say within 10 s that it wrote the result; nothing was stored: cat@local was not added\n', stored: false });
    expect(Date.now() - began).toBeLessThan(20_000);
  }, 30_000);
});
