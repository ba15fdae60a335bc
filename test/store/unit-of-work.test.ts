import { beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.js';
import { onEveryBackend } from './backends.js';

/**
 * Store.transaction's contract: one unit of work, everything written through the store it hands
 * out (audit included), and the store it was called on kept out until the unit ends, as a
 * connection of its own would be. On every backend (test/store/backends.ts).
 */

const audited = async (store: Store, target: string) => {
  for await (const e of store.auditEntries({})) if (e.target === target) return true;
  return false;
};
const entry = (target: string) => ({ ts: 1000, actor: 'root@local', action: 'test', target, outcome: 'ok' as const, detail: {} });

onEveryBackend((opened) => {
  let store: Store;
  beforeAll(() => {
    store = opened();
  });

  describe('a unit of work', () => {
    it('commits what was written through it, audit entry included', async () => {
      await store.transaction(async (tx) => {
        await tx.setSetting('unit.kept', 'yes');
        await tx.appendAudit(entry('kept'));
      });
      expect((await store.getSettings()).get('unit.kept')).toBe('yes');
      expect(await audited(store, 'kept')).toBe(true);
    });

    it('rolls all of it back when it throws, audit entry included', async () => {
      await expect(
        store.transaction(async (tx) => {
          await tx.setSetting('unit.lost', 'yes');
          await tx.appendAudit(entry('lost'));
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      expect((await store.getSettings()).get('unit.lost')).toBeUndefined();
      expect(await audited(store, 'lost')).toBe(false);
    });

    it('keeps the store it was called on waiting until it ends, as another connection would be', async () => {
      const order: string[] = [];
      let outside: Promise<void> | undefined;
      await store.transaction(async (tx) => {
        await tx.setSetting('unit.order', 'inside');
        // Not awaited here: awaiting it inside would wait for itself.
        outside = store.setSetting('unit.order', 'outside').then(() => void order.push('store wrote'));
        await new Promise((r) => setTimeout(r, 50));
        order.push('unit ends');
      });
      await outside;
      expect(order).toEqual(['unit ends', 'store wrote']);
      expect((await store.getSettings()).get('unit.order')).toBe('outside');
    });

    it('runs a transaction asked for inside it as part of itself', async () => {
      await store.transaction(async (tx) => {
        await tx.transaction(async (inner) => inner.setSetting('unit.nested', 'yes'));
      });
      expect((await store.getSettings()).get('unit.nested')).toBe('yes');
    });

    it('undoes a transaction asked for inside it that throws, and keeps the rest of itself', async () => {
      await store.transaction(async (tx) => {
        await tx.setSetting('unit.outer', 'kept');
        await expect(
          tx.transaction(async (inner) => {
            await inner.setSetting('unit.inner', 'undone');
            throw new Error('inner fails');
          }),
        ).rejects.toThrow('inner fails');
      });
      const settings = await store.getSettings();
      expect([settings.get('unit.outer'), settings.get('unit.inner')]).toEqual(['kept', undefined]);
    });
  });
});
