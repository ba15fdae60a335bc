import type { Migration } from './index.js';

/**
 * Users are listed by realm and then by name, a name before the longer names it begins
 * (`bob@local`, `bob.x@local`, `bob2@local`). Listed by user id, the '@' after a name came after
 * the digits and most signs a name may hold, so `bob2@local` and `bob.x@local` came before
 * `bob@local`. The order is one key, the realm, a space, and the user id with its '@' made a
 * space (sql-store.ts USER_LISTING_KEY): a space sorts before every character of a realm or a
 * name and is in neither, so the key orders as (realm, name) would. One index gives `user list`,
 * `tfa list` and the exports in that order, a page at a time, with a realm's users as one range.
 */
export const userOrder: Migration = {
  version: 16,
  name: 'user-order',
  up(db) {
    db.exec(`CREATE INDEX IF NOT EXISTS users_listing ON users ((realm || ' ' || replace(userid, '@', ' ')))`);
  },
};
