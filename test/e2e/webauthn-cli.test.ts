import { spawn, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addVirtualAuthenticator, AUTHENTICATORS, launchBrowser, runPage, type TestBrowser, type VirtualAuthenticatorOptions } from './browser.js';
import { BIN, oneLineError, TempStore, type RunResult } from './harness.js';
import { NOBODY, SETPRIV } from './nobody.js';
import { CERT, CERT_KEY } from '../fixtures/test-certificate.js';

/**
 * `tfa add webauthn` and `login` with a real browser: headless Chromium and its DevTools virtual
 * authenticator, on tfactl's loopback page (the command spawned as it is run, its page's address
 * read from its standard error) and on a web app's own page (the JSON ceremony, with
 * @simplewebauthn/browser as a web app would use it), and legacy U2F through the appid extension
 * over HTTPS.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const UMD = readFileSync(join(ROOT, 'node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js'), 'utf8');
const PW = 'browser sign-in password';
const store = new TempStore();
let browser: TestBrowser;
const servers: Server[] = [];

beforeAll(async () => {
  await store.run(['init']);
  for (const u of ['ann', 'ben', 'cat', 'dan', 'eve', 'gil']) await store.addUser(u, PW);
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  for (const s of servers) s.close();
  store.remove();
});

/** Runs tfactl and hands over the page's address as soon as it prints it. */
function withPage(args: string[], input = ''): { url: Promise<string>; done: Promise<RunResult> } {
  let found: (url: string) => void;
  const url = new Promise<string>((r) => (found = r));
  const done = store.run(args, {
    input,
    timeoutMs: 60_000,
    onStderr: (text) => {
      const m = /http:\/\/localhost:\d+\/[A-Za-z0-9_-]{43}\//.exec(text);
      if (m) found(m[0]);
    },
  });
  // A command that ends without printing one: the test fails on its result, not on a hang.
  void done.then(() => found(''));
  return { url, done };
}

const enrol = (userid: string, page: Page, extra: string[] = []) => {
  const run = withPage(['tfa', 'add', 'webauthn', userid, '--page', '--no-open', '--description', 'key on the page', '--json', ...extra]);
  return run.url.then(async (url) => ({ shown: url === '' ? null : await runPage(page, url), result: await run.done }));
};
const signIn = (userid: string, page: Page, extra: string[] = []) => {
  const run = withPage(['login', userid, '--webauthn', '--no-open', '--password-stdin', '--json', ...extra], `${PW}\n`);
  return run.url.then(async (url) => ({ shown: url === '' ? null : await runPage(page, url), result: await run.done }));
};

describe('the loopback page, from the command line', () => {
  it.for([
    ['ann', 'a USB security key (ctap2, no resident key, no user verification)', AUTHENTICATORS.usbSecurityKey],
    ['ben', 'a platform passkey (ctap2, internal, user verification)', AUTHENTICATORS.platformPasskey],
  ] as [string, string, VirtualAuthenticatorOptions][])('%s enrols %s with tfa add webauthn and signs in with login', async ([user, , kind]) => {
    const page = await browser.newPage();
    const authenticator = await addVirtualAuthenticator(page, kind);
    const added = await enrol(user, page);
    expect(added.result.code, added.result.stderr).toBe(0);
    expect(added.shown).toEqual({ state: 'done', text: 'Registered. You can close this page and go back to the terminal.' });
    const { credential } = added.result.json().result;
    expect(credential.rpId).toBe('localhost');
    const [held] = await authenticator.credentials();
    expect(Buffer.from(held!.credentialId, 'base64').toString('base64url')).toBe(credential.id);
    // No resident key asked for: a key's slots are not used up.
    expect(held!.isResidentCredential).toBe(false);
    expect(added.result.stderr).toContain(`Open http://localhost:`);

    const signedIn = await signIn(user, page);
    expect(signedIn.result.code, signedIn.result.stderr).toBe(0);
    expect(signedIn.result.json().result).toEqual({ userid: `${user}@local`, method: 'webauthn', recoveryKeysLeft: null, session: null });
    expect(signedIn.shown).toEqual({ state: 'done', text: 'Signed in. You can close this page and go back to the terminal.' });
    expect(store.counterOf(credential.id)).toBe((await authenticator.credentials())[0]!.signCount);
    await page.close();
  });

  it('shows a refused sign-in on the page: a signature counter that went back (a cloned key)', async () => {
    const page = await browser.newPage();
    const key = await addVirtualAuthenticator(page, AUTHENTICATORS.usbSecurityKey);
    expect((await enrol('cat', page)).result.code).toBe(0);
    const [held] = await key.credentials();
    // Another copy of the key signed 50 times meanwhile.
    store.tamper(`UPDATE factors SET last_counter = 50 WHERE credential_id = '${Buffer.from(held!.credentialId, 'base64').toString('base64url')}'`);
    const r = await signIn('cat', page);
    expect(r.result.code).toBe(5);
    expect(r.shown?.state).toBe('error');
    expect(r.shown?.text).toContain('authentication failed');
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'login', target: 'cat@local', outcome: 'failed' });
    expect(store.auditRows().at(-1)?.detail).toContain('counter');
    await page.close();
  });

  it("answers only its own user's connections: another local user who read the address (a browser's command line shows it) is refused, and told of", async () => {
    const page = await browser.newPage();
    const key = await addVirtualAuthenticator(page, AUTHENTICATORS.usbSecurityKey);
    const run = withPage(['tfa', 'add', 'webauthn', 'gil', '--page', '--no-open', '--description', 'key on the page', '--json']);
    const url = new URL(await run.url);
    // nobody fetches the options and answers with a made-up credential, through the secret path.
    const script = `
      const http = require('node:http');
      const ask = (method, path, body) => new Promise((done) => {
        const req = http.request({ host: '127.0.0.1', port: ${url.port}, path, method, setHost: false, agent: false,
          headers: { Host: 'localhost:${url.port}', Origin: 'http://localhost:${url.port}', 'Content-Type': 'application/json' } }, (res) => {
          let text = ''; res.on('data', (d) => (text += d)); res.on('end', () => done([res.statusCode, JSON.parse(text).message]));
        });
        req.on('error', (e) => done([e.code])); req.end(body);
      });
      (async () => {
        const forged = { id: 'AAAA', rawId: 'AAAA', type: 'public-key', response: { clientDataJSON: 'AAAA', attestationObject: 'AAAA' }, clientExtensionResults: {} };
        console.log(JSON.stringify([await ask('GET', '${url.pathname}options'), await ask('POST', '${url.pathname}response', JSON.stringify(forged))]));
      })();`;
    const stranger = spawnSync(SETPRIV[0]!, [...SETPRIV.slice(1), process.execPath, '-e', script], { encoding: 'utf8' });
    const refusal = 'this page belongs to another user of this machine: open it as the user who started tfactl';
    expect(JSON.parse(stranger.stdout), stranger.stderr).toEqual([[403, refusal], [403, refusal]]);
    // The page still works for its own user, and the terminal was told.
    expect(await runPage(page, url.href)).toEqual({ state: 'done', text: 'Registered. You can close this page and go back to the terminal.' });
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    const warning = `refused a connection to the page from another user of this machine (uid ${NOBODY}): only yours are answered`;
    expect(result.stderr).toContain(`warning: ${warning}`);
    expect(result.json().warnings).toContain(warning);
    const [held] = await key.credentials();
    expect(result.json().result.credential.id).toBe(Buffer.from(held!.credentialId, 'base64').toString('base64url'));
    await page.close();
  });

  it('refuses --webauthn for a user without a key the page can use, as a failed sign-in', async () => {
    expect((await store.run(['tfa', 'add', 'recovery', 'dan'])).code).toBe(0);
    const r = await store.run(['login', 'dan', '--webauthn', '--no-open', '--password-stdin', '--json'], { input: `${PW}\n` });
    expect(r.code).toBe(5);
    expect(oneLineError(r)).toMatch(/has no security key the page can sign in with/);
  });

  it('with webauthn.user-verification required, asks the browser for it and enrols a passkey that verifies the user', async () => {
    // A key that cannot verify the user is refused by the check itself: see webauthn-enrol.test.ts
    // (a browser never sends its answer: it keeps waiting for a key that can).
    expect((await store.run(['settings', 'set', 'webauthn.user-verification', 'required'])).code).toBe(0);
    try {
      const page = await browser.newPage();
      await addVirtualAuthenticator(page, AUTHENTICATORS.platformPasskey);
      let asked: unknown;
      page.on('response', (response) => {
        if (response.request().method() === 'GET' && response.url().endsWith('/options')) void response.json().then((body: unknown) => (asked = body));
      });
      const r = await enrol('eve', page);
      expect(r.result.code, r.result.stderr).toBe(0);
      expect(r.shown?.state).toBe('done');
      expect(asked).toMatchObject({ kind: 'registration', publicKey: { authenticatorSelection: { userVerification: 'required' } } });
      await page.close();
    } finally {
      await store.run(['settings', 'set', 'webauthn.user-verification', 'preferred']);
    }
  });
});

/** A web app's page on http://localhost:PORT, with @simplewebauthn/browser loaded. */
async function appPage(page: Page): Promise<string> {
  const server = createHttpServer((req, res) => {
    if (req.url === '/lib.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(UMD);
    else res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>app</title><script src="/lib.js"></script>');
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://localhost:${(server.address() as { port: number }).port}`;
  await page.goto(`${origin}/`);
  return origin;
}

describe('the loopback page, interrupted', () => {
  it('says a Ctrl-C is an interruption (exit 130), not that the page was closed', async () => {
    await store.addUser('ian', PW);
    const child = spawn(process.execPath, [BIN, 'tfa', 'add', 'webauthn', 'ian', '--page', '--no-open'], { env: { ...process.env, ...store.env, TFACTL_AS: undefined }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    for (const begun = Date.now(); !stderr.includes('in your browser') && Date.now() - begun < 20_000; ) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const code = await new Promise((r) => child.on('close', r));
    expect(code, stderr).toBe(130);
    expect(stderr.trimEnd().split('\n').at(-1)).toBe('error: interrupted');
    expect(store.factorsOf('ian')).toEqual([]);
  });
});

describe("a web app's JSON ceremony, answered by a real browser", () => {
  it('says, with no origin configured, the way that works: the setting, --origin only for a loopback page', async () => {
    const begin = (args: string[]) => store.run(['tfa', 'add', 'webauthn', 'gil', '--begin', ...args, '--json']);
    const local = await begin([]);
    expect({ code: local.code, error: local.json().error }).toEqual({
      code: 2,
      error: { code: 'invalid_origin', message: 'no origin may answer for WebAuthn RP id localhost: allow the web page\'s origin with the webauthn.origin setting (tfactl settings set webauthn.origin https://HOST), or give an http://localhost origin with --origin' },
    });
    const app = await begin(['--rp-id', 'example.com']);
    expect(app.json().error.message).toBe("no origin may answer for WebAuthn RP id example.com: allow the web page's origin with the webauthn.origin setting (tfactl settings set webauthn.origin https://HOST)");
    // --origin alone is no way for it: refused, as the message says.
    const alone = await begin(['--rp-id', 'example.com', '--origin', 'https://app.example.com']);
    expect({ code: alone.code, error: alone.json().error.code }).toEqual({ code: 2, error: 'invalid_origin' });
    // The way it names works.
    expect((await store.run(['settings', 'set', 'webauthn.origin', 'https://app.example.com'])).code).toBe(0);
    try {
      const begun = await begin(['--rp-id', 'example.com']);
      expect({ code: begun.code, ok: begun.json().ok }).toEqual({ code: 0, ok: true });
    } finally {
      expect((await store.run(['settings', 'unset', 'webauthn.origin'])).code).toBe(0);
    }
  });

  it('enrols with --begin/--finish and signs in with login --begin/--finish; another origin is refused', async () => {
    await store.addUser('fay', PW, ['--comment', 'contractor, leaving in March']);
    const page = await browser.newPage();
    await addVirtualAuthenticator(page, AUTHENTICATORS.usbSecurityKey);
    const origin = await appPage(page);
    const begun = await store.run(['tfa', 'add', 'webauthn', 'fay', '--begin', '--origin', origin, '--description', 'app key', '--json']);
    expect(begun.code, begun.stderr).toBe(0);
    const { challenge, publicKey } = begun.json().result;
    // The browser shows, and a passkey manager keeps, the user id: never the admin's comment.
    expect(publicKey.user).toMatchObject({ name: 'fay@local', displayName: 'fay@local' });
    const answer = await page.evaluate((optionsJSON) => (window as never as { SimpleWebAuthnBrowser: { startRegistration(o: unknown): Promise<unknown> } }).SimpleWebAuthnBrowser.startRegistration({ optionsJSON }), publicKey);
    const finished = await store.run(['tfa', 'add', 'webauthn', 'fay', '--finish', '--challenge', challenge, '--response', '-', '--json'], { input: `${JSON.stringify(answer)}\n` });
    expect(finished.code, finished.stderr).toBe(0);
    expect(finished.json().result).toMatchObject({ type: 'webauthn', description: 'app key', credential: { rpId: 'localhost' } });

    // The next enrolment excludes it.
    const again = await store.run(['tfa', 'add', 'webauthn', 'fay', '--begin', '--origin', origin, '--json']);
    expect(again.json().result.publicKey.excludeCredentials).toEqual([{ id: finished.json().result.credential.id, type: 'public-key' }]);

    const login = await store.run(['login', 'fay', '--begin', '--rp-id', 'localhost', '--origin', origin, '--password-stdin', '--json'], { input: `${PW}\n` });
    expect(login.code, login.stderr).toBe(0);
    const request = login.json().result;
    const assertion = await page.evaluate((optionsJSON) => (window as never as { SimpleWebAuthnBrowser: { startAuthentication(o: unknown): Promise<unknown> } }).SimpleWebAuthnBrowser.startAuthentication({ optionsJSON }), request.publicKey);
    const done = await store.run(['login', 'fay', '--finish', '--challenge', request.challenge, '--response', '-', '--json'], { input: `${JSON.stringify(assertion)}\n` });
    expect(done.code, done.stderr).toBe(0);
    expect(done.json().result.method).toBe('webauthn');

    // The same ceremony on another port: another origin, refused.
    const otherPage = await browser.newPage();
    await addVirtualAuthenticator(otherPage, AUTHENTICATORS.usbSecurityKey);
    await appPage(otherPage);
    const wrong = await store.run(['tfa', 'add', 'webauthn', 'fay', '--begin', '--origin', origin, '--json']);
    const wrongAnswer = await otherPage.evaluate((optionsJSON) => (window as never as { SimpleWebAuthnBrowser: { startRegistration(o: unknown): Promise<unknown> } }).SimpleWebAuthnBrowser.startRegistration({ optionsJSON }), wrong.json().result.publicKey);
    const refused = await store.run(['tfa', 'add', 'webauthn', 'fay', '--finish', '--challenge', wrong.json().result.challenge, '--response', '-', '--json'], { input: `${JSON.stringify(wrongAnswer)}\n` });
    expect(refused.code).toBe(4);
    expect(oneLineError(refused)).toMatch(/origin/i);
    await page.close();
    await otherPage.close();
  });
});

describe('legacy U2F through the appid extension, over HTTPS', () => {
  it('signs in with a U2F registration imported from Proxmox, answered by the u2f virtual authenticator', async () => {
    // The web interface, as Proxmox serves it: HTTPS on pve.example.com, which the browser resolves here.
    const server = createHttpsServer({ cert: CERT, key: CERT_KEY }, (req, res) => {
      if (req.url === '/lib.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(UMD);
      else res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>pve</title><script src="/lib.js"></script>');
    });
    servers.push(server as unknown as Server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const origin = `https://pve.example.com:${port}`;
    const spki = createHash('sha256').update(new X509Certificate(CERT).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    const u2fBrowser = await launchBrowser([`--ignore-certificate-errors-spki-list=${spki}`, '--host-resolver-rules=MAP pve.example.com 127.0.0.1']);
    try {
      // The registration: a key pair whose private half the virtual U2F key is given.
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' });
      const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
      const keyHandle = Buffer.from('an imported U2F key handle of 32 bytes!').subarray(0, 32);
      const dir = store.dir;
      writeFileSync(join(dir, 'u2f-tfa.cfg'), JSON.stringify({ users: { 'gil@pve': { u2f: [{ id: 'u', created: 1600000000, entry: { key: { keyHandle: keyHandle.toString('base64url'), version: 'U2F_V2' }, 'public-key': point.toString('base64') } }] } } }));
      writeFileSync(join(dir, 'u2f-user.cfg'), 'user:gil@pve:1:0:::::\n');
      writeFileSync(join(dir, 'u2f-datacenter.cfg'), `webauthn: rp=PVE,origin=${origin},id=pve.example.com\nu2f: appid=${origin}\n`);
      const imported = await store.run(['import', 'proxmox', '--tfa-cfg', join(dir, 'u2f-tfa.cfg'), '--user-cfg', join(dir, 'u2f-user.cfg'), '--datacenter-cfg', join(dir, 'u2f-datacenter.cfg')]);
      expect(imported.code, imported.stderr).toBe(0);
      expect((await store.run(['user', 'passwd', 'gil@pve', '--password-stdin'], { input: `${PW}\n` })).code).toBe(0);

      const page = await u2fBrowser.newPage();
      const authenticator = await addVirtualAuthenticator(page, AUTHENTICATORS.u2fKey);
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('WebAuthn.addCredential', {
        authenticatorId: authenticator.id,
        credential: {
          credentialId: keyHandle.toString('base64'),
          isResidentCredential: false,
          rpId: origin,
          privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
          signCount: 7,
        },
      });
      await page.goto(`${origin}/`);
      const begun = await store.run(['login', 'gil@pve', '--begin', '--password-stdin', '--json'], { input: `${PW}\n` });
      expect(begun.code, begun.stderr).toBe(0);
      const { challenge, publicKey: options } = begun.json().result;
      expect(options.extensions).toEqual({ appid: origin });
      const answer = await page.evaluate((optionsJSON) => (window as never as { SimpleWebAuthnBrowser: { startAuthentication(o: unknown): Promise<unknown> } }).SimpleWebAuthnBrowser.startAuthentication({ optionsJSON }), options);
      expect(answer).toMatchObject({ clientExtensionResults: { appid: true } });
      const done = await store.run(['login', 'gil@pve', '--finish', '--challenge', challenge, '--response', '-', '--json'], { input: `${JSON.stringify(answer)}\n` });
      expect(done.code, done.stderr).toBe(0);
      expect(done.json().result.method).toBe('u2f');
      expect(store.counterOf(keyHandle.toString('base64url'))).toBe(8);
    } finally {
      await u2fBrowser.close();
    }
  });
});
