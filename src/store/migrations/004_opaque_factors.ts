import type { Migration } from './index.js';

/**
 * Factors tfactl keeps but cannot check yet (WebAuthn and U2F registrations imported from Proxmox):
 * their entry as JSON, so they can be used once those factors arrive.
 */
export const opaqueFactors: Migration = {
  version: 4,
  name: 'opaque-factors',
  up(db) {
    db.exec('ALTER TABLE factors ADD COLUMN data TEXT');
  },
};
