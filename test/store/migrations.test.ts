import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { MIGRATIONS } from '../../src/store/migrations/all.js';
import { APPLICATION_ID, checkMigrationOrder, LATEST_VERSION, migrate, type Migration } from '../../src/store/migrations/index.js';

let dir: string | undefined;
const openTemp = () => {
  dir = mkdtempSync(join(tmpdir(), 'tfactl-mig-'));
  return new Database(join(dir, 's.db'));
};
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('migrations', () => {
  it('are numbered 1, 2, 3... in order', () => {
    expect(() => checkMigrationOrder(MIGRATIONS)).not.toThrow();
    expect(MIGRATIONS.at(-1)?.version).toBe(LATEST_VERSION);
    const bad: Migration[] = [{ version: 2, name: 'x', up: () => undefined }];
    expect(() => checkMigrationOrder(bad)).toThrow(/expected 1/);
  });

  it('bring a new store to the latest version with root@local and realm local', () => {
    const db = openTemp();
    migrate(db, 1000, MIGRATIONS);
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(db.prepare('SELECT userid, admin, created FROM users').all()).toEqual([{ userid: 'root@local', admin: 1, created: 1000 }]);
    expect(db.prepare('SELECT name, builtin FROM realms').all()).toEqual([{ name: 'local', builtin: 1 }]);
    db.close();
  });

  it('say which version they started from: 0 only for the call that made the store', () => {
    const db = openTemp();
    expect(migrate(db, 1, MIGRATIONS)).toBe(0);
    expect(migrate(db, 1, MIGRATIONS)).toBe(LATEST_VERSION);
    // A store made before stores were marked is marked, not made again.
    db.pragma('application_id = 0');
    expect(migrate(db, 1, MIGRATIONS)).toBe(LATEST_VERSION);
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    db.close();
  });

  it('apply each step once when run again', () => {
    const db = openTemp();
    let runs = 0;
    const counting: Migration[] = [...MIGRATIONS, { version: LATEST_VERSION + 1, name: 'count', up: () => void runs++ }];
    migrate(db, 1, counting);
    migrate(db, 2, counting);
    expect(runs).toBe(1);
    db.close();
  });

  it('roll back every pending step when one fails', () => {
    const db = openTemp();
    const failing: Migration[] = [
      ...MIGRATIONS,
      {
        version: LATEST_VERSION + 1,
        name: 'fails',
        up: (d) => {
          d.exec('CREATE TABLE half_done (x)');
          throw new Error('boom');
        },
      },
    ];
    expect(() => migrate(db, 1, failing)).toThrow('boom');
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    expect(db.pragma('application_id', { simple: true })).toBe(0);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name IN ('users', 'half_done')").all()).toEqual([]);
    db.close();
  });

  it('refuse a store from a newer tfactl', () => {
    const db = openTemp();
    db.pragma(`user_version = ${LATEST_VERSION + 1}`);
    expect(() => migrate(db, 1, MIGRATIONS)).toThrow(StoreError);
    expect(() => migrate(db, 1, MIGRATIONS)).toThrow(/newer tfactl/);
    db.close();
  });
});

describe('migration 5 (seven-digits)', () => {
  it('widens a version-4 store\'s realm digits to 6, 7 or 8 and keeps its rows', () => {
    const db = openTemp();
    migrate(db, 1, MIGRATIONS.slice(0, 4));
    db.prepare("INSERT INTO realms (name, enforce, totp_digits, totp_step, totp_algorithm, created) VALUES ('corp', 'totp', 8, 30, 'SHA1', 1)").run();
    expect(() => db.prepare("UPDATE realms SET totp_digits = 7 WHERE name = 'corp'").run()).toThrow(/CHECK/);
    migrate(db, 2, MIGRATIONS.slice(0, 5));
    expect(db.pragma('user_version', { simple: true })).toBe(5);
    expect(db.prepare("SELECT name, totp_digits FROM realms ORDER BY name").all()).toEqual([
      { name: 'corp', totp_digits: 8 },
      { name: 'local', totp_digits: null },
    ]);
    db.prepare("UPDATE realms SET totp_digits = 7 WHERE name = 'corp'").run();
    expect(() => db.prepare("UPDATE realms SET totp_digits = 9 WHERE name = 'corp'").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE realms SET totp_digits = 5 WHERE name = 'corp'").run()).toThrow(/CHECK/);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    // The users' references to realms are untouched.
    expect(db.pragma('foreign_key_check')).toEqual([]);
    db.close();
  });

  it('leaves the schema read-only again afterwards', () => {
    const db = openTemp();
    migrate(db, 1, MIGRATIONS);
    expect(() => db.prepare("UPDATE sqlite_schema SET sql = sql WHERE name = 'realms'").run()).toThrow();
    db.close();
  });
});

describe('migration 5 on a store not quite as tfactl made it', () => {
  const v4 = () => {
    const db = openTemp();
    migrate(db, 1, MIGRATIONS.slice(0, 4));
    return db;
  };
  const editRealmsSql = (db: Database.Database, from: string, to: string) => {
    db.unsafeMode(true);
    db.pragma('writable_schema = ON');
    db.prepare("UPDATE sqlite_schema SET sql = replace(sql, ?, ?) WHERE name = 'realms'").run(from, to);
    db.pragma(`schema_version = ${(db.pragma('schema_version', { simple: true }) as number) + 1}`);
    db.pragma('writable_schema = OFF');
    db.unsafeMode(false);
  };

  it('does nothing when the check is already wide', () => {
    const db = v4();
    editRealmsSql(db, 'IN (6, 8)', 'IN (6, 7, 8)');
    migrate(db, 2, MIGRATIONS.slice(0, 5));
    expect(db.pragma('user_version', { simple: true })).toBe(5);
    db.close();
  });

  it('refuses a realms table it does not recognise with a store error, changing nothing', () => {
    const db = v4();
    editRealmsSql(db, 'IN (6, 8)', 'IN (6,8)');
    expect(() => migrate(db, 2, MIGRATIONS)).toThrow(StoreError);
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    expect(() => db.prepare("UPDATE sqlite_schema SET sql = sql WHERE name = 'realms'").run()).toThrow();
    db.close();
  });
});

describe('restore', () => {
  it('replaces every table but those it keeps (the audit trail, merged; password bans) and sqlite_sequence (SQLite\'s own)', async () => {
    const { KEPT_TABLES, RESTORED_TABLES } = await import('../../src/store/sqlite.js');
    const db = openTemp();
    migrate(db, 1, MIGRATIONS);
    const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    expect(tables.sort()).toEqual([...RESTORED_TABLES, ...KEPT_TABLES, 'sqlite_sequence'].sort());
    db.close();
  });
});
