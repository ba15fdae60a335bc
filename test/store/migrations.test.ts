import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { MIGRATIONS } from '../../src/store/migrations/all.js';
import { checkMigrationOrder, LATEST_VERSION, migrate, type Migration } from '../../src/store/migrations/index.js';

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
    expect(db.prepare('SELECT userid, admin, created FROM users').all()).toEqual([{ userid: 'root@local', admin: 1, created: 1000 }]);
    expect(db.prepare('SELECT name, builtin FROM realms').all()).toEqual([{ name: 'local', builtin: 1 }]);
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
