import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { LISTING_PAGE } from '../../src/store/sql-store.js';
import type { Store } from '../../src/store/types.js';
import { onEveryBackend } from './backends.js';

/**
 * Listings (users, users with their factors, TOTP secrets, the audit trail) are read a page at a
 * time, each page after the last row of the one before: every row once, in order, across pages of
 * LISTING_PAGE, on every backend; and no read stays open between pages, so a listing whose reader
 * has stopped (a pager) does not keep SQLite's WAL from being reset.
 */
const NOW = 1_000_000;
/** Users a0000@local.. and b0000@corp..: more than two pages in all, and more than one in each realm. */
const USERS = Math.round(LISTING_PAGE * 2.3);
const useridOf = (i: number) => (i % 2 === 0 ? `b${String(i).padStart(5, '0')}@corp` : `a${String(i).padStart(5, '0')}@local`);
const user = (userid: string) => ({ userid, realm: userid.split('@')[1] as string, admin: false, enabled: true, email: null, comment: null, expire: null, passwordHash: null, created: NOW });
const totpParams = { algorithm: 'SHA1' as const, digits: 6 as const, period: 30 };
/**
 * Users i with i % 4 === 1 have three TOTP factors (so pages split a user's factors): for i % 8 ===
 * 1 each made a second before the one added before it (so their time orders them), for i % 8 === 5
 * all at the same second (so the order they were added in does).
 */
const totpsOf = (i: number) => (i % 4 === 1 ? 3 : 0);
const createdOf = (i: number, t: number) => NOW + (i % 8 === 1 ? 2 - t : 0);
/** User i's TOTP factors (by their number t), in the order they are listed. */
const listedTotps = (i: number) => (i % 8 === 1 ? [2, 1, 0] : [0, 1, 2]).slice(0, totpsOf(i));

const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
/**
 * Users whose names begin with another's, or hold characters that come before '@': listed by realm
 * and then name, a name before the longer ones it begins (by user id, b01-z@corp came before b01@corp).
 */
const PREFIXED = ['b01@corp', 'b01-z@corp', 'b01.x@corp', 'b012@corp', 'b01_y@corp', 'b0@local', 'b0!@local'];
/** How users are listed: by realm, then by name (each bytewise). */
const byRealmAndName = (a: string, b: string) => {
  const [nameA = '', realmA = ''] = a.split('@');
  const [nameB = '', realmB = ''] = b.split('@');
  return bytewise(realmA, realmB) || bytewise(nameA, nameB);
};

onEveryBackend((opened) => {
  let store: Store;
  const all: string[] = [];
  beforeAll(async () => {
    store = opened();
    await store.transaction(async (tx) => {
      await tx.insertRealm({ name: 'corp', comment: null, created: NOW });
      for (let i = 0; i < USERS; i++) {
        const id = useridOf(i);
        all.push(id);
        expect(await tx.insertUser(user(id))).toBe(true);
        for (let t = 0; t < totpsOf(i); t++) {
          await tx.insertTotpFactor({ id: `t${i}-${t}`, userid: id, description: `totp ${t}`, created: createdOf(i, t), sealedSecret: Buffer.alloc(40, t), params: totpParams, issuer: t % 2 ? `issuer ${i}` : null, lastStep: null, verified: true, secretMark: null });
        }
      }
      for (const id of PREFIXED) {
        all.push(id);
        expect(await tx.insertUser(user(id))).toBe(true);
      }
      for (let i = 0; i < USERS; i++) await tx.appendAudit({ ts: NOW + i, actor: i % 2 ? useridOf(1) : null, action: 'test', target: useridOf(i), outcome: 'ok', detail: { i } });
    });
    all.push('root@local');
  }, 120_000);

  const collect = async <T>(rows: AsyncIterable<T>) => {
    const out: T[] = [];
    for await (const r of rows) out.push(r);
    return out;
  };

  it('lists every user once, by realm and name, across pages, and those of one realm', async () => {
    const expected = [...all].sort(byRealmAndName);
    expect(expected.filter((u) => PREFIXED.includes(u))).toEqual(['b01@corp', 'b01-z@corp', 'b01.x@corp', 'b012@corp', 'b01_y@corp', 'b0@local', 'b0!@local']);
    expect((await collect(store.users({}))).map((u) => u.userid)).toEqual(expected);
    const corp = expected.filter((u) => u.endsWith('@corp'));
    expect(corp.length).toBeGreaterThan(LISTING_PAGE);
    expect((await collect(store.users({ realm: 'corp' }))).map((u) => u.userid)).toEqual(corp);
  });

  it('lists every user with all their factors, by realm and name as the users are listed, across pages', async () => {
    const listed = await collect(store.usersWithFactors({}));
    expect(listed.map((l) => l.user.userid)).toEqual([...all].sort(byRealmAndName));
    const corp = await collect(store.usersWithFactors({ realm: 'corp' }));
    expect(corp.map((l) => l.user.userid)).toEqual(all.filter((u) => u.endsWith('@corp')).sort(byRealmAndName));
    const factors = listed.flatMap((l) => l.factors.map((f) => `${l.user.userid} ${f.id}`));
    const expected = all.flatMap((id, i) => Array.from({ length: i < USERS ? totpsOf(i) : 0 }, (_, t) => `${id} t${i}-${t}`));
    expect(factors.sort()).toEqual(expected.sort());
    for (const i of [1, 5, 9, 13]) expect(listed.find((l) => l.user.userid === useridOf(i))?.factors.map((f) => f.description)).toEqual(listedTotps(i).map((t) => `totp ${t}`));
    // Each factor keeps the issuer it was stored with, through the joined listing.
    const issuers = listed.flatMap((l) => l.factors.map((f) => (f.type === 'totp' ? f.issuer : 'not totp')));
    expect(issuers.filter((x) => x === null).length).toBeGreaterThan(0);
    for (const l of listed) for (const f of l.factors) if (f.type === 'totp' && f.issuer !== null) expect(f.issuer).toBe(`issuer ${f.id.slice(1, f.id.indexOf('-'))}`);
  });

  it('lists every TOTP secret once, by user and then in the order they were added', async () => {
    const read = await collect(store.totpFactors());
    const listed = read.map((t) => `${t.factor.userid} ${t.factor.description}`);
    expect(read.map((t) => t.factor.issuer)).toEqual(read.map((t) => (Number(t.factor.id.split('-')[1]) % 2 ? `issuer ${t.factor.id.slice(1, t.factor.id.indexOf('-'))}` : null)));
    const expected = all
      .flatMap((id, i) => (i < USERS ? listedTotps(i) : []).map((t) => ({ id, t })))
      .sort((a, b) => bytewise(a.id, b.id))
      .map(({ id, t }) => `${id} totp ${t}`);
    expect(expected.length).toBeGreaterThan(LISTING_PAGE);
    expect(listed).toEqual(expected);
  });

  it('lists the audit trail in order: all of it, the newest few, a user’s, and only what was there when it began', async () => {
    const index = (rows: { detail?: Record<string, unknown> }[]) => rows.map((r) => r.detail?.i as number);
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
    expect(index(await collect(store.auditEntries({})))).toEqual(range(0, USERS));
    expect(index(await collect(store.auditEntries({ limit: LISTING_PAGE + 7 })))).toEqual(range(USERS - LISTING_PAGE - 7, USERS));
    expect(index(await collect(store.auditEntries({ since: NOW + 100, limit: 5 })))).toEqual(range(USERS - 5, USERS));
    // useridOf(1) acted in every odd entry and was the target of entry 1 (listed once).
    expect(index(await collect(store.auditEntries({ user: useridOf(1) })))).toEqual(range(0, USERS).filter((i) => i % 2 === 1));
    expect(index(await collect(store.auditEntries({ user: useridOf(1), limit: 3 })))).toEqual(range(0, USERS).filter((i) => i % 2 === 1).slice(-3));
    // Entries written while a listing is read are not in it.
    const reading = store.auditEntries({})[Symbol.asyncIterator]();
    expect((await reading.next()).value?.detail?.i).toBe(0);
    await store.appendAudit({ ts: NOW + USERS, actor: null, action: 'test', target: null, outcome: 'ok', detail: { i: USERS } });
    const rest = [];
    for (let r = await reading.next(); !r.done; r = await reading.next()) rest.push(r.value.detail?.i as number);
    expect(rest).toEqual(range(1, USERS));
  });
});

describe('a listing whose reader has stopped, on SQLite', () => {
  it('holds no read between pages: the WAL can be reset meanwhile', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'tfactl-pages-'));
    try {
      const { openSqliteStore } = await import('../../src/store/sqlite.js');
      const { store } = await openSqliteStore(join(dir, 'tfactl.db'), { now: NOW });
      await store.transaction(async (tx) => {
        await tx.insertRealm({ name: 'corp', comment: null, created: NOW });
        for (let i = 0; i < USERS; i++) await tx.insertUser(user(useridOf(i)));
      });
      const other = new Database(join(dir, 'tfactl.db'));
      try {
        const reading = store.users({})[Symbol.asyncIterator]();
        // The reader takes a few rows and stops, as a pager does, mid-page.
        for (let i = 0; i < 10; i++) await reading.next();
        // Written meanwhile by another process, then a checkpoint that must restart the WAL.
        other.prepare("UPDATE users SET comment = 'changed' WHERE userid = ?").run(useridOf(USERS - 1));
        const [result] = other.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
        expect(result).toEqual({ busy: 0, log: 0, checkpointed: 0 });
        // The listing goes on to the end, and sees what changed in a page it had not read.
        const rest = [];
        for (let r = await reading.next(); !r.done; r = await reading.next()) rest.push(r.value);
        expect(rest.at(-1)).toMatchObject({ userid: 'root@local' });
        expect(rest.filter((u) => u.comment === 'changed').map((u) => u.userid)).toEqual([useridOf(USERS - 1)]);
      } finally {
        other.close();
        store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
