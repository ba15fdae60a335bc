import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, TempStore } from './harness.js';

/**
 * A command ended by SIGTERM while it waits on the store's write lock (another process holds it,
 * here this test through SQLite itself): what it wrote for the change it never made is taken back.
 */
const store = new TempStore();
const PW = 'interrupted password';
beforeAll(async () => {
  await store.run(['init']);
  await store.addUser('rex', PW);
});
afterAll(() => store.remove());

describe('tfa add recovery --regenerate --output, stopped before the store took the keys', () => {
  it('removes the file of keys that never worked, and the keys in use still do', async () => {
    const old = (await store.run(['tfa', 'add', 'recovery', 'rex', '--json'])).json().result.keys as string[];
    const file = join(store.dir, 'new-keys.txt');
    const lock = new Database(store.db);
    lock.prepare('BEGIN IMMEDIATE').run();
    try {
      const child = spawn(process.execPath, [BIN, 'tfa', 'add', 'recovery', 'rex', '--regenerate', '--yes', '--output', file], { env: { ...process.env, ...store.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      // It has written the file and waits for the lock.
      await expect.poll(() => existsSync(file), { timeout: 10_000 }).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGTERM');
      // Heard while the lock is still held (the wait is on the event loop, not inside SQLite), before it stores the keys.
      expect(await exited).toBe(130);
      expect(stderr).toMatch(/interrupted/);
      expect(existsSync(file)).toBe(false);
    } finally {
      if (lock.inTransaction) lock.prepare('ROLLBACK').run();
      lock.close();
    }
    const r = await store.run(['login', 'rex', '--password-stdin', '--code', old[0]!], { input: `${PW}\n` });
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('a command waiting for the write lock', () => {
  it('hears Ctrl-C or SIGTERM at once (exit 130, nothing changed), not when the lock is let go or after 30 s', async () => {
    const lock = new Database(store.db);
    lock.prepare('BEGIN IMMEDIATE').run();
    try {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        const child = spawn(process.execPath, [BIN, 'realm', 'add', 'waiting', '--json'], { env: { ...process.env, ...store.env }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        const exited = new Promise<number | null>((r) => child.once('exit', r));
        await new Promise((r) => setTimeout(r, 1500));
        const sent = Date.now();
        child.kill(signal);
        expect(await exited).toBe(130);
        expect(Date.now() - sent).toBeLessThan(3000);
        expect(JSON.parse(stdout).error.code).toBe('cancelled');
      }
    } finally {
      lock.prepare('ROLLBACK').run();
      lock.close();
    }
    expect((await store.run(['realm', 'show', 'waiting'])).code).toBe(3);
  });
});

describe('audit prune, stopped between batches', () => {
  it('ends after the batch it is in: exit 130, how many went said in the envelope and in its audit entry', async () => {
    // 12,001 entries from 1970: three batches of 5,000 and one more.
    store.tamper(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12001) INSERT INTO audit (ts, actor, action, target, outcome) SELECT i, 'root@local', 'old.bulk', NULL, 'ok' FROM n",
    );
    const lock = new Database(store.db);
    lock.prepare('BEGIN IMMEDIATE').run();
    let stdout = '';
    let exited: Promise<number | null>;
    try {
      const child = spawn(process.execPath, [BIN, 'audit', 'prune', '--before', '1971-01-01', '--yes', '--json'], { env: { ...process.env, ...store.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      exited = new Promise<number | null>((r) => child.once('exit', r));
      // It has counted them and waits for the lock to remove the first batch.
      await new Promise((r) => setTimeout(r, 1500));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      lock.prepare('ROLLBACK').run();
      lock.close();
    }
    expect(await exited).toBe(130);
    expect(JSON.parse(stdout)).toEqual({
      ok: false,
      error: { code: 'cancelled', message: 'interrupted: 5000 audit entries of 12001 removed, the rest kept' },
      result: { before: '1971-01-01T00:00:00Z', entries: 5000, dryRun: false },
      warnings: [],
    });
    expect(store.query<{ n: number }>("SELECT count(*) AS n FROM audit WHERE action = 'old.bulk'")[0]!.n).toBe(7001);
    const entry = store.auditRows().at(-1)!;
    expect({ action: entry.action, detail: JSON.parse(entry.detail!) }).toEqual({ action: 'audit.prune', detail: { before: '1971-01-01T00:00:00Z', entries: 5000, stopped: true } });
  });
});
