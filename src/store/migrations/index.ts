import type Database from 'better-sqlite3';
import { storeTooNew } from '../sql-store.js';

/**
 * What a migration may need beyond the database, from whoever opens the store and knows its key
 * file: a migration that renames rows re-seals the secrets bound to their names (secret-box.ts).
 */
export interface MigrationContext {
  /**
   * The store's key, read from the key file on the first call (most migrations never ask);
   * throws a StoreError when it is missing, damaged or another store's.
   */
  key(): Buffer;
  /** Where the key file is, for messages. */
  readonly keyPath: string;
  randomBytes(n: number): Buffer;
}

export interface Migration {
  readonly version: number;
  readonly name: string;
  /**
   * Runs inside the runner's transaction; `now` is epoch seconds. `context` is absent where no
   * key file is known (a store opened without one): a migration that needs it refuses.
   */
  up(db: Database.Database, now: number, context?: MigrationContext): void;
}

/**
 * The schema version this tfactl writes: the last migration in ./all.ts (a test keeps them equal).
 * A constant, so that opening an up-to-date store loads no migration code.
 */
export const LATEST_VERSION = 16;

/**
 * `PRAGMA application_id` of a tfactl store ("TFA1" in ASCII), set with the schema: what tells a
 * tfactl store from any other SQLite file, which tfactl never opens as a store.
 */
export const APPLICATION_ID = 0x54464131;

/** The tables every tfactl store has had since schema 1; with user_version >= 1, an unmarked store. */
export const CORE_TABLES = ['users', 'realms', 'settings', 'audit'] as const;

/** Every migration, loaded only when a store needs one. */
export async function loadMigrations(): Promise<readonly Migration[]> {
  return (await import('./all.js')).MIGRATIONS;
}

/** Throws unless versions start at 1 and go up by one. */
export function checkMigrationOrder(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name} has version ${m.version}, expected ${i + 1}`);
  });
}

/**
 * Brings the store up to date and marks it as tfactl's (APPLICATION_ID). Refuses a store from a
 * newer tfactl. Pending steps run in one IMMEDIATE transaction and the version is re-read inside
 * it, so processes racing to migrate a new store apply each step exactly once. Returns the version
 * found inside that transaction: 0 when this call made a new store (the caller has checked the
 * file is empty or an unmarked tfactl store, see openSqliteStore).
 */
export function migrate(db: Database.Database, now: number, migrations: readonly Migration[], context?: MigrationContext, where = 'this file'): number {
  const latest = migrations.at(-1)?.version ?? 0;
  const current = () => db.pragma('user_version', { simple: true }) as number;
  const marked = () => db.pragma('application_id', { simple: true }) === APPLICATION_ID;
  const refuseNewer = (version: number) => {
    if (version > latest) {
      throw storeTooNew(where, version, latest);
    }
  };
  const seen = current();
  refuseNewer(seen);
  if (seen === latest && marked()) return seen;
  return db.transaction(() => {
    const version = current();
    refuseNewer(version);
    for (const m of migrations) {
      if (m.version > version) m.up(db, now, context);
    }
    db.pragma(`user_version = ${latest}`);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    return version;
  }).immediate();
}
