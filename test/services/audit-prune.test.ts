import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CancelledError, RefusedError } from '../../src/errors.js';
import { pruneAudit } from '../../src/services/audit.js';
import { createSession, type Actor, type Session } from '../../src/services/session.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { AuditRecord, Store } from '../../src/store/types.js';

/**
 * audit prune's service on a real store: batches, each its own unit of work, the entry that says
 * how many went, a stop between batches, and who may. (The command through the binary, on both
 * backends: test/e2e/audit-prune.test.ts.)
 */
const NOW = 2_000_000_000;
const dir = mkdtempSync(join(tmpdir(), 'tfactl-prune-'));
let n = 0;
let store: Store;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(async () => {
  store = (await openSqliteStore(join(dir, `s${++n}.db`), { now: NOW })).store;
  for (let ts = 1; ts <= 10; ts++) await store.appendAudit({ ts, actor: 'root@local', action: 'old.one', target: null, outcome: 'ok' });
  await store.appendAudit({ ts: NOW - 5, actor: 'root@local', action: 'new.one', target: null, outcome: 'ok' });
});

function sessionOf(actor: Partial<Actor> = {}): Session {
  return createSession({
    store,
    actor: { userid: 'root@local', admin: true, viaOwnership: true, ...actor },
    clock: { nowSeconds: () => NOW, sleep: async () => undefined },
    random: { bytes: (k) => randomBytes(k) },
    hostname: 'test',
    keyPath: join(dir, 'key'),
    secretKey: async () => Buffer.alloc(32),
  });
}

async function trail(): Promise<AuditRecord[]> {
  const all: AuditRecord[] = [];
  for await (const e of store.auditEntries({})) all.push(e);
  return all;
}

const neverStop = { stopping: () => false, confirmed: async () => undefined };

describe('pruneAudit', () => {
  it('removes what is older, in batches, and writes one entry saying how many', async () => {
    let transactions = 0;
    const counting = new Proxy(store, {
      get: (t, p) => (p === 'transaction' ? (fn: (tx: Store) => Promise<unknown>) => (transactions++, t.transaction(fn)) : Reflect.get(t, p, t)),
    });
    store = counting;
    const outcome = await pruneAudit(sessionOf(), 100, { ...neverStop, dryRun: false, batch: 3 });
    expect(outcome).toEqual({ before: 100, entries: 10, dryRun: false });
    // 3 + 3 + 3 + 1: the short batch is the last, and carries the entry.
    expect(transactions).toBe(4);
    const left = await trail();
    expect(left.map((e) => e.action)).toEqual(expect.arrayContaining(['new.one', 'audit.prune']));
    expect(left.filter((e) => e.action === 'old.one')).toEqual([]);
    expect(left.at(-1)).toMatchObject({ action: 'audit.prune', actor: 'root@local', outcome: 'ok', detail: { before: '1970-01-01T00:01:40Z', entries: 10 } });
  });

  it('says what a dry run would remove and removes nothing; asks for nothing when nothing is older', async () => {
    const before = await trail();
    const asked: number[] = [];
    const confirmed = async (k: number) => void asked.push(k);
    expect(await pruneAudit(sessionOf(), 6, { stopping: () => false, confirmed, dryRun: true })).toEqual({ before: 6, entries: 5, dryRun: true });
    expect(await pruneAudit(sessionOf(), 1, { stopping: () => false, confirmed, dryRun: false })).toEqual({ before: 1, entries: 0, dryRun: false });
    expect(asked).toEqual([]);
    expect(await trail()).toEqual(before);
  });

  it('changes nothing when the question is answered no', async () => {
    const before = await trail();
    const no = pruneAudit(sessionOf(), 100, { stopping: () => false, confirmed: async () => Promise.reject(new CancelledError()), dryRun: false });
    await expect(no).rejects.toThrow(CancelledError);
    expect(await trail()).toEqual(before);
  });

  it('stops between batches when told: what went is said in its entry, the rest is kept', async () => {
    let asked = 0;
    const stopped = await pruneAudit(sessionOf(), 100, { confirmed: async () => undefined, stopping: () => ++asked > 2, dryRun: false, batch: 3 });
    expect(stopped).toEqual({ before: 100, entries: 6, dryRun: false, stopped: { found: 10 } });
    const left = await trail();
    expect(left.filter((e) => e.action === 'old.one').map((e) => e.ts)).toEqual([7, 8, 9, 10]);
    expect(left.at(-1)).toMatchObject({ action: 'audit.prune', detail: { entries: 6, stopped: true } });
  });

  it("is root@local's alone: an admin is refused, audited, and nothing goes", async () => {
    const before = (await trail()).length;
    // Counting is reading: an admin may.
    expect(await pruneAudit(sessionOf({ userid: 'ops@local', viaOwnership: false }), 100, { ...neverStop, dryRun: true })).toMatchObject({ entries: 10 });
    const admin = pruneAudit(sessionOf({ userid: 'ops@local', viaOwnership: false }), 100, { ...neverStop, dryRun: false });
    await expect(admin).rejects.toThrow(RefusedError);
    const after = await trail();
    expect(after).toHaveLength(before + 1);
    expect(after.at(-1)).toMatchObject({ action: 'audit.prune', actor: 'ops@local', outcome: 'refused' });
  });
});
