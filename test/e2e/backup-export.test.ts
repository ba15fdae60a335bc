import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLineError, TempStore } from './harness.js';

const store = new TempStore();
afterAll(() => store.remove());
const PW = 'backup test password';

beforeAll(async () => {
  await store.run(['init']);
  await store.run(['user', 'add', 'adm', '--admin', '--password-stdin'], { input: `${PW}\n` });
  await store.run(['user', 'add', 'bea', '--no-password', '--tfa', 'totp', '--totp-secret', 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP']);
});

describe('backup and restore', () => {
  it('takes a consistent 0600 snapshot while other processes keep writing, and says to keep the key file', async () => {
    const file = join(store.dir, 'snap.db');
    const writers = Promise.all(Array.from({ length: 10 }, (_, i) => store.run(['user', 'add', `w${i}`, '--no-password'])));
    const r = await store.run(['backup', file, '--json']);
    await writers;
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().warnings[0]).toContain(`${store.db}.key`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const db = new Database(file, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    const again = await store.run(['backup', file]);
    expect(again.code).toBe(4);
  });

  it('restores the snapshot, replacing what changed since', async () => {
    const file = join(store.dir, 'before-cleo.db');
    await store.run(['backup', file]);
    await store.run(['user', 'add', 'cleo', '--no-password']);
    const r = await store.run(['restore', file, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(store.query("SELECT userid FROM users WHERE userid = 'cleo@local'")).toEqual([]);
    expect(store.query("SELECT userid FROM users WHERE userid = 'bea@local'")).toHaveLength(1);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'store.restore', outcome: 'ok' });
    const login = await store.run(['login', 'adm', '--password-stdin'], { input: `${PW}\n` });
    expect(login.code).toBe(0);
  });

  it('refuses a damaged file, a foreign store and a non-root actor, changing nothing', async () => {
    const before = store.snapshot();
    const junk = join(store.dir, 'junk.db');
    writeFileSync(junk, 'not a database'.repeat(500));
    const damaged = await store.run(['restore', junk, '--yes']);
    expect(damaged.code).toBe(6);
    expect(oneLineError(damaged)).toContain('damaged');
    const other = new TempStore();
    await other.run(['init']);
    const foreign = await store.run(['restore', other.db, '--yes']);
    expect(foreign.code).toBe(4);
    expect(oneLineError(foreign)).toContain('another key file');
    other.remove();
    const asAdmin = await store.runAs('adm', PW, ['restore', join(store.dir, 'snap.db'), '--yes']);
    expect(asAdmin.code).toBe(4);
    const noYes = await store.run(['restore', join(store.dir, 'snap.db')]);
    expect(noYes.code).toBe(2);
    expect(store.snapshot()).toBe(before);
  });
});

describe('export', () => {
  it('exports TOTP secrets as CSV and URIs that oathtool agrees with, audited', async () => {
    const csv = await store.run(['export', 'totp']);
    expect(csv.code).toBe(0);
    const [header, ...rows] = csv.stdout.trim().split('\n');
    expect(header).toBe('userid,id,description,enabled,secret,algorithm,digits,period,uri');
    expect(rows).toEqual([expect.stringMatching(/^bea@local,[0-9a-f-]{36},TOTP,true,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP,SHA1,6,30,otpauth:/)]);
    expect(csv.stderr).toContain('plain text');
    const uri = await store.run(['export', 'totp', '--format', 'uri']);
    expect(uri.stdout).toMatch(/^otpauth:\/\/totp\/.*:bea%40local\?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&/);
    expect(store.auditRows().filter((a) => a.action === 'export.totp')).toHaveLength(2);
  });

  it('writes one decodable QR code a factor with png-dir', async () => {
    const dir = join(store.dir, 'qr');
    const r = await store.run(['export', 'totp', '--format', 'png-dir', '--output', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result).toEqual({ output: dir, format: 'png-dir', factors: 1 });
    expect(r.stdout).not.toContain('JBSWY3DP');
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const decoded = spawnSync('zbarimg', ['--raw', '-q', join(dir, files[0]!)], { encoding: 'utf8' }).stdout.trim();
    const uri = (await store.run(['export', 'totp', '--format', 'uri'])).stdout.trim();
    expect(decoded).toBe(uri);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('keeps root@local\'s secrets from admins and everything from ordinary users', async () => {
    await store.run(['tfa', 'add', 'totp', 'root@local', '--no-verify']);
    const root = await store.run(['export', 'totp', '--json']);
    expect(root.json().result.map((e: { userid: string }) => e.userid)).toContain('root@local');
    const admin = await store.runAs('adm', PW, ['export', 'totp', '--json']);
    expect(admin.json().result.map((e: { userid: string }) => e.userid)).toEqual(['bea@local']);
    await store.run(['user', 'add', 'plain', '--password-stdin'], { input: `${PW}\n` });
    expect((await store.runAs('plain', PW, ['export', 'totp'])).code).toBe(4);
  });

  it('exports users and factor metadata without hashes or secrets', async () => {
    const r = await store.run(['export', 'users', '--json']);
    expect(r.code).toBe(0);
    const text = r.stdout;
    expect(text).not.toContain('argon2');
    expect(text).not.toContain('JBSWY3DP');
    const bea = r.json().result.users.find((u: { userid: string }) => u.userid === 'bea@local');
    expect(bea.factors).toEqual([expect.objectContaining({ type: 'totp', enabled: true })]);
    const file = join(store.dir, 'out.csv');
    await store.run(['export', 'totp', '--output', file]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain('bea@local');
  });
});

describe('restore after use', () => {
  it('keeps codes and keys used since the backup used, and keeps the audit trail since', async () => {
    const s = new TempStore();
    try {
      await s.run(['user', 'add', 'rui', '--password-stdin'], { input: `${PW}\n` });
      const keys = (await s.run(['tfa', 'add', 'recovery', 'rui', '--json'])).json().result.keys as string[];
      const file = join(s.dir, 'before-use.db');
      expect((await s.run(['backup', file])).code).toBe(0);
      const use = () => s.run(['login', 'rui', '--password-stdin', '--code', keys[0]!], { input: `${PW}\n` });
      expect((await use()).code).toBe(0);
      expect((await s.run(['restore', file, '--yes'])).code).toBe(0);
      expect((await use()).code).toBe(5);
      const logins = s.auditRows().filter((a) => a.action === 'login' && a.target === 'rui@local').map((a) => a.outcome);
      expect(logins).toEqual(['ok', 'failed']);
    } finally {
      s.remove();
    }
  });

  it('never lets a recovery key work twice when sign-ins race with the restore', async () => {
    const s = new TempStore();
    try {
      await s.run(['user', 'add', 'rio', '--password-stdin'], { input: `${PW}\n` });
      const keys = (await s.run(['tfa', 'add', 'recovery', 'rio', '--json'])).json().result.keys as string[];
      const file = join(s.dir, 'race.db');
      expect((await s.run(['backup', file])).code).toBe(0);
      const use = (key: string) => s.run(['login', 'rio', '--password-stdin', '--code', key], { input: `${PW}\n` });
      // Six sign-ins, each with its own key, started around a restore from before any was used.
      const racing = keys.slice(0, 6);
      const [restore, ...logins] = await Promise.all([
        new Promise<Awaited<ReturnType<typeof use>>>((r) => setTimeout(() => r(s.run(['restore', file, '--yes'])), 40)),
        ...racing.map((k, i) => new Promise<Awaited<ReturnType<typeof use>>>((r) => setTimeout(() => r(use(k)), i * 15))),
      ]);
      expect(restore!.code, restore!.stderr).toBe(0);
      const succeeded = racing.filter((_, i) => logins[i]!.code === 0);
      expect(succeeded.length).toBeGreaterThan(0);
      // Whatever landed before, during or after the restore: a key that signed in is spent.
      for (const key of succeeded) expect((await use(key)).code, key).toBe(5);
      expect(readdirSync(join(s.dir, 'store')).filter((f) => f.startsWith('.restore-'))).toEqual([]);
    } finally {
      s.remove();
    }
  });

  it('is refused to admins, like restore', async () => {
    const r = await store.runAs('adm', PW, ['backup', join(store.dir, 'by-admin.db')]);
    expect(r.code).toBe(4);
  });

  it('says a backup file that does not exist is not found (exit 3)', async () => {
    expect((await store.run(['restore', join(store.dir, 'nope.db'), '--yes'])).code).toBe(3);
  });
});
