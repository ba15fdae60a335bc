import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKeyFile } from '../../src/store/keyfile.js';
import { BEFORE_CANONICAL_NAMES, storeBeforeCanonicalNames } from '../fixtures/old-store.js';
import { nowSeconds, oathtool, oneLineError, TempStore } from './harness.js';

/** Names that look alike are one name: canonical ids, and no new names that pass for others. */
const store = new TempStore();
afterAll(() => store.remove());
const PW = 'names test password';

beforeAll(async () => {
  await store.run(['init']);
  await store.addUser('alice', PW);
});

describe('user ids and realm names in canonical form', () => {
  it.each([
    [['realm', 'add', 'LOCAL'], 'error: realm local already exists'],
    [['realm', 'add', 'ｌｏｃａｌ'], 'error: realm local already exists'],
    [['user', 'add', 'ROOT@LOCAL', '--no-password'], 'error: user root@local already exists'],
    [['user', 'add', 'ｒｏｏｔ', '--no-password'], 'error: user root@local already exists'],
    [['user', 'add', 'Alice@Local', '--no-password'], 'error: user alice@local already exists'],
  ])('%j is refused: %s (exit 4)', async (args, message) => {
    const before = store.snapshot();
    const r = await store.run(args);
    expect(r.code).toBe(4);
    expect(oneLineError(r)).toBe(message);
    expect(store.snapshot()).toBe(before);
  });

  it('signs in and looks up users however their id is spelt', async () => {
    const r = await store.login('ALICE', PW);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.userid).toBe('alice@local');
    const shown = await store.run(['user', 'show', 'ＡＬＩＣＥ@LOCAL', '--json']);
    expect(shown.json().result.userid).toBe('alice@local');
    const asAlice = await store.runAs('Alice', PW, ['user', 'show', 'alice', '--json']);
    expect(asAlice.code, asAlice.stderr).toBe(0);
  });

  it('creates realms and users in canonical form', async () => {
    expect((await store.run(['realm', 'add', 'Corp.EU'])).code).toBe(0);
    const r = await store.run(['user', 'add', 'Bob@CORP.eu', '--no-password', '--json']);
    expect(r.json().result.user).toMatchObject({ userid: 'bob@corp.eu', realm: 'corp.eu' });
    expect(store.query("SELECT userid, realm FROM users WHERE userid LIKE 'bob%'")).toEqual([{ userid: 'bob@corp.eu', realm: 'corp.eu' }]);
    const csv = join(store.dir, 'dupes.csv');
    writeFileSync(csv, 'userid\nCarol@corp.eu\nCAROL@Corp.EU\n');
    const imported = await store.run(['user', 'import', csv, '--json']);
    expect(imported.json().result.results.map((x: { status: string; error?: string }) => x.error ?? x.status)).toEqual([
      'created',
      'line 3: carol@corp.eu already appears on line 2',
    ]);
  });

  it('refuses a user id that is not valid Unicode', async () => {
    const csv = join(store.dir, 'bytes.csv');
    writeFileSync(csv, Buffer.concat([Buffer.from('userid\n'), Buffer.from('j\xf6rg\n', 'latin1')]));
    const r = await store.run(['user', 'import', csv, '--json']);
    expect(r.code).toBe(2);
    expect(r.json().result.results[0]).toMatchObject({ status: 'failed', error: 'line 2: the userid field is not valid UTF-8 (or holds a lone surrogate)' });
    const jsonl = join(store.dir, 'surrogate.jsonl');
    writeFileSync(jsonl, '{"userid":"al\\ud800ice"}\n');
    const lone = await store.run(['user', 'import', jsonl, '--json']);
    expect(lone.json().result.results[0].status).toBe('failed');
    expect(store.query("SELECT userid FROM users WHERE userid LIKE 'al%ice%' OR userid LIKE 'j%rg%'")).toEqual([{ userid: 'alice@local' }]);
  });
});

describe('new names that could pass for others', () => {
  it.each([
    ['rооt@local', 'mixes scripts (Cyrillic, Latin)'],
    ['аlice', 'mixes scripts (Cyrillic, Latin)'],
    ['ολγα', 'holds U+03BF (ο), which looks like an ASCII character'],
  ])('user add %s is refused (exit 4): it %s', async (userid, reason) => {
    const before = store.snapshot();
    const r = await store.run(['user', 'add', userid, '--no-password']);
    expect(r.code).toBe(4);
    expect(oneLineError(r)).toContain(`${reason}, so it could pass for another; the setting names.allow-confusable allows such names`);
    expect(store.snapshot()).toBe(before);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'user.add', outcome: 'refused' });
  });

  it('lets plain accented Latin and single-script names in', async () => {
    for (const userid of ['josé', 'Müller', '王伟', 'たなか太郎']) {
      const r = await store.run(['user', 'add', userid, '--no-password']);
      expect(r.code, `${userid}: ${r.stderr}`).toBe(0);
    }
  });

  it('refuses such rows in user import and such users in import proxmox', async () => {
    const csv = join(store.dir, 'lookalike.csv');
    writeFileSync(csv, 'userid\nрaul\nzoe\n');
    const r = await store.run(['user', 'import', csv, '--json']);
    expect(r.json().result.results.map((x: { status: string; error?: string }) => x.error ?? x.status)).toEqual([
      expect.stringMatching(/^line 2: the user name of рaul@local mixes scripts \(Cyrillic, Latin\)/),
      'created',
    ]);
    const tfa = join(store.dir, 'tfa.cfg');
    const user = join(store.dir, 'user.cfg');
    writeFileSync(tfa, '');
    writeFileSync(user, 'user:fine@pve:1:0:::::\nuser:аdmin@pve:1:0:::::\n');
    const before = store.snapshot();
    const px = await store.run(['import', 'proxmox', '--tfa-cfg', tfa, '--user-cfg', user]);
    expect(px.code).toBe(4);
    expect(oneLineError(px)).toMatch(/^error: user\.cfg line 2: the user name of аdmin@pve mixes scripts \(Cyrillic, Latin\).*nothing imported$/);
    expect(store.snapshot()).toBe(before);
  });

  it('allows them once the store setting names.allow-confusable says so; lookups never check', async () => {
    expect((await store.run(['settings', 'set', 'names.allow-confusable', 'true'])).code).toBe(0);
    expect((await store.run(['user', 'add', 'rооt', '--no-password'])).code).toBe(0);
    expect((await store.run(['settings', 'set', 'names.allow-confusable', 'false'])).code).toBe(0);
    const shown = await store.run(['user', 'show', 'RООT', '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.json().result.userid).toBe('rооt@local');
    expect((await store.run(['settings', 'set', 'names.allow-confusable', 'maybe'])).code).toBe(2);
  });
});

describe('a store from before canonical names', () => {
  const { password: OLD_PW, secret: SECRET, recoveryKey: RECOVERY_KEY } = BEFORE_CANONICAL_NAMES;

  /** What an older tfactl made, at the schema before the migration: Alice@PVE with TOTP and recovery keys. */
  async function oldStore(extraSql: readonly string[] = []): Promise<TempStore> {
    const old = new TempStore();
    await storeBeforeCanonicalNames(old.db, `${old.db}.key`, extraSql);
    return old;
  }

  it('is upgraded: Alice@PVE becomes alice@pve and signs in with a code from oathtool and a recovery key', async () => {
    const old = await oldStore();
    try {
      const r = await old.login('alice@pve', OLD_PW, oathtool(SECRET, { epoch: nowSeconds() }));
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().result).toMatchObject({ userid: 'alice@pve', method: 'totp' });
      expect(old.query('SELECT userid, realm FROM users ORDER BY userid')).toEqual([
        { userid: 'alice@pve', realm: 'pve' },
        { userid: 'root@local', realm: 'local' },
      ]);
      expect(old.query('SELECT name FROM realms ORDER BY name')).toEqual([{ name: 'local' }, { name: 'pve' }]);
      const again = await old.login('ALICE@PVE', OLD_PW, RECOVERY_KEY);
      expect(again.code, again.stderr).toBe(0);
      expect(again.json().result).toMatchObject({ userid: 'alice@pve', method: 'recovery' });
      // History stays as written, with what became of the old names.
      expect(old.auditRows().slice(0, 3)).toEqual([
        expect.objectContaining({ action: 'user.add', target: 'Alice@PVE' }),
        expect.objectContaining({ action: 'realm.rename', target: 'PVE' }),
        expect.objectContaining({ action: 'user.rename', target: 'Alice@PVE', detail: '{"to":"alice@pve","via":"migration canonical-names"}' }),
      ]);
    } finally {
      old.remove();
    }
  });

  it('is not upgraded while its key file is missing: exit 6, naming the ids and what to do', async () => {
    const old = await oldStore();
    try {
      renameSync(`${old.db}.key`, `${old.db}.key.away`);
      const r = await old.run(['user', 'list']);
      expect(r.code).toBe(6);
      expect(oneLineError(r)).toBe(
        `error: cannot upgrade the store: names are now kept in canonical form, so Alice@PVE to alice@pve, PVE to pve must be renamed, and secrets are sealed to the old names: key file ${old.db}.key is missing: the secrets in this store cannot be read without it (restore it, or set TFACTL_KEY_FILE); then run tfactl again`,
      );
      expect(old.query('SELECT userid FROM users ORDER BY userid')).toEqual([{ userid: 'Alice@PVE' }, { userid: 'root@local' }]);
      const moved = await old.run(['user', 'list', '--json'], { env: { TFACTL_KEY_FILE: `${old.db}.key.away` } });
      expect(moved.code, moved.stderr).toBe(0);
      expect(moved.json().result.map((u: { userid: string }) => u.userid)).toEqual(['root@local', 'alice@pve']);
    } finally {
      old.remove();
    }
  });

  it('is not upgraded while two ids are one in canonical form: exit 6, naming both', async () => {
    const old = await oldStore(["INSERT INTO users (userid, realm, created, modified) VALUES ('alice@PVE', 'PVE', 1, 1)"]);
    try {
      const r = await old.run(['user', 'list']);
      expect(r.code).toBe(6);
      expect(oneLineError(r)).toBe(
        `error: cannot upgrade the store: the user ids "Alice@PVE" and "alice@PVE" are one name now that names ignore case and width; remove all but one with the tfactl that made this store ('tfactl user delete'), then run this one again`,
      );
    } finally {
      old.remove();
    }
  });

  it('restoring a backup from before canonical names brings it up to date, secrets included', async () => {
    const old = await oldStore();
    const target = new TempStore();
    try {
      // The backup must belong to the target's key file: use the old store's key for both.
      mkdirSync(dirname(target.db), { recursive: true, mode: 0o700 });
      writeFileSync(`${target.db}.key`, `tfactl-key-v1:${readKeyFile(`${old.db}.key`).toString('base64')}\n`, { mode: 0o600 });
      expect((await target.run(['init'])).code).toBe(0);
      const r = await target.run(['restore', old.db, '--yes']);
      expect(r.code, r.stderr).toBe(0);
      const login = await target.login('Alice@pve', OLD_PW, oathtool(SECRET, { epoch: nowSeconds() }));
      expect(login.code, login.stderr).toBe(0);
      expect(login.json().result.userid).toBe('alice@pve');
    } finally {
      old.remove();
      target.remove();
    }
  });
});
