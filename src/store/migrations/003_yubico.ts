import type { Migration } from './index.js';

/**
 * YubiKey OTP: the key's public id and the last accepted (use, session) counter pair on the factor
 * (offline keys keep their AES key and private id sealed in `secret`), and each realm's validation
 * service (API key sealed) or offline mode.
 */
export const yubico: Migration = {
  version: 3,
  name: 'yubico',
  up(db) {
    db.exec(`
      ALTER TABLE factors ADD COLUMN public_id TEXT;
      ALTER TABLE factors ADD COLUMN last_counter INTEGER;
      CREATE UNIQUE INDEX factors_yubico_key ON factors (userid, public_id) WHERE type = 'yubico';

      ALTER TABLE realms ADD COLUMN yubico_mode TEXT CHECK (yubico_mode IN ('online', 'offline'));
      ALTER TABLE realms ADD COLUMN yubico_api_id TEXT;
      ALTER TABLE realms ADD COLUMN yubico_api_key BLOB;
      ALTER TABLE realms ADD COLUMN yubico_urls TEXT;
    `);
  },
};
