import { StoreError } from '../../errors.js';
import type { Migration } from './index.js';

const OLD_CHECK = 'CHECK (totp_digits IN (6, 8))';
const NEW_CHECK = 'CHECK (totp_digits IN (6, 7, 8))';

/**
 * Realms may enforce 7-digit TOTP, as Proxmox allows (6 to 8); factors already could. SQLite cannot
 * alter a CHECK constraint, and rebuilding `realms` would fight the users' foreign keys, so the
 * constraint is widened in place, SQLite's documented way for a change that leaves every stored row
 * valid: edit the table's SQL in the schema and bump the schema version, in the runner's transaction.
 */
export const sevenDigits: Migration = {
  version: 5,
  name: 'seven-digits',
  up(db) {
    const { sql } = db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'realms'").get() as { sql: string };
    if (sql.includes(NEW_CHECK)) return;
    if (!sql.includes(OLD_CHECK)) {
      throw new StoreError(`the store's realms table is not as tfactl made it (no "${OLD_CHECK}"): restore it from a backup`, 'store_corrupt');
    }
    const version = db.pragma('schema_version', { simple: true }) as number;
    // better-sqlite3 runs SQLite in defensive mode, which forbids writing the schema: lifted for
    // this one statement.
    db.unsafeMode(true);
    try {
      db.pragma('writable_schema = ON');
      db.prepare("UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = 'realms'").run(sql.replace(OLD_CHECK, NEW_CHECK));
      db.pragma(`schema_version = ${version + 1}`);
    } finally {
      db.pragma('writable_schema = OFF');
      db.unsafeMode(false);
    }
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`migration seven-digits: quick_check says ${String(check)}`);
  },
};
