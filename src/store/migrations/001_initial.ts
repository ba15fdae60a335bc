import type { Migration } from './index.js';

/** Users, realms, settings and the audit trail, with the built-in realm `local` and `root@local`. */
export const initial: Migration = {
  version: 1,
  name: 'initial',
  up(db, now) {
    db.exec(`
      CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;

      CREATE TABLE realms (
        name            TEXT PRIMARY KEY,
        comment         TEXT,
        builtin         INTEGER NOT NULL DEFAULT 0 CHECK (builtin IN (0, 1)),
        enforce         TEXT NOT NULL DEFAULT 'none' CHECK (enforce IN ('none', 'totp', 'yubico')),
        totp_digits     INTEGER CHECK (totp_digits IN (6, 8)),
        totp_step       INTEGER CHECK (totp_step >= 10),
        totp_algorithm  TEXT CHECK (totp_algorithm IN ('SHA1', 'SHA256', 'SHA512')),
        created         INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE users (
        userid         TEXT PRIMARY KEY,
        realm          TEXT NOT NULL REFERENCES realms (name),
        password_hash  TEXT,
        admin          INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
        enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        email          TEXT,
        comment        TEXT,
        expire         TEXT,
        created        INTEGER NOT NULL,
        modified       INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX users_realm ON users (realm);

      CREATE TABLE audit (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        ts       INTEGER NOT NULL,
        actor    TEXT,
        action   TEXT NOT NULL,
        target   TEXT,
        outcome  TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
        detail   TEXT
      ) STRICT;
      CREATE INDEX audit_ts ON audit (ts);
      CREATE INDEX audit_actor ON audit (actor);
      CREATE INDEX audit_target ON audit (target);
    `);
    db.prepare(`INSERT INTO realms (name, comment, builtin, created) VALUES ('local', 'built-in realm', 1, ?)`).run(now);
    db.prepare(
      `INSERT INTO users (userid, realm, admin, enabled, comment, created, modified)
       VALUES ('root@local', 'local', 1, 1, 'built-in superuser', ?, ?)`,
    ).run(now, now);
  },
};
