import { u2fCredentialFromProxmox, webauthnCredentialFromProxmox } from '../../domain/proxmox-credentials.js';
import type { Migration } from './index.js';

/**
 * WebAuthn credentials and legacy U2F registrations become factors tfactl checks, each with what
 * its check needs in columns of its own:
 * - `credential_id`: the WebAuthn credential id, or the U2F key handle (base64url), unique per user;
 * - `public_key`: a WebAuthn credential's COSE_Key, or a U2F registration's 65-byte P-256 point;
 * - `algorithm_id`: the COSE algorithm of a WebAuthn credential (-7 ES256, -257 RS256, -8 EdDSA);
 * - `rp_id`: the RP id a WebAuthn credential was made under, or the appid of a U2F registration:
 *   each keeps its own, so credentials for a domain and for localhost live side by side;
 * - `transports`: the authenticator's transports (JSON), hints for the browser;
 * - `last_counter`: the signature counter, a replay guard like a YubiKey's.
 *
 * The replay ledger (migration 8) learns `webauthn-counter` guards, with the credential id as the
 * device, and its YubiKey triggers now look at YubiKeys alone.
 *
 * Registrations an import from Proxmox kept as they were (`data`) are read into the columns, under
 * the RP id and appid the store's settings (or the Proxmox settings kept beside them) name; one that
 * does not read stays as it was, listed but unusable.
 */
export const credentials: Migration = {
  version: 11,
  name: 'credentials',
  up(db) {
    const ledger = (guard: string, device: string) =>
      `INSERT INTO replay_ledger (factor_id, guard, slot, spent, userid, device)
         VALUES (new.id, '${guard}', 0, new.last_counter, new.userid, ${device})
         ON CONFLICT (factor_id, guard, slot) DO UPDATE SET spent = max(spent, excluded.spent);`;
    const yubico = ledger('yubico-counter', 'new.public_id');
    const webauthn = ledger('webauthn-counter', 'new.credential_id');
    db.exec(`
      ALTER TABLE factors ADD COLUMN credential_id TEXT;
      ALTER TABLE factors ADD COLUMN public_key BLOB;
      ALTER TABLE factors ADD COLUMN algorithm_id INTEGER CHECK (algorithm_id IN (-7, -257, -8));
      ALTER TABLE factors ADD COLUMN rp_id TEXT;
      ALTER TABLE factors ADD COLUMN transports TEXT;
      CREATE UNIQUE INDEX factors_credential ON factors (userid, credential_id) WHERE credential_id IS NOT NULL;

      DROP TRIGGER replay_ledger_yubico_insert;
      DROP TRIGGER replay_ledger_yubico_update;
      CREATE TRIGGER replay_ledger_yubico_insert AFTER INSERT ON factors WHEN new.type = 'yubico' AND new.last_counter IS NOT NULL BEGIN ${yubico} END;
      CREATE TRIGGER replay_ledger_yubico_update AFTER UPDATE OF last_counter ON factors WHEN new.type = 'yubico' AND new.last_counter IS NOT NULL BEGIN ${yubico} END;
      CREATE TRIGGER replay_ledger_webauthn_insert AFTER INSERT ON factors
        WHEN new.type IN ('webauthn', 'u2f') AND new.last_counter IS NOT NULL BEGIN ${webauthn} END;
      CREATE TRIGGER replay_ledger_webauthn_update AFTER UPDATE OF last_counter, credential_id ON factors
        WHEN new.type IN ('webauthn', 'u2f') AND new.last_counter IS NOT NULL BEGIN ${webauthn} END;
    `);

    const setting = (key: string) => db.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(key) as string | undefined;
    const fromProxmox = (key: string, field: string): string | undefined => {
      try {
        const value = (JSON.parse(setting(key) ?? '{}') as Record<string, unknown>)[field];
        return typeof value === 'string' && value !== '' ? value : undefined;
      } catch {
        return undefined;
      }
    };
    const rpId = setting('webauthn.rp-id') ?? fromProxmox('proxmox.webauthn', 'id') ?? null;
    const appId = setting('u2f.appid') || fromProxmox('proxmox.u2f', 'appid') || null;
    const update = db.prepare('UPDATE factors SET credential_id = ?, public_key = ?, algorithm_id = ?, rp_id = ?, last_counter = ? WHERE id = ?');
    const rows = db.prepare("SELECT id, userid, type, data FROM factors WHERE type IN ('webauthn', 'u2f') AND data IS NOT NULL").all() as {
      id: string;
      userid: string;
      type: 'webauthn' | 'u2f';
      data: string;
    }[];
    for (const r of rows) {
      try {
        const entry = JSON.parse(r.data) as unknown;
        const where = `${r.userid}, factor ${r.id}`;
        if (r.type === 'webauthn') {
          const c = webauthnCredentialFromProxmox(entry, where);
          update.run(Buffer.from(c.credentialId).toString('base64url'), Buffer.from(c.publicKeyCose), c.algorithm, rpId, c.counter, r.id);
        } else {
          const c = u2fCredentialFromProxmox(entry, where);
          update.run(Buffer.from(c.keyHandle).toString('base64url'), Buffer.from(c.publicKey), null, appId, 0, r.id);
        }
      } catch {
        // Kept as it was: listed, but it cannot sign in (tfa list says so).
      }
    }
  },
};
