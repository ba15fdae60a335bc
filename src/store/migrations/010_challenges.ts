import type { Migration } from './index.js';

/**
 * Sign-in is a challenge and an answer (as in proxmox-tfa): after the password, a challenge says
 * what the user may answer with; the answer names the challenge. Each challenge belongs to one user,
 * expires after 120 s, and is taken (deleted) by the one statement that reads it, before its answer
 * is checked: a racing or failed answer never gets a second try. `data` is the JSON of what the
 * challenge offered and what its answer is checked against (a WebAuthn challenge, say).
 * A restore keeps this table as it is.
 */
export const challenges: Migration = {
  version: 10,
  name: 'challenges',
  up(db) {
    db.exec(`
      CREATE TABLE challenges (
        id       TEXT PRIMARY KEY,
        userid   TEXT NOT NULL,
        purpose  TEXT NOT NULL CHECK (purpose IN ('sign-in', 'registration')),
        created  INTEGER NOT NULL,
        expires  INTEGER NOT NULL,
        data     TEXT NOT NULL
      ) STRICT;
      CREATE INDEX challenges_expires ON challenges (expires);
    `);
  },
};
