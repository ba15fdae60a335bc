import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepAuditTrail, type OwnerSession } from '../../src/commands/serve/retention.js';
import { createSession } from '../../src/services/session.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { AuditRecord, Store } from '../../src/store/types.js';

/**
 * tfactl serve's keeping of audit.keep-days, on a real store with its rounds a few ms apart
 * (an hour in the service): the setting read each round, older entries pruned, what went logged.
 * The service doing it as it starts, through the binary: test/e2e/serve.test.ts.
 */
const DAY = 86_400;
const NOW = 2_000_000_000;
const dir = mkdtempSync(join(tmpdir(), 'tfactl-retention-'));
let store: Store;
beforeAll(async () => {
  store = (await openSqliteStore(join(dir, 'store.db'), { now: NOW })).store;
});
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const withOwner: OwnerSession = (fn) =>
  fn(
    createSession({
      store,
      actor: { userid: 'root@local', admin: true, viaOwnership: true },
      clock: { nowSeconds: () => NOW, sleep: async () => undefined },
      random: { bytes: (n) => randomBytes(n) },
      hostname: 'test',
      keyPath: join(dir, 'key'),
      secretKey: async () => Buffer.alloc(32),
    }),
  );

async function olderThan(days: number): Promise<AuditRecord[]> {
  const found: AuditRecord[] = [];
  for await (const e of store.auditEntries({ until: NOW - days * DAY })) found.push(e);
  return found;
}

const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('keepAuditTrail', () => {
  it('removes nothing while audit.keep-days is unset, then keeps what it says, round after round', async () => {
    await store.appendAudit({ ts: NOW - 40 * DAY, actor: null, action: 'old.one', target: null, outcome: 'ok' });
    const log: Record<string, unknown>[] = [];
    const retention = await keepAuditTrail(withOwner, (e) => log.push(e), 20);
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(await olderThan(30)).toHaveLength(1);
      expect(log).toEqual([]);
      // Set while the service runs: the next round keeps 30 days.
      await store.setSetting('audit.keep-days', '30');
      await until(async () => (await olderThan(30)).length === 0);
      expect(await olderThan(30)).toEqual([]);
      expect(log).toEqual([{ audit: 'pruned', entries: 1, before: new Date((NOW - 30 * DAY) * 1000).toISOString().replace('.000', ''), keepDays: 30 }]);
      // A later round finds what has grown old since.
      await store.appendAudit({ ts: NOW - 31 * DAY, actor: null, action: 'old.two', target: null, outcome: 'ok' });
      await until(async () => log.length === 2);
      expect(log[1]).toMatchObject({ audit: 'pruned', entries: 1 });
      const entries: AuditRecord[] = [];
      for await (const e of store.auditEntries({ action: 'audit.prune' })) entries.push(e);
      expect(entries.map((e) => e.detail)).toEqual([
        expect.objectContaining({ entries: 1, keepDays: 30, setting: 'audit.keep-days', by: 'tfactl serve' }),
        expect.objectContaining({ entries: 1, keepDays: 30 }),
      ]);
    } finally {
      await retention.stop();
    }
    // Stopped: no more rounds.
    await store.appendAudit({ ts: NOW - 32 * DAY, actor: null, action: 'old.three', target: null, outcome: 'ok' });
    await new Promise((r) => setTimeout(r, 100));
    expect((await olderThan(30)).map((e) => e.action)).toEqual(['old.three']);
  });

  it('logs trouble and goes on with the next round', async () => {
    const log: Record<string, unknown>[] = [];
    let calls = 0;
    const failing: OwnerSession = async (fn) => (++calls === 1 ? Promise.reject(new Error('the store is not reachable')) : withOwner(fn));
    const retention = await keepAuditTrail(failing, (e) => log.push(e), 20);
    await until(async () => calls >= 3);
    await retention.stop();
    expect(log[0]).toEqual({ audit: 'pruning failed', trouble: 'the store is not reachable' });
    expect(calls).toBeGreaterThanOrEqual(3);
  });
});
