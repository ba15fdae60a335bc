// The one-shot loopback page (src/commands/webauthn/) as the built package runs it, driven by a
// real headless chromium with the DevTools virtual authenticator, its answers checked by
// @simplewebauthn/server as a WebAuthn relying party does. No command uses the page yet: these
// tests start it the way `tfa add webauthn` and `login` will (see enrolAndSignIn below).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type WebAuthnCredential,
} from '@simplewebauthn/server';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoopbackCeremony } from '../../src/commands/webauthn/loopback.js';
import { addVirtualAuthenticator, AUTHENTICATORS, launchBrowser, runPage, type TestBrowser, type VirtualAuthenticatorOptions } from './browser.js';
import { BIN } from './harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const UMD = join(ROOT, 'node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js');

type Bundle = typeof import('../../src/main.js');
type Loopback = Awaited<ReturnType<Bundle['loadLoopbackCeremony']>>;

/** The built package's loopback module and error classes (dist/tfactl.cjs, as bin/tfactl.cjs loads it). */
async function loadBuilt(): Promise<{ loopback: Loopback; errors: Bundle['errors'] }> {
  const { load } = createRequire(import.meta.url)(BIN) as { load(): { exports: Bundle } };
  const bundle = load().exports;
  return { loopback: await bundle.loadLoopbackCeremony(), errors: bundle.errors };
}

const random = { bytes: (n: number) => randomBytes(n) };
const RP_ID = 'localhost';
const prompt = (userid: string) => ({ heading: 'Register a security key', facts: [['User', userid], ['Description', 'test key']] as const });

let loopback: Loopback;
let errors: Bundle['errors'];
let browser: TestBrowser;
const decoys: Server[] = [];

beforeAll(async () => {
  ({ loopback, errors } = await loadBuilt());
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  for (const d of decoys) d.close();
});

/** Opens the ceremony's page and presses its button; returns what the page finally says. */
/** Sends one raw request to the ceremony's server; `error` is set when it could not connect. */
function raw(
  port: number,
  path: string,
  { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders } | { error: string }> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { Host: `localhost:${port}`, ...headers }, setHost: false, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    req.end(body);
  });
}

const pathOf = (c: LoopbackCeremony<unknown>) => new URL(c.url).pathname;
const postAnswer = (c: LoopbackCeremony<unknown>, answer: unknown, origin = c.origin) =>
  raw(c.port, `${pathOf(c)}response`, { method: 'POST', headers: { Origin: origin, 'Content-Type': 'application/json' }, body: JSON.stringify(answer) });

/**
 * Enrols a credential through the page and signs in with it, as `tfa add webauthn` and `login`
 * will: options from @simplewebauthn/server, the page for the browser, and `finish` verifying the
 * answer against the page's exact origin.
 */
async function enrolAndSignIn(page: Page, userid: string) {
  const registration = await generateRegistrationOptions({
    rpName: 'tfactl',
    rpID: RP_ID,
    userName: userid,
    attestationType: 'none',
    supportedAlgorithmIDs: [-7, -257],
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
  });
  const started = performance.now();
  const enrol: LoopbackCeremony<WebAuthnCredential> = await loopback.startLoopbackCeremony({
    kind: 'registration',
    publicKey: registration,
    prompt: prompt(userid),
    random,
    finish: async (answer) => {
      const checked = await verifyRegistrationResponse({ response: answer, expectedChallenge: registration.challenge, expectedOrigin: enrol.origin, expectedRPID: RP_ID, requireUserVerification: false });
      if (!checked.verified) throw new errors.AuthError('the security key was not accepted');
      return checked.registrationInfo.credential;
    },
    successMessage: `Registered for ${userid}.`,
  });
  const listeningMs = performance.now() - started;
  const enrolled = await runPage(page, enrol.url);
  const credential = await enrol.result;

  const authentication = await generateAuthenticationOptions({
    rpID: RP_ID,
    allowCredentials: [{ id: credential.id, transports: credential.transports }],
    userVerification: 'preferred',
  });
  const signIn = await loopback.startLoopbackCeremony({
    kind: 'authentication',
    publicKey: authentication,
    prompt: { heading: 'Sign in', facts: [['User', userid]] },
    random,
    finish: async (answer) => {
      const checked = await verifyAuthenticationResponse({ response: answer, expectedChallenge: authentication.challenge, expectedOrigin: signIn.origin, expectedRPID: RP_ID, credential, requireUserVerification: false });
      if (!checked.verified) throw new errors.AuthError();
      return checked.authenticationInfo;
    },
  });
  const signedIn = await runPage(page, signIn.url);
  return { enrol, enrolled, credential, signIn, signedIn, authenticated: await signIn.result, listeningMs };
}

describe('the loopback WebAuthn page, from the built package, in a real browser', () => {
  it.for([
    ['a platform passkey (ctap2, internal, user verification)', AUTHENTICATORS.platformPasskey],
    ['a USB security key (ctap2, no resident key)', AUTHENTICATORS.usbSecurityKey],
    ['a legacy U2F key', AUTHENTICATORS.u2fKey],
  ] as [string, VirtualAuthenticatorOptions][])('enrols %s and signs in with it, both verified by @simplewebauthn/server', async ([, kind], { annotate }) => {
    const page = await browser.newPage();
    const authenticator = await addVirtualAuthenticator(page, kind);
    const r = await enrolAndSignIn(page, 'alice@pve');
    await annotate(`browser launch ${browser.launchMs.toFixed(0)} ms; start to listening ${r.listeningMs.toFixed(1)} ms`);

    expect(r.enrolled).toEqual({ state: 'done', text: 'Registered for alice@pve.' });
    expect(r.signedIn.state).toBe('done');
    // The credential the relying party verified is the one the authenticator holds.
    const [held] = await authenticator.credentials();
    expect(Buffer.from(held!.credentialId, 'base64').toString('base64url')).toBe(r.credential.id);
    expect(held!.isResidentCredential).toBe(kind.hasResidentKey);
    expect(r.authenticated.credentialID).toBe(r.credential.id);
    expect(r.authenticated.userVerified).toBe(kind.hasUserVerification);
    expect(r.authenticated.newCounter).toBe(held!.signCount);
    expect(r.enrol.origin).toBe(`http://localhost:${r.enrol.port}`);
    // Both pages are gone once answered.
    expect(await raw(r.enrol.port, pathOf(r.enrol))).toEqual({ error: 'ECONNREFUSED' });
    expect(await raw(r.signIn.port, pathOf(r.signIn))).toEqual({ error: 'ECONNREFUSED' });
    await page.close();
  });
});

/** A minimal registration for tests that never reach a verifier. */
const someRegistration = () =>
  generateRegistrationOptions({ rpName: 'tfactl', rpID: RP_ID, userName: 'bob@pve', attestationType: 'none', supportedAlgorithmIDs: [-7, -257] });

/** An answer of the right shape that no verifier would accept. */
const shapedAnswer = { id: 'AAAA', rawId: 'AAAA', type: 'public-key', clientExtensionResults: {}, response: { clientDataJSON: 'e30', attestationObject: 'oA' } };

/** A page on another origin (another port of localhost) that tries the ceremony's endpoints. */
async function decoyServer(html: string): Promise<number> {
  const server = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(html));
  decoys.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return (server.address() as { port: number }).port;
}

describe('the loopback page refuses what is not its own', () => {
  it('answers only the exact Host and Origin http://localhost:PORT, and only under its secret path', async () => {
    const c = await loopback.startLoopbackCeremony({ kind: 'registration', publicKey: await someRegistration(), prompt: prompt('bob@pve'), random });
    const path = pathOf(c);
    const other = c.port === 65535 ? c.port - 1 : c.port + 1;
    const cases: [string, string, { method?: string; headers?: Record<string, string>; body?: string }, number][] = [
      ['the page', path, {}, 200],
      ['its script', `${path}page.js`, {}, 200],
      ['the library', `${path}simplewebauthn-browser.js`, {}, 200],
      ['the options', `${path}options`, {}, 200],
      ['the options from the page', `${path}options`, { headers: { Origin: c.origin } }, 200],
      ['the path without its slash (sent on)', path.slice(0, -1), {}, 308],
      ['Host 127.0.0.1', path, { headers: { Host: `127.0.0.1:${c.port}` } }, 403],
      ['Host of another port', path, { headers: { Host: `localhost:${other}` } }, 403],
      ['Host of another name (DNS rebinding)', path, { headers: { Host: `evil.example:${c.port}` } }, 403],
      ['Host without the port', path, { headers: { Host: 'localhost' } }, 403],
      ['Origin of another port', `${path}options`, { headers: { Origin: `http://localhost:${other}` } }, 403],
      ['Origin 127.0.0.1', `${path}options`, { headers: { Origin: `http://127.0.0.1:${c.port}` } }, 403],
      ['Origin https', `${path}options`, { headers: { Origin: `https://localhost:${c.port}` } }, 403],
      ['Origin null', `${path}options`, { headers: { Origin: 'null' } }, 403],
      ['a POST without an Origin', `${path}response`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }, 403],
      ['a POST from another port', `${path}response`, { method: 'POST', headers: { Origin: `http://localhost:${other}`, 'Content-Type': 'application/json' }, body: '{}' }, 403],
      ['the root', '/', {}, 404],
      ['a wrong token', `/${'A'.repeat(43)}/`, {}, 404],
      ['the token with one character changed', `/${path.slice(1, -2)}${path.at(-2) === 'A' ? 'B' : 'A'}/`, {}, 404],
      ['a file beside the page', `${path}index.html`, {}, 404],
      ['a path below the page', `${path}options/x`, {}, 404],
      ['a path outside it', `${path}../etc/passwd`, {}, 404],
      ['GET of the answer endpoint', `${path}response`, {}, 405],
      ['POST of the options', `${path}options`, { method: 'POST', headers: { Origin: c.origin } }, 405],
      ['a CORS preflight', `${path}response`, { method: 'OPTIONS', headers: { Origin: c.origin } }, 405],
    ];
    const got: [string, number | string][] = [];
    for (const [what, target, init] of cases) {
      const r = await raw(c.port, target, init);
      got.push([what, 'status' in r ? r.status : r.error]);
    }
    expect(got).toEqual(cases.map(([what, , , status]) => [what, status]));
    // None of those was an answer: the ceremony still waits.
    const page = await raw(c.port, path);
    expect(page).toMatchObject({ status: 200 });
    expect((page as { body: string }).body).toContain('<button id="start"');
    await c.close();
    await expect(c.result).rejects.toMatchObject({ name: 'CancelledError' });
  });

  it('serves the library from the package as it is, and the page with a strict Content-Security-Policy', async () => {
    const c = await loopback.startLoopbackCeremony({ kind: 'authentication', publicKey: { challenge: 'AAAA', rpId: RP_ID }, prompt: prompt('bob@pve'), random });
    expect(await raw(c.port, `${pathOf(c)}simplewebauthn-browser.js`)).toMatchObject({ status: 200, body: readFileSync(UMD, 'utf8') });
    const page = await raw(c.port, pathOf(c));
    expect(page).toMatchObject({ status: 200 });
    const headers = (page as { headers: Record<string, unknown> }).headers;
    expect(headers['content-security-policy']).toMatch(/^default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'sha256-[A-Za-z0-9+/]+=*';/);
    expect(headers['cache-control']).toBe('no-store');
    expect(headers['x-frame-options']).toBe('DENY');
    await c.close();
  });

  it('in a browser: refuses the page at 127.0.0.1, and a page of another port can neither read nor answer it', async ({ annotate }) => {
    const registration = await someRegistration();
    const c = await loopback.startLoopbackCeremony({ kind: 'registration', publicKey: registration, prompt: prompt('bob@pve'), random });
    const page = await browser.newPage();
    await addVirtualAuthenticator(page, AUTHENTICATORS.usbSecurityKey);

    const at127 = await page.goto(c.url.replace('//localhost:', '//127.0.0.1:'));
    expect(at127?.status()).toBe(403);
    expect(await page.getByRole('button').count()).toBe(0);

    // The other page knows the secret path (the worst case) and tries a simple POST (no
    // preflight: it reaches the server), a JSON POST and a read of the options.
    const failures: string[] = [];
    page.on('requestfailed', (r) => failures.push(`${r.method()} ${r.url().slice(c.url.length)} ${r.failure()?.errorText}`));
    const body = JSON.stringify(JSON.stringify(shapedAnswer));
    const decoy = await decoyServer(`<!doctype html><script>
      window.tries = Promise.all([
        fetch(${JSON.stringify(`${c.url}response`)}, { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: ${body} }).then((r) => r.type, () => 'failed'),
        fetch(${JSON.stringify(`${c.url}response`)}, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: ${body} }).then((r) => r.status, () => 'failed'),
        fetch(${JSON.stringify(`${c.url}options`)}).then((r) => r.text(), () => 'failed'),
      ]);
    </script>`);
    await page.goto(`http://localhost:${decoy}/`);
    expect(await page.evaluate(() => (window as unknown as { tries: Promise<string[]> }).tries)).toEqual(['failed', 'failed', 'failed']);
    // The simple POST was answered (403) and its answer withheld from the other page (CORP).
    expect(failures.sort()).toEqual(['GET options net::ERR_FAILED', 'POST response net::ERR_BLOCKED_BY_RESPONSE.NotSameOrigin', 'POST response net::ERR_FAILED']);
    page.removeAllListeners('requestfailed');

    // None of that used the ceremony up: the real page still works.
    const started = performance.now();
    expect(await runPage(page, c.url)).toMatchObject({ state: 'done' });
    await annotate(`page to answer ${(performance.now() - started).toFixed(0)} ms`);
    const answer = await c.result;
    expect(answer.type).toBe('public-key');
    const checked = await verifyRegistrationResponse({ response: answer, expectedChallenge: registration.challenge, expectedOrigin: c.origin, expectedRPID: RP_ID, requireUserVerification: false });
    expect(checked.verified).toBe(true);
    await page.close();
  });
});

describe('the loopback page is used once, and not after its time', () => {
  it('refuses a second answer: while the first is being checked, and once it was', async () => {
    let release!: () => void;
    const checking = new Promise<void>((r) => (release = r));
    const seen: unknown[] = [];
    const c = await loopback.startLoopbackCeremony({
      kind: 'registration',
      publicKey: await someRegistration(),
      prompt: prompt('bob@pve'),
      random,
      finish: async (answer) => {
        seen.push(answer);
        await checking;
        return 'stored';
      },
    });
    const first = postAnswer(c, shapedAnswer);
    await expect.poll(() => seen.length).toBe(1);
    expect(await postAnswer(c, shapedAnswer)).toMatchObject({ status: 410, body: JSON.stringify({ ok: false, message: 'this page has been used: see the terminal' }) });
    expect(await raw(c.port, pathOf(c))).toMatchObject({ status: 410 });
    release();
    expect(await first).toMatchObject({ status: 200, body: JSON.stringify({ ok: true, message: 'Done. You can close this page and go back to the terminal.' }) });
    expect(await c.result).toBe('stored');
    expect(await postAnswer(c, shapedAnswer)).toEqual({ error: 'ECONNREFUSED' });
    expect(seen).toHaveLength(1);
  });

  it('in a browser: the answer replayed after success finds no page', async () => {
    const page = await browser.newPage();
    await addVirtualAuthenticator(page, AUTHENTICATORS.platformPasskey);
    const c = await loopback.startLoopbackCeremony({ kind: 'registration', publicKey: await someRegistration(), prompt: prompt('bob@pve'), random });
    expect(await runPage(page, c.url)).toMatchObject({ state: 'done' });
    const answer = await c.result;
    expect(await postAnswer(c, answer)).toEqual({ error: 'ECONNREFUSED' });
    // The page, reloaded, is gone too.
    await expect(page.reload()).rejects.toThrow(/ERR_CONNECTION_REFUSED/);
    await page.close();
  });

  it('takes the first answer even when it is malformed, and ends with webauthn_answer', async () => {
    for (const [contentType, body, status, why] of [
      ['application/json', '{"id":"AAAA"}', 400, 'the answer is not a public-key credential'],
      ['application/json', 'not json', 400, 'it is not JSON'],
      ['text/plain', JSON.stringify(shapedAnswer), 415, 'it is not JSON'],
      ['application/json', `"${'A'.repeat(70_000)}"`, 413, 'it is larger than 65536 bytes'],
    ] as const) {
      const c = await loopback.startLoopbackCeremony({ kind: 'registration', publicKey: await someRegistration(), prompt: prompt('bob@pve'), random });
      const r = await raw(c.port, `${pathOf(c)}response`, { method: 'POST', headers: { Origin: c.origin, 'Content-Type': contentType }, body });
      expect(r, why).toMatchObject({ status });
      await expect(c.result).rejects.toMatchObject({ name: 'RefusedError', code: 'webauthn_answer', message: `the browser's answer was refused: ${why}` });
      expect(await raw(c.port, pathOf(c))).toEqual({ error: 'ECONNREFUSED' });
    }
  });

  it("shows a refusal from finish on the page by its message, and hides other failures' details", async () => {
    const refused = await loopback.startLoopbackCeremony({
      kind: 'registration',
      publicKey: await someRegistration(),
      prompt: prompt('bob@pve'),
      random,
      finish: async () => {
        throw new errors.AuthError('this security key is already registered');
      },
    });
    expect(await postAnswer(refused, shapedAnswer)).toMatchObject({ status: 200, body: JSON.stringify({ ok: false, message: 'this security key is already registered' }) });
    await expect(refused.result).rejects.toMatchObject({ name: 'AuthError', message: 'this security key is already registered' });

    const broken = await loopback.startLoopbackCeremony({
      kind: 'registration',
      publicKey: await someRegistration(),
      prompt: prompt('bob@pve'),
      random,
      finish: async () => {
        throw new Error('SQLITE_BUSY: /secret/path/store.db');
      },
    });
    expect(await postAnswer(broken, shapedAnswer)).toMatchObject({ status: 200, body: JSON.stringify({ ok: false, message: 'tfactl could not finish this: see the terminal' }) });
    await expect(broken.result).rejects.toThrow('SQLITE_BUSY');
  });

  it('in a browser: an expired page refuses, the page says so, and the countdown ran', async () => {
    const page = await browser.newPage();
    await addVirtualAuthenticator(page, AUTHENTICATORS.usbSecurityKey);
    const countdown: number[] = [];
    const c = await loopback.startLoopbackCeremony({
      kind: 'registration',
      publicKey: await someRegistration(),
      prompt: prompt('bob@pve'),
      random,
      timeoutMs: 1_500,
      onCountdown: (s) => countdown.push(s),
    });
    await page.goto(c.url);
    await expect.poll(() => page.getByRole('button').isEnabled()).toBe(true);
    await expect(c.result).rejects.toMatchObject({ name: 'RefusedError', code: 'webauthn_timeout', message: 'no answer came from the browser within 2 s' });
    expect(countdown).toEqual([2, 1]);
    await page.getByRole('button').click();
    const status = page.getByRole('status');
    await expect.poll(() => status.getAttribute('data-state')).toBe('error');
    expect(await status.textContent()).toMatch(/^tfactl is no longer waiting for this page/);
    expect(await raw(c.port, pathOf(c))).toEqual({ error: 'ECONNREFUSED' });
    await page.close();
  });

  it('close() ends the wait with CancelledError and closes the server', async () => {
    const c = await loopback.startLoopbackCeremony({ kind: 'registration', publicKey: await someRegistration(), prompt: prompt('bob@pve'), random });
    await c.close();
    await c.close();
    await expect(c.result).rejects.toMatchObject({ name: 'CancelledError', exitCode: 130 });
    expect(await raw(c.port, pathOf(c))).toEqual({ error: 'ECONNREFUSED' });
  });
});

describe('the loopback page: ports, text, the package as installed', () => {
  it('listens on the port it is given, on 127.0.0.1 only, and refuses a port in use', async () => {
    const first = await loopback.startLoopbackCeremony({ kind: 'registration', publicKey: await someRegistration(), prompt: prompt('bob@pve'), random });
    await expect(
      loopback.startLoopbackCeremony({ kind: 'registration', publicKey: await someRegistration(), prompt: prompt('bob@pve'), random, port: first.port }),
    ).rejects.toMatchObject({ name: 'RefusedError', code: 'port_in_use', message: `port ${first.port} on 127.0.0.1 is in use` });
    await first.close();
    const again = await loopback.startLoopbackCeremony({ kind: 'registration', publicKey: await someRegistration(), prompt: prompt('bob@pve'), random, port: first.port });
    expect(again.port).toBe(first.port);
    expect(again.url).toMatch(new RegExp(`^http://localhost:${first.port}/[A-Za-z0-9_-]{43}/$`));
    // Not on the machine's other addresses.
    const other = Object.values((await import('node:os')).networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (other) {
      const r = await new Promise<string>((done) =>
        request({ host: other.address, port: again.port, path: pathOf(again), agent: false }, () => done('answered')).on('error', (e: NodeJS.ErrnoException) => done(e.code ?? '')).end(),
      );
      expect(r).toBe('ECONNREFUSED');
    }
    await again.close();
  });

  it('shows who enrols what as text: markup, controls and bidirectional overrides in it stay inert and visible', async () => {
    const page = await browser.newPage();
    const c = await loopback.startLoopbackCeremony({
      kind: 'registration',
      publicKey: await someRegistration(),
      prompt: {
        heading: 'Register <b>a key</b> & more',
        facts: [
          ['User', '<img src=x onerror="window.pwned=1">@pve'],
          ['Description', '</dd><script>window.pwned=2</script>"\'\u202Eevil\nline'],
        ],
      },
      random,
    });
    await page.goto(c.url);
    expect(await page.getByRole('heading').textContent()).toBe('Register <b>a key</b> & more');
    expect(await page.title()).toBe('tfactl: Register <b>a key</b> & more');
    expect(await page.locator('dd').allTextContents()).toEqual(['<img src=x onerror="window.pwned=1">@pve', '</dd><script>window.pwned=2</script>"\'\\u202eevil\\nline']);
    expect(await page.locator('img, b, main script').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    await c.close();
    await page.close();
  });

  it('runs from the package as npm installs it, is listening soon after start, and leaves nothing open behind', async ({ annotate }) => {
    // The files the package ships (package.json "files") in node_modules/tfactl, its dependency
    // beside it, the sources nowhere near.
    const root = mkdtempSync(join(tmpdir(), 'tfactl-installed-'));
    try {
      const pkg = join(root, 'node_modules', 'tfactl');
      mkdirSync(join(root, 'node_modules', '@simplewebauthn'), { recursive: true });
      for (const part of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, part), join(pkg, part), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', '@simplewebauthn', 'browser'), join(root, 'node_modules', '@simplewebauthn', 'browser'));
      const script = `
        const started = performance.now();
        const { load } = require(${JSON.stringify(join(pkg, 'bin', 'tfactl.cjs'))});
        load().exports.loadLoopbackCeremony().then(async ({ startLoopbackCeremony }) => {
          const c = await startLoopbackCeremony({
            kind: 'authentication', publicKey: { challenge: 'AAAA', rpId: 'localhost' }, prompt: { heading: 'Sign in', facts: [] },
            random: { bytes: (n) => require('node:crypto').randomBytes(n) }, timeoutMs: 1500,
          });
          console.log(JSON.stringify({ url: c.url, port: c.port, ms: performance.now() - started }));
          c.result.catch((e) => console.log(JSON.stringify({ code: e.code })));
        });`;
      const started = performance.now();
      const child = spawn(process.execPath, ['-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let listeningMs = 0;
      const firstLine = new Promise<{ url: string; port: number; ms: number }>((done) =>
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          if (!stdout.includes('\n')) listeningMs = performance.now() - started;
          stdout += d;
          if (stdout.includes('\n')) done(JSON.parse(stdout.split('\n')[0]!));
        }),
      );
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exited = new Promise<number | null>((done) => child.on('close', done));
      const listening = await Promise.race([firstLine, exited.then(() => Promise.reject(new Error(stderr)))]);
      const lib = await raw(listening.port, `${new URL(listening.url).pathname}simplewebauthn-browser.js`);
      expect(lib).toMatchObject({ status: 200, body: readFileSync(UMD, 'utf8') });
      // Once the wait is over the process ends by itself: no server, socket or timer left.
      const code = await exited;
      const exitedMs = performance.now() - started;
      await annotate(`fresh process to listening ${listeningMs.toFixed(0)} ms (${listening.ms.toFixed(1)} ms of it after node started); exited ${(exitedMs - listeningMs).toFixed(0)} ms later`);
      expect({ code, stderr, lines: stdout.trim().split('\n').slice(1) }).toEqual({ code: 0, stderr: '', lines: ['{"code":"webauthn_timeout"}'] });
      expect(exitedMs - listeningMs).toBeLessThan(1_500 + 1_000);
      expect(listeningMs).toBeLessThan(2_000);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
