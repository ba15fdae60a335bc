import type { Migration } from './index.js';

/**
 * API tokens, as Proxmox has them (`pveum user token add`): a named token of a user, for
 * automation, stored only as the SHA-256 of its secret (256 random bits: nothing to guess, so no
 * slow hash is needed), with its privileges (`inherit`: what the user may do, or `read-only`), an
 * optional expiry and when it was last used. It dies with its user. A restore replaces this table
 * with the backup's, like users and factors.
 */
export const apiTokens: Migration = {
  version: 12,
  name: 'api_tokens',
  up(db) {
    db.exec(`
      CREATE TABLE api_tokens (
        userid      TEXT NOT NULL REFERENCES users (userid) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
        privileges  TEXT NOT NULL CHECK (privileges IN ('inherit', 'read-only')),
        expires     TEXT,
        comment     TEXT,
        created     INTEGER NOT NULL,
        last_used   INTEGER,
        PRIMARY KEY (userid, name)
      ) STRICT;
    `);
  },
};
