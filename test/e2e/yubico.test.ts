import { writeFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptToken } from '../../src/domain/yubico.js';
import { oneLineError, SimulatedYubiKey, TempStore } from './harness.js';

/**
 * YubiKey OTP through the binary. OTPs come from Debian's python3-yubiotp, which simulates a
 * YubiKey; online validation runs against a validation protocol 2.0 server on loopback.
 */
const store = new TempStore();
const PW = 'yubikey test password';
afterAll(() => store.remove());

/** A simulated YubiKey, its state in a file of its own in the store's directory. */
class SimulatedKey extends SimulatedYubiKey {
  constructor(name: string, publicId: string, aesKey: string, privateId: string) {
    super(store.dir, name, publicId, aesKey, privateId);
  }
}

const login = (userid: string, code: string) => store.login(userid, PW, code);
const addUser = (userid: string) => store.addUser(userid, PW, ['--tfa', 'none']);

beforeAll(async () => {
  await store.run(['init']);
  await store.run(['realm', 'add', 'keys']);
  expect((await store.run(['realm', 'set-enforce', 'keys', 'yubico', '--offline'])).code).toBe(0);
});

describe('YubiKey OTP validated offline', () => {
  const key = new SimulatedKey('k1', 'cccjgjgkhcbb', '000102030405060708090a0b0c0d0e0f', '010203040506');
  const offline = ['--aes-key', key.aesKey, '--private-id', key.privateId];

  it('takes the AES key and private id from files (@FILE), and the key then signs in', async () => {
    const other = new SimulatedKey('k-files', 'cccjgjgkhcbf', '0f0e0d0c0b0a09080706050403020100', '060504030201');
    const aesFile = join(store.dir, 'k-files.aes');
    const idFile = join(store.dir, 'k-files.id');
    writeFileSync(aesFile, `${other.aesKey}\n`, { mode: 0o600 });
    writeFileSync(idFile, other.privateId, { mode: 0o600 });
    await addUser('fil@keys');
    const add = await store.run(['tfa', 'add', 'yubico', 'fil@keys', '--otp', other.otp(), '--aes-key', `@${aesFile}`, '--private-id', `@${idFile}`]);
    expect(add.code, add.stderr).toBe(0);
    const ok = await login('fil@keys', other.otp());
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json().result.method).toBe('yubico');
  });

  it('registers a key at user creation and signs in with later OTPs', async () => {
    const r = await store.run(['user', 'add', 'yan@keys', '--password-stdin', '--yubico-otp', key.otp(), ...offline, '--json'], { input: `${PW}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.yubico).toMatchObject({ publicId: 'cccjgjgkhcbb', mode: 'offline' });
    const ok = await login('yan@keys', key.otp());
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json().result.method).toBe('yubico');
  });

  it('refuses a replayed OTP and an older one', async () => {
    const older = key.otp();
    const newer = key.otp();
    expect((await login('yan@keys', newer)).code).toBe(0);
    expect((await login('yan@keys', newer)).code).toBe(5);
    expect((await login('yan@keys', older)).code).toBe(5);
  });

  it('refuses a spent OTP to register a key checked offline again once deleted', async () => {
    await addUser('zoe@keys');
    // The key used, deleted and registered again with an OTP older than one it spent.
    const again = new SimulatedKey('k-again', 'cccjgjgkhcbd', '101112131415161718191a1b1c1d1e1f', '0a0b0c0d0e0f');
    const older = again.otp();
    expect((await store.run(['tfa', 'add', 'yubico', 'zoe@keys', '--otp', again.otp(), '--aes-key', again.aesKey, '--private-id', again.privateId])).code).toBe(0);
    const spent = again.otp();
    expect((await login('zoe@keys', spent)).code).toBe(0);
    expect((await store.run(['tfa', 'delete', 'zoe@keys', '--type', 'yubico', '--yes'])).code).toBe(0);
    const stale = await store.run(['tfa', 'add', 'yubico', 'zoe@keys', '--otp', older, '--aes-key', again.aesKey, '--private-id', again.privateId, '--json']);
    expect(stale.json().error).toEqual({ code: 'yubikey_reused', message: 'this OTP of the YubiKey cccjgjgkhcbd was used before: touch the key again for a new one' });
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'tfa.add', target: 'zoe@keys', outcome: 'refused' });
    // Another user's registration of the key (a public id is no secret) is none of this user's spending.
    await addUser('zia@keys');
    expect((await store.run(['tfa', 'add', 'yubico', 'zia@keys', '--otp', older, '--aes-key', again.aesKey, '--private-id', again.privateId])).code).toBe(0);
    // (While zia holds the key, it is refused to anyone else: see the next test.)
    expect((await store.run(['tfa', 'delete', 'zia@keys', '--type', 'yubico', '--yes'])).code).toBe(0);
    // A fresh touch registers it, and the spent OTP stays spent.
    expect((await store.run(['tfa', 'add', 'yubico', 'zoe@keys', '--otp', again.otp(), '--aes-key', again.aesKey, '--private-id', again.privateId])).code).toBe(0);
    expect((await login('zoe@keys', spent)).code).toBe(5);
    expect((await login('zoe@keys', again.otp())).code).toBe(0);
  });

  it('refuses a key another user holds (one OTP would sign in as either), not its public id with other key material', async () => {
    const shared = new SimulatedKey('k-shared', 'cccjgjgkhcbg', '202122232425262728292a2b2c2d2e2f', '0c0d0e0f1011');
    const material = ['--aes-key', shared.aesKey, '--private-id', shared.privateId];
    await addUser('ada@keys');
    await addUser('ben@keys');
    expect((await store.run(['tfa', 'add', 'yubico', 'ada@keys', '--otp', shared.otp(), ...material])).code).toBe(0);
    const before = store.read(['tfa', 'list', 'ben@keys']);
    const refused = await store.run(['tfa', 'add', 'yubico', 'ben@keys', '--otp', shared.otp(), ...material, '--json']);
    expect(refused.code).toBe(4);
    expect(refused.json().error).toEqual({
      code: 'exists',
      message: 'the YubiKey cccjgjgkhcbg is registered for another user: one OTP of it would sign in as either; give ben@keys a key (or a slot of this one) of its own',
    });
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'tfa.add', target: 'ben@keys', outcome: 'refused' });
    const created = await store.run(['user', 'add', 'cy@keys', '--password-stdin', '--yubico-otp', shared.otp(), ...material], { input: `${PW}\n` });
    expect(created.code).toBe(4);
    expect(oneLineError(created)).toContain('is registered for another user');
    expect(store.read(['tfa', 'list', 'ben@keys'])).toEqual(before);
    expect((await store.run(['user', 'show', 'cy@keys'])).code).toBe(3);
    // Anyone may program a key with this public id and key material of their own: it blocks no one.
    const lookalike = new SimulatedKey('k-lookalike', 'cccjgjgkhcbg', '303132333435363738393a3b3c3d3e3f', '0c0d0e0f1011');
    expect((await store.run(['tfa', 'add', 'yubico', 'ben@keys', '--otp', lookalike.otp(), '--aes-key', lookalike.aesKey, '--private-id', lookalike.privateId])).code).toBe(0);
    expect((await login('ada@keys', shared.otp())).code).toBe(0);
    expect((await login('ben@keys', shared.otp())).code).toBe(5);
  });

  it('refuses a corrupted OTP and another key\'s OTP', async () => {
    const good = key.otp();
    const corrupted = good.slice(0, -1) + (good.endsWith('c') ? 'b' : 'c');
    expect((await login('yan@keys', corrupted)).code).toBe(5);
    const other = new SimulatedKey('k2', 'cccjgjgkhcbb', 'ffeeddccbbaa99887766554433221100', 'aabbccddeeff');
    expect((await login('yan@keys', other.otp())).code).toBe(5);
    const stranger = new SimulatedKey('k3', 'cccccccccccd', '000102030405060708090a0b0c0d0e0f', '010203040506');
    expect((await login('yan@keys', stranger.otp())).code).toBe(5);
    expect((await login('yan@keys', good)).code).toBe(0);
  });

  it('accepts one OTP exactly once when ten sign-ins race with it', async () => {
    const otp = key.otp();
    const results = await Promise.all(Array.from({ length: 10 }, () => login('yan@keys', otp)));
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
  });

  it('counts YubiKey failures toward the lockout of every factor', async () => {
    await store.run(['settings', 'set', 'lockout.failures', '3']);
    const key4 = new SimulatedKey('k4', 'cccccccccccf', '00112233445566778899aabbccddeeff', '112233445566');
    const add = await store.run(['user', 'add', 'lou@keys', '--password-stdin', '--yubico-otp', key4.otp(), '--aes-key', key4.aesKey, '--private-id', key4.privateId], { input: `${PW}\n` });
    expect(add.code, add.stderr).toBe(0);
    const stale = key4.otp();
    expect((await login('lou@keys', key4.otp())).code).toBe(0);
    for (let i = 0; i < 3; i++) expect((await login('lou@keys', stale)).code).toBe(5);
    const locked = await login('lou@keys', key4.otp());
    expect(locked.code).toBe(5);
    expect(oneLineError(locked)).toContain('locked');
    await store.run(['settings', 'set', 'lockout.failures', '100']);
  });

  it('refuses a registration OTP that does not match the key material, storing nothing', async () => {
    await addUser('zed@keys');
    const r = await store.run(['tfa', 'add', 'yubico', 'zed@keys', '--otp', key.otp(), '--aes-key', 'ffeeddccbbaa99887766554433221100', '--private-id', key.privateId]);
    expect(r.code).toBe(5);
    expect(store.factorsOf('zed@keys')).toEqual([]);
  });

  it('asks for the key material in a realm that validates offline, and refuses TOTP there', async () => {
    const noKey = await store.run(['tfa', 'add', 'yubico', 'zed@keys', '--otp', key.otp()]);
    expect(noKey.code).toBe(2);
    expect(oneLineError(noKey)).toContain('--aes-key');
    const totp = await store.run(['tfa', 'add', 'totp', 'zed@keys', '--no-verify']);
    expect(totp.code).toBe(4);
    expect(oneLineError(totp)).toContain('enforces YubiKey OTP');
    const recovery = await store.run(['tfa', 'add', 'recovery', 'zed@keys']);
    expect(recovery.code).toBe(0);
  });

  it('rejects malformed input with exit 2 and changes nothing', async () => {
    const before = store.snapshot();
    for (const args of [
      ['tfa', 'add', 'yubico', 'zed@keys', '--otp', 'not-an-otp'],
      ['tfa', 'add', 'yubico', 'zed@keys', '--otp', key.otp(), '--aes-key', 'xyz', '--private-id', key.privateId],
      ['tfa', 'add', 'yubico', 'zed@keys', '--otp', key.otp(), '--aes-key', key.aesKey],
      ['realm', 'set-yubico', 'keys'],
      ['realm', 'set-enforce', 'keys', 'yubico', '--api-id', '1', '--api-key', 'short'],
      ['realm', 'set-enforce', 'keys', 'yubico', '--offline', '--api-id', '1'],
      // A client id that reads as an option, and a key the size of no service's key.
      ['realm', 'set-yubico', 'keys', '--api-id=--json', '--api-key', 'c2VjcmV0LWFwaS1rZXktMDEyMzQ1Njc4OQ=='],
      ['realm', 'set-yubico', 'keys', '--api-id', '1', '--api-key', Buffer.alloc(65, 7).toString('base64')],
      ['realm', 'set-enforce', 'keys', 'totp', '--offline'],
      // realm show prints the URLs: none may carry a password.
      ['realm', 'set-yubico', 'keys', '--api-id', '1', '--api-key', 'c2VjcmV0LWFwaS1rZXktMDEyMzQ1Njc4OQ==', '--url', 'https://u:pw@otp.example/wsapi/2.0/verify'],
      ['realm', 'set-yubico', 'keys', '--api-id', '1', '--api-key', 'c2VjcmV0LWFwaS1rZXktMDEyMzQ1Njc4OQ==', '--url', 'ftp://u:pw@otp.example/'],
      ['user', 'add', 'nokey@keys', '--no-password'],
    ]) {
      const r = await store.run(args);
      expect(r.code, args.join(' ')).toBe(2);
      // Never a URL's password in the error.
      expect(oneLineError(r)).not.toContain(':pw@');
    }
    expect(store.snapshot()).toBe(before);
  });
});

describe('YubiKey OTP validated by a validation service', () => {
  const API_ID = '4711';
  const API_KEY = Buffer.from('0123456789abcdef0123456789abcdef01234567', 'hex');
  const key = new SimulatedKey('online', 'ccccccccccch', '0f0e0d0c0b0a09080706050403020100', '665544332211');
  let mode: 'normal' | 'bad-signature' | 'nonce-mismatch' | 'replayed' | 'slow' | 'backend-error' | 'replayed-request' | 'huge' = 'normal';
  const seen = new Map<string, number>();
  let server: Server;
  let url = '';
  let deadUrl = '';

  const sign = (fields: Record<string, string>, k: Buffer) =>
    createHmac('sha1', k)
      .update(Object.keys(fields).sort().map((f) => `${f}=${fields[f]}`).join('&'))
      .digest('base64');

  beforeAll(async () => {
    server = createServer((req, res) => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const params = Object.fromEntries([...q].filter(([k]) => k !== 'h'));
      const otp = q.get('otp') ?? '';
      let status = 'OK';
      if (q.get('id') !== API_ID) status = 'NO_SUCH_CLIENT';
      else if (q.get('h') !== sign(params, API_KEY)) status = 'BAD_SIGNATURE';
      else {
        const token = decryptToken(Buffer.from(key.aesKey, 'hex'), otp.slice(-32));
        const counter = token ? token.useCounter * 256 + token.sessionCounter : -1;
        if (!token || otp.slice(0, -32) !== key.publicId) status = 'BAD_OTP';
        else if (counter <= (seen.get(otp.slice(0, -32)) ?? -1)) status = 'REPLAYED_OTP';
        else seen.set(otp.slice(0, -32), counter);
      }
      if (mode === 'replayed') status = 'REPLAYED_OTP';
      if (mode === 'backend-error') status = 'BACKEND_ERROR';
      // Another of a service's servers saw this request already: says nothing of the OTP.
      if (mode === 'replayed-request') status = 'REPLAYED_REQUEST';
      const fields: Record<string, string> = {
        t: new Date().toISOString(),
        otp,
        nonce: mode === 'nonce-mismatch' ? 'x'.repeat(32) : (q.get('nonce') ?? ''),
        sl: '100',
        status,
      };
      fields.h = sign(fields, mode === 'bad-signature' ? Buffer.from('another key') : API_KEY);
      const body = Object.entries(fields).map(([k, v]) => `${k}=${v}`).join('\r\n') + '\r\n' + (mode === 'huge' ? 'x'.repeat(100_000) : '');
      setTimeout(() => res.end(body), mode === 'slow' ? 3000 : 0);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/wsapi/2.0/verify`;
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}/wsapi/2.0/verify`;
    await new Promise((r) => dead.close(r));
    await store.run(['realm', 'add', 'cloud']);
    // The API key from a file (@FILE): every signed request and response below proves it was read right.
    const keyFile = join(store.dir, 'api-key');
    writeFileSync(keyFile, `${API_KEY.toString('base64')}\n`, { mode: 0o600 });
    const set = await store.run(['realm', 'set-enforce', 'cloud', 'yubico', '--api-id', API_ID, '--api-key', `@${keyFile}`, '--url', url, '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.json().result.yubico).toEqual({ mode: 'online', apiId: API_ID, urls: [url] });
    await store.run(['settings', 'set', 'yubico.timeout-seconds', '1']);
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('stores the API key encrypted', () => {
    const [row] = store.atRest<{ yubico_api_key: Buffer }>("SELECT yubico_api_key FROM realms WHERE name = 'cloud'");
    expect(Buffer.from(row!.yubico_api_key).toString('latin1')).not.toContain(API_KEY.toString('base64'));
  });

  it('registers a key and signs in when the service answers OK', async () => {
    const add = await store.run(['user', 'add', 'ola@cloud', '--password-stdin', '--yubico-otp', key.otp(), '--json'], { input: `${PW}\n` });
    expect(add.code, add.stderr).toBe(0);
    expect(add.json().result.yubico).toMatchObject({ publicId: key.publicId, mode: 'online' });
    const ok = await login('ola@cloud', key.otp());
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('refuses an OTP the service calls replayed', async () => {
    const otp = key.otp();
    expect((await login('ola@cloud', otp)).code).toBe(0);
    const again = await login('ola@cloud', otp);
    expect(again.code).toBe(5);
    expect(store.auditRows().at(-1)?.detail).toContain('REPLAYED_OTP');
  });

  it.each([
    ['bad-signature', 'not signed with the API key'],
    ['nonce-mismatch', 'another request'],
    ['slow', 'no answer within 1 s'],
    ['backend-error', 'BACKEND_ERROR'],
    ['replayed-request', 'REPLAYED_REQUEST'],
    // A signed answer with 100 KB after it: not read whole (a server could send gigabytes).
    ['huge', 'larger than 16 KiB'],
  ] as const)('refuses with a clear error when the answer is %s (exit 5, audited)', async (m, text) => {
    // The attempts counted toward lockout show in no listing: read from the store's backup.
    const failures = () => store.atRest<{ n: number }>("SELECT tfa_failures AS n FROM users WHERE userid = 'ola@cloud'")[0]?.n;
    const before = failures();
    mode = m;
    try {
      const r = await login('ola@cloud', key.otp());
      expect(r.code).toBe(5);
      // The service could not be asked: not the person's failure, so no step toward lockout.
      expect(failures()).toBe(before);
      expect(oneLineError(r)).toContain('validation service unavailable');
      expect(r.json().error.message).toContain(text);
      expect(store.auditRows().at(-1)).toMatchObject({ action: 'login', outcome: 'failed' });
    } finally {
      mode = 'normal';
    }
  });

  it('refuses with a clear error when no server can be reached', async () => {
    await store.run(['realm', 'set-enforce', 'cloud', 'yubico', '--api-id', API_ID, '--api-key', API_KEY.toString('base64'), '--url', deadUrl]);
    const r = await login('ola@cloud', key.otp());
    expect(r.code).toBe(5);
    expect(r.json().error.message).toMatch(/unavailable.*ECONNREFUSED/);
  });

  it('takes the first good answer when several servers are asked', async () => {
    await store.run(['realm', 'set-enforce', 'cloud', 'yubico', '--api-id', API_ID, '--api-key', API_KEY.toString('base64'), '--url', deadUrl, '--url', url]);
    const r = await login('ola@cloud', key.otp());
    expect(r.code, r.stderr).toBe(0);
  });

  it('has the service check keys registered offline once their realm has one, and says so when the validation changes', async () => {
    await store.run(['realm', 'add', 'mixed']);
    expect((await store.run(['realm', 'set-yubico', 'mixed', '--offline'])).code).toBe(0);
    await addUser('mia@mixed');
    const self = new SimulatedKey('mixed-self', 'ccccccccccdd', '55555555555555555555555555555555', '666666666666');
    expect((await store.run(['tfa', 'add', 'yubico', 'mia@mixed', '--otp', self.otp(), '--aes-key', self.aesKey, '--private-id', self.privateId])).code).toBe(0);
    expect((await login('mia@mixed', self.otp())).code).toBe(0);
    const service = ['--api-id', API_ID, '--api-key', API_KEY.toString('base64'), '--url', url, '--json'];
    const online = await store.run(['realm', 'set-yubico', 'mixed', ...service]);
    expect(online.code, online.stderr).toBe(0);
    expect(online.json().warnings).toEqual([
      '1 user of realm mixed has YubiKeys registered with their own AES key: the validation service checks them now, and refuses any it does not know (register such keys again without --aes-key): mia@mixed',
    ]);
    // The service does not know the self-made key: it no longer signs in (a key revoked there stays revoked).
    const refused = await login('mia@mixed', self.otp());
    expect(refused.code).toBe(5);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'login', target: 'mia@mixed', outcome: 'failed' });
    const back = await store.run(['realm', 'set-yubico', 'mixed', '--offline', '--json']);
    expect(back.json().warnings).toEqual([]);
    expect((await login('mia@mixed', self.otp())).code).toBe(0);
    // The other way: keys registered with the service cannot be checked offline.
    const offline = await store.run(['realm', 'set-yubico', 'cloud', '--offline', '--json']);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.json().warnings).toEqual([
      expect.stringMatching(/^\d+ users? of realm cloud (has|have) YubiKeys registered for a validation service, which cannot be checked offline \(register them again with --aes-key and --private-id\): .*ola@cloud/),
    ]);
    // Said where admins look: user show and tfa list name the user who cannot sign in now.
    const signIn = async () => (await store.run(['user', 'show', 'ola@cloud', '--json'])).json().result.signIn;
    const listed = async () => (await store.run(['tfa', 'list', 'ola@cloud'])).stdout;
    expect(await signIn()).toEqual({
      possible: false,
      problem: 'the YubiKey is validated online and realm cloud has no validation service',
      fix: 'tfactl realm set-yubico cloud --api-id ID --api-key @FILE',
    });
    expect(await listed()).toMatch(/NO: the YubiKey is validated online and realm cloud has no validation service; fix: tfactl realm set-yubico cloud --api-id ID --api-key @FILE/);
    expect((await store.run(['realm', 'set-yubico', 'cloud', ...service])).code).toBe(0);
    expect(await signIn()).toEqual({ possible: true, problem: null, fix: null });
    expect(await listed()).not.toMatch(/NO:/);
    expect((await login('ola@cloud', key.otp())).code).toBe(0);
  });

  it('keeps the counter of a key with its own AES key when the service checks it: back to offline, an OTP the service took is not taken again', async () => {
    await store.run(['realm', 'add', 'back']);
    expect((await store.run(['realm', 'set-yubico', 'back', '--offline'])).code).toBe(0);
    await addUser('max@back');
    // The service's own key, its AES key known here too (a site's validation server knows the keys it programmed).
    const add = await store.run(['tfa', 'add', 'yubico', 'max@back', '--otp', key.otp(), '--aes-key', key.aesKey, '--private-id', key.privateId]);
    expect(add.code, add.stderr).toBe(0);
    expect((await store.run(['realm', 'set-yubico', 'back', '--api-id', API_ID, '--api-key', API_KEY.toString('base64'), '--url', url])).code).toBe(0);
    const otp = key.otp();
    const online = await login('max@back', otp);
    expect(online.code, online.stderr).toBe(0);
    expect((await store.run(['realm', 'set-yubico', 'back', '--offline'])).code).toBe(0);
    const replayed = await login('max@back', otp);
    expect(replayed.code).toBe(5);
    expect((await login('max@back', key.otp())).code).toBe(0);
  });
});

describe('YubiKey validation setting of a realm', () => {
  it('refuses offline key material where the realm validates with a service', async () => {
    await store.run(['realm', 'add', 'svc']);
    const key = Buffer.alloc(20, 7).toString('base64');
    expect((await store.run(['realm', 'set-yubico', 'svc', '--api-id', '9', '--api-key', key, '--url', 'http://127.0.0.1:9/none'])).code).toBe(0);
    await addUser('sid@svc');
    const self = new SimulatedKey('selfmade', 'ccccccccccdb', '11111111111111111111111111111111', '222222222222');
    const r = await store.run(['tfa', 'add', 'yubico', 'sid@svc', '--otp', self.otp(), '--aes-key', self.aesKey, '--private-id', self.privateId]);
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toContain('validation service');
  });

  it('lets YubiKeys be opt-in in a realm that enforces nothing, and keeps them working when enforcement is lifted', async () => {
    await store.run(['realm', 'add', 'opt']);
    expect((await store.run(['realm', 'set-yubico', 'opt', '--offline', '--json'])).json().result).toMatchObject({ enforce: 'none', yubico: { mode: 'offline' } });
    await addUser('ola@opt');
    const key = new SimulatedKey('optin', 'ccccccccccdc', '33333333333333333333333333333333', '444444444444');
    const add = await store.run(['tfa', 'add', 'yubico', 'ola@opt', '--otp', key.otp(), '--aes-key', key.aesKey, '--private-id', key.privateId]);
    expect(add.code, add.stderr).toBe(0);
    expect((await login('ola@opt', key.otp())).code).toBe(0);
    await store.run(['realm', 'set-enforce', 'opt', 'yubico']);
    await store.run(['realm', 'set-enforce', 'opt', 'none']);
    expect((await store.run(['realm', 'show', 'opt', '--json'])).json().result.yubico).toEqual({ mode: 'offline', apiId: null, urls: [] });
    expect((await login('ola@opt', key.otp())).code).toBe(0);
  });
});
