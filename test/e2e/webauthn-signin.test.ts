import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SoftAuthenticator, UP, UV } from '../fixtures/soft-authenticator.js';
import { U2fTester, type TesterSignResponse } from '../fixtures/u2f-tester.js';
import { BIN, oneLineError, startServe, TempStore } from './harness.js';

const DRIVER = resolve(import.meta.dirname, 'pty-driver.py');
const PASTE = resolve(import.meta.dirname, '../fixtures/fido2-assert-paste.mjs');

/**
 * Sign-in with security keys through the JSON ceremony (`login --begin`, then `login --finish
 * --response`), for credentials imported from Proxmox VE: WebAuthn (ES256, RS256, EdDSA) answered as a
 * browser answers, legacy U2F answered raw by Debian's Authen::U2F::Tester (what Proxmox's API
 * takes), and both answered through fido2-assert's lines, whose format fido2-assert -V checks.
 */
const store = new TempStore();
afterAll(() => store.remove());
const PW = 'security key password';
const RP_ID = 'pve.example.com';
const ORIGIN = 'https://pve.example.com:8006';
const APPID = 'https://pve.example.com:8006';

const es256 = new SoftAuthenticator('ES256', { counter: 5 });
const rs256 = new SoftAuthenticator('RS256', { counter: 0 });
// Ed25519: Proxmox's own registrations are ES256 or RS256, but what webauthn-rs stores may be EdDSA.
const ed25519 = new SoftAuthenticator('EdDSA', { counter: 2 });
const tester = new U2fTester();
let u2f: { keyHandle: string; publicKey: string };

type Begun = { challenge: string; kinds: string[]; publicKey: { challenge: string; rpId: string; userVerification: string; allowCredentials: { id: string }[]; extensions?: { appid: string } } | null; fido2: { factor: string; kind: string; input: string; options: string[] }[] };

const begin = async (userid: string, extra: string[] = []): Promise<Begun> => {
  const r = await store.run(['login', userid, '--begin', '--password-stdin', '--json', ...extra], { input: `${PW}\n` });
  expect(r.code, r.stderr).toBe(0);
  return r.json().result as Begun;
};
const finish = (userid: string, challenge: string, answer: unknown) =>
  store.run(['login', userid, '--finish', '--challenge', challenge, '--response', '-', '--json'], { input: `${typeof answer === 'string' ? answer.replace(/\n/g, ' ') : JSON.stringify(answer)}\n` });
const finishFile = (userid: string, challenge: string, text: string) => {
  const file = join(store.dir, `answer-${challenge.slice(0, 8)}`);
  writeFileSync(file, text);
  return store.run(['login', userid, '--finish', '--challenge', challenge, '--response', file, '--json']);
};
const failures = (userid: string) => store.read<{ lock: { secondFactorFailures: number } }>(['user', 'show', userid]).lock.secondFactorFailures;
const lastAudit = () => store.auditRows().at(-1)!;
const counterOf = (credentialId: string) => store.counterOf(credentialId);

beforeAll(async () => {
  await store.run(['init']);
  u2f = tester.register(APPID, Buffer.from('registration challenge').toString('base64url'));
  const tfaCfg = {
    users: {
      'kim@pve': {
        webauthn: [
          { id: 'w-es', description: 'yubikey', created: 1700000000, entry: es256.proxmoxEntry() },
          { id: 'w-rs', description: 'tpm', created: 1700000001, entry: rs256.proxmoxEntry() },
          { id: 'w-ed', description: 'solo key', created: 1700000002, entry: ed25519.proxmoxEntry() },
        ],
        u2f: [{ id: 'u-1', description: 'old key', created: 1600000000, entry: { key: { keyHandle: u2f.keyHandle, version: 'U2F_V2' }, 'public-key': Buffer.from(u2f.publicKey, 'base64url').toString('base64') } }],
      },
      'lee@pve': { webauthn: [{ id: 'w-lee', created: 1700000000, entry: new SoftAuthenticator().proxmoxEntry() }] },
    },
  };
  const files = { tfa: join(store.dir, 'tfa.cfg'), user: join(store.dir, 'user.cfg'), datacenter: join(store.dir, 'datacenter.cfg') };
  writeFileSync(files.tfa, JSON.stringify(tfaCfg));
  writeFileSync(files.user, 'user:kim@pve:1:0:::::\nuser:lee@pve:1:0:::::\n');
  writeFileSync(files.datacenter, `keyboard: en-us\nwebauthn: rp=PVE,origin=${ORIGIN},id=${RP_ID}\nu2f: appid=${APPID}\n`);
  const r = await store.run(['import', 'proxmox', '--tfa-cfg', files.tfa, '--user-cfg', files.user, '--datacenter-cfg', files.datacenter]);
  expect(r.code, r.stderr).toBe(0);
  for (const u of ['kim@pve', 'lee@pve']) expect((await store.run(['user', 'passwd', u, '--password-stdin'], { input: `${PW}\n` })).code).toBe(0);
});

describe('imported security keys', () => {
  it('are listed with their RP id and counter, never key material', async () => {
    const r = await store.run(['tfa', 'list', 'kim@pve', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const factors = r.json().result[0].factors;
    const listed = factors.map((f: { type: string; credential: unknown }) => [f.type, f.credential]);
    expect(listed).toHaveLength(4);
    expect(listed).toEqual(
      expect.arrayContaining([
        ['webauthn', { id: es256.id, rpId: RP_ID, counter: 5 }],
        ['webauthn', { id: rs256.id, rpId: RP_ID, counter: 0 }],
        ['webauthn', { id: ed25519.id, rpId: RP_ID, counter: 2 }],
        ['u2f', { id: u2f.keyHandle, rpId: APPID, counter: 0 }],
      ]),
    );
    expect(r.stdout).not.toContain(u2f.publicKey);
    const human = await store.run(['tfa', 'list', 'kim@pve']);
    expect(human.stdout).toContain(`RP id ${RP_ID}`);
    expect(human.stdout).toContain(`appid ${APPID}`);
  });

  it('are offered by login --begin: request options for a browser and lines for fido2-assert', async () => {
    const b = await begin('kim@pve');
    // The examples' way to take the challenge from the envelope (README's HTTP API, login --help)
    // takes tfactl's, not the one in the request options after it.
    const EXTRACT = `grep -o '"challenge":"[^"]*"' | head -n 1 | cut -d '"' -f 4`;
    const envelope = JSON.stringify({ ok: true, result: b, warnings: [] });
    expect(b.publicKey!.challenge).not.toBe(b.challenge);
    expect(spawnSync('sh', ['-c', EXTRACT], { input: envelope, encoding: 'utf8' }).stdout.trim()).toBe(b.challenge);
    const help = spawnSync(process.execPath, [BIN, 'login', '--help'], { encoding: 'utf8' }).stdout;
    expect(help).toContain(EXTRACT);
    expect(b.kinds).toEqual(['webauthn', 'u2f']);
    expect(b.publicKey).toMatchObject({ rpId: RP_ID, userVerification: 'preferred', timeout: 120000, extensions: { appid: APPID } });
    expect(b.publicKey!.allowCredentials.map((c) => c.id).sort()).toEqual([es256.id, rs256.id, ed25519.id, u2f.keyHandle].sort());
    expect(b.fido2.map((f) => [f.kind, f.input.split('\n')[1], f.options])).toEqual(
      expect.arrayContaining([
        ['webauthn', RP_ID, ['-G']],
        ['u2f', APPID, ['-G', '-u']],
      ]),
    );
    const human = await store.run(['login', 'kim@pve', '--begin', '--password-stdin'], { input: `${PW}\n` });
    expect(human.stdout).toContain('fido2-assert -G -u DEVICE');
    expect(human.stdout).toContain('--response FILE');
  });

  it.each([
    ['ES256', es256],
    ['RS256', rs256],
    ['EdDSA', ed25519],
  ] as const)('sign in with a browser answer from a %s credential, which advances its counter', async (_alg, key) => {
    const b = await begin('kim@pve');
    const before = key.counter;
    const r = await finish('kim@pve', b.challenge, key.authenticate(b.publicKey!, { origin: ORIGIN }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result).toEqual({ userid: 'kim@pve', method: 'webauthn', recoveryKeysLeft: null, session: null });
    expect(counterOf(key.id)).toBe(before + 1);
    expect(lastAudit()).toMatchObject({ action: 'login', outcome: 'ok' });
    expect(JSON.parse(lastAudit().detail!)).toMatchObject({ method: 'webauthn' });
  });

  it('sign in with a raw U2F answer (what Proxmox takes), from Authen::U2F::Tester', async () => {
    const b = await begin('kim@pve');
    const [answer] = tester.run<[TesterSignResponse]>([{ op: 'sign', appId: APPID, challenge: b.publicKey!.challenge, keyHandles: [u2f.keyHandle] }]);
    const r = await finish('kim@pve', b.challenge, answer);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.method).toBe('u2f');
    expect(counterOf(u2f.keyHandle)).toBeGreaterThan(0);
  });

  /** Signs kim in with the lines `key` makes for fido2-assert, which fido2-assert -V accepts first (as `type`); the line's factor. */
  const pastedSignIn = async (key: SoftAuthenticator, type: 'es256' | 'eddsa') => {
    const b = await begin('kim@pve');
    const line = b.fido2.find((f) => f.factor && f.kind === 'webauthn' && f.input.includes(Buffer.from(key.credentialId).toString('base64')))!;
    const output = key.fido2Assert(line.input);
    const pem = join(store.dir, `${type}.pem`);
    writeFileSync(pem, key.publicKeyPem());
    const verified = spawnSync('fido2-assert', ['-V', '-p', pem, type], { input: output, encoding: 'utf8' });
    expect(verified.status, verified.stderr).toBe(0);
    const r = await finishFile('kim@pve', b.challenge, output);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.method).toBe('webauthn');
    expect(counterOf(key.id)).toBe(key.counter);
    return line.factor;
  };

  it('sign in with the lines fido2-assert prints, pasted as they are or on one line, which fido2-assert -V accepts', async () => {
    const factor = await pastedSignIn(es256, 'es256');
    const again = await begin('kim@pve');
    const input = again.fido2.find((f) => f.factor === factor)!.input;
    // One line (fido2-assert ... | paste -sd' '), as a terminal prompt or --response - takes it.
    const oneLine = await finish('kim@pve', again.challenge, es256.fido2Assert(input));
    expect(oneLine.code, oneLine.stderr).toBe(0);
  });

  it('sign in with the lines fido2-assert prints for an Ed25519 credential, which fido2-assert -V accepts as eddsa', async () => {
    await pastedSignIn(ed25519, 'eddsa');
  });

  it('sign in with fido2-assert -u lines for a U2F registration', async () => {
    const b = await begin('kim@pve');
    const u2fLine = b.fido2.find((f) => f.kind === 'u2f')!;
    const [cdh] = u2fLine.input.split('\n') as [string];
    const [signed] = tester.run<[{ authenticatorData: string; signature: string }]>([
      { op: 'authenticate', appId: APPID, challengeParameter: Buffer.from(cdh, 'base64').toString('base64url'), keyHandle: u2f.keyHandle },
    ]);
    const authData = Buffer.from(signed.authenticatorData, 'base64url');
    const head = Buffer.from([0x58, authData.length]);
    const output = [cdh, APPID, Buffer.concat([head, authData]).toString('base64'), Buffer.from(signed.signature, 'base64url').toString('base64'), ''].join('\n');
    const r = await finishFile('kim@pve', b.challenge, output);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.method).toBe('u2f');
  });
});

describe('a security key answer is refused, counted and audited', () => {
  const refused = async (r: Awaited<ReturnType<typeof finish>>, reason: RegExp) => {
    expect(r.code).toBe(5);
    expect(oneLineError(r)).toMatch(/^error: authentication failed/);
    expect(lastAudit()).toMatchObject({ action: 'login', target: 'kim@pve', outcome: 'failed' });
    expect(lastAudit().detail).toMatch(reason);
  };

  it('when the same answer comes again, to its challenge or a new one', async () => {
    const b = await begin('kim@pve');
    const answer = es256.authenticate(b.publicKey!, { origin: ORIGIN });
    expect((await finish('kim@pve', b.challenge, answer)).code).toBe(0);
    const before = failures('kim@pve');
    await refused(await finish('kim@pve', b.challenge, answer), /unknown, used or expired challenge/);
    // Its challenge is gone: refused unchecked, not counted. Given to a new challenge, it is checked
    // (and fails: it signs another challenge), and counted.
    expect(failures('kim@pve')).toBe(before);
    const next = await begin('kim@pve');
    await refused(await finish('kim@pve', next.challenge, answer), /challenge/);
    expect(failures('kim@pve')).toBe(before + 1);
  });

  it('when the signature counter goes backwards (a cloned key), and the counter stays', async () => {
    const b = await begin('kim@pve');
    const stored = counterOf(es256.id);
    await refused(await finish('kim@pve', b.challenge, es256.authenticate(b.publicKey!, { origin: ORIGIN, counter: stored - 1 })), /counter/);
    expect(counterOf(es256.id)).toBe(stored);
    const same = await begin('kim@pve');
    await refused(await finish('kim@pve', same.challenge, es256.authenticate(same.publicKey!, { origin: ORIGIN, counter: stored })), /counter/);
    es256.counter = stored;
  });

  it('when it comes from an origin not allowed, or is signed for another RP id', async () => {
    const b = await begin('kim@pve');
    await refused(await finish('kim@pve', b.challenge, es256.authenticate(b.publicKey!, { origin: 'https://evil.example.com' })), /origin/i);
    const c = await begin('kim@pve');
    await refused(await finish('kim@pve', c.challenge, es256.authenticate(c.publicKey!, { origin: ORIGIN, signedRpId: 'evil.example.com' })), /rp/i);
    es256.counter = counterOf(es256.id);
  });

  it("when it answers another user's challenge", async () => {
    const lee = await begin('lee@pve');
    const kim = await begin('kim@pve');
    const answer = es256.authenticate(kim.publicKey!, { origin: ORIGIN });
    const r = await finish('lee@pve', kim.challenge, answer);
    expect(r.code).toBe(5);
    expect(lastAudit()).toMatchObject({ target: 'lee@pve', outcome: 'failed' });
    // Lee's own challenge does not know Kim's key either.
    expect((await finish('lee@pve', lee.challenge, answer)).code).toBe(5);
    es256.counter = counterOf(es256.id);
  });

  it('when it comes after the challenge expired (120 s)', async () => {
    const b = await begin('kim@pve');
    store.tamper('UPDATE challenges SET expires = expires - 121');
    await refused(await finish('kim@pve', b.challenge, es256.authenticate(b.publicKey!, { origin: ORIGIN })), /unknown, used or expired challenge/);
    es256.counter = counterOf(es256.id);
  });

  it('when the setting requires user verification and the key did not verify the user', async () => {
    expect((await store.run(['settings', 'set', 'webauthn.user-verification', 'required'])).code).toBe(0);
    try {
      const b = await begin('kim@pve');
      expect(b.publicKey!.userVerification).toBe('required');
      await refused(await finish('kim@pve', b.challenge, es256.authenticate(b.publicKey!, { origin: ORIGIN, flags: UP })), /verif/i);
      es256.counter = counterOf(es256.id);
      const ok = await begin('kim@pve');
      expect((await finish('kim@pve', ok.challenge, es256.authenticate(ok.publicKey!, { origin: ORIGIN, flags: UP | UV }))).code).toBe(0);
    } finally {
      await store.run(['settings', 'set', 'webauthn.user-verification', 'preferred']);
    }
  });

  it('and an unreadable answer too', async () => {
    const b = await begin('kim@pve');
    await refused(await finish('kim@pve', b.challenge, '{"id": "not a credential"'), /unreadable/);
  });
});

describe('login --begin for a web app', () => {
  it('takes the RP id and an allowed origin, and refuses an origin not allowed before checking the password', async () => {
    const b = await begin('kim@pve', ['--rp-id', RP_ID, '--origin', ORIGIN]);
    expect(b.publicKey!.rpId).toBe(RP_ID);
    const before = store.auditRows().length;
    const snapshot = store.snapshot();
    const r = await store.run(['login', 'kim@pve', '--begin', '--password-stdin', '--origin', 'https://other.pve.example.com', '--json'], { input: `${PW}\n` });
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toBe("error: origin https://other.pve.example.com is not allowed: add it to the webauthn.origin setting (tfactl settings set webauthn.origin '...')");
    const elsewhere = await store.run(['login', 'kim@pve', '--begin', '--password-stdin', '--origin', 'https://example.org', '--json'], { input: `${PW}\n` });
    expect(oneLineError(elsewhere)).toBe('error: origin https://example.org cannot use WebAuthn RP id pve.example.com: its host must be pve.example.com or a subdomain of it');
    expect(store.auditRows().length).toBe(before);
    expect(store.snapshot()).toBe(snapshot);
    const bad = await store.run(['login', 'kim@pve', '--begin', '--password-stdin', '--rp-id', 'https://x', '--json'], { input: `${PW}\n` });
    expect(bad.code).toBe(2);
  });

  it('offers no browser request for credentials of another RP id, only fido2-assert lines', async () => {
    const b = await begin('kim@pve', ['--rp-id', 'localhost', '--origin', 'http://localhost:8443']);
    // The U2F registration still answers through the appid extension.
    expect(b.publicKey!.allowCredentials.map((c) => c.id)).toEqual([u2f.keyHandle]);
    expect(b.fido2).toHaveLength(4);
  });
});

describe('through tfactl serve\'s POST /api/v1/login', () => {
  it("takes the browser's answer as the object it is, or as its text", async () => {
    await store.addUser('waapi', PW, ['--admin']);
    const token = (await store.run(['token', 'add', 'waapi', 'web', '--json'])).json().result.value as string;
    const sock = join(store.dir, 'run', 'wa.sock');
    const { child } = await startServe(sock, store.env);
    try {
      const post = (body: unknown) =>
        new Promise<{ status: number; json: { ok: boolean; result?: Begun & { method?: string }; error?: { message: string } } }>((done, fail) => {
          const text = JSON.stringify(body);
          const req = request({ socketPath: sock, path: '/api/v1/login', method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } }, (res) => {
            let answer = '';
            res.on('data', (d) => (answer += d)).on('end', () => done({ status: res.statusCode ?? 0, json: JSON.parse(answer) }));
          });
          req.on('error', fail).end(text);
        });
      for (const asText of [false, true]) {
        const begun = await post({ userid: 'kim@pve', password: PW });
        expect(begun.status, JSON.stringify(begun.json)).toBe(200);
        const answer = es256.authenticate(begun.json.result!.publicKey!, { origin: ORIGIN });
        const done = await post({ userid: 'kim@pve', challenge: begun.json.result!.challenge, response: asText ? JSON.stringify(answer) : answer });
        expect(done.status, JSON.stringify(done.json)).toBe(200);
        expect(done.json.result?.method).toBe('webauthn');
      }
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('without a terminal', () => {
  it('names the ways a security key can answer, not a flag that cannot carry one', async () => {
    const r = await store.run(['login', 'kim@pve', '--password-stdin'], { input: `${PW}\n` });
    expect(r.code).toBe(5);
    // Counted as any right password that signs nothing in, and said so.
    const counted = (n: number) => `; counted as a failed sign-in (${n} of 5 within 10 minutes ban kim@pve's password sign-ins for 15 minutes)`;
    expect(oneLineError(r)).toBe(
      `error: kim@pve signs in with a security key, which answers a challenge made for each sign-in: give --webauthn (a page in your browser, for keys registered on tfactl's own page: RP id localhost), or use login --begin and --finish (a web app)${counted(1)}`,
    );
    const as = await store.run(['--as', 'kim@pve', '--password-stdin', 'tfa', 'list', 'kim@pve'], { input: `${PW}\n` });
    expect(oneLineError(as)).toBe(
      `error: kim@pve signs in with a security key, which answers a challenge made for each sign-in: sign in at a terminal with 'tfactl login kim@pve --session' (a kept session serves --as), or use an API token${counted(2)}`,
    );
  });
});

describe('at a terminal, without a browser', () => {
  it('login prints the fido2-assert line and takes what it prints, pasted at the prompt', () => {
    const pem = join(store.dir, 'es256.pem');
    writeFileSync(pem, es256.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const counter = counterOf(es256.id) + 1;
    const spec = {
      argv: [process.execPath, BIN, 'login', 'kim@pve', '--no-browser'],
      env: { ...store.env, NO_COLOR: '1' },
      timeout: 30,
      steps: [
        { expect: 'Enter the password of kim@pve', send: `${PW}\r` },
        { expect: 'paste the line it prints at the prompt', send_command: [process.execPath, PASTE, pem, String(counter), RP_ID] },
      ],
    };
    const r = spawnSync('python3', [DRIVER, JSON.stringify(spec)], { encoding: 'utf8' });
    const run = JSON.parse(r.stdout) as { status: number; output: string; unmatched: string | null };
    expect(run.unmatched, run.output).toBeNull();
    expect(run.status, run.output).toBe(0);
    expect(run.output).toMatch(/printf '%s\\n' \S+ 'pve\.example\.com' \S+ \| fido2-assert -G DEVICE \| paste -sd ' '/);
    expect(run.output).toMatch(/fido2-assert -G -u DEVICE/);
    expect(run.output).toMatch(/Security key for kim@pve:/);
    expect(run.output).toMatch(/signed in as kim@pve/i);
    expect(counterOf(es256.id)).toBe(counter);
    es256.counter = counter;
  });
});

describe('racing answers', () => {
  it('one answer raced by 10 sign-ins: exactly one succeeds', async () => {
    const b = await begin('kim@pve');
    const answer = es256.authenticate(b.publicKey!, { origin: ORIGIN });
    const results = await Promise.all(Array.from({ length: 10 }, () => finish('kim@pve', b.challenge, answer)));
    expect(results.map((r) => r.code).sort()).toEqual([0, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
  });
});
