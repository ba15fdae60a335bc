import type { Migration } from './index.js';

/**
 * User listings go in realm and user id order (`user list`, `user list --realm`, `tfa list
 * --realm`). The index on realm alone found a realm's users but not in that order, so SQLite sorted
 * every one of them in a temporary B-tree first: all of them read before the first line came out.
 * An index on (realm, userid) gives them in order, and serves whatever the old one served (a realm's
 * user count, deleting a realm's users), so it replaces it.
 */
export const userListingIndex: Migration = {
  version: 9,
  name: 'user-listing-index',
  up(db) {
    // IF (NOT) EXISTS: a store that already has the new index (a backup of a newer store marked
    // older, as a test makes one) is taken as it is.
    db.exec(`
      CREATE INDEX IF NOT EXISTS users_realm_userid ON users (realm, userid);
      DROP INDEX IF EXISTS users_realm;
    `);
  },
};
