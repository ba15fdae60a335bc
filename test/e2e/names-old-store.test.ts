import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKeyFile } from '../../src/store/keyfile.js';
import { BEFORE_CANONICAL_NAMES, storeBeforeCanonicalNames } from '../fixtures/old-store.js';
import { nowSeconds, oathtool, oneLineError, TempStore } from './harness.js';

// A SQLite store file an older tfactl wrote, before user ids and realm names were kept in canonical
// form, opened (and so upgraded) as it is. A PostgreSQL store never had that schema: a backup of
// such a store restored into PostgreSQL is test/e2e/postgres.test.ts's.

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
