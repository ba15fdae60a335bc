import type { Migration } from './index.js';

/**
 * TOTP codes stay spent when a factor goes and its secret comes back. The replay ledger (migration
 * 8) knew a TOTP factor by its id alone, so a factor deleted and added again with the same secret
 * (the app kept its entry; an import brought it back) took the codes spent under the old id again.
 * Each TOTP factor now keeps `secret_mark`, a keyed fingerprint of its secret and parameters
 * (totpSecretMark), and the ledger takes it as the step's device, as a YubiKey's public id is: a
 * factor stored with a marked secret starts at the highest step the ledger holds for that user and
 * mark (SqlStore.insertTotpFactor), a restore raises it the same way.
 *
 * The mark is made from the secret with the store's key, which SQL cannot, so factors from before
 * take theirs at the next code they accept (advanceTotpStep) and the ledger's row with it; until then
 * the ledger knows them by id, as before.
 *
 * Also indexes on WebAuthn credential ids and YubiKey public ids across users: enrolment asks
 * whether another user holds the key (factors_credential is per user).
 */
export const secretMarks: Migration = {
  version: 15,
  name: 'secret-marks',
  up(db) {
    const totp = `INSERT INTO replay_ledger (factor_id, guard, slot, spent, userid, device)
         VALUES (new.id, 'totp-step', 0, new.last_step, new.userid, new.secret_mark)
         ON CONFLICT (factor_id, guard, slot) DO UPDATE SET spent = max(spent, excluded.spent), device = coalesce(excluded.device, device);`;
    db.exec(`
      ALTER TABLE factors ADD COLUMN secret_mark TEXT;
      DROP TRIGGER replay_ledger_totp_insert;
      DROP TRIGGER replay_ledger_totp_update;
      CREATE TRIGGER replay_ledger_totp_insert AFTER INSERT ON factors WHEN new.last_step IS NOT NULL BEGIN ${totp} END;
      CREATE TRIGGER replay_ledger_totp_update AFTER UPDATE OF last_step ON factors WHEN new.last_step IS NOT NULL BEGIN ${totp} END;
      CREATE INDEX factors_credential_any ON factors (credential_id) WHERE credential_id IS NOT NULL;
      CREATE INDEX factors_public_id ON factors (public_id) WHERE public_id IS NOT NULL;
    `);
  },
};
