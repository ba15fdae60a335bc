import type { Migration } from './index.js';

/**
 * Password-failure regulation, keyed by the user id as given, not by a row of `users`: an unknown
 * user id is counted and banned exactly like a known one, so neither the answer nor its timing
 * tells whether a user exists.
 * - `password_failures`: failed password sign-ins in the current window, and the ban they caused.
 * - `password_checks`: passwords being checked right now, one row each. A check may start only
 *   while failures plus checks in flight stay under the limit, so racing guesses can never check
 *   more passwords than the limit allows; a right password frees its row without counting.
 * A restore keeps both as they are (a restore never lifts a ban).
 */
export const passwordRegulation: Migration = {
  version: 6,
  name: 'password-regulation',
  up(db) {
    db.exec(`
      CREATE TABLE password_failures (
        userid        TEXT PRIMARY KEY,
        failures      INTEGER NOT NULL CHECK (failures >= 0),
        window_start  INTEGER NOT NULL,
        banned_until  INTEGER NOT NULL DEFAULT 0
      ) STRICT;

      CREATE TABLE password_checks (
        token    TEXT PRIMARY KEY,
        userid   TEXT NOT NULL,
        started  INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX password_checks_userid ON password_checks (userid, started);
    `);
  },
};
