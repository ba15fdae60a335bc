import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startServe, TempStore } from './harness.js';
import { qrLines, terminalToPgm, zbar } from './terminal-image.js';

const store = new TempStore();
afterAll(() => store.remove());
beforeAll(async () => {
  await store.run(['init']);
  await store.run(['user', 'add', 'quinn', '--no-password']);
});


const DRIVER = resolve(import.meta.dirname, 'pty-driver.py');
function onTerminal(args: string[], env: Record<string, string | null>, cols = 120, steps: { expect: string; send: string }[] = []) {
  const spec = { argv: [process.execPath, BIN, ...args], env: { ...store.env, NO_COLOR: null, ...env }, steps, timeout: 30, cols };
  const r = spawnSync('python3', [DRIVER, JSON.stringify(spec)], { encoding: 'utf8' });
  return JSON.parse(r.stdout) as { status: number; output: string };
}


describe('TOTP QR codes', () => {
  it('writes a PNG that decodes to exactly the URI --json reports, mode 0600', async () => {
    const file = join(store.dir, 'quinn.png');
    const r = await store.run(['tfa', 'add', 'totp', 'quinn', '--no-verify', '--qr', `png:${file}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(zbar(file)).toBe(r.json().result.uri);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('with the QR code in a file, shows neither the secret nor the URI (a CI job logs its output); --json holds them', async () => {
    const file = join(store.dir, 'quinn-quiet.png');
    const r = await store.run(['tfa', 'add', 'totp', 'quinn', '--no-verify', '--qr', `png:${file}`]);
    expect(r.code, r.stderr).toBe(0);
    const uri = zbar(file);
    const secret = new URL(uri).searchParams.get('secret');
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(r.stdout + r.stderr).not.toContain(secret);
    expect(r.stdout + r.stderr).not.toContain('otpauth://');
    expect(r.stdout).toContain('Type:   TOTP, 6 digits, 30 s, SHA1');
    expect(r.stderr).toContain(`wrote the QR code to ${file} (mode 0600: it holds the secret, which is not shown here)`);
    // --json, for the script that asked: the secret and URI in the result (and the kind in any case).
    const upper = join(store.dir, 'quinn-json.png');
    const json = await store.run(['tfa', 'add', 'totp', 'quinn', '--no-verify', '--qr', `PNG:${upper}`, '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(json.json().result).toMatchObject({ secret: expect.stringMatching(/^[A-Z2-7]{32}$/), uri: zbar(upper) });
  });

  it('writes an SVG that decodes to the URI once rasterised', async () => {
    const svg = join(store.dir, 'quinn.svg');
    const png = join(store.dir, 'quinn-svg.png');
    const r = await store.run(['tfa', 'add', 'totp', 'quinn', '--no-verify', '--qr', `svg:${svg}`, '--json']);
    expect(readFileSync(svg, 'utf8')).toContain('<svg');
    const raster = spawnSync('rsvg-convert', ['-w', '400', '-b', 'white', '-o', png, svg]);
    expect(raster.status).toBe(0);
    expect(zbar(png)).toBe(r.json().result.uri);
  });

  it('draws in the terminal so that it scans on dark and on light themes', () => {
    const r = onTerminal(['tfa', 'add', 'totp', 'quinn', '--no-verify', '--description', 'phone'], {});
    expect(r.status).toBe(0);
    const uri = /URI:\s+(otpauth:\S+)/.exec(r.output)?.[1];
    expect(uri).toMatch(/^otpauth:\/\/totp\//);
    const qr = qrLines(r.output);
    for (const theme of ['dark', 'light'] as const) {
      const file = join(store.dir, `terminal-${theme}.pgm`);
      terminalToPgm(qr, theme, file);
      expect(zbar(file), theme).toBe(uri);
    }
  });

  it('draws without colour under NO_COLOR, readable on a dark theme, and says so', () => {
    const r = onTerminal(['tfa', 'add', 'totp', 'quinn', '--no-verify', '--description', 'phone'], { NO_COLOR: '1' });
    expect(r.status).toBe(0);
    expect(r.output).not.toContain('\u001b[');
    expect(r.output).toContain('scans on dark terminal themes');
    const uri = /URI:\s+(otpauth:\S+)/.exec(r.output)?.[1];
    const file = join(store.dir, 'nocolour.pgm');
    terminalToPgm(qrLines(r.output), 'dark', file);
    expect(zbar(file)).toBe(uri);
  });

  it('gives the URI and a note instead when the terminal is too narrow', () => {
    const r = onTerminal(['tfa', 'add', 'totp', 'quinn', '--no-verify', '--description', 'phone'], {}, 40);
    expect(r.status).toBe(0);
    expect(qrLines(r.output)).toBe('');
    expect(r.output).toContain('too narrow for the QR code');
    expect(r.output).toMatch(/URI:\s+otpauth:/);
  });

  it('through a tfactl service, suggests nothing the service refuses (--qr png:FILE)', async () => {
    await store.addUser('qadmin', 'qr admin password', ['--admin']);
    const sock = join(store.dir, 'qr.sock');
    const { child } = await startServe(sock, store.env);
    try {
      // An admin signed in through the service (a token may not change factors).
      const via = ['--server', sock, '--as', 'qadmin', 'tfa', 'add', 'totp', 'quinn', '--no-verify'];
      const signIn = [{ expect: 'Enter the password of qadmin@local', send: 'qr admin password\r' }];
      const narrow = onTerminal([...via, '--description', 'narrow'], { TFACTL_DB: null }, 40, signIn);
      expect(narrow.status, narrow.output).toBe(0);
      expect(narrow.output).toContain('too narrow for the QR code (it needs');
      expect(narrow.output).toContain('enter the secret or the URI in your app, or widen the terminal and run it again');
      const plain = onTerminal([...via, '--description', 'plain'], { TFACTL_DB: null, NO_COLOR: '1' }, 120, signIn);
      expect(plain.status, plain.output).toBe(0);
      expect(plain.output).toContain('on a light theme enter the secret or the URI in your app');
      for (const r of [narrow, plain]) expect(r.output).not.toContain('png:FILE');
    } finally {
      child.kill();
    }
  });

  it('draws nothing with --json or --qr none', async () => {
    const json = await store.run(['tfa', 'add', 'totp', 'quinn', '--no-verify', '--json']);
    expect(json.stdout.trim().split('\n')).toHaveLength(1);
    const none = await store.run(['tfa', 'add', 'totp', 'quinn', '--no-verify', '--qr', 'none']);
    expect(qrLines(none.stdout)).toBe('');
    expect(none.stdout).toContain('Secret:');
  });
});
