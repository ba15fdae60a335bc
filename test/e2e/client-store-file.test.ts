import type { ChildProcess } from 'node:child_process';
import { chownSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLineError, runBin, TempStore } from './harness.js';
import { NOBODY, nobodyAsClient, RUNUSER } from './nobody.js';

/**
 * What only a store file has, for the CLI as a client of tfactl serve (client.test.ts has the
 * rest, on every backend): the file's owner and modes keep others out, and a store file that has
 * gone is not made anew through the service. On PostgreSQL, whoever has the connection string is
 * the store's owner (README), and a database does not go from its place.
 */
const store = new TempStore();
const PW = 'client user password';
const { home, sock, viaService, startService } = nobodyAsClient(store);
let server: ChildProcess;

beforeAll(async () => {
  await store.run(['init']);
  await store.addUser('alice', PW);
  server = (await startService(sock)).child;
}, 30_000);
afterAll(() => {
  server?.kill('SIGKILL');
  store.remove();
});

describe('a store file, and an unprivileged OS user', () => {
  it('cannot open the store itself: it is root\'s', async () => {
    const r = await runBin(['user', 'list'], { prefix: RUNUSER, env: { TFACTL_DB: store.db, HOME: home } });
    expect(r.code).toBe(6);
    expect(oneLineError(r)).toMatch(/cannot reach the store .*belongs to another user/);
  });

  it('nobody owns the store through the service, even when its file has gone from where it was', async () => {
    renameSync(store.db, `${store.db}.moved`);
    try {
      const r = await viaService(['user', 'list']);
      expect(r.code).toBe(4);
      expect(oneLineError(r)).toMatch(/through the tfactl service nobody owns the store/);
      // Nor does a sign-in make a new, empty store there.
      const signIn = await viaService(['--as', 'alice', '--password-stdin', 'user', 'show', 'alice'], { input: `${PW}\n` });
      expect(signIn.code).toBe(6);
      expect(oneLineError(signIn)).toBe(`error: the tfactl service's store ${store.db} is not there: ask its owner`);
      // Nor a PAM line with a token, which borrows a pooled connection instead of opening one.
      writeFileSync(join(home, 'pam.token'), `root@local!pam=${'A'.repeat(43)}\n`, { mode: 0o600 });
      chownSync(join(home, 'pam.token'), NOBODY, NOBODY);
      const pam = await viaService(['--server', sock, '--token', '@pam.token', 'pam', 'check'], { env: { PAM_USER: 'alice' }, input: '123456' });
      expect(pam.code, pam.stderr).toBe(6);
      expect(oneLineError(pam)).toBe(`error: the tfactl service's store ${store.db} is not there: ask its owner`);
      expect(existsSync(store.db)).toBe(false);
    } finally {
      renameSync(`${store.db}.moved`, store.db);
    }
  });
});
