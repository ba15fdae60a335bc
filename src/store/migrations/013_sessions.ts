import type { Migration } from './index.js';

/**
 * Sessions, like Proxmox's tickets: a successful `login --session` keeps one, and later `--as`
 * commands of that user use it instead of signing in again until it expires. `id` is the SHA-256
 * (hex) of the ticket's secret, which only the user's ticket file holds. `state` is the SHA-256
 * of what the sign-in relied on (password hash, enabled state, expiry, admin flag, factors and
 * whether each is enabled): when any of it changes, the session no longer works, so a password
 * change, a disabled account or factors changed by an admin end it without anyone having to
 * remember to. It dies with its user. A restore keeps this table as it is.
 */
export const sessions: Migration = {
  version: 13,
  name: 'sessions',
  up(db) {
    db.exec(`
      CREATE TABLE sessions (
        id        TEXT PRIMARY KEY,
        userid    TEXT NOT NULL REFERENCES users (userid) ON DELETE CASCADE,
        state     BLOB NOT NULL CHECK (length(state) = 32),
        created   INTEGER NOT NULL,
        expires   INTEGER NOT NULL,
        last_used INTEGER
      ) STRICT;
      CREATE INDEX sessions_userid ON sessions (userid);
    `);
  },
};
