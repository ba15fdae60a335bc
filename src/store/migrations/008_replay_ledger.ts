import type { Migration } from './index.js';

/**
 * The replay ledger: what has been spent, kept apart from the factors it was spent on, so that it
 * outlives them. A factor's own replay guards (`factors.last_step`, `factors.last_counter`, a
 * recovery slot's hash turning NULL) go with its row when it is deleted or replaced, and a restore
 * would bring back the backup's older row with its older guards: a key used since the backup would
 * work again. The ledger is never touched by deleting a factor or a user, and a restore merges the
 * backup's ledger into it (union, max) instead of replacing it, then applies it to the factors it
 * restored (restoreFrom): the ledger only ever makes things more spent.
 *
 * One row per guard:
 * - `totp-step`: a TOTP factor's highest accepted step (`slot` 0);
 * - `yubico-counter`: a YubiKey factor's highest accepted (use, session) counter (`slot` 0), with
 *   the key's public id as `device`: the same physical key may come back as another factor;
 * - `recovery-key`: one used key of a recovery set (`factor_id`, the set's id) by its `slot`,
 *   `spent` 1.
 * A WebAuthn signature counter joins as `webauthn-counter` with the credential id as `device`.
 *
 * Triggers keep it: the conditional single-statement UPDATEs that make single use hold
 * (advanceTotpStep, advanceYubicoCounter, consumeRecoverySlot) stay as they are, and no code path
 * that spends or imports a guard can forget the ledger. An insert records its guards too (the
 * code that verified a new factor, Proxmox's last-count, a backup's rows as they are restored).
 * Triggers only record: nothing here changes a factor.
 *
 * It grows by one row per TOTP or YubiKey factor ever made and one per recovery key ever used
 * (sign-ins update rows in place), not by sign-ins, and is never pruned: a backup holding a deleted
 * factor's secret may be restored at any time, and the row is what keeps that secret spent.
 *
 * Existing stores are seeded from their factors as they are.
 */
export const replayLedger: Migration = {
  version: 8,
  name: 'replay-ledger',
  up(db) {
    const record = (guard: string, slot: string, spent: string, userid: string, device: string) =>
      `INSERT INTO replay_ledger (factor_id, guard, slot, spent, userid, device)
         VALUES (new.id, '${guard}', ${slot}, ${spent}, ${userid}, ${device})
         ON CONFLICT (factor_id, guard, slot) DO UPDATE SET spent = max(spent, excluded.spent);`;
    const totp = record('totp-step', '0', 'new.last_step', 'new.userid', 'NULL');
    const yubico = record('yubico-counter', '0', 'new.last_counter', 'new.userid', 'new.public_id');
    // A slot row knows its set, not its user: the set's factor row is there (parents go in first).
    const recoveryKey = `INSERT INTO replay_ledger (factor_id, guard, slot, spent, userid, device)
         VALUES (new.factor_id, 'recovery-key', new.slot, 1, coalesce((SELECT userid FROM factors WHERE id = new.factor_id), ''), NULL)
         ON CONFLICT (factor_id, guard, slot) DO NOTHING;`;
    db.exec(`
      CREATE TABLE replay_ledger (
        factor_id  TEXT NOT NULL,
        guard      TEXT NOT NULL,
        slot       INTEGER NOT NULL,
        spent      INTEGER NOT NULL,
        userid     TEXT NOT NULL,
        device     TEXT,
        PRIMARY KEY (factor_id, guard, slot)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX replay_ledger_device ON replay_ledger (userid, device, guard) WHERE device IS NOT NULL;

      CREATE TRIGGER replay_ledger_totp_insert AFTER INSERT ON factors WHEN new.last_step IS NOT NULL BEGIN ${totp} END;
      CREATE TRIGGER replay_ledger_totp_update AFTER UPDATE OF last_step ON factors WHEN new.last_step IS NOT NULL BEGIN ${totp} END;
      CREATE TRIGGER replay_ledger_yubico_insert AFTER INSERT ON factors WHEN new.last_counter IS NOT NULL BEGIN ${yubico} END;
      CREATE TRIGGER replay_ledger_yubico_update AFTER UPDATE OF last_counter ON factors WHEN new.last_counter IS NOT NULL BEGIN ${yubico} END;
      CREATE TRIGGER replay_ledger_recovery_insert AFTER INSERT ON recovery_slots WHEN new.hash IS NULL BEGIN ${recoveryKey} END;
      CREATE TRIGGER replay_ledger_recovery_update AFTER UPDATE OF hash ON recovery_slots WHEN new.hash IS NULL AND old.hash IS NOT NULL BEGIN ${recoveryKey} END;

      INSERT INTO replay_ledger (factor_id, guard, slot, spent, userid, device)
        SELECT id, 'totp-step', 0, last_step, userid, NULL FROM factors WHERE last_step IS NOT NULL;
      INSERT INTO replay_ledger (factor_id, guard, slot, spent, userid, device)
        SELECT id, 'yubico-counter', 0, last_counter, userid, public_id FROM factors WHERE last_counter IS NOT NULL;
      INSERT INTO replay_ledger (factor_id, guard, slot, spent, userid, device)
        SELECT s.factor_id, 'recovery-key', s.slot, 1, f.userid, NULL
        FROM recovery_slots s JOIN factors f ON f.id = s.factor_id WHERE s.hash IS NULL;
    `);
  },
};
