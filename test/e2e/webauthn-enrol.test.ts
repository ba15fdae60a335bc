import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCBOR, encodeCBOR } from '@levischuck/tiny-cbor';
import { SoftAuthenticator, UP, UV } from '../fixtures/soft-authenticator.js';
import { oneLineError, TempStore, type RunResult } from './harness.js';

/**
 * `tfa add webauthn --begin/--finish`, the JSON ceremony a web app drives, answered by a software
 * authenticator that lets a test choose the flags, the origin and the algorithm (the browser tests
 * in webauthn-cli.test.ts answer with Chromium's virtual authenticator). Every refusal is checked
 * to change nothing: the user's factors are the same before and after.
 */
const store = new TempStore();
const PW = 'enrolment password';
const ORIGIN = 'https://app.example.com';
const RP_ID = 'app.example.com';

type Creation = { challenge: string; rp: { id: string; name: string }; user: { name: string }; pubKeyCredParams: { alg: number }[]; attestation: string; excludeCredentials: { id: string }[]; authenticatorSelection: { residentKey: string; userVerification: string } };

beforeAll(async () => {
  await store.run(['init']);
  for (const s of [['webauthn.rp-id', RP_ID], ['webauthn.origin', ORIGIN], ['webauthn.rp-name', 'Example app']]) {
    expect((await store.run(['settings', 'set', ...s])).code).toBe(0);
  }
  for (const u of ['ann', 'bob', 'cy', 'dee']) await store.addUser(u, PW);
});
afterAll(() => store.remove());

const begin = async (userid: string, extra: string[] = []): Promise<{ challenge: string; publicKey: Creation }> => {
  const r = await store.run(['tfa', 'add', 'webauthn', userid, '--begin', '--json', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r.json().result;
};
const finish = (userid: string, challenge: string, answer: unknown): Promise<RunResult> =>
  store.run(['tfa', 'add', 'webauthn', userid, '--finish', '--challenge', challenge, '--response', '-', '--json'], { input: typeof answer === 'string' ? answer : JSON.stringify(answer) });
const factorsOf = async (userid: string) => (await store.run(['tfa', 'list', userid, '--json'])).json().result[0].factors as { id: string; type: string; description: string; credential: { id: string; rpId: string; counter: number } | null }[];

/** Asserts a refusal: its exit code, a one-line message, and the user's factors unchanged. */
async function refusedUnchanged(userid: string, attempt: () => Promise<RunResult>, code: number, message: RegExp): Promise<void> {
  const before = await factorsOf(userid);
  const r = await attempt();
  expect(r.code, r.stderr).toBe(code);
  expect(oneLineError(r)).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(await factorsOf(userid)).toEqual(before);
}

describe('tfa add webauthn --begin', () => {
  it('returns creation options: the RP, ES256 and RS256, attestation none, no resident key, user verification preferred', async () => {
    const { challenge, publicKey } = await begin('ann', ['--description', 'yubikey 5']);
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(publicKey).toMatchObject({
      rp: { id: RP_ID, name: 'Example app' },
      user: { name: 'ann@local' },
      attestation: 'none',
      excludeCredentials: [],
      authenticatorSelection: { residentKey: 'discouraged', userVerification: 'preferred' },
    });
    expect(publicKey.pubKeyCredParams.map((p) => p.alg)).toEqual([-7, -257]);
    // The challenge is in the store: nothing of the key yet.
    expect(await factorsOf('ann')).toEqual([]);
  });

  it('refuses an origin that is not allowed, and an RP id the origin does not fit, before storing a challenge', async () => {
    // No listing shows challenges: read from the store's backup.
    const count = () => store.atRest<{ n: number }>('SELECT count(*) AS n FROM challenges')[0]!.n;
    const before = count();
    for (const [extra, message] of [
      [['--origin', 'https://evil.example.net'], /origin/],
      [['--rp-id', 'other.example.org'], /origin/],
      [['--origin', 'not a url'], /origin/],
    ] as const) {
      const r = await store.run(['tfa', 'add', 'webauthn', 'ann', '--begin', '--json', ...extra]);
      expect(r.code, r.stderr).toBe(2);
      expect(oneLineError(r)).toMatch(message);
    }
    expect(count()).toBe(before);
  });
});

describe('tfa add webauthn --finish', () => {
  it('stores an ES256 key under the RP id it was made for, and excludes it from the next enrolment', async () => {
    const key = new SoftAuthenticator('ES256');
    const { challenge, publicKey } = await begin('ann', ['--description', 'yubikey 5']);
    const r = await finish('ann', challenge, key.register(publicKey, { origin: ORIGIN }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result).toMatchObject({ userid: 'ann@local', type: 'webauthn', description: 'yubikey 5', algorithm: 'ES256', credential: { id: key.id, rpId: RP_ID } });
    const [factor] = await factorsOf('ann');
    expect(factor).toMatchObject({ type: 'webauthn', description: 'yubikey 5', credential: { id: key.id, rpId: RP_ID } });
    // Public key material never shows in the listing.
    expect(JSON.stringify(factor)).not.toContain(key.coseKey().toString('base64url'));
    expect((await begin('ann')).publicKey.excludeCredentials).toEqual([{ id: key.id, type: 'public-key' }]);
    expect(store.auditRows().filter((a) => a.action === 'tfa.add' && a.outcome === 'ok')).toEqual([expect.objectContaining({ target: 'ann@local' })]);
  });

  it('stores an RS256 key (a TPM), and the key signs in', async () => {
    const key = new SoftAuthenticator('RS256');
    const { challenge, publicKey } = await begin('bob');
    const r = await finish('bob', challenge, key.register(publicKey, { origin: ORIGIN }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.algorithm).toBe('RS256');
    const login = await store.run(['login', 'bob', '--begin', '--password-stdin', '--json'], { input: `${PW}\n` });
    const request = login.json().result;
    const done = await store.run(['login', 'bob', '--finish', '--challenge', request.challenge, '--response', '-', '--json'], { input: JSON.stringify(key.authenticate(request.publicKey, { origin: ORIGIN })) });
    expect(done.code, done.stderr).toBe(0);
    expect(done.json().result.method).toBe('webauthn');
  });

  it('takes --response - after the acting user\'s password, as every line of standard input, and an unreadable one spends no second factor', async () => {
    await store.addUser('eve', PW);
    const keys = (await store.run(['tfa', 'add', 'recovery', 'eve', '--json'])).json().result.keys as string[];
    const keyFile = join(store.dir, 'eve-key');
    writeFileSync(keyFile, `${keys[0]}\n`);
    const left = async () => store.read<{ factors: { recoveryKeysLeft: number } }>(['user', 'show', 'eve']).factors.recoveryKeysLeft;
    const key = new SoftAuthenticator();
    const { challenge, publicKey } = await begin('eve');
    const asEve = (input: string) =>
      store.run(['--as', 'eve', '--password-stdin', '--auth-code', `@${keyFile}`, 'tfa', 'add', 'webauthn', 'eve', '--finish', '--challenge', challenge, '--response', '-', '--json'], { input });
    await refusedUnchanged('eve', () => asEve(`${PW}\nnot json\n`), 2, /^error: --response is not JSON/);
    expect(await left()).toBe(keys.length);
    const r = await asEve(`${PW}\n${JSON.stringify(key.register(publicKey, { origin: ORIGIN }))}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(await left()).toBe(keys.length - 1);
  });

  it('refuses a key that could never sign in: a public key off its curve, an answer made in another site\'s frame', async () => {
    const key = new SoftAuthenticator();
    const cose = decodeCBOR(new Uint8Array(key.coseKey())) as Map<number, Uint8Array | number>;
    // x and y of P-256's generator with y changed: the right shape, no point of the curve.
    const offCurve = new Map(cose);
    offCurve.set(-3, new Uint8Array(Buffer.alloc(32, 1)));
    const first = await begin('dee');
    await refusedUnchanged('dee', () => finish('dee', first.challenge, key.register(first.publicKey, { origin: ORIGIN, coseKey: Buffer.from(encodeCBOR(offCurve)) })), 4, /^error: the security key's answer was refused: its public key is not a usable ES256 \(P-256\) key$/);
    const framed = await begin('dee');
    await refusedUnchanged('dee', () => finish('dee', framed.challenge, key.register(framed.publicKey, { origin: ORIGIN, crossOrigin: true })), 4, /made inside another site's frame \(crossOrigin\)$/);
  });

  it('refuses an RS256 key whose signatures prove nothing: exponent 1 or even, a modulus under 2048 bits', async () => {
    const rsa = (n: Buffer, e: Buffer) => Buffer.from(encodeCBOR(new Map<number, Uint8Array | number>([[1, 3], [3, -257], [-1, new Uint8Array(n)], [-2, new Uint8Array(e)]])));
    const real = decodeCBOR(new Uint8Array(new SoftAuthenticator('RS256').coseKey())) as Map<number, Uint8Array>;
    const n2048 = Buffer.from(real.get(-1)!);
    const n1024 = Buffer.from(((decodeCBOR(new Uint8Array(new SoftAuthenticator('RS256', { modulusLength: 1024 }).coseKey())) as Map<number, Uint8Array>).get(-1))!);
    for (const [cose, message] of [
      [rsa(n2048, Buffer.from([1])), /its public key is not a usable RS256 key$/],
      [rsa(n2048, Buffer.from([2])), /its public key is not a usable RS256 key$/],
      [rsa(Buffer.from([0xc5]), Buffer.from([1, 0, 1])), /its public key is not a usable RS256 key$/],
      [rsa(n1024, Buffer.from([1, 0, 1])), /its RS256 key has fewer than 2048 bits$/],
    ] as const) {
      const started = await begin('dee');
      await refusedUnchanged('dee', () => finish('dee', started.challenge, new SoftAuthenticator('RS256').register(started.publicKey, { origin: ORIGIN, coseKey: cose })), 4, message);
    }
  });

  it('refuses a credential id WebAuthn does not allow (empty, over 1023 bytes) and an answer whose id is not its credential\'s', async () => {
    for (const [credentialId, message] of [
      [Buffer.alloc(0), /its credential id is 0 bytes \(1 to 1023\)$/],
      [Buffer.alloc(1024, 7), /its credential id is 1024 bytes \(1 to 1023\)$/],
    ] as const) {
      const started = await begin('dee');
      const answer = new SoftAuthenticator('ES256', { credentialId }).register(started.publicKey, { origin: ORIGIN });
      // An empty id is no answer's shape (exit 2): the browser reports one, the authenticator data holds none.
      const reported = credentialId.length === 0 ? { id: 'AA', rawId: 'AA' } : {};
      await refusedUnchanged('dee', () => finish('dee', started.challenge, { ...answer, ...reported }), 4, message);
    }
    const started = await begin('dee');
    const other = new SoftAuthenticator().id;
    const answer = { ...new SoftAuthenticator().register(started.publicKey, { origin: ORIGIN }), id: other, rawId: other };
    await refusedUnchanged('dee', () => finish('dee', started.challenge, answer), 4, /the id it reports is not its credential's$/);
  });

  it('says client data that is not JSON cannot be read, without quoting it', async () => {
    const key = new SoftAuthenticator();
    const started = await begin('dee');
    const answer = key.register(started.publicKey, { origin: ORIGIN }) as { response: { clientDataJSON: string } };
    answer.response.clientDataJSON = Buffer.from('secret-ish text').toString('base64url');
    await refusedUnchanged('dee', () => finish('dee', started.challenge, answer), 4, /^error: the security key's answer was refused: its attestation object or client data cannot be read \(not what an authenticator writes\)$/);
  });

  it('refuses a key registered already (exit 4)', async () => {
    const key = new SoftAuthenticator();
    const first = await begin('cy');
    expect((await finish('cy', first.challenge, key.register(first.publicKey, { origin: ORIGIN }))).code).toBe(0);
    const again = await begin('cy');
    await refusedUnchanged('cy', () => finish('cy', again.challenge, key.register(again.publicKey, { origin: ORIGIN })), 4, /already registered/);
  });

  it("refuses a key registered for another user (WebAuthn §7.1), naming no one", async () => {
    const key = new SoftAuthenticator();
    const first = await begin('bob');
    expect((await finish('bob', first.challenge, key.register(first.publicKey, { origin: ORIGIN }))).code).toBe(0);
    const other = await begin('dee');
    await refusedUnchanged('dee', () => finish('dee', other.challenge, key.register(other.publicKey, { origin: ORIGIN })), 4, /^error: this security key is already registered for another user$/);
  });

  it('holds an answer to what the settings say at --finish: user verification made required, an origin taken out', async () => {
    const started = await begin('dee');
    expect((await store.run(['settings', 'set', 'webauthn.user-verification', 'required'])).code).toBe(0);
    try {
      await refusedUnchanged('dee', () => finish('dee', started.challenge, new SoftAuthenticator().register(started.publicKey, { origin: ORIGIN, flags: UP })), 4, /user verification/i);
    } finally {
      await store.run(['settings', 'set', 'webauthn.user-verification', 'preferred']);
    }
    const again = await begin('dee');
    expect((await store.run(['settings', 'set', 'webauthn.origin', 'https://other.example.com'])).code).toBe(0);
    try {
      await refusedUnchanged('dee', () => finish('dee', again.challenge, new SoftAuthenticator().register(again.publicKey, { origin: ORIGIN })), 4, /^error: no origin this challenge was made for is in webauthn.origin any more: start again with --begin$/);
    } finally {
      await store.run(['settings', 'set', 'webauthn.origin', ORIGIN]);
    }
  });

  it('holds a sign-in answer to the settings at login --finish too', async () => {
    await store.addUser('fay', PW);
    const key = new SoftAuthenticator();
    const enrol = await begin('fay');
    expect((await finish('fay', enrol.challenge, key.register(enrol.publicKey, { origin: ORIGIN }))).code).toBe(0);
    const signIn = async () => {
      const login = await store.run(['login', 'fay', '--begin', '--password-stdin', '--json'], { input: `${PW}\n` });
      expect(login.code, login.stderr).toBe(0);
      return login.json().result as { challenge: string; publicKey: Parameters<SoftAuthenticator['authenticate']>[0] };
    };
    const answer = (request: Awaited<ReturnType<typeof signIn>>, flags: number) =>
      store.run(['login', 'fay', '--finish', '--challenge', request.challenge, '--response', '-', '--json'], { input: JSON.stringify(key.authenticate(request.publicKey, { origin: ORIGIN, flags })) });
    const unverified = await signIn();
    expect((await store.run(['settings', 'set', 'webauthn.user-verification', 'required'])).code).toBe(0);
    try {
      expect((await answer(unverified, UP)).code).toBe(5);
      const verified = await signIn();
      expect((await answer(verified, UP | UV)).code).toBe(0);
    } finally {
      await store.run(['settings', 'set', 'webauthn.user-verification', 'preferred']);
    }
    const moved = await signIn();
    expect((await store.run(['settings', 'set', 'webauthn.origin', 'https://other.example.com'])).code).toBe(0);
    try {
      expect((await answer(moved, UP)).code).toBe(5);
    } finally {
      await store.run(['settings', 'set', 'webauthn.origin', ORIGIN]);
    }
    expect((await answer(await signIn(), UP)).code).toBe(0);
  });

  it('says an attestation object no authenticator writes cannot be read, not what the CBOR parser tripped on', async () => {
    const key = new SoftAuthenticator();
    for (const attestation of [Buffer.alloc(40_000, 0x81), Buffer.from([0xa0])]) {
      const started = await begin('dee');
      const answer = key.register(started.publicKey, { origin: ORIGIN }) as { response: Record<string, unknown> };
      const broken = { ...answer, response: { ...answer.response, attestationObject: attestation.toString('base64url') } };
      await refusedUnchanged('dee', () => finish('dee', started.challenge, broken), 4, /^error: the security key's answer was refused: its attestation object or client data cannot be read \(not what an authenticator writes\)$/);
    }
  });

  it('refuses an answer without user verification when webauthn.user-verification is required', async () => {
    expect((await store.run(['settings', 'set', 'webauthn.user-verification', 'required'])).code).toBe(0);
    try {
      const { challenge, publicKey } = await begin('dee');
      expect(publicKey.authenticatorSelection.userVerification).toBe('required');
      await refusedUnchanged('dee', () => finish('dee', challenge, new SoftAuthenticator().register(publicKey, { origin: ORIGIN, flags: UP })), 4, /user verification/i);
      const next = await begin('dee');
      const r = await finish('dee', next.challenge, new SoftAuthenticator().register(next.publicKey, { origin: ORIGIN, flags: UP | UV }));
      expect(r.code, r.stderr).toBe(0);
    } finally {
      await store.run(['settings', 'set', 'webauthn.user-verification', 'preferred']);
    }
  });

  it.each([
    ['another origin', { origin: 'https://evil.example.net' }, 4, /origin/],
    ['another RP id', { origin: ORIGIN, signedRpId: 'evil.example.net' }, 4, /RP ID/i],
    ['a sign-in answer (webauthn.get)', { origin: ORIGIN, type: 'webauthn.get' }, 4, /webauthn\.get/],
    ['no user presence', { origin: ORIGIN, flags: 0 }, 4, /user.*present/i],
  ] as const)('refuses an answer from %s, and the challenge is spent', async (_what, answerOptions, code, message) => {
    const { challenge, publicKey } = await begin('dee');
    await refusedUnchanged('dee', () => finish('dee', challenge, new SoftAuthenticator().register(publicKey, answerOptions)), code, message);
    // Single use: the right answer to the same challenge comes too late.
    await refusedUnchanged('dee', () => finish('dee', challenge, new SoftAuthenticator().register(publicKey, { origin: ORIGIN })), 4, /unknown, used or expired/);
  });

  it("says what the verifier refused in at most 200 characters: an answer's origin of 40 KB is not echoed whole, nor audited whole", async () => {
    const { challenge, publicKey } = await begin('dee');
    const origin = `https://${'a'.repeat(40_000)}.example.net`;
    await refusedUnchanged('dee', () => finish('dee', challenge, new SoftAuthenticator().register(publicKey, { origin })), 4, /^error: the security key's answer was refused: .{1,200}\.\.\.$/);
    expect(JSON.stringify(store.auditRows().at(-1)).length).toBeLessThan(1000);
  });

  it('refuses an answer after 120 s, a challenge of another user, and a sign-in challenge', async () => {
    const late = await begin('dee');
    store.tamper('UPDATE challenges SET expires = expires - 121 WHERE id = ?', late.challenge);
    await refusedUnchanged('dee', () => finish('dee', late.challenge, new SoftAuthenticator().register(late.publicKey, { origin: ORIGIN })), 4, /unknown, used or expired/);

    const anns = await begin('ann');
    await refusedUnchanged('dee', () => finish('dee', anns.challenge, new SoftAuthenticator().register(anns.publicKey, { origin: ORIGIN })), 4, /unknown, used or expired/);

    await store.run(['tfa', 'add', 'recovery', 'cy']);
    const signIn = await store.run(['login', 'cy', '--begin', '--password-stdin', '--json'], { input: `${PW}\n` });
    const { challenge } = signIn.json().result;
    await refusedUnchanged('cy', () => finish('cy', challenge, new SoftAuthenticator().register({ challenge, rp: { id: RP_ID } }, { origin: ORIGIN })), 4, /unknown, used or expired/);
  });

  it.each([
    ['not JSON', 'this is not json', /not JSON/],
    ['JSON of the wrong shape', '{"id": 1}', /"id" is not a base64url string/],
    ['a sign-in answer', JSON.stringify(new SoftAuthenticator().authenticate({ challenge: 'AAAA', rpId: RP_ID }, { origin: ORIGIN })), /attestationObject/],
    ['an empty answer', '', /empty|answer/],
  ])('refuses %s with exit 2', async (_what, text, message) => {
    const { challenge } = await begin('dee');
    await refusedUnchanged('dee', () => finish('dee', challenge, text), 2, message);
  });
});

describe('realm rules', () => {
  it('a realm that enforces YubiKey OTP refuses WebAuthn enrolment (exit 4), at --begin and at --finish', async () => {
    await store.run(['realm', 'add', 'keys']);
    await store.addUser('yan@keys', PW);
    const early = await begin('dee'); // a challenge for a user in another realm: unaffected
    expect(early.challenge).toBeTruthy();
    const begunBefore = await begin('yan@keys');
    expect((await store.run(['realm', 'set-enforce', 'keys', 'yubico', '--offline'])).code).toBe(0);
    await refusedUnchanged('yan@keys', () => store.run(['tfa', 'add', 'webauthn', 'yan@keys', '--begin', '--json']), 4, /yubico|YubiKey/i);
    await refusedUnchanged('yan@keys', () => finish('yan@keys', begunBefore.challenge, new SoftAuthenticator().register(begunBefore.publicKey, { origin: ORIGIN })), 4, /yubico|YubiKey/i);
  });

  it('a realm that enforces TOTP accepts the key with a warning: its sign-ins ask for TOTP or a recovery key', async () => {
    await store.run(['realm', 'add', 'ops']);
    await store.addUser('oz@ops', PW);
    expect((await store.run(['realm', 'set-enforce', 'ops', 'totp'])).code).toBe(0);
    const { challenge, publicKey } = await begin('oz@ops');
    const r = await finish('oz@ops', challenge, new SoftAuthenticator().register(publicKey, { origin: ORIGIN }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/realm ops enforces TOTP: sign-ins there ask for TOTP or a recovery key/);
  });
});

describe('usage errors (exit 2, nothing changed)', () => {
  it.each([
    [['--begin', '--finish'], /not both/],
    [['--challenge', 'x'], /go with --finish/],
    [['--finish', '--challenge', 'x'], /--finish needs/],
    [['--rp-id', RP_ID], /go with --begin/],
    [['--begin', '--port', '8080'], /for the page/],
    [['--begin', '--no-open'], /for the page/],
    [['--finish', '--challenge', 'x', '--response', '-', '--page'], /for the page/],
    // Without a terminal no page is started to wait 120 s for a browser nobody is at.
    [[], /^error: standard input is not a terminal, so no page is started to wait for a browser: give --page to start it anyway, or --begin and --finish for a web app$/],
    [['--no-open', '--description', 'key'], /give --page/],
    [['--finish', '--challenge', 'x', '--response', '-', '--description', 'd'], /goes with --begin/],
    [['--port', '80000'], /port/],
    [['--begin', '--rp-id', 'https://x'], /RP id/],
  ])('%j', async (extra, message) => {
    await refusedUnchanged('dee', () => store.run(['tfa', 'add', 'webauthn', 'dee', '--json', ...extra], { input: '' }), 2, message);
  });

  it('refuses an unknown user with exit 3', async () => {
    const r = await store.run(['tfa', 'add', 'webauthn', 'nobody', '--begin', '--json']);
    expect(r.code).toBe(3);
    expect(oneLineError(r)).toMatch(/nobody@local/);
  });
});

describe('settings set webauthn.rp-id while keys were made under it', () => {
  const site = new TempStore();
  afterAll(() => site.remove());

  it('needs --force, says how many stop working, and keeps each key under the RP id it was made for', async () => {
    await site.run(['init']);
    expect((await site.run(['settings', 'set', 'webauthn.origin', ORIGIN])).code).toBe(0);
    expect((await site.run(['settings', 'set', 'webauthn.rp-id', RP_ID])).code).toBe(0);
    await site.addUser('max', PW);
    const key = new SoftAuthenticator();
    const begun = (await site.run(['tfa', 'add', 'webauthn', 'max', '--begin', '--json'])).json().result;
    expect((await site.run(['tfa', 'add', 'webauthn', 'max', '--finish', '--challenge', begun.challenge, '--response', '-'], { input: JSON.stringify(key.register(begun.publicKey, { origin: ORIGIN })) })).code).toBe(0);
    // Imported without datacenter.cfg: it follows the setting.
    const imported = new SoftAuthenticator();
    const tfaCfg = join(site.dir, 'tfa.cfg');
    const userCfg = join(site.dir, 'user.cfg');
    writeFileSync(tfaCfg, JSON.stringify({ users: { 'pat@pve': { webauthn: [{ id: 'w', created: 1700000000, entry: imported.proxmoxEntry() }] } } }));
    writeFileSync(userCfg, 'user:pat@pve:1:0:::::\n');
    expect((await site.run(['import', 'proxmox', '--tfa-cfg', tfaCfg, '--user-cfg', userCfg])).code).toBe(0);
    const rpIds = async () => Object.fromEntries(
      (await site.run(['tfa', 'list', '--json'])).json().result.flatMap((u: { factors: { credential: { id: string; rpId: string } | null }[] }) => u.factors.map((f) => [f.credential!.id, f.credential!.rpId])),
    );
    // null: it follows the store's setting.
    expect(await rpIds()).toEqual({ [key.id]: RP_ID, [imported.id]: null });

    const refused = await site.run(['settings', 'set', 'webauthn.rp-id', 'login.example.com']);
    expect(refused.code).toBe(4);
    expect(oneLineError(refused)).toBe('error: 2 security keys made under RP id app.example.com stop working for sign-ins under RP id login.example.com: give --force to change webauthn.rp-id anyway');
    expect((await site.run(['settings', 'list', '--json'])).json().result.find((x: { key: string }) => x.key === 'webauthn.rp-id').value).toBe(RP_ID);

    // The same value again, or another setting, needs nothing.
    expect((await site.run(['settings', 'set', 'webauthn.rp-id', RP_ID])).code).toBe(0);

    const forced = await site.run(['settings', 'set', 'webauthn.rp-id', 'login.example.com', '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/warning: 2 security keys made under RP id app\.example\.com stop working/);
    expect(forced.json().result.value).toBe('login.example.com');
    // The one that followed the setting now keeps the RP id it was made under.
    expect(await rpIds()).toEqual({ [key.id]: RP_ID, [imported.id]: RP_ID });
    expect(site.auditRows().at(-1)).toMatchObject({ action: 'settings.set', outcome: 'ok' });
    expect(site.auditRows().at(-1)?.detail).toContain('"stranded":2');

    // No key under the new RP id: the next change needs no --force.
    expect((await site.run(['settings', 'set', 'webauthn.rp-id', 'sso.example.com'])).code).toBe(0);
  });
});
