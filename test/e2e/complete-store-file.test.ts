import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { asOtherUid, BIN, storeFactory } from './harness.js';

// `tfactl __complete` and store files it must leave alone, and their owners: SQLite's own (a
// PostgreSQL store's are test/e2e/postgres.test.ts's).
const PASSWORD = 'complete password 1';
const fresh = storeFactory();

describe('tfactl __complete and the store file', () => {
  it('prints nothing and leaves alone a damaged store, another program\'s database, one open to others and one not yet brought up to date', async () => {
    const damaged = fresh();
    mkdirSync(join(damaged.dir, 'store'), { recursive: true });
    writeFileSync(damaged.db, 'x'.repeat(4096), { mode: 0o600 });

    const foreign = fresh();
    mkdirSync(join(foreign.dir, 'store'), { recursive: true });
    const db = new Database(foreign.db);
    db.exec('CREATE TABLE notes (text TEXT)');
    db.close();
    chmodSync(foreign.db, 0o600);

    const open = fresh();
    await open.addUser('dave', PASSWORD);
    chmodSync(open.db, 0o644);

    const outdated = fresh();
    await outdated.addUser('erin', PASSWORD);
    const version = (outdated.query('PRAGMA user_version')[0] as { user_version: number }).user_version;
    const raw = new Database(outdated.db);
    raw.pragma(`user_version = ${version - 1}`);
    raw.close();

    for (const s of [damaged, foreign, open, outdated]) {
      const before = readFileSync(s.db);
      const r = await s.run(['__complete', 'users'], { timeoutMs: 10_000 });
      expect(r.code, s.db).toBe(0);
      expect(r.stdout, s.db).toBe('');
      expect(r.stderr, s.db).toBe('');
      expect(readFileSync(s.db).equals(before), s.db).toBe(true);
    }
    // An ordinary command refuses the one open to others: the completion stayed quiet on purpose.
    expect((await open.run(['user', 'list'])).code).toBe(6);
  });

  it('prints nothing for an OS user who does not own the store (the owner, or root, gets everything)', async () => {
    const s = fresh();
    await s.addUser('frank', PASSWORD);
    if (process.getuid?.() !== 0) {
      // Only root can give the store another owner; as its owner we are answered.
      expect((await s.run(['__complete', 'users'])).stdout).toBe('frank@local\nroot@local\n');
      return;
    }
    const env = { ...process.env, TFACTL_DB: s.db };
    // As the owner (uid 1000 in the namespace is this user outside it), then as someone else.
    const owner = asOtherUid([BIN, '__complete', 'users'], env);
    expect(owner.status, owner.stderr).toBe(0);
    expect(owner.stdout).toBe('frank@local\nroot@local\n');
    chownSync(s.db, 65534, 65534);
    for (const p of [s.dir, join(s.dir, 'store')]) chmodSync(p, 0o755);
    const other = asOtherUid([BIN, '__complete', 'users'], env);
    expect(other.status, other.stderr).toBe(0);
    expect(other.stdout).toBe('');
    expect(other.stderr).toBe('');
    // root may read anyone's store
    expect((await s.run(['__complete', 'users'])).stdout).toBe('frank@local\nroot@local\n');
  });
});
