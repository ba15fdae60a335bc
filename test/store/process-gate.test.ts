import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'tfactl-gate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('several connections of one process to one store (tfactl serve)', () => {
  it('let a write wait for another connection\'s transaction without stalling the process, and lose nothing', async () => {
    const { openSqliteStore } = await import('../../src/store/sqlite.js');
    const path = join(dir, 's.db');
    const a = (await openSqliteStore(path, { now: 1 })).store;
    const b = (await openSqliteStore(path, { now: 1 })).store;
    try {
      const order: string[] = [];
      const started = performance.now();
      // a's transaction waits on a timer (as one may on a password hash in a worker thread): in
      // SQLite's busy wait, b would block the very event loop that is to end it, for 30 s.
      const first = a.transaction(async (tx) => {
        await tx.setSetting('gate.a', '1');
        await new Promise((r) => setTimeout(r, 150));
        order.push('a commits');
      });
      await new Promise((r) => setTimeout(r, 20));
      const second = b.setSetting('gate.b', '2').then(() => order.push('b writes'));
      const third = b.transaction(async (tx) => {
        await tx.setSetting('gate.c', '3');
        order.push('b commits');
      });
      await Promise.all([first, second, third]);
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(order).toEqual(['a commits', 'b writes', 'b commits']);
      const settings = await a.getSettings();
      expect([settings.get('gate.a'), settings.get('gate.b'), settings.get('gate.c')]).toEqual(['1', '2', '3']);
    } finally {
      a.close();
      b.close();
    }
  });
});
