import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { base32Bytes, baseEnv, BIN, nowSeconds, oathtool, oneLineError, secretForms, TempStore } from './harness.js';

const store = new TempStore();
afterAll(() => store.remove());
const PW = 'totp test password';

beforeAll(async () => {
  await store.run(['init']);
});

/** Adds a user with a password and returns nothing; fails the test if it cannot. */
const addUser = (userid: string) => store.addUser(userid, PW);

/** Enrols TOTP (as root) with a code from oathtool; returns the secret and factor id. */
async function enrol(userid: string, extra: string[] = []) {
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'.split('').reverse().join('').replace(/[^A-Z2-7]/g, 'A');
  const options = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
  const code = oathtool(secret, options);
  const r = await store.run(['tfa', 'add', 'totp', userid, '--secret', secret, '--code', code, '--description', 'pixel-7 authy', '--json', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return { secret, code, id: r.json().result.id as string, result: r.json().result };
}

const login = (userid: string, code?: string) => store.login(userid, PW, code);

describe('TOTP enrolment', () => {
  it('accepts a code from oathtool and stores the secret encrypted, the code\'s step as used', async () => {
    await addUser('tom');
    const { secret, result } = await enrol('tom');
    expect(result).toMatchObject({ userid: 'tom@local', description: 'pixel-7 authy', algorithm: 'SHA1', digits: 6, period: 30, verified: true });
    expect(result.uri).toBe(
      `otpauth://totp/${encodeURIComponent(result.issuer)}:tom%40local?secret=${secret}&issuer=${encodeURIComponent(result.issuer)}&algorithm=SHA1&digits=6&period=30`,
    );
    const [row] = store.atRest<{ secret: Buffer; last_step: number }>("SELECT secret, last_step FROM factors WHERE userid = 'tom@local'");
    expect(Buffer.from(row!.secret).toString('latin1')).not.toContain(secret);
    expect(row!.last_step).toBeGreaterThanOrEqual(Math.floor(nowSeconds() / 30) - 1);
  });

  it('does not let the enrolment code sign in again', async () => {
    await addUser('una');
    const { code } = await enrol('una');
    const r = await login('una', code);
    expect(r.code).toBe(5);
  });

  it('refuses a wrong verification code and stores nothing (exit 5, audited)', async () => {
    await addUser('vera');
    const r = await store.run(['tfa', 'add', 'totp', 'vera', '--secret', 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ', '--code', '000000', '--json']);
    expect(r.code).toBe(5);
    // The secret was given: its entry in the app stays good for another run.
    expect(r.json().error.message).toBe('the verification code does not match: check the clock of the device; nothing was stored: run the command again (with the same secret: its entry in the app stays)');
    // One tfactl made is thrown away: its entry must go.
    const made = await store.run(['tfa', 'add', 'totp', 'vera', '--code', '-', '--qr', 'none', '--json'], { input: '000000\n' });
    expect({ code: made.code, message: made.json().error.message }).toEqual({
      code: 5,
      message: "the verification code does not match: check the clock of the device; nothing was stored: run the command again (a secret tfactl made is made anew: remove this one's entry from the app)",
    });
    expect(store.factorsOf('vera')).toEqual([]);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'tfa.add', target: 'vera@local', outcome: 'failed' });
  });

  it("refuses an empty --code before anything is checked (exit 2 missing_secret, nothing stored or audited), as login's", async () => {
    await addUser('empty-code');
    const audited = store.auditRows().length;
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ';
    for (const args of [['tfa', 'add', 'totp', 'empty-code', '--secret', secret, '--code', ''], ['user', 'add', 'empty-code2', '--no-password', '--tfa', 'totp', '--totp-secret', secret, '--code', ' ']]) {
      const r = await store.run([...args, '--json']);
      expect(r.code).toBe(2);
      expect(r.json().error).toEqual({ code: 'missing_secret', message: "--code is empty: give the code the app shows (- reads it from standard input)" });
    }
    expect(store.factorsOf('empty-code')).toEqual([]);
    expect((await store.run(['user', 'show', 'empty-code2'])).code).toBe(3);
    expect(store.auditRows().length).toBe(audited);
  });

  it('refuses a code typed with the command for a secret it has not made yet (exit 2, nothing stored or audited); --code - is read once the secret is shown', async () => {
    await addUser('vick');
    const audited = store.auditRows().length;
    for (const args of [['tfa', 'add', 'totp', 'vick', '--code', '123456'], ['user', 'add', 'vince', '--no-password', '--tfa', 'totp', '--code', '123456']]) {
      const r = await store.run([...args, '--json']);
      expect(r.code).toBe(2);
      expect(r.json().error).toMatchObject({ code: 'conflicting_options' });
      expect(r.json().error.message).toMatch(/^--code CODE goes with --(totp-)?secret .*a new secret has no code yet/);
    }
    expect(store.factorsOf('vick')).toEqual([]);
    expect(store.auditRows().length).toBe(audited);
    // The code on standard input, typed after reading the secret tfactl showed.
    const child = spawn(process.execPath, [BIN, 'tfa', 'add', 'totp', 'vick', '--code', '-', '--qr', 'none'], { env: { ...baseEnv(), ...store.env } });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const secret = /^Secret: ([A-Z2-7]+)$/m.exec(stdout)?.[1];
      if (secret && child.stdin.writable) child.stdin.end(`${oathtool(secret)}\n`);
    });
    const code = await new Promise((done) => child.on('close', done));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^added TOTP factor /m);
    expect(store.factorsOf('vick')).toHaveLength(1);
  });

  it('shows nothing of a secret whose code, given with the command, does not match; a matching one is shown after', async () => {
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ';
    const png = join(store.dir, 'wrong-code.png');
    const wrong = await store.run(['tfa', 'add', 'totp', 'vera', '--secret', secret, '--code', '000000', '--qr', `png:${png}`]);
    expect(wrong.code).toBe(5);
    expect(wrong.stdout).toBe('');
    expect(existsSync(png)).toBe(false);
    const added = await store.run(['user', 'add', 'vic', '--no-password', '--totp-secret', secret, '--code', '000000']);
    expect(added.code).toBe(5);
    expect(added.stdout).toBe('');
    const right = await store.run(['tfa', 'add', 'totp', 'vera', '--secret', secret, '--code', oathtool(secret)]);
    expect(right.code, right.stderr).toBe(0);
    expect(right.stdout).toContain(`Secret: ${secret}`);
  });

  it('names the factor user add enrols with --description, and refuses it where no factor is named', async () => {
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXR';
    const added = await store.run(['user', 'add', 'dora', '--no-password', '--tfa', 'totp', '--totp-secret', secret, '--code', oathtool(secret), '--description', 'pixel 7']);
    expect(added.code, added.stderr).toBe(0);
    const listed = (await store.run(['tfa', 'list', 'dora', '--json'])).json().result[0].factors;
    expect(listed.map((f: { type: string; description: string }) => [f.type, f.description])).toEqual([['totp', 'pixel 7']]);
    const before = store.snapshot();
    for (const [args, code] of [
      [['--tfa', 'none', '--description', 'x'], 'conflicting_options'],
      [['--description', 'x'], 'usage'],
    ] as const) {
      const r = await store.run(['user', 'add', 'dora2', '--no-password', ...args, '--json']);
      expect({ exit: r.code, code: r.json().error.code }).toEqual({ exit: 2, code });
      expect(r.json().error.message).toMatch(/^--description names the factor enrolled with the user(, and realm local enforces none)?: give --tfa totp or --tfa yubico/);
    }
    expect(store.snapshot()).toBe(before);
  });

  it('warns when a user now has more than one TOTP factor (a provisioning script run again adds another)', async () => {
    await addUser('twice');
    const first = await store.run(['tfa', 'add', 'totp', 'twice', '--no-verify', '--json']);
    expect(first.json().warnings).toEqual([expect.stringContaining('is unverified (--no-verify)')]);
    const second = await store.run(['tfa', 'add', 'totp', 'twice', '--no-verify', '--json']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.json().warnings).toEqual([
      expect.stringContaining('is unverified (--no-verify)'),
      'twice@local now has 2 TOTP factors, each of which signs in: if this one replaces another, delete that (see tfactl tfa list twice@local)',
    ]);
  });

  it('generates a 160-bit secret when none is given, and honours SHA256 with 8 digits', async () => {
    await addUser('walt');
    const r = await store.run(['tfa', 'add', 'totp', 'walt', '--no-verify', '--algorithm', 'SHA256', '--digits', '8', '--period', '60', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { secret, verified } = r.json().result;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(verified).toBe(false);
    const code = oathtool(secret, { algorithm: 'SHA256', digits: 8, period: 60 });
    const ok = await login('walt', code);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json().result).toMatchObject({ userid: 'walt@local', method: 'totp' });
  });

  it('refuses an empty issuer, and one with a colon, which the otpauth label keeps for between issuer and account, as the totp.issuer setting does', async () => {
    await addUser('iris');
    const before = store.snapshot();
    for (const args of [
      ['tfa', 'add', 'totp', 'iris', '--no-verify', '--qr', 'none', '--issuer', 'Acme: Corp'],
      ['tfa', 'add', 'totp', 'iris', '--no-verify', '--qr', 'none', '--issuer', 'Acme:Corp'],
      // Not taken for the default: a script's unset $ISSUER is a mistake to say.
      ['tfa', 'add', 'totp', 'iris', '--no-verify', '--qr', 'none', '--issuer', ''],
      ['tfa', 'add', 'totp', 'iris', '--no-verify', '--qr', 'none', '--issuer', '   '],
      ['settings', 'set', 'totp.issuer', 'Acme: Corp'],
      ['settings', 'set', 'totp.issuer', ''],
    ]) {
      const r = await store.run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneLineError(r)).toBe('error: invalid issuer: 1 to 64 characters, not only blanks, no colon or control characters');
    }
    expect(store.snapshot()).toBe(before);
  });

  it('says no terminal is the reason a code cannot be asked for, also with --json and a QR code drawn to a file', async () => {
    await addUser('quinn');
    const r = await store.run(['tfa', 'add', 'totp', 'quinn', '--qr', `png:${store.dir}/quinn.png`, '--json']);
    expect(r.code).toBe(2);
    expect(r.json().error.message).toMatch(/^cannot ask for the verification code: standard input is not a terminal; give a secret with --secret/);
    expect(store.factorsOf('quinn')).toEqual([]);
  });

  it('refuses --no-verify from an ordinary user and a TOTP code asked for without a terminal', async () => {
    await addUser('xena');
    const self = await store.runAs('xena', PW, ['tfa', 'add', 'totp', 'xena', '--no-verify']);
    expect(self.code).toBe(4);
    const noCode = await store.run(['tfa', 'add', 'totp', 'xena']);
    expect(noCode.code).toBe(2);
    expect(oneLineError(noCode)).toContain('--code');
    const jsonNoCode = await store.run(['tfa', 'add', 'totp', 'xena', '--json']);
    expect(jsonNoCode.code).toBe(2);
    expect(store.factorsOf('xena')).toEqual([]);
  });

  it('never stores an unverified TOTP factor unasked: user add and tfa add totp both name --code and --no-verify', async () => {
    const before = store.snapshot();
    for (const args of [
      ['user', 'add', 'uma', '--password-stdin', '--tfa', 'totp'],
      ['user', 'add', 'uma', '--password-stdin', '--tfa', 'totp', '--json'],
      ['tfa', 'add', 'totp', 'xena'],
    ]) {
      const r = await store.run(args, { input: `${PW}\n` });
      expect(r.code, args.join(' ')).toBe(2);
      // Nothing was shown to scan: the app has a code only for a secret given on the line.
      expect(oneLineError(r)).toMatch(/give a secret with --(totp-)?secret \(enter it in the app first\) and the code the app shows with --code .*--no-verify/);
    }
    const withSecret = await store.run(['tfa', 'add', 'totp', 'xena', '--secret', 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ']);
    expect(oneLineError(withSecret)).toMatch(/; give the code the app shows with --code/);
    expect(store.snapshot()).toBe(before);
    const unverified = await store.run(['user', 'add', 'uma', '--password-stdin', '--tfa', 'totp', '--no-verify', '--json'], { input: `${PW}\n` });
    expect(unverified.code, unverified.stderr).toBe(0);
    expect(unverified.json().result.totp.verified).toBe(false);
    expect(unverified.json().warnings).toEqual([expect.stringMatching(/^TOTP factor .* of uma@local is unverified/)]);
    expect(unverified.stderr).toContain('warning: TOTP factor');
    const added = await store.run(['tfa', 'add', 'totp', 'xena', '--no-verify']);
    expect(added.stderr).toMatch(/warning: TOTP factor .* of xena@local is unverified/);
  });

  it.each([
    [['--secret', 'not base32!'], 'invalid_secret'],
    [['--secret', 'JBSWY3DP'], 'invalid_secret'],
    [['--digits', '9'], 'invalid_totp'],
    [['--period', '5'], 'invalid_totp'],
    [['--algorithm', 'md5'], 'invalid_totp'],
    [['--qr', 'jpeg:x'], 'usage'],
  ])('rejects %j with exit 2 and changes nothing', async (args, code) => {
    const before = store.snapshot();
    const r = await store.run(['tfa', 'add', 'totp', 'tom', '--no-verify', ...args, '--json']);
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe(code);
    // Said before what a run without a terminal lacks (a code to verify with), not once that is mended.
    const unverifiable = await store.run(['tfa', 'add', 'totp', 'tom', ...args, '--json']);
    expect(unverifiable.json().error.code).toBe(code);
    expect(r.stderr).not.toContain('not base32!');
    expect(store.snapshot()).toBe(before);
  });

  it('refuses a secret the user already has on another factor (a code would work twice)', async () => {
    await addUser('dup');
    const { secret } = await enrol('dup');
    const r = await store.run(['tfa', 'add', 'totp', 'dup', '--secret', secret, '--no-verify']);
    expect(r.code).toBe(4);
    expect(oneLineError(r)).toContain('already has a TOTP factor with this secret');
  });

  it('says how to add recovery keys next in a line that works as it is: with --as for a user acting as themselves', async () => {
    await addUser('nia');
    const own = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJR';
    const self = await store.runAs('nia', PW, ['tfa', 'add', 'totp', 'nia', '--secret', own, '--code', oathtool(own), '--qr', 'none']);
    expect(self.code, self.stderr).toBe(0);
    expect(self.stderr).toContain("next: keep a way in for when the phone is lost: 'tfactl tfa add recovery nia@local --as nia@local'");
    await addUser('noa');
    const byOwner = await store.run(['tfa', 'add', 'totp', 'noa', '--no-verify', '--qr', 'none']);
    expect(byOwner.stderr).toContain("'tfactl tfa add recovery noa@local' makes");
  });

  it('keeps several TOTP factors per user; any of them signs in', async () => {
    await addUser('yuri');
    await enrol('yuri');
    const second = await store.run(['tfa', 'add', 'totp', 'yuri', '--no-verify', '--json']);
    const secret2 = second.json().result.secret;
    const r = await login('yuri', oathtool(secret2));
    expect(r.code, r.stderr).toBe(0);
    const list = await store.run(['tfa', 'list', 'yuri', '--json']);
    expect(list.json().result[0].factors).toHaveLength(2);
  });
});

describe('sign-in with TOTP', () => {
  let secret = '';
  beforeAll(async () => {
    await addUser('zoe');
    secret = (await enrol('zoe')).secret;
  });

  it('accepts the next code from oathtool, then refuses it replayed', async () => {
    const next = oathtool(secret, { epoch: nowSeconds() + 30 });
    const first = await login('zoe', next);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json()).toEqual({ ok: true, result: { userid: 'zoe@local', method: 'totp', recoveryKeysLeft: null, session: null }, warnings: [] });
    const again = await login('zoe', next);
    expect(again.code).toBe(5);
    oneLineError(again);
  });

  it('keeps a code spent when its factor is deleted and the secret added again (the app kept its entry)', async () => {
    await addUser('readd');
    const { secret, id } = await enrol('readd');
    const next = oathtool(secret, { epoch: nowSeconds() + 30 });
    expect((await login('readd', next)).code).toBe(0);
    expect((await store.run(['tfa', 'delete', 'readd', id])).code).toBe(0);
    // Added again unverified (an admin provisioning), then with the spent code as its confirmation.
    const unverified = await store.run(['tfa', 'add', 'totp', 'readd', '--secret', secret, '--no-verify', '--json']);
    expect(unverified.code, unverified.stderr).toBe(0);
    const replay = await login('readd', next);
    expect(replay.code).toBe(5);
    expect(oneLineError(replay)).toContain('authentication failed');
    // Refused as spent, not as a code gone stale: the audit trail says which.
    const reusedSaid = () => JSON.parse(store.auditRows().filter((e) => e.action === 'login' && e.target === 'readd@local').at(-1)!.detail!).reason;
    expect(reusedSaid()).toBe('totp code reused');
    expect((await store.run(['tfa', 'delete', 'readd', unverified.json().result.id as string])).code).toBe(0);
    expect((await store.run(['tfa', 'add', 'totp', 'readd', '--secret', secret, '--code', next])).code).toBe(0);
    expect((await login('readd', next)).code).toBe(5);
    expect(reusedSaid()).toBe('totp code reused');
    // The secret with another period makes other codes: the steps spent with 30 s do not hold them back.
    const [listed] = store.read<{ factors: { id: string }[] }[]>(['tfa', 'list', 'readd']);
    for (const f of listed!.factors) expect((await store.run(['tfa', 'delete', 'readd', f.id])).code).toBe(0);
    expect((await store.run(['tfa', 'add', 'totp', 'readd', '--secret', secret, '--period', '60', '--no-verify'])).code).toBe(0);
    expect((await login('readd', oathtool(secret, { period: 60 }))).code).toBe(0);
  });

  it('takes a code typed as apps show it, in groups (123 456), at enrolment and at sign-in', async () => {
    const grouped = (code: string) => `${code.slice(0, 3)} ${code.slice(3)}`;
    await addUser('grouped');
    const own = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    const enrolled = await store.run(['tfa', 'add', 'totp', 'grouped', '--secret', own, '--code', grouped(oathtool(own)), '--qr', 'none', '--json']);
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(enrolled.json().result.verified).toBe(true);
    const r = await login('grouped', grouped(oathtool(own, { epoch: nowSeconds() + 30 })));
    expect(r.code, r.stderr).toBe(0);
  });

  it('refuses a code two steps old and a wrong code', async () => {
    expect((await login('zoe', oathtool(secret, { epoch: nowSeconds() - 60 }))).code).toBe(5);
    expect((await login('zoe', '123456')).code).toBe(5);
  });

  it('fails (exit 5, audited) naming --code instead of waiting when there is no terminal', async () => {
    const r = await login('zoe');
    expect(r.code).toBe(5);
    expect(oneLineError(r)).toContain('--code');
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'login', target: 'zoe@local', outcome: 'failed' });
  });

  it('audits every sign-in, good or bad, without the code', async () => {
    const rows = store.auditRows().filter((a) => a.action === 'login' && a.target === 'zoe@local');
    expect(rows.map((r) => r.outcome)).toEqual(['ok', 'failed', 'failed', 'failed', 'failed']);
    expect(JSON.stringify(rows)).not.toMatch(/"\d{6}"/);
  });

  it('does not tell an unknown user from a wrong password', async () => {
    const unknown = await store.run(['login', 'nobody', '--password-stdin', '--json'], { input: 'whatever pw\n' });
    const wrong = await store.run(['login', 'zoe', '--password-stdin', '--json'], { input: 'whatever pw\n' });
    expect(unknown.code).toBe(5);
    expect(wrong.code).toBe(5);
    expect(unknown.json().error).toEqual(wrong.json().error);
  });

  it('lets a user without factors in a realm that enforces nothing sign in with the password', async () => {
    await addUser('plain');
    const r = await login('plain');
    expect(r.code).toBe(0);
    expect(r.json().result.method).toBe('password');
  });
});

describe('acting as a user who has TOTP (--as)', () => {
  it('needs the second factor too: a password alone never changes factors', async () => {
    await addUser('ava');
    const { secret, id } = await enrol('ava');
    const factors = () => JSON.stringify(store.factorsOf('ava'));
    const before = factors();
    const noCode = await store.runAs('ava', PW, ['tfa', 'delete', 'ava', id]);
    expect(noCode.code).toBe(5);
    expect(oneLineError(noCode)).toContain('--auth-code');
    const wrongCode = await store.runAs('ava', PW, ['--auth-code', '000000', 'tfa', 'delete', 'ava', id]);
    expect(wrongCode.code).toBe(5);
    expect(factors()).toBe(before);
    const ok = await store.runAs('ava', PW, ['--auth-code', oathtool(secret, { epoch: nowSeconds() + 30 }), 'tfa', 'delete', 'ava', id]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(store.factorsOf('ava')).toEqual([]);
  });
});

describe('the store at rest', () => {
  it('holds no secret in readable form', async () => {
    await addUser('sam');
    const { secret } = await enrol('sam');
    const keys = (await store.run(['tfa', 'add', 'recovery', 'sam', '--json'])).json().result.keys as string[];
    const needles = [...secretForms(secret, base32Bytes(secret)), ...[PW, ...keys, ...keys.map((k) => k.replace(/-/g, ''))].flatMap((t) => secretForms(t))];
    for (const text of store.everythingKept()) for (const needle of needles) expect(text).not.toContain(needle);
  });
});

describe('7-digit TOTP (Proxmox allows 6 to 8)', () => {
  it('enrols and signs in with oathtool -d 7 codes, also under a realm that enforces 7 digits', async () => {
    await addUser('sev');
    const SEVEN = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    const add = await store.run(['tfa', 'add', 'totp', 'sev', '--secret', SEVEN, '--digits', '7', '--code', oathtool(SEVEN, { digits: 7 }), '--json']);
    expect(add.code, add.stderr).toBe(0);
    expect(add.json().result.uri).toContain('digits=7');
    const later = oathtool(SEVEN, { digits: 7, epoch: nowSeconds() + 30 });
    const ok = await store.login('sev', PW, later);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await store.run(['realm', 'add', 'seven'])).code).toBe(0);
    const set = await store.run(['realm', 'set-enforce', 'seven', 'totp', '--digits', '7', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.json().result.totp).toMatchObject({ digits: 7 });
  });
});

describe('secrets from a file (@FILE), out of sight of ps', () => {
  const SECRET = 'KRUGS4ZANFZSAYJAONSWG4TFOQQGM4TPNUQGCIDGNFWGKIBB';
  const secretFile = (name: string, text: string) => {
    const file = `${store.dir}/${name}`;
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  };

  it('tfa add totp --secret @FILE enrols the secret in the file (checked with oathtool)', async () => {
    await addUser('fay');
    const file = secretFile('fay.secret', `${SECRET}\n`);
    const add = await store.run(['tfa', 'add', 'totp', 'fay', '--secret', `@${file}`, '--code', oathtool(SECRET), '--json']);
    expect(add.code, add.stderr).toBe(0);
    expect(add.json().result.uri).toContain(`secret=${SECRET}&`);
  });

  it('user add --totp-secret @FILE does the same at creation', async () => {
    const file = secretFile('gil.secret', SECRET);
    const add = await store.run(['user', 'add', 'gil', '--password-stdin', '--totp-secret', `@${file}`, '--no-verify', '--json'], { input: `${PW}\n` });
    expect(add.code, add.stderr).toBe(0);
    const ok = await store.login('gil', PW, oathtool(SECRET));
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json().result.method).toBe('totp');
  });

  it('a missing, empty, many-line or bad file is a usage error that names the flag, never the secret, and changes nothing', async () => {
    await addUser('hal');
    const before = store.snapshot();
    const cases: [string, RegExp][] = [
      [`@${store.dir}/no-such-file`, /^error: cannot read the --secret file .*no-such-file: no such file or directory \(ENOENT\)$/],
      [`@${secretFile('empty', '\n')}`, /^error: the --secret file .*empty is empty$/],
      [`@${secretFile('two-lines', `${SECRET}\n${SECRET}\n`)}`, /^error: the --secret file .*two-lines must hold one line$/],
      ['@', /^error: --secret @FILE needs a file name$/],
      [`@${secretFile('bad', 'NOT-BASE32-SECRET-1!\n')}`, /^error: .*secret/i],
    ];
    for (const [value, message] of cases) {
      const r = await store.run(['tfa', 'add', 'totp', 'hal', '--secret', value, '--no-verify']);
      expect(r.code, value).toBe(2);
      expect(oneLineError(r)).toMatch(message);
      expect(r.stderr).not.toContain(SECRET);
      expect(r.stderr).not.toContain('NOT-BASE32-SECRET-1');
    }
    expect(store.snapshot()).toBe(before);
  });
});

describe('tfa modify', () => {
  it('renames a factor (audited, from and to), which then signs in as before', async () => {
    await addUser('rena');
    const { secret, id } = await enrol('rena');
    const r = await store.run(['tfa', 'modify', 'rena', id.slice(0, 6), '--description', 'the old phone, in the drawer', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result).toMatchObject({ id, userid: 'rena@local', type: 'totp', description: 'the old phone, in the drawer', enabled: true });
    expect((await store.run(['tfa', 'list', 'rena', '--json'])).json().result[0].factors[0].description).toBe('the old phone, in the drawer');
    expect((await store.run(['tfa', 'modify', 'rena', id, '--description', 'pixel-8'])).stdout).toBe(`modified TOTP factor ${id} of rena@local: pixel-8\n`);
    const audit = store.auditRows().filter((a) => a.action === 'tfa.modify' && a.target === 'rena@local');
    expect(audit.map((a) => JSON.parse(a.detail!))).toEqual([
      { id, description: { from: 'pixel-7 authy', to: 'the old phone, in the drawer' } },
      { id, description: { from: 'the old phone, in the drawer', to: 'pixel-8' } },
    ]);
    expect((await login('rena', oathtool(secret, { epoch: nowSeconds() + 30 }))).code).toBe(0);
    // Disabled and enabled, named as people name it; twice in a row says nothing changed.
    const said = async (args: string[]) => (await store.run(['tfa', ...args, 'rena', id])).stdout;
    expect(await said(['disable'])).toBe(`disabled TOTP factor ${id} of rena@local\n`);
    expect(await said(['disable'])).toBe(`TOTP factor ${id} of rena@local was disabled already: nothing changed\n`);
    expect(await said(['enable'])).toBe(`enabled TOTP factor ${id} of rena@local\n`);
    // The trail tells the one that changed nothing from the others.
    const toggles = store.auditRows().filter((a) => (a.action === 'tfa.disable' || a.action === 'tfa.enable') && a.target === 'rena@local');
    expect(toggles.map((a) => [a.action, JSON.parse(a.detail!)])).toEqual([
      ['tfa.disable', { id }],
      ['tfa.disable', { id, changed: false }],
      ['tfa.enable', { id }],
    ]);
  });

  it('refuses no description, an empty or unsafe one, and an unknown factor or user, changing nothing', async () => {
    await addUser('renb');
    const { id } = await enrol('renb');
    const before = store.snapshot();
    const cases: [string[], number, string][] = [
      [['tfa', 'modify', 'renb', id], 2, 'usage'],
      [['tfa', 'modify', 'renb', id, '--description', ''], 2, 'invalid_comment'],
      [['tfa', 'modify', 'renb', id, '--description', '   '], 2, 'invalid_comment'],
      [['tfa', 'modify', 'renb', id, '--description', 'a\u001b[31mred'], 2, 'invalid_comment'],
      [['tfa', 'modify', 'renb', id, '--description', 'x'.repeat(257)], 2, 'invalid_comment'],
      [['tfa', 'modify', 'renb', 'ffffffff', '--description', 'x'], 3, 'not_found'],
      [['tfa', 'modify', 'nobody', id, '--description', 'x'], 3, 'not_found'],
    ];
    for (const [args, code, errorCode] of cases) {
      const r = await store.run([...args, '--json']);
      expect([r.code, r.json().error.code], args.join(' ')).toEqual([code, errorCode]);
      expect(oneLineError(await store.run(args)), args.join(' ')).toMatch(/^error: /);
    }
    expect(store.snapshot()).toBe(before);
  });

  it('takes the user\'s second factor when they rename their own, as enabling one does', async () => {
    await addUser('renc');
    const { secret, id } = await enrol('renc');
    const without = await store.runAs('renc', PW, ['tfa', 'modify', 'renc', id, '--description', 'mine']);
    expect(without.code).toBe(5);
    const withCode = await store.runAs('renc', PW, ['--auth-code', oathtool(secret, { epoch: nowSeconds() + 30 }), 'tfa', 'modify', 'renc', id, '--description', 'mine', '--json']);
    expect(withCode.code, withCode.stderr).toBe(0);
    expect(withCode.json().result.description).toBe('mine');
  });
});
