import type { Migration } from './index.js';

/**
 * The issuer a TOTP factor was enrolled with (what the authenticator app shows beside its codes),
 * so that `export totp` gives back the URI the user scanned rather than one built from today's
 * `totp.issuer`. Null for factors from before it was kept, and for imports that named none: the
 * setting then stands in, as it always did.
 */
export const totpIssuer: Migration = {
  version: 14,
  name: 'totp-issuer',
  up(db) {
    db.exec('ALTER TABLE factors ADD COLUMN issuer TEXT');
  },
};
