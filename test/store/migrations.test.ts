import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { open, realmKeyContext, seal, secretContext } from '../../src/domain/secret-box.js';
import { StoreError } from '../../src/errors.js';
import { MIGRATIONS } from '../../src/store/migrations/all.js';
import { APPLICATION_ID, checkMigrationOrder, LATEST_VERSION, migrate, type Migration, type MigrationContext } from '../../src/store/migrations/index.js';

let dir: string | undefined;
const openTemp = () => {
  dir = mkdtempSync(join(tmpdir(), 'tfactl-mig-'));
  return new Database(join(dir, 's.db'));
};
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('migrations', () => {
  it('are numbered 1, 2, 3... in order', () => {
    expect(() => checkMigrationOrder(MIGRATIONS)).not.toThrow();
    expect(MIGRATIONS.at(-1)?.version).toBe(LATEST_VERSION);
    const bad: Migration[] = [{ version: 2, name: 'x', up: () => undefined }];
    expect(() => checkMigrationOrder(bad)).toThrow(/expected 1/);
  });

  it('bring a new store to the latest version with root@local and realm local', () => {
    const db = openTemp();
    migrate(db, 1000, MIGRATIONS);
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(db.prepare('SELECT userid, admin, created FROM users').all()).toEqual([{ userid: 'root@local', admin: 1, created: 1000 }]);
    expect(db.prepare('SELECT name, builtin FROM realms').all()).toEqual([{ name: 'local', builtin: 1 }]);
    db.close();
  });

  it('say which version they started from: 0 only for the call that made the store', () => {
    const db = openTemp();
    expect(migrate(db, 1, MIGRATIONS)).toBe(0);
    expect(migrate(db, 1, MIGRATIONS)).toBe(LATEST_VERSION);
    // A store made before stores were marked is marked, not made again.
    db.pragma('application_id = 0');
    expect(migrate(db, 1, MIGRATIONS)).toBe(LATEST_VERSION);
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    db.close();
  });

  it('apply each step once when run again', () => {
    const db = openTemp();
    let runs = 0;
    const counting: Migration[] = [...MIGRATIONS, { version: LATEST_VERSION + 1, name: 'count', up: () => void runs++ }];
    migrate(db, 1, counting);
    migrate(db, 2, counting);
    expect(runs).toBe(1);
    db.close();
  });

  it('roll back every pending step when one fails', () => {
    const db = openTemp();
    const failing: Migration[] = [
      ...MIGRATIONS,
      {
        version: LATEST_VERSION + 1,
        name: 'fails',
        up: (d) => {
          d.exec('CREATE TABLE half_done (x)');
          throw new Error('boom');
        },
      },
    ];
    expect(() => migrate(db, 1, failing)).toThrow('boom');
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    expect(db.pragma('application_id', { simple: true })).toBe(0);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name IN ('users', 'half_done')").all()).toEqual([]);
    db.close();
  });

  it('refuse a store from a newer tfactl', () => {
    const db = openTemp();
    db.pragma(`user_version = ${LATEST_VERSION + 1}`);
    expect(() => migrate(db, 1, MIGRATIONS)).toThrow(StoreError);
    expect(() => migrate(db, 1, MIGRATIONS)).toThrow(/newer tfactl/);
    db.close();
  });
});

describe('migration 5 (seven-digits)', () => {
  it('widens a version-4 store\'s realm digits to 6, 7 or 8 and keeps its rows', () => {
    const db = openTemp();
    migrate(db, 1, MIGRATIONS.slice(0, 4));
    db.prepare("INSERT INTO realms (name, enforce, totp_digits, totp_step, totp_algorithm, created) VALUES ('corp', 'totp', 8, 30, 'SHA1', 1)").run();
    expect(() => db.prepare("UPDATE realms SET totp_digits = 7 WHERE name = 'corp'").run()).toThrow(/CHECK/);
    migrate(db, 2, MIGRATIONS.slice(0, 5));
    expect(db.pragma('user_version', { simple: true })).toBe(5);
    expect(db.prepare("SELECT name, totp_digits FROM realms ORDER BY name").all()).toEqual([
      { name: 'corp', totp_digits: 8 },
      { name: 'local', totp_digits: null },
    ]);
    db.prepare("UPDATE realms SET totp_digits = 7 WHERE name = 'corp'").run();
    expect(() => db.prepare("UPDATE realms SET totp_digits = 9 WHERE name = 'corp'").run()).toThrow(/CHECK/);
    expect(() => db.prepare("UPDATE realms SET totp_digits = 5 WHERE name = 'corp'").run()).toThrow(/CHECK/);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    // The users' references to realms are untouched.
    expect(db.pragma('foreign_key_check')).toEqual([]);
    db.close();
  });

  it('leaves the schema read-only again afterwards', () => {
    const db = openTemp();
    migrate(db, 1, MIGRATIONS);
    expect(() => db.prepare("UPDATE sqlite_schema SET sql = sql WHERE name = 'realms'").run()).toThrow();
    db.close();
  });
});

describe('migration 5 on a store not quite as tfactl made it', () => {
  const v4 = () => {
    const db = openTemp();
    migrate(db, 1, MIGRATIONS.slice(0, 4));
    return db;
  };
  const editRealmsSql = (db: Database.Database, from: string, to: string) => {
    db.unsafeMode(true);
    db.pragma('writable_schema = ON');
    db.prepare("UPDATE sqlite_schema SET sql = replace(sql, ?, ?) WHERE name = 'realms'").run(from, to);
    db.pragma(`schema_version = ${(db.pragma('schema_version', { simple: true }) as number) + 1}`);
    db.pragma('writable_schema = OFF');
    db.unsafeMode(false);
  };

  it('does nothing when the check is already wide', () => {
    const db = v4();
    editRealmsSql(db, 'IN (6, 8)', 'IN (6, 7, 8)');
    migrate(db, 2, MIGRATIONS.slice(0, 5));
    expect(db.pragma('user_version', { simple: true })).toBe(5);
    db.close();
  });

  it('refuses a realms table it does not recognise with a store error, changing nothing', () => {
    const db = v4();
    editRealmsSql(db, 'IN (6, 8)', 'IN (6,8)');
    expect(() => migrate(db, 2, MIGRATIONS)).toThrow(StoreError);
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    expect(() => db.prepare("UPDATE sqlite_schema SET sql = sql WHERE name = 'realms'").run()).toThrow();
    db.close();
  });
});

describe('restore', () => {
  it('replaces every table but those it keeps (the audit trail and the replay ledger, merged; password bans) and sqlite_sequence (SQLite\'s own)', async () => {
    const { KEPT_TABLES, RESTORED_TABLES } = await import('../../src/store/sqlite.js');
    const db = openTemp();
    migrate(db, 1, MIGRATIONS);
    const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    expect(tables.sort()).toEqual([...RESTORED_TABLES, ...KEPT_TABLES, 'sqlite_sequence'].sort());
    db.close();
  });
});

describe('migration canonical-names', () => {
  const index = MIGRATIONS.findIndex((m) => m.name === 'canonical-names');
  const before = MIGRATIONS.slice(0, index);
  const key = randomBytes(32);
  const context = (k: () => Buffer = () => key): MigrationContext => ({ key: k, keyPath: '/nowhere/s.db.key', randomBytes: (n) => randomBytes(n) });
  const sealFor = (userid: string, id: string, purpose: string, text: string) => seal(key, randomBytes(12), text, secretContext(userid, id, purpose));

  /** A store from before the migration, holding names as people typed them, with sealed secrets. */
  const oldStore = () => {
    const db = openTemp();
    db.pragma('foreign_keys = ON');
    migrate(db, 1, before);
    db.prepare("INSERT INTO realms (name, created, yubico_mode, yubico_api_id, yubico_api_key, yubico_urls) VALUES ('PVE', 1, 'online', '1', ?, '[]')").run(
      seal(key, randomBytes(12), 'api key', realmKeyContext('PVE')),
    );
    for (const [userid, realm] of [['Alice@PVE', 'PVE'], ['Bob', 'local'], ['carol@local', 'local']]) {
      db.prepare('INSERT INTO users (userid, realm, created, modified) VALUES (?, ?, 1, 1)').run(userid, realm);
    }
    const factor = db.prepare('INSERT INTO factors (id, userid, type, created, secret) VALUES (?, ?, ?, 1, ?)');
    factor.run('t1', 'Alice@PVE', 'totp', sealFor('Alice@PVE', 't1', 'totp', 'JBSWY3DPEHPK3PXP'));
    factor.run('r1', 'Alice@PVE', 'recovery', sealFor('Alice@PVE', 'r1', 'recovery', '0011223344556677'));
    factor.run('y1', 'Alice@PVE', 'yubico', sealFor('Alice@PVE', 'y1', 'yubico', '{"aesKey":"00","privateId":"11"}'));
    factor.run('c1', 'carol@local', 'totp', sealFor('carol@local', 'c1', 'totp', 'carol secret'));
    db.prepare("INSERT INTO recovery_slots (factor_id, slot, hash) VALUES ('r1', 0, 'h')").run();
    db.prepare("INSERT INTO audit (ts, actor, action, target, outcome) VALUES (1, 'root@local', 'user.add', 'Alice@PVE', 'ok')").run();
    return db;
  };
  const secretOf = (db: Database.Database, id: string) => db.prepare('SELECT userid, type, secret FROM factors WHERE id = ?').get(id) as { userid: string; type: string; secret: Buffer };

  it('renames users and realms to canonical form and re-seals their secrets under the new names', () => {
    const db = oldStore();
    migrate(db, 50, MIGRATIONS, context());
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
    expect(db.prepare('SELECT userid, realm FROM users ORDER BY userid').all()).toEqual([
      { userid: 'alice@pve', realm: 'pve' },
      { userid: 'bob', realm: 'local' },
      { userid: 'carol@local', realm: 'local' },
      { userid: 'root@local', realm: 'local' },
    ]);
    expect(db.prepare('SELECT name FROM realms ORDER BY name').pluck().all()).toEqual(['local', 'pve']);
    for (const [id, purpose, plain] of [['t1', 'totp', 'JBSWY3DPEHPK3PXP'], ['r1', 'recovery', '0011223344556677'], ['y1', 'yubico', '{"aesKey":"00","privateId":"11"}']] as const) {
      const f = secretOf(db, id);
      expect(f.userid).toBe('alice@pve');
      expect(open(key, f.secret, secretContext('alice@pve', id, purpose))).toBe(plain);
      expect(open(key, f.secret, secretContext('Alice@PVE', id, purpose))).toBeNull();
    }
    // A user whose name did not change keeps their sealed secret byte for byte.
    expect(open(key, secretOf(db, 'c1').secret, secretContext('carol@local', 'c1', 'totp'))).toBe('carol secret');
    const apiKey = db.prepare("SELECT yubico_api_key FROM realms WHERE name = 'pve'").pluck().get() as Buffer;
    expect(open(key, apiKey, realmKeyContext('pve'))).toBe('api key');
    expect(db.prepare('SELECT count(*) FROM recovery_slots').pluck().get()).toBe(1);
    // The audit trail keeps what happened under the old names, and says what became of them.
    expect(db.prepare('SELECT action, target, detail FROM audit ORDER BY id').all()).toEqual([
      { action: 'user.add', target: 'Alice@PVE', detail: null },
      { action: 'realm.rename', target: 'PVE', detail: '{"to":"pve","via":"migration canonical-names"}' },
      { action: 'user.rename', target: 'Alice@PVE', detail: '{"to":"alice@pve","via":"migration canonical-names"}' },
      { action: 'user.rename', target: 'Bob', detail: '{"to":"bob","via":"migration canonical-names"}' },
    ]);
    expect(db.pragma('foreign_key_check')).toEqual([]);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  it('needs no key when no renamed name has secrets', () => {
    const db = openTemp();
    migrate(db, 1, before);
    db.prepare("INSERT INTO users (userid, realm, created, modified) VALUES ('ＤＡＶＥ@local', 'local', 1, 1)").run();
    migrate(db, 2, MIGRATIONS);
    expect(db.prepare("SELECT userid FROM users WHERE userid != 'root@local'").pluck().all()).toEqual(['dave@local']);
    db.close();
  });

  it.each([
    ['two user ids that differ only in case', ["INSERT INTO users (userid, realm, created, modified) VALUES ('alice@local', 'local', 1, 1)", "INSERT INTO users (userid, realm, created, modified) VALUES ('ALICE@local', 'local', 1, 1)"], /the user ids "ALICE@local" and "alice@local" are one name now/],
    ['two realms that differ only in case', ["INSERT INTO realms (name, created) VALUES ('Corp', 1)", "INSERT INTO realms (name, created) VALUES ('CORP', 1)"], /the realm names "CORP" and "Corp" are one name now.*'tfactl realm delete'/],
  ])('refuses %s, changing nothing', (_what, statements, message) => {
    const db = openTemp();
    migrate(db, 1, before);
    for (const sql of statements) db.prepare(sql).run();
    const rows = JSON.stringify(db.prepare('SELECT * FROM users').all());
    expect(() => migrate(db, 2, MIGRATIONS, context())).toThrow(StoreError);
    expect(() => migrate(db, 2, MIGRATIONS, context())).toThrow(message);
    expect(db.pragma('user_version', { simple: true })).toBe(index);
    expect(JSON.stringify(db.prepare('SELECT * FROM users').all())).toBe(rows);
    db.close();
  });

  it('refuses to rename users with secrets when the key file is missing, naming them and what to do', () => {
    const db = oldStore();
    const missing = () => {
      throw new StoreError('key file /nowhere/s.db.key is missing: the secrets in this store cannot be read without it (restore it, or set TFACTL_KEY_FILE)', 'key_file');
    };
    expect(() => migrate(db, 2, MIGRATIONS, context(missing))).toThrow(
      /^cannot upgrade the store: names are now kept in canonical form, so Alice@PVE to alice@pve, Bob to bob, PVE to pve must be renamed, .*key file \/nowhere\/s\.db\.key is missing.*restore it, or set TFACTL_KEY_FILE\); then run tfactl again$/,
    );
    expect(() => migrate(db, 2, MIGRATIONS)).toThrow(/no key file was given/);
    expect(db.pragma('user_version', { simple: true })).toBe(index);
    expect(db.prepare("SELECT count(*) FROM users WHERE userid = 'Alice@PVE'").pluck().get()).toBe(1);
    db.close();
  });

  it('refuses a key that does not open the secrets, changing nothing', () => {
    const db = oldStore();
    expect(() => migrate(db, 2, MIGRATIONS, context(() => randomBytes(32)))).toThrow(/does not open with the key file/);
    expect(db.pragma('user_version', { simple: true })).toBe(index);
    expect(db.prepare("SELECT name FROM realms ORDER BY name").pluck().all()).toEqual(['PVE', 'local']);
    db.close();
  });
});

describe('migration replay-ledger', () => {
  const ledger = (db: Database.Database) => db.prepare('SELECT factor_id, guard, slot, spent, userid, device FROM replay_ledger ORDER BY factor_id, guard, slot').all();

  it('seeds the ledger from what an existing store has spent', async () => {
    const { replayLedger } = await import('../../src/store/migrations/008_replay_ledger.js');
    const db = openTemp();
    migrate(db, 1, MIGRATIONS.filter((m) => m.version < replayLedger.version));
    const factor = db.prepare(
      `INSERT INTO factors (id, userid, type, created, last_step, last_counter, public_id) VALUES (?, 'root@local', ?, 1, ?, ?, ?)`,
    );
    factor.run('t-used', 'totp', 57_000_000, null, null);
    factor.run('t-new', 'totp', null, null, null);
    factor.run('y-used', 'yubico', null, 0x1234, 'cccjgjgkhcbb');
    factor.run('r', 'recovery', null, null, null);
    const slot = db.prepare('INSERT INTO recovery_slots (factor_id, slot, hash) VALUES (?, ?, ?)');
    slot.run('r', 0, 'h0');
    slot.run('r', 1, null);
    slot.run('r', 2, 'h2');
    migrate(db, 2, MIGRATIONS);
    expect(ledger(db)).toEqual([
      { factor_id: 'r', guard: 'recovery-key', slot: 1, spent: 1, userid: 'root@local', device: null },
      { factor_id: 't-used', guard: 'totp-step', slot: 0, spent: 57_000_000, userid: 'root@local', device: null },
      { factor_id: 'y-used', guard: 'yubico-counter', slot: 0, spent: 0x1234, userid: 'root@local', device: 'cccjgjgkhcbb' },
    ]);
    db.close();
  });
});

describe('the replay ledger', () => {
  it('records every step, counter and key as the store spends it, single use unchanged, and outlives the factor', async () => {
    const { openSqliteStore } = await import('../../src/store/sqlite.js');
    dir = mkdtempSync(join(tmpdir(), 'tfactl-mig-'));
    const path = join(dir, 's.db');
    const { store } = await openSqliteStore(path, { now: 1 });
    const sealed = Buffer.alloc(16);
    try {
      const params = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
      await store.insertTotpFactor({ id: 't', userid: 'root@local', description: '', created: 1, sealedSecret: sealed, params, issuer: null, lastStep: 10, verified: true, secretMark: null });
      await store.insertYubicoFactor({ id: 'y', userid: 'root@local', description: '', created: 1, publicId: 'cccjgjgkhcbb', sealedSecret: sealed, lastCounter: 5 });
      await store.putRecoverySet({ id: 'r', userid: 'root@local', description: '', created: 1, sealedSecret: sealed, hashes: ['h0', null, 'h2'] }, false);
      // Single use holds exactly as before: each guard moves once, forwards only.
      expect(await store.advanceTotpStep('t', 12, 2, null)).toBe(true);
      expect(await store.advanceTotpStep('t', 12, 2, null)).toBe(false);
      expect(await store.advanceTotpStep('t', 11, 2, null)).toBe(false);
      expect(await store.advanceYubicoCounter('y', 9, 2)).toBe(true);
      expect(await store.advanceYubicoCounter('y', 9, 2)).toBe(false);
      expect(await store.consumeRecoverySlot('r', 2, 'h2', 2)).toBe(true);
      expect(await store.consumeRecoverySlot('r', 2, 'h2', 2)).toBe(false);
      expect(await store.deleteFactors('root@local')).toBe(3);
      await store.putRecoverySet({ id: 'r2', userid: 'root@local', description: '', created: 3, sealedSecret: sealed, hashes: ['h0'] }, true);
    } finally {
      store.close();
    }
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM factors').pluck().get()).toBe(1);
    expect(db.prepare('SELECT factor_id, guard, slot, spent, userid, device FROM replay_ledger ORDER BY factor_id, guard, slot').all()).toEqual([
      // Slot 1 came already used (an imported set); the step and counter of enrolment are spent too.
      { factor_id: 'r', guard: 'recovery-key', slot: 1, spent: 1, userid: 'root@local', device: null },
      { factor_id: 'r', guard: 'recovery-key', slot: 2, spent: 1, userid: 'root@local', device: null },
      { factor_id: 't', guard: 'totp-step', slot: 0, spent: 12, userid: 'root@local', device: null },
      { factor_id: 'y', guard: 'yubico-counter', slot: 0, spent: 9, userid: 'root@local', device: 'cccjgjgkhcbb' },
    ]);
    db.close();
  });
});

describe('migration user-listing-index', () => {
  const indexes = (db: Database.Database) => db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'users' AND sql IS NOT NULL ORDER BY name").pluck().all();
  const index = MIGRATIONS.findIndex((m) => m.name === 'user-listing-index');

  it('replaces the index on realm by one on (realm, userid), which lists a realm in user order without sorting', () => {
    const db = openTemp();
    migrate(db, 1, MIGRATIONS.slice(0, index));
    expect(indexes(db)).toEqual(['users_realm']);
    migrate(db, 2, MIGRATIONS.slice(0, index + 1));
    expect(indexes(db)).toEqual(['users_realm_userid']);
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT userid FROM users WHERE realm = 'local' ORDER BY realm, userid").all() as { detail: string }[];
    expect(plan.map((r) => r.detail)).toEqual(['SEARCH users USING COVERING INDEX users_realm_userid (realm=?)']);
    db.close();
  });
});

describe('migration user-order', () => {
  it('indexes the key users are listed by, so a store from before lists by realm and name at once', () => {
    const db = openTemp();
    migrate(db, 1, MIGRATIONS.filter((m) => m.name !== 'user-order'));
    const insert = db.prepare("INSERT INTO users (userid, realm, created, modified) VALUES (?, 'local', 1, 1)");
    for (const userid of ['bob2@local', 'bob@local', 'bob.x@local']) insert.run(userid);
    migrate(db, 2, MIGRATIONS);
    const byKey = "SELECT userid FROM users ORDER BY realm || ' ' || replace(userid, '@', ' ')";
    expect(db.prepare(`EXPLAIN QUERY PLAN ${byKey}`).all()).toEqual([expect.objectContaining({ detail: 'SCAN users USING INDEX users_listing' })]);
    expect(db.prepare(byKey).pluck().all()).toEqual(['bob@local', 'bob.x@local', 'bob2@local', 'root@local']);
    db.close();
  });
});

describe('migration credentials', () => {
  const index = MIGRATIONS.findIndex((m) => m.name === 'credentials');
  const ES256_ENTRY = (() => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    return { cred_id: 'AQIDBA', cred: { type_: 'ES256', key: { EC_EC2: { curve: 'SECP256R1', x: jwk.x, y: jwk.y } } }, counter: 9 };
  })();
  const point = (() => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  })();

  it('reads the registrations an import kept as they were into columns, under the RP id and appid of the settings', () => {
    const db = openTemp();
    migrate(db, 1, MIGRATIONS.slice(0, index));
    const setting = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)');
    setting.run('webauthn.rp-id', 'pve.example.com');
    setting.run('proxmox.u2f', JSON.stringify({ appid: 'https://pve.example.com:8006' }));
    const factor = db.prepare(`INSERT INTO factors (id, userid, type, created, data) VALUES (?, 'root@local', ?, 1, ?)`);
    factor.run('w', 'webauthn', JSON.stringify(ES256_ENTRY));
    factor.run('u', 'u2f', JSON.stringify({ key: { keyHandle: 'BQYHCA' }, 'public-key': point.toString('base64') }));
    factor.run('bad', 'webauthn', JSON.stringify({ cred_id: 'AQ' }));
    migrate(db, 2, MIGRATIONS);
    const rows = db.prepare('SELECT id, credential_id, algorithm_id, rp_id, last_counter, length(public_key) AS key_bytes FROM factors ORDER BY id').all();
    expect(rows).toEqual([
      { id: 'bad', credential_id: null, algorithm_id: null, rp_id: null, last_counter: null, key_bytes: null },
      { id: 'u', credential_id: 'BQYHCA', algorithm_id: null, rp_id: 'https://pve.example.com:8006', last_counter: 0, key_bytes: 65 },
      { id: 'w', credential_id: 'AQIDBA', algorithm_id: -7, rp_id: 'pve.example.com', last_counter: 9, key_bytes: expect.any(Number) },
    ]);
    // The counters are guards of the replay ledger, like a YubiKey's.
    expect(db.prepare("SELECT factor_id, spent, device FROM replay_ledger WHERE guard = 'webauthn-counter' ORDER BY factor_id").all()).toEqual([
      { factor_id: 'u', spent: 0, device: 'BQYHCA' },
      { factor_id: 'w', spent: 9, device: 'AQIDBA' },
    ]);
    // A credential id is unique per user.
    expect(() => factor.run('w2', 'webauthn', null) && db.prepare("UPDATE factors SET credential_id = 'AQIDBA' WHERE id = 'w2'").run()).toThrow(/UNIQUE/);
    db.close();
  });
});

describe('migration 14 (totp-issuer)', () => {
  it('gives TOTP factors an issuer column, null for those enrolled before it (the setting stands in)', () => {
    const db = openTemp();
    migrate(db, 1, MIGRATIONS.slice(0, 13));
    db.prepare("INSERT INTO factors (id, userid, type, created, secret, algorithm, digits, period, last_step) VALUES ('t', 'root@local', 'totp', 1, x'00', 'SHA1', 6, 30, 7)").run();
    migrate(db, 2, MIGRATIONS.slice(0, 14));
    expect(db.pragma('user_version', { simple: true })).toBe(14);
    expect(db.prepare("SELECT id, digits, last_step, issuer FROM factors").all()).toEqual([{ id: 't', digits: 6, last_step: 7, issuer: null }]);
    db.close();
  });
});
