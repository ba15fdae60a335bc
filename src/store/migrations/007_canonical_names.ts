import { open, realmKeyContext, seal, secretContext } from '../../domain/secret-box.js';
import { canonicalName } from '../../domain/userid.js';
import { StoreError } from '../../errors.js';
import type { Migration, MigrationContext } from './index.js';

/**
 * User ids and realm names are compared in canonical form (NFKC, then case folding: userid.ts
 * canonicalName), so `Alice@PVE` and `alice@pve` are one user. Stores from before hold names as
 * they were typed: they are renamed to canonical form (users.userid, users.realm, factors.userid,
 * realms.name). The audit trail is history and stays as written; a `user.rename` or `realm.rename`
 * entry records each change.
 *
 * Secrets are sealed to their owner's name (secret-box.ts): a renamed user's TOTP, recovery and
 * YubiKey secrets, and a renamed realm's validation API key, are opened under the old name and
 * sealed under the new one, with the key from the migration context. Refused (StoreError, exit 6),
 * changing nothing, when two names become one, or when secrets must be re-sealed and the key file
 * is missing or another store's.
 */
export const canonicalNames: Migration = {
  version: 7,
  name: 'canonical-names',
  up(db, now, context) {
    const realms = db.prepare('SELECT name, yubico_api_key FROM realms').all() as { name: string; yubico_api_key: Buffer | null }[];
    const users = db.prepare('SELECT userid FROM users').pluck().all() as string[];
    const realmRenames = renames(realms.map((r) => r.name), 'realm names', 'tfactl realm delete');
    const userRenames = renames(users, 'user ids', 'tfactl user delete');
    if (realmRenames.size === 0 && userRenames.size === 0) return;

    const factors = (db.prepare('SELECT id, userid, type, secret FROM factors WHERE secret IS NOT NULL').all() as SealedFactor[]).filter((f) =>
      userRenames.has(f.userid),
    );
    const apiKeys = realms.filter((r) => r.yubico_api_key !== null && realmRenames.has(r.name));
    const key = factors.length + apiKeys.length > 0 ? storeKey(context, [...userRenames, ...realmRenames]) : null;
    const reseal = (sealed: Buffer, from: Buffer, to: Buffer, what: string): Buffer => {
      const plain = open(key as Buffer, sealed, from);
      if (plain === null) {
        throw new StoreError(
          `cannot upgrade the store: ${what} does not open with the key file ${context?.keyPath}: is it this store's key file? Nothing was changed`,
          'key_mismatch',
        );
      }
      return seal(key as Buffer, (context as MigrationContext).randomBytes(12), plain, to);
    };

    // Keys change under rows that refer to them: checked once all of them have moved.
    db.pragma('defer_foreign_keys = ON');
    const audit = db.prepare("INSERT INTO audit (ts, actor, action, target, outcome, detail) VALUES (?, NULL, ?, ?, 'ok', ?)");
    const detail = (to: string) => JSON.stringify({ to, via: 'migration canonical-names' });
    for (const [from, to] of realmRenames) {
      db.prepare('UPDATE realms SET name = ? WHERE name = ?').run(to, from);
      db.prepare('UPDATE users SET realm = ? WHERE realm = ?').run(to, from);
      audit.run(now, 'realm.rename', from, detail(to));
    }
    for (const r of apiKeys) {
      const to = realmRenames.get(r.name) as string;
      const sealed = reseal(r.yubico_api_key as Buffer, realmKeyContext(r.name), realmKeyContext(to), `the YubiKey API key of realm ${r.name}`);
      db.prepare('UPDATE realms SET yubico_api_key = ? WHERE name = ?').run(sealed, to);
    }
    for (const [from, to] of userRenames) {
      db.prepare('UPDATE users SET userid = ? WHERE userid = ?').run(to, from);
      db.prepare('UPDATE factors SET userid = ? WHERE userid = ?').run(to, from);
      audit.run(now, 'user.rename', from, detail(to));
    }
    for (const f of factors) {
      const purpose = SEALED_PURPOSE[f.type];
      if (purpose === undefined) throw new StoreError(`cannot upgrade the store: factor ${f.id} of ${f.userid} has a secret of unknown kind ${f.type}`, 'store_corrupt');
      const to = userRenames.get(f.userid) as string;
      const sealed = reseal(f.secret, secretContext(f.userid, f.id, purpose), secretContext(to, f.id, purpose), `the ${f.type} secret of ${f.userid} (factor ${f.id})`);
      db.prepare('UPDATE factors SET secret = ? WHERE id = ?').run(sealed, f.id);
    }
  },
};

interface SealedFactor {
  readonly id: string;
  readonly userid: string;
  readonly type: string;
  readonly secret: Buffer;
}

/** The purpose each factor type's secret was sealed for (secretContext). */
const SEALED_PURPOSE: Readonly<Record<string, string>> = { totp: 'totp', recovery: 'recovery', yubico: 'yubico' };

/**
 * Which names change (old to canonical). Refuses when two become one: which of the two accounts
 * is meant cannot be decided here, and merging them would mix their secrets and rights.
 */
function renames(names: readonly string[], what: string, remedy: string): Map<string, string> {
  const byCanonical = new Map<string, string[]>();
  for (const name of names) {
    const canonical = canonicalName(name);
    byCanonical.set(canonical, [...(byCanonical.get(canonical) ?? []), name]);
  }
  const clash = [...byCanonical.values()].find((group) => group.length > 1)?.sort();
  if (clash) {
    throw new StoreError(
      `cannot upgrade the store: the ${what} ${clash.map((n) => JSON.stringify(n)).join(' and ')} are one name now that names ignore case and width; ` +
        `remove all but one with the tfactl that made this store ('${remedy}'), then run this one again`,
      'names_collide',
    );
  }
  return new Map(names.map((name): [string, string] => [name, canonicalName(name)]).filter(([from, to]) => from !== to));
}

/** The store's key for re-sealing; a clear refusal naming the renames when it cannot be had. */
function storeKey(context: MigrationContext | undefined, renamed: readonly (readonly [string, string])[]): Buffer {
  const list = renamed.slice(0, 5).map(([from, to]) => `${from} to ${to}`).join(', ') + (renamed.length > 5 ? ` and ${renamed.length - 5} more` : '');
  const why = `cannot upgrade the store: names are now kept in canonical form, so ${list} must be renamed, and secrets are sealed to the old names`;
  if (!context) throw new StoreError(`${why}, but no key file was given to open them`, 'key_file');
  try {
    return context.key();
  } catch (e) {
    if (e instanceof StoreError) throw new StoreError(`${why}: ${e.message}; then run tfactl again`, e.code);
    throw e;
  }
}
