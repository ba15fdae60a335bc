import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ceremonyHintLines, ceremonyHints, openBrowser } from '../../src/commands/webauthn/hints.js';
import { ceremonyPageHtml, escapeHtml } from '../../src/commands/webauthn/page.js';

const URL = 'http://localhost:43117/TOKEN/';
const scratch = mkdtempSync(join(tmpdir(), 'tfactl-hints-'));
const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid);
    } catch {
      // Already gone.
    }
  }
  rmSync(scratch, { recursive: true, force: true });
});

describe('what the user reads while the page waits', () => {
  it('on a desktop: the URL, and that it is being opened', () => {
    expect(ceremonyHintLines(ceremonyHints({ url: URL, port: 43117, env: { DISPLAY: ':0' }, platform: 'linux', open: true }))).toEqual([
      `Opening ${URL} in your browser (if it does not open, go there yourself).`,
    ]);
    expect(ceremonyHintLines(ceremonyHints({ url: URL, port: 43117, env: { DISPLAY: ':0' }, platform: 'linux', open: false }))).toEqual([`Open ${URL} in your browser.`]);
  });

  it('over SSH: the tunnel to run on the computer with the browser, then the URL', () => {
    const env = { SSH_CONNECTION: '198.51.100.7 50022 203.0.113.5 22', USER: 'alice' };
    expect(ceremonyHintLines(ceremonyHints({ url: URL, port: 43117, env, platform: 'linux', open: true }))).toEqual([
      'This is an SSH session: on the computer with your browser and security key, run in another terminal:',
      '  ssh -L 43117:127.0.0.1:43117 alice@203.0.113.5',
      `then open ${URL} in the browser there.`,
    ]);
  });

  it('over SSH when this host is not known: a placeholder, and what to put there', () => {
    expect(ceremonyHintLines(ceremonyHints({ url: URL, port: 43117, env: { SSH_CLIENT: '198.51.100.7 50022 22' }, platform: 'linux', open: true }))).toEqual([
      'This is an SSH session: on the computer with your browser and security key, run in another terminal:',
      '  ssh -L 43117:127.0.0.1:43117 HOST',
      '  (replace HOST with the name you reach this machine by)',
      `then open ${URL} in the browser there.`,
    ]);
  });
});

describe('openBrowser', () => {
  /** A stand-in for xdg-open on the PATH that notes its arguments, then blocks as a browser would. */
  function fakeOpener(name: string): { path: string; seen: string } {
    const dir = mkdtempSync(join(scratch, 'bin-'));
    const seen = join(dir, 'seen');
    writeFileSync(join(dir, name), `#!/bin/sh\nenv > "${seen}.env"\necho "$$ $*" > "${seen}.tmp" && mv "${seen}.tmp" "${seen}"\nexec sleep 30\n`);
    chmodSync(join(dir, name), 0o755);
    return { path: `${dir}:${process.env.PATH}`, seen };
  }

  it('starts the program on the URL and returns at once, though it keeps running', async () => {
    const { path, seen } = fakeOpener('xdg-open');
    const t = performance.now();
    openBrowser({ program: 'xdg-open', args: [URL] }, { ...process.env, PATH: path });
    expect(performance.now() - t).toBeLessThan(200);
    await expect.poll(() => existsSync(seen), { timeout: 5_000 }).toBe(true);
    const [pid, ...args] = readFileSync(seen, 'utf8').trim().split(' ');
    started.push(Number(pid));
    expect(args).toEqual([URL]);
    // Still running (it sleeps): we did not wait for it.
    expect(() => process.kill(Number(pid), 0)).not.toThrow();
  });

  it('gives the browser the environment without what names a store, a token or a database password', async () => {
    const { path, seen } = fakeOpener('xdg-open');
    const env = { PATH: path, DISPLAY: ':0', HOME: scratch, TFACTL_DB: 'postgres://tfa:hunter2@db/tfa', TFACTL_TOKEN: 'a@local!t=SECRET', PGPASSWORD: 'hunter2' };
    openBrowser({ program: 'xdg-open', args: [URL] }, env);
    await expect.poll(() => existsSync(seen), { timeout: 5_000 }).toBe(true);
    started.push(Number(readFileSync(seen, 'utf8').split(' ')[0]));
    const seenEnv = readFileSync(`${seen}.env`, 'utf8');
    expect(seenEnv).toMatch(/^DISPLAY=:0$/m);
    expect(seenEnv).not.toMatch(/TFACTL_|PGPASSWORD|hunter2|SECRET/);
  });

  it('ignores a program that is not there: the URL has been printed', async () => {
    expect(() => openBrowser({ program: 'xdg-open', args: [URL] }, { PATH: join(scratch, 'nowhere') })).not.toThrow();
    // The spawn error arrives later, and is swallowed.
    await new Promise((r) => setTimeout(r, 100));
  });
});

describe('the page text', () => {
  it('escapes markup and shows controls and bidirectional overrides visibly', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
    expect(escapeHtml('evil\u202Etxt.exe\n\x1b[31m')).toBe('evil\\u202etxt.exe\\n\\x1b[31m');
  });

  it('leaves no markup character and no unsafe character in anything it escapes (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(escapeHtml(text)).not.toMatch(/[<>"'\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]|&(?!#\d+;)/u);
      }),
    );
  });

  it('puts every value in its own isolated element, and no inline script in the page', () => {
    const html = ceremonyPageHtml('authentication', { heading: 'Sign in', facts: [['User', 'alice@pve']] });
    expect(html).toContain('<dt>User</dt><dd><bdi>alice@pve</bdi></dd>');
    expect(html).toContain('Sign in with a security key or passkey</button>');
    expect(html.match(/<script[^>]*>/g)).toEqual(['<script src="simplewebauthn-browser.js">', '<script src="page.js">']);
  });
});
