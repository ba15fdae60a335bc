import type { Migration } from './index.js';

/**
 * Second factors and the failure counters behind lockout.
 * - `factors.secret` holds a sealed secret (TOTP secret, recovery set secret), never plain text.
 * - `factors.last_step` is the newest accepted TOTP step: codes at or before it are replays.
 * - `recovery_slots.hash` becomes NULL when its key is used; slot numbers stay stable.
 */
export const factors: Migration = {
  version: 2,
  name: 'factors',
  up(db) {
    db.exec(`
      ALTER TABLE users ADD COLUMN totp_failures INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE users ADD COLUMN totp_locked INTEGER NOT NULL DEFAULT 0 CHECK (totp_locked IN (0, 1));
      ALTER TABLE users ADD COLUMN tfa_failures INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE users ADD COLUMN tfa_locked_until INTEGER NOT NULL DEFAULT 0;

      CREATE TABLE factors (
        id           TEXT PRIMARY KEY,
        userid       TEXT NOT NULL REFERENCES users (userid) ON DELETE CASCADE,
        type         TEXT NOT NULL CHECK (type IN ('totp', 'recovery', 'yubico', 'webauthn', 'u2f')),
        description  TEXT NOT NULL DEFAULT '',
        enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        verified     INTEGER NOT NULL DEFAULT 1 CHECK (verified IN (0, 1)),
        created      INTEGER NOT NULL,
        last_used    INTEGER,
        secret       BLOB,
        algorithm    TEXT CHECK (algorithm IN ('SHA1', 'SHA256', 'SHA512')),
        digits       INTEGER CHECK (digits IN (6, 7, 8)),
        period       INTEGER CHECK (period > 0),
        last_step    INTEGER
      ) STRICT;
      CREATE INDEX factors_userid ON factors (userid);
      CREATE UNIQUE INDEX factors_one_recovery_set ON factors (userid) WHERE type = 'recovery';

      CREATE TABLE recovery_slots (
        factor_id  TEXT NOT NULL REFERENCES factors (id) ON DELETE CASCADE,
        slot       INTEGER NOT NULL,
        hash       TEXT,
        PRIMARY KEY (factor_id, slot)
      ) STRICT;
    `);
  },
};
