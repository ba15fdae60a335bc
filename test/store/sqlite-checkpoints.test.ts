import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite.js';
import { backgroundCheckpoints, type CheckpointedConnection } from '../../src/store/sqlite-checkpoints.js';

const dir = mkdtempSync(join(tmpdir(), 'tfactl-checkpoints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let stores = 0;
/**
 * A new store, and `written` audit entries of about 2 KB each written to it in one commit: 600 make
 * about 400 pages of WAL, under SQLite's own threshold (1,000 pages).
 */
async function storeWith(written: number, background: boolean) {
  const path = join(dir, `s${++stores}.db`);
  const { store } = await openSqliteStore(path, { now: 1000, ...(background && { backgroundCheckpoints: { failed: () => undefined } }) });
  const before = statSync(path).size;
  await store.transaction(async (tx) => {
    for (let i = 0; i < written; i++) {
      await tx.appendAudit({ ts: 1000 + i, actor: 'root@local', action: 'test.write', target: `u${i}@local`, outcome: 'ok', detail: { padding: 'x'.repeat(2000) } });
    }
  });
  return { path, store: store as typeof store & { close(): void }, before };
}

async function fileGrows(path: string, from: number, by: number, withinMs: number): Promise<boolean> {
  for (const end = Date.now() + withinMs; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    if (statSync(path).size >= from + by) return true;
  }
  return false;
}

describe("a long-lived connection's WAL checkpoints (tfactl serve's)", () => {
  it('are made by a thread of their own, soon after a write, without waiting for SQLite\'s threshold', async () => {
    const { path, store, before } = await storeWith(600, true);
    expect(await fileGrows(path, before, 1_000_000, 3_000)).toBe(true);
    store.close();
  });

  it("are SQLite's own for any other connection: under its threshold, the store file does not grow", async () => {
    const { path, store, before } = await storeWith(600, false);
    expect(await fileGrows(path, before, 1_000_000, 500)).toBe(false);
    store.close();
  });

  it("turn SQLite's own off: with a thread that never checkpoints, a WAL past SQLite's threshold is not copied", async () => {
    const path = join(dir, `s${++stores}.db`);
    const { store } = await openSqliteStore(path, { now: 1000 });
    class NeverRuns {
      on() {
        return this;
      }
      unref() {
        return this;
      }
    }
    const checkpoints = backgroundCheckpoints(resolve(path), store as unknown as CheckpointedConnection, NeverRuns as unknown as typeof Worker, 'better-sqlite3');
    checkpoints.written();
    const before = statSync(path).size;
    // About 2,000 pages of WAL, twice SQLite's threshold: its own checkpoint would copy them at this commit.
    await store.transaction(async (tx) => {
      for (let i = 0; i < 3000; i++) await tx.appendAudit({ ts: i, actor: null, action: 'test.write', target: `u${i}@local`, outcome: 'ok', detail: { padding: 'x'.repeat(2000) } });
    });
    expect(await fileGrows(path, before, 1_000_000, 500)).toBe(false);
    checkpoints.release();
    (store as typeof store & { close(): void }).close();
  });

  it('go on for connections opened after every other has closed (one thread for the process, not one per connection)', async () => {
    const first = await storeWith(10, true);
    first.store.close();
    const { store } = await openSqliteStore(first.path, { now: 1000, backgroundCheckpoints: { failed: () => undefined } });
    const before = statSync(first.path).size;
    await store.transaction(async (tx) => {
      for (let i = 0; i < 600; i++) await tx.appendAudit({ ts: i, actor: null, action: 'test.write', target: `u${i}@local`, outcome: 'ok', detail: { padding: 'x'.repeat(2000) } });
    });
    expect(await fileGrows(first.path, before, 1_000_000, 3_000)).toBe(true);
    (store as typeof store & { close(): void }).close();
  });
});

describe('when the checkpoint thread cannot run', () => {
  const connection = () => {
    const calls: boolean[] = [];
    return { calls, ownCheckpoints: (on: boolean) => void calls.push(on) };
  };

  it("gives every connection SQLite's own checkpoints back, when the thread cannot start, and says why once", () => {
    const a = connection();
    const b = connection();
    const cannotStart = function () {
      throw new Error('no threads here');
    } as unknown as typeof Worker;
    const told: string[] = [];
    // The same listener from both connections, as tfactl serve gives it: told once.
    const tell = (trouble: string) => void told.push(trouble);
    const first = backgroundCheckpoints(join(dir, 'nostart.db'), a, cannotStart, 'better-sqlite3', tell);
    backgroundCheckpoints(join(dir, 'nostart.db'), b, cannotStart, 'better-sqlite3', tell);
    expect([a.calls, b.calls]).toEqual([[false], [false]]);
    first.written();
    expect([a.calls, b.calls]).toEqual([[false, true], [false, true]]);
    expect(told).toEqual(["the WAL checkpoints' thread cannot start: no threads here: SQLite checkpoints in the commits again"]);
    first.written();
    expect(told).toHaveLength(1);
  });

  it('gives them back when the thread fails (here: a store file that is not there), and says why', async () => {
    const a = connection();
    const told: string[] = [];
    const checkpoints = backgroundCheckpoints(join(dir, 'missing', 'gone.db'), a, Worker, 'better-sqlite3', (t) => void told.push(t));
    checkpoints.written();
    for (const end = Date.now() + 5_000; a.calls.length < 2 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    expect(a.calls).toEqual([false, true]);
    expect(told).toEqual(["the WAL checkpoints' thread failed: Cannot open database because the directory does not exist: SQLite checkpoints in the commits again"]);
    checkpoints.release();
  });
});
