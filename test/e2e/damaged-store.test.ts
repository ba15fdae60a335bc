import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oathtool, type RunResult, TempStore } from './harness.js';

/**
 * A store edited by hand into rows no command writes: each is reported as damage (exit 6,
 * `store_corrupt`, naming the row), never as an internal error (exit 1), and `--json` still ends
 * one envelope.
 */
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const PW = 'damaged store password';

describe('a store damaged by hand', () => {
  const s = new TempStore();
  afterAll(() => s.remove());
  beforeAll(async () => {
    await s.addUser('ann', PW);
    const totp = await s.run(['tfa', 'add', 'totp', 'ann', '--secret', SECRET, '--no-verify']);
    if (totp.code !== 0) throw new Error(totp.stderr);
  });

  const damaged = (r: RunResult, message: RegExp) => {
    expect(r.code, r.stderr).toBe(6);
    // The error is the last line (an export warns about plain-text secrets first).
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(message);
    expect(r.json()).toMatchObject({ ok: false, error: { code: 'store_corrupt' } });
  };

  it('a time past what a date can hold, in a user row', async () => {
    s.tamper("UPDATE users SET created = 99999999999999999 WHERE userid = 'ann@local'");
    try {
      damaged(await s.run(['user', 'list', '--json']), /^error: user ann@local holds a time out of range: the store is damaged$/);
      damaged(await s.run(['user', 'show', 'ann', '--json']), /^error: user ann@local holds a time out of range: the store is damaged$/);
    } finally {
      s.tamper("UPDATE users SET created = modified WHERE userid = 'ann@local'");
    }
    expect((await s.run(['user', 'show', 'ann', '--json'])).code).toBe(0);
  });

  it('an audit entry whose detail is not JSON: the listing ends its envelope with the error', async () => {
    s.tamper("UPDATE audit SET detail = '{bad' WHERE id = (SELECT min(id) FROM audit WHERE detail IS NOT NULL)");
    const r = await s.run(['audit', '--json']);
    damaged(r, /^error: audit entry \d+ is not valid JSON: the store is damaged$/);
    expect(r.json().result).toEqual([]);
  });

  it("a realm's YubiKey validation URLs that are not JSON", async () => {
    expect((await s.run(['realm', 'add', 'yk'])).code).toBe(0);
    const set = await s.run(['realm', 'set-yubico', 'yk', '--api-id', '1', '--api-key', 'c2VjcmV0c2VjcmV0c2VjcmV0c2U=', '--url', 'https://127.0.0.1:9/wsapi/2.0/verify']);
    expect(set.code, set.stderr).toBe(0);
    s.tamper("UPDATE realms SET yubico_urls = 'not json' WHERE name = 'yk'");
    damaged(await s.run(['realm', 'list', '--json']), /^error: realm yk is not valid JSON: the store is damaged$/);
  });

  it('a TOTP factor without its secret: the sign-in and the export are refused as damage', async () => {
    s.tamper("UPDATE factors SET secret = NULL WHERE userid = 'ann@local' AND type = 'totp'");
    damaged(await s.login('ann', PW, oathtool(SECRET)), /^error: TOTP factor [0-9a-f-]+ has no secret: the store is damaged$/);
    damaged(await s.run(['export', 'totp', '--json']), /^error: TOTP factor [0-9a-f-]+ has no secret: the store is damaged$/);
  });
});

describe('a damaged key file', () => {
  it('fails user add before a TOTP secret is shown that could not be stored', async () => {
    const s = new TempStore();
    try {
      expect((await s.run(['init'])).code).toBe(0);
      const before = s.snapshot();
      writeFileSync(s.keyFile, readFileSync(s.keyFile).subarray(0, 20), { mode: 0o600 });
      for (const extra of [['--qr', 'none'], ['--qr', 'terminal'], ['--json']]) {
        const r = await s.run(['user', 'add', 'kay', '--no-password', '--tfa', 'totp', '--no-verify', ...extra]);
        expect(r.code, r.stderr).toBe(6);
        expect(r.stdout).not.toMatch(/Secret|otpauth:/);
        expect(r.stderr).not.toMatch(/Secret|otpauth:/);
      }
      expect(s.snapshot()).toBe(before);
    } finally {
      s.remove();
    }
  });
});
