import { generateKeyPairSync } from 'node:crypto';
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

// A WebAuthn credential as PVE 7/8 wrote it (byte strings as lists of byte values), with a real P-256 key.
const P256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
const bytesOf = (b64url: string) => [...Buffer.from(b64url, 'base64url')];
const WEBAUTHN_ENTRY = { cred_id: [9, 8, 7, 6], cred: { type_: 'ECDSA_SHA256', key: { EC_EC2: { curve: 'SECP256R1', x: bytesOf(P256.x!), y: bytesOf(P256.y!) } } }, counter: 12 };

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
      // A lock that ran out long ago: Proxmox keeps the time.
      'tfa-locked-until': 1700000200,
    },
    'bob@pve': {
      webauthn: [{ id: 'w1', description: 'yubikey 5', created: 1700000000, entry: WEBAUTHN_ENTRY }],
      'totp-locked': true,
      // Locked for good (2100): kept, and shown.
      'tfa-locked-until': 4102444800,
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
    expect(plan.users.map((u: { totpLocked: boolean; lockedUntil: string | null }) => [u.totpLocked, u.lockedUntil])).toEqual([
      [false, null],
      [false, null],
      [true, '2100-01-01T00:00:00Z'],
      [false, null],
    ]);
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

  it('keeps the issuer of each imported TOTP entry, so export totp gives back Proxmox\'s URI', async () => {
    const listed = (await store.run(['tfa', 'list', 'alice@pve', '--json'])).json().result[0].factors;
    expect(listed.filter((f: { type: string }) => f.type === 'totp').map((f: { totp: { issuer: string } }) => f.totp.issuer)).toEqual(['Proxmox VE - pve1']);
    const exported = (await store.run(['export', 'totp', '--json'])).json().result.find((e: { userid: string }) => e.userid === 'alice@pve');
    expect(exported).toMatchObject({ issuer: 'Proxmox VE - pve1', secret: SECRET });
    expect(exported.uri).toMatch(/^otpauth:\/\/totp\/Proxmox%20VE%20-%20pve1:alice%40pve\?secret=/);
  });

  it('turns the legacy keys field into TOTP factors with the realm\'s parameters, and keeps locks and WebAuthn', async () => {
    const carol = await store.run(['tfa', 'list', 'carol@corp', '--json']);
    // A realm key named no issuer: the totp.issuer setting stands in for it.
    expect(carol.json().result[0].factors).toEqual([expect.objectContaining({ type: 'totp', totp: { algorithm: 'SHA1', digits: 6, period: 30, issuer: null } })]);
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
    // An empty file (cut off, or the wrong one) imports nothing, and says so, rather than "imported 0".
    const empty = join(store.dir, 'empty.cfg');
    writeFileSync(empty, '\n  \n');
    const r = await store.run(['import', 'proxmox', '--tfa-cfg', files.tfa, '--user-cfg', empty, '--json']);
    expect({ code: r.code, error: r.json().error.code }).toEqual({ code: 2, error: 'invalid_proxmox_config' });
    expect(r.json().error.message).toMatch(/^the --user-cfg file .*empty\.cfg is empty: a file cut off, or the wrong one \(Proxmox's user\.cfg holds root@pam at least\)$/);
    // A realm that would pass for another, as realm add refuses it: root@lo-cal is not root@local.
    const lookalike = join(store.dir, 'lookalike-user.cfg');
    writeFileSync(lookalike, 'user:root@lo-cal:1:0:::::\n');
    writeFileSync(bad, '{"users": {}}');
    for (const extra of [['--dry-run'], []]) {
      const r = await store.run(['import', 'proxmox', '--tfa-cfg', bad, '--user-cfg', lookalike, ...extra, '--json']);
      expect({ code: r.code, error: r.json().error }).toEqual({
        code: 4,
        error: { code: 'confusable_name', message: "realm lo-cal would pass for realm local: they differ only in '.', '-' or '_'; nothing imported" },
      });
    }
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
      expect(s.factorsOf('alice@pve').filter((f) => f['type'] === 'totp')).toHaveLength(1);
    } finally {
      s.remove();
    }
  });
});

describe('import proxmox of one TOTP secret twice for a user', () => {
  it('imports it once (enabled, at the later used step), warning, so one code signs in once', async () => {
    const s = new TempStore();
    try {
      await s.run(['init']);
      const entry = (id: string, enabled: boolean, last: number) => ({ id, description: id, created: 1700000000, enable: enabled, entry: { totp: uri('eve@pve'), 'last-count': last } });
      const tfa = join(s.dir, 'tfa.cfg');
      const user = join(s.dir, 'user.cfg');
      writeFileSync(tfa, JSON.stringify({ users: { 'eve@pve': { totp: [entry('old', false, 5), entry('phone', true, 7)] } } }));
      writeFileSync(user, 'user:eve@pve:1:0:::::\n');
      const r = await s.run(['import', 'proxmox', '--tfa-cfg', tfa, '--user-cfg', user, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().warnings).toContain('eve@pve has 2 TOTP entries but 1 secret in the files: each secret is imported once (its codes would otherwise work once per copy)');
      const totp = s.factorsOf('eve@pve').filter((f) => f['type'] === 'totp');
      expect(totp).toHaveLength(1);
      expect(totp[0]).toMatchObject({ enabled: true });
      expect((await s.run(['user', 'passwd', 'eve@pve', '--password-stdin'], { input: `${PW}\n` })).code).toBe(0);
      const code = oathtool(SECRET);
      const logins = await Promise.all([s.login('eve@pve', PW, code), s.login('eve@pve', PW, code)]);
      expect(logins.map((l) => l.code).sort()).toEqual([0, 5]);
    } finally {
      s.remove();
    }
  });
});

describe('import proxmox of a TOTP last-count still to come (a clock that ran ahead, a damaged file)', () => {
  it('holds it to now, warning: the factor signs in, and the store\'s backup restores', async () => {
    const s = new TempStore();
    try {
      await s.run(['init']);
      const tfa = join(s.dir, 'tfa.cfg');
      const user = join(s.dir, 'user.cfg');
      const ahead = step + 1_000_000;
      writeFileSync(tfa, JSON.stringify({ users: { 'fay@pve': { totp: [{ id: 'f1', description: 'phone', created: 1700000000, entry: { totp: uri('fay@pve'), 'last-count': ahead } }] } } }));
      writeFileSync(user, 'user:fay@pve:1:0:::::\n');
      const r = await s.run(['import', 'proxmox', '--tfa-cfg', tfa, '--user-cfg', user, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().warnings).toContainEqual(expect.stringMatching(new RegExp(`^tfa\\.cfg: the TOTP entry f1 of fay@pve was last used at step ${ahead}, a time still to come \\(a clock that ran ahead\\?\\): kept as step \\d+, now$`)));
      expect((await s.run(['user', 'passwd', 'fay@pve', '--password-stdin'], { input: `${PW}\n` })).code).toBe(0);
      // A code of the next step signs in (the current one may be the step it was held to).
      expect((await s.login('fay@pve', PW, oathtool(SECRET, { epoch: nowSeconds() + 30 }))).code).toBe(0);
      const backup = join(s.dir, 'b.db');
      expect((await s.run(['backup', backup])).code).toBe(0);
      const dry = await s.run(['restore', backup, '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      // One a day ahead at most is kept as it is (a host a little ahead).
      const near = Math.floor((nowSeconds() + 3600) / 30);
      writeFileSync(tfa, JSON.stringify({ users: { 'gil@pve': { totp: [{ id: 'g1', description: 'phone', created: 1700000000, entry: { totp: uri('gil@pve'), 'last-count': near } }] } } }));
      writeFileSync(user, 'user:gil@pve:1:0:::::\n');
      const kept = await s.run(['import', 'proxmox', '--tfa-cfg', tfa, '--user-cfg', user, '--json']);
      expect(kept.code, kept.stderr).toBe(0);
      expect(kept.json().warnings.filter((w: string) => w.includes('still to come'))).toEqual([]);
      expect((await s.run(['user', 'passwd', 'gil@pve', '--password-stdin'], { input: `${PW}\n` })).code).toBe(0);
      // Kept: a code of now is of a step spent (the hour ahead).
      expect((await s.login('gil@pve', PW, oathtool(SECRET))).code).toBe(5);
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

describe('import proxmox --datacenter-cfg', () => {
  const dcStore = new TempStore();
  afterAll(() => dcStore.remove());
  const ADMIN_PW = 'admin password here';
  const write = (name: string, text: string): string => {
    const path = join(dcStore.dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const datacenterCfg = [
    'keyboard: en-us',
    '# Cluster of the example company',
    'webauthn: rp=Example PVE,origin=https://PVE.example.com:8006/,id=pve.example.com',
    'u2f: appid=https://pve.example.com:8006',
    'migration: secure',
    '',
  ].join('\n');
  let paths: { tfa: string; user: string; datacenter: string };
  const args = (datacenter = paths.datacenter, tfa = paths.tfa) => ['import', 'proxmox', '--tfa-cfg', tfa, '--user-cfg', paths.user, '--datacenter-cfg', datacenter];
  const webauthnSettings = async () =>
    ((await dcStore.run(['settings', 'list', '--json'])).json().result as { key: string; value: string; default: boolean }[]).filter((s) => /^(webauthn|u2f)\./.test(s.key));

  beforeAll(async () => {
    await dcStore.run(['init']);
    await dcStore.addUser('admin1', ADMIN_PW, ['--admin']);
    paths = {
      // tfa.cfg also carries the settings of PVE 7.0/7.1, with another RP name: datacenter.cfg wins.
      tfa: write('tfa.cfg', JSON.stringify({ webauthn: { rp: 'old name', id: 'pve.example.com' }, users: { 'eve@pve': { webauthn: [{ id: 'w-eve', created: 1700000000, entry: WEBAUTHN_ENTRY }] } } })),
      user: write('user.cfg', 'user:eve@pve:1:0:::::\n'),
      datacenter: write('datacenter.cfg', datacenterCfg),
    };
  });

  it('shows the settings it would set in a dry run, and changes nothing', async () => {
    const before = dcStore.snapshot();
    const r = await dcStore.run([...args(), '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.settings).toEqual([
      { key: 'webauthn.rp-id', value: 'pve.example.com', source: 'datacenter.cfg line 3' },
      { key: 'webauthn.rp-name', value: 'Example PVE', source: 'datacenter.cfg line 3' },
      { key: 'webauthn.origin', value: 'https://pve.example.com:8006', source: 'datacenter.cfg line 3' },
      { key: 'u2f.appid', value: 'https://pve.example.com:8006', source: 'datacenter.cfg line 4' },
    ]);
    expect(r.json().warnings).toEqual(expect.arrayContaining([expect.stringContaining("tfa.cfg's webauthn settings differ from those of datacenter.cfg line 3: datacenter.cfg's are imported")]));
    const human = await dcStore.run([...args(), '--dry-run']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('would import 1 realm, 1 user and 4 settings');
    expect(human.stdout).toMatch(/webauthn\.rp-id +pve\.example\.com +datacenter\.cfg line 3/);
    expect(human.stdout).toMatch(/u2f\.appid +https:\/\/pve\.example\.com:8006 +datacenter\.cfg line 4/);
    expect(dcStore.snapshot()).toBe(before);
  });

  it('refuses an admin, since the settings are store-wide, changing nothing', async () => {
    const before = dcStore.snapshot();
    const r = await dcStore.runAs('admin1', ADMIN_PW, [...args(), '--json']);
    expect(r.code).toBe(4);
    expect(r.json().error.code).toBe('permission_denied');
    expect(oneLineError(r)).toContain('datacenter.cfg and tfa.cfg hold the cluster\'s WebAuthn/U2F settings');
    expect(dcStore.snapshot()).toBe(before);
    expect(dcStore.auditRows().some((a) => a.actor === 'admin1@local' && a.action === 'import.proxmox' && a.outcome !== 'ok')).toBe(true);
    // A datacenter.cfg without webauthn or u2f lines brings no settings: admins may import it.
    const plain = write('plain-datacenter.cfg', 'keyboard: en-us\nconsole: html5\n');
    const plainTfa = write('plain-tfa.cfg', JSON.stringify({ users: {} }));
    const allowed = await dcStore.runAs('admin1', ADMIN_PW, [...args(plain, plainTfa), '--dry-run', '--json']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.json().result.settings).toEqual([]);
  });

  it('refuses a bad webauthn or u2f line, naming its line, changing nothing', async () => {
    const before = dcStore.snapshot();
    const cases: [string, RegExp][] = [
      ['keyboard: de\nwebauthn: rp=PVE,origin=https://pve.example.com\n', /datacenter\.cfg line 2: webauthn: no id/],
      ['\n\nu2f: appid=https://a.example,colour=red\n', /datacenter\.cfg line 3: unknown u2f option "colour"/],
      ['webauthn: id=pve.example.com,origin=http://pve.example.com\n', /datacenter\.cfg line 1: webauthn: invalid origin "http:\/\/pve\.example\.com": an origin must be https:\/\//],
      ['u2f: appid=https://a.example\nu2f: appid=https://b.example\n', /datacenter\.cfg line 2: u2f is already set on line 1/],
    ];
    for (const [i, [text, expected]] of cases.entries()) {
      const r = await dcStore.run(args(write(`bad-${i}.cfg`, text)));
      expect(r.code, text).toBe(2);
      expect(oneLineError(r)).toMatch(expected);
    }
    const notRegular = await dcStore.run(args(dcStore.dir));
    expect(notRegular.code).toBe(2);
    expect(oneLineError(notRegular)).toContain('--datacenter-cfg');
    expect(dcStore.snapshot()).toBe(before);
  });

  it('refuses a credential twice for one user in its dry run as in the import, changing nothing', async () => {
    const before = dcStore.snapshot();
    const twice = write('twice-tfa.cfg', JSON.stringify({ users: { 'eve@pve': { webauthn: [1, 2].map((n) => ({ id: `w-${n}`, created: 1700000000, entry: WEBAUTHN_ENTRY })) } } }));
    for (const extra of [['--dry-run'], []]) {
      const r = await dcStore.run([...args(paths.datacenter, twice), ...extra]);
      expect(r.code, extra.join(' ')).toBe(4);
      expect(oneLineError(r)).toBe('error: eve@pve has the same WebAuthn/U2F credential twice in tfa.cfg; nothing imported');
    }
    expect(dcStore.snapshot()).toBe(before);
  });

  it('warns of one security key registered for two users (imported as the cluster has it), in the dry run too', async () => {
    const tfa = write('shared-tfa.cfg', JSON.stringify({ users: Object.fromEntries(['sam@pve', 'sue@pve'].map((u) => [u, { webauthn: [{ id: `w-${u}`, created: 1700000000, entry: WEBAUTHN_ENTRY }] }])) }));
    const users = write('shared-user.cfg', 'user:sam@pve:1:0:::::\nuser:sue@pve:1:0:::::\n');
    const r = await dcStore.run(['import', 'proxmox', '--tfa-cfg', tfa, '--user-cfg', users, '--datacenter-cfg', paths.datacenter, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().warnings).toContainEqual(expect.stringMatching(/^one security key \(credential \S{1,12}\.\.\.\) is registered for sam@pve and sue@pve: it signs in as either; remove it where it does not belong \('tfactl tfa delete USERID ID'\)$/));
  });

  it('refuses a damaged WebAuthn credential in tfa.cfg, naming user and entry, never the key', async () => {
    const before = dcStore.snapshot();
    const damaged = { ...WEBAUTHN_ENTRY, cred: { type_: 'ES256', key: { EC_EC2: { curve: 'SECP256R1', x: P256.x, y: P256.x } } } };
    const tfa = write('damaged-tfa.cfg', JSON.stringify({ users: { 'eve@pve': { webauthn: [{ id: 'w-eve', created: 1700000000, entry: damaged }] } } }));
    const r = await dcStore.run(args(paths.datacenter, tfa));
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toBe('error: tfa.cfg: user "eve@pve": webauthn entry "w-eve": "cred.key.EC_EC2" is not a point on the P-256 curve');
    expect(dcStore.snapshot()).toBe(before);
  });

  it('stores the settings, datacenter.cfg winning over tfa.cfg, and audits them', async () => {
    const r = await dcStore.run([...args(), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(await webauthnSettings()).toEqual([
      expect.objectContaining({ key: 'webauthn.rp-id', value: 'pve.example.com', default: false }),
      expect.objectContaining({ key: 'webauthn.rp-name', value: 'Example PVE', default: false }),
      expect.objectContaining({ key: 'webauthn.origin', value: 'https://pve.example.com:8006', default: false }),
      expect.objectContaining({ key: 'webauthn.user-verification', value: 'preferred', default: true }),
      expect.objectContaining({ key: 'u2f.appid', value: 'https://pve.example.com:8006', default: false }),
      expect.objectContaining({ key: 'u2f.origin', value: '', default: true }),
    ]);
    const audit = dcStore.auditRows().find((a) => a.action === 'import.proxmox' && a.outcome === 'ok');
    expect(JSON.parse(audit!.detail!).settings).toMatchObject({ 'webauthn.rp-id': 'pve.example.com', 'u2f.appid': 'https://pve.example.com:8006' });
    // tfa.cfg's overridden object is not kept: nothing could fall back to it.
    expect(dcStore.atRest("SELECT key FROM settings WHERE key LIKE 'proxmox.%'")).toEqual([]);
  });

  it("takes tfa.cfg's own settings when there is no datacenter.cfg, and keeps them as they were", async () => {
    const s = new TempStore();
    try {
      await s.run(['init']);
      const tfa = JSON.stringify({ webauthn: { rp: 'PVE', origin: 'https://pve.example.com:8006', id: 'pve.example.com' }, u2f: { appid: 'https://pve.example.com:8006' }, users: {} });
      writeFileSync(join(s.dir, 'tfa.cfg'), tfa);
      const r = await s.run(['import', 'proxmox', '--tfa-cfg', join(s.dir, 'tfa.cfg'), '--user-cfg', paths.user, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().result.settings).toEqual([
        { key: 'webauthn.rp-id', value: 'pve.example.com', source: 'tfa.cfg' },
        { key: 'webauthn.rp-name', value: 'PVE', source: 'tfa.cfg' },
        { key: 'webauthn.origin', value: 'https://pve.example.com:8006', source: 'tfa.cfg' },
        { key: 'u2f.appid', value: 'https://pve.example.com:8006', source: 'tfa.cfg' },
      ]);
      expect(s.atRest("SELECT key FROM settings WHERE key LIKE 'proxmox.%' ORDER BY key").map((row) => row['key'])).toEqual(['proxmox.u2f', 'proxmox.webauthn']);
    } finally {
      s.remove();
    }
  });

  it('keeps reading the settings an older import stored from tfa.cfg, until they are set', async () => {
    const s = new TempStore();
    try {
      await s.run(['init']);
      // What an import by an earlier tfactl left: tfa.cfg's objects as they were, no webauthn.* or u2f.*.
      const literal = (v: unknown) => `'${JSON.stringify(v).replace(/'/g, "''")}'`;
      s.tamper(
        `INSERT INTO settings (key, value) VALUES ('proxmox.webauthn', ${literal({ rp: 'PVE', origin: 'https://pve.example.com:8006', id: 'pve.example.com' })}), ` +
          `('proxmox.u2f', ${literal({ appid: 'https://pve.example.com:8006/' })})`,
      );
      const list = async () => ((await s.run(['settings', 'list', '--json'])).json().result as { key: string; value: string; default: boolean }[]).filter((x) => /^(webauthn|u2f)\./.test(x.key));
      expect(await list()).toEqual([
        expect.objectContaining({ key: 'webauthn.rp-id', value: 'pve.example.com', default: false }),
        expect.objectContaining({ key: 'webauthn.rp-name', value: 'PVE', default: false }),
        expect.objectContaining({ key: 'webauthn.origin', value: 'https://pve.example.com:8006', default: false }),
        expect.objectContaining({ key: 'webauthn.user-verification', value: 'preferred', default: true }),
        expect.objectContaining({ key: 'u2f.appid', value: 'https://pve.example.com:8006/', default: false }),
        expect.objectContaining({ key: 'u2f.origin', value: '', default: true }),
      ]);
      expect((await s.run(['settings', 'set', 'webauthn.rp-id', 'Example.com'])).code).toBe(0);
      expect((await list())[0]).toMatchObject({ key: 'webauthn.rp-id', value: 'example.com' });
    } finally {
      s.remove();
    }
  });
});

describe('settings set for WebAuthn and U2F', () => {
  const s = new TempStore();
  afterAll(() => s.remove());
  beforeAll(async () => {
    await s.run(['init']);
  });

  it('stores origins in canonical form, and refuses bad values with nothing changed', async () => {
    const set = await s.run(['settings', 'set', 'webauthn.origin', 'https://A.example:443/  https://b.example:8006 https://a.example', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.json().result).toMatchObject({ key: 'webauthn.origin', value: 'https://a.example https://b.example:8006' });
    const before = s.snapshot();
    for (const [key, value, expected] of [
      ['webauthn.rp-id', 'https://example.com', 'without scheme, port or path'],
      ['webauthn.rp-id', '10.0.0.1', 'IP address'],
      ['webauthn.origin', 'http://example.com', 'https://'],
      ['u2f.appid', 'https://example.com/ x', 'white space'],
      ['u2f.origin', 'https://example.com/path', 'without a path'],
      ['webauthn.rp-name', 'a\u202eb', 'U+202E'],
    ]) {
      const r = await s.run(['settings', 'set', key!, value!]);
      expect(r.code, `${key} ${value}`).toBe(2);
      expect(oneLineError(r)).toContain(expected!);
    }
    expect(s.snapshot()).toBe(before);
  });
});
