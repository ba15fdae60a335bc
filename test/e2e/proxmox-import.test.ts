import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowSeconds, oathtool, oneLineError, TempStore } from './harness.js';

/** An import of Proxmox VE's user.cfg, tfa.cfg and domains.cfg, written as Proxmox writes them. */
const store = new TempStore();
afterAll(() => store.remove());
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const step = Math.floor(nowSeconds() / 30);
const PW = 'imported user password';

const uri = (user: string) => `otpauth://totp/Proxmox%20VE%20-%20pve1:${encodeURIComponent(user)}?secret=${SECRET}&digits=6&algorithm=SHA1&period=30&issuer=Proxmox%20VE%20-%20pve1`;
const tfaCfg = JSON.stringify({
  users: {
    'alice@pve': {
      totp: [{ id: 'a1', description: 'phone', created: 1700000000, entry: { totp: uri('alice@pve'), 'last-count': step } }],
      recovery: {
        secret: '0011223344556677',
        entries: ['6ddff9ef3a11c7a64439faffddf663ac89b4a5e6bf5b14bd7189211ce71003a7', null],
        created: 1700000100,
      },
    },
    'bob@pve': {
      webauthn: [{ id: 'w1', description: 'yubikey 5', created: 1700000000, entry: { cred: { type: 'ES256' } } }],
      'totp-locked': true,
    },
    'gone@pve': { totp: [{ id: 'g1', description: 'old', created: 1700000000, entry: uri('gone@pve') }] },
  },
});
const userCfg = [
  'user:root@pam:1:0:::root@example.org:::',
  'user:alice@pve:1:0:Alice:Liddell:alice@example.org:Wonderland::',
  'user:bob@pve:1:0:::::',
  'user:carol@corp:1:0:::::GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ:',
  'group:admins:alice@pve::',
  'acl:1:/:@admins:Administrator:',
  '',
].join('\n');
const domainsCfg = ['pve: pve', '\tcomment Proxmox VE authentication server', '', 'pam: pam', '', 'ad: corp', '\tserver1 dc.example.org', '\tdomain example.org', '\ttfa type=oath,digits=6,step=30', ''].join('\n');

let files: { tfa: string; user: string; domains: string };
beforeAll(async () => {
  await store.run(['init']);
  files = { tfa: join(store.dir, 'tfa.cfg'), user: join(store.dir, 'user.cfg'), domains: join(store.dir, 'domains.cfg') };
  writeFileSync(files.tfa, tfaCfg);
  writeFileSync(files.user, userCfg);
  writeFileSync(files.domains, domainsCfg);
});

const importArgs = () => ['import', 'proxmox', '--tfa-cfg', files.tfa, '--user-cfg', files.user, '--domains-cfg', files.domains];

describe('import proxmox', () => {
  it('shows what it would do with --dry-run and changes nothing', async () => {
    const before = store.snapshot();
    const r = await store.run([...importArgs(), '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const plan = r.json().result;
    expect(plan.realms).toEqual([
      { name: 'corp', action: 'create', enforce: 'totp' },
      { name: 'pam', action: 'create', enforce: 'none' },
      { name: 'pve', action: 'create', enforce: 'none' },
    ]);
    expect(plan.users.map((u: { userid: string }) => u.userid)).toEqual(['root@pam', 'alice@pve', 'bob@pve', 'carol@corp']);
    expect(r.json().warnings).toEqual(expect.arrayContaining([expect.stringContaining('gone@pve, who is not in user.cfg')]));
    expect(store.snapshot()).toBe(before);
  });

  it('imports realms, users and factors in one go', async () => {
    const r = await store.run([...importArgs(), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const alice = r.json().result.users.find((u: { userid: string }) => u.userid === 'alice@pve');
    expect(alice).toMatchObject({ totp: 1, recoveryKeysLeft: 1 });
    const realm = await store.run(['realm', 'show', 'corp', '--json']);
    expect(realm.json().result).toMatchObject({ enforce: 'totp', totp: { digits: 6, period: 30, algorithm: 'SHA1' } });
    const shown = await store.run(['user', 'show', 'alice@pve', '--json']);
    expect(shown.json().result).toMatchObject({ email: 'alice@example.org', comment: 'Alice Liddell, Wonderland', password: false });
    expect(store.auditRows().some((a) => a.action === 'import.proxmox' && a.outcome === 'ok')).toBe(true);
  });

  it('keeps TOTP last-count as the replay guard and recovery hashes working', async () => {
    expect((await store.run(['user', 'passwd', 'alice@pve', '--password-stdin'], { input: `${PW}\n` })).code).toBe(0);
    const login = (code: string) => store.run(['login', 'alice@pve', '--password-stdin', '--code', code], { input: `${PW}\n` });
    expect((await login(oathtool(SECRET, { epoch: step * 30 }))).code).toBe(5);
    expect((await login(oathtool(SECRET, { epoch: (step + 1) * 30 }))).code).toBe(0);
    expect((await login('0123-4567-89ab-cdef')).code).toBe(0);
    expect((await login('0123-4567-89ab-cdef')).code).toBe(5);
  });

  it('turns the legacy keys field into TOTP factors with the realm\'s parameters, and keeps locks and WebAuthn', async () => {
    const carol = await store.run(['tfa', 'list', 'carol@corp', '--json']);
    expect(carol.json().result[0].factors).toEqual([expect.objectContaining({ type: 'totp', totp: { algorithm: 'SHA1', digits: 6, period: 30 } })]);
    const bob = await store.run(['tfa', 'list', 'bob@pve', '--json']);
    expect(bob.json().result[0]).toMatchObject({ lock: { totp: true }, factors: [expect.objectContaining({ type: 'webauthn', description: 'yubikey 5' })] });
  });

  it('refuses to import over existing users, and damaged files, importing nothing', async () => {
    const before = store.snapshot();
    const again = await store.run(importArgs());
    expect(again.code).toBe(4);
    expect(oneLineError(again)).toContain('already in the store');
    const bad = join(store.dir, 'bad-tfa.cfg');
    writeFileSync(bad, '{"users": {"x@pve": {"totp": [ {"id": 1} ]}}');
    const damaged = await store.run(['import', 'proxmox', '--tfa-cfg', bad, '--user-cfg', files.user]);
    expect(damaged.code).toBe(2);
    oneLineError(damaged);
    const badUser = join(store.dir, 'bad-user.cfg');
    writeFileSync(badUser, 'user:new@pve:1:0:::::\nuser:broken\n');
    const damagedUser = await store.run(['import', 'proxmox', '--tfa-cfg', files.tfa, '--user-cfg', badUser]);
    expect(damagedUser.code).toBe(2);
    expect(oneLineError(damagedUser)).toMatch(/user\.cfg line 2/);
    expect(store.snapshot()).toBe(before);
  });
});

describe('import proxmox under concurrency', () => {
  it('lets exactly one of two concurrent imports through, without duplicate factors', async () => {
    const s = new TempStore();
    try {
      await s.run(['init']);
      const args = ['import', 'proxmox', '--tfa-cfg', files.tfa, '--user-cfg', files.user, '--domains-cfg', files.domains];
      const results = await Promise.all([s.run(args), s.run(args), s.run(args)]);
      expect(results.map((r) => r.code).sort()).toEqual([0, 4, 4]);
      expect(s.query("SELECT * FROM factors WHERE userid = 'alice@pve' AND type = 'totp'")).toHaveLength(1);
    } finally {
      s.remove();
    }
  });
});

describe('import proxmox with 7-digit TOTP (Proxmox allows 6 to 8)', () => {
  it('imports a 7-digit realm and entry, and the entry signs in with oathtool -d 7 codes', async () => {
    const s = new TempStore();
    try {
      await s.run(['init']);
      const seven = `otpauth://totp/Proxmox%20VE:dan%40seven?secret=${SECRET}&digits=7&algorithm=SHA1&period=30`;
      const tfa = join(s.dir, 'tfa.cfg');
      const user = join(s.dir, 'user.cfg');
      const domains = join(s.dir, 'domains.cfg');
      writeFileSync(tfa, JSON.stringify({ users: { 'dan@seven': { totp: [{ id: 'd1', description: 'token', created: 1700000000, entry: seven }] } } }));
      writeFileSync(user, 'user:dan@seven:1:0:::::\n');
      writeFileSync(domains, 'ldap: seven\n\tbase_dn dc=example,dc=org\n\tuser_attr uid\n\ttfa type=oath,digits=7,step=30\n');
      const r = await s.run(['import', 'proxmox', '--tfa-cfg', tfa, '--user-cfg', user, '--domains-cfg', domains, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect((await s.run(['realm', 'show', 'seven', '--json'])).json().result).toMatchObject({ enforce: 'totp', totp: { digits: 7 } });
      expect((await s.run(['user', 'passwd', 'dan@seven', '--password-stdin'], { input: `${PW}\n` })).code).toBe(0);
      const code = oathtool(SECRET, { digits: 7 });
      expect(code).toMatch(/^[0-9]{7}$/);
      const ok = await s.login('dan@seven', PW, code);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.json().result.method).toBe('totp');
    } finally {
      s.remove();
    }
  });
});
