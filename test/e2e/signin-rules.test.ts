import { spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, nowSeconds, oathtool, oneLineError, TempStore } from './harness.js';

/**
 * When a password alone is enough, when a second factor is spent, and how password guesses are
 * regulated: through the binary, against one store.
 */
const store = new TempStore();
afterAll(() => store.remove());
const PW = 'sign-in rules password';

beforeAll(async () => {
  await store.run(['init']);
});

async function addTotp(userid: string): Promise<{ id: string; secret: string }> {
  const r = await store.run(['tfa', 'add', 'totp', userid, '--no-verify', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return { id: r.json().result.id, secret: r.json().result.secret };
}

async function addRecovery(userid: string): Promise<string[]> {
  const r = await store.run(['tfa', 'add', 'recovery', userid, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return r.json().result.keys;
}

describe('a password alone', () => {
  it('lets a user without factors manage their own factors (opting in)', async () => {
    await store.addUser('opt', PW);
    const r = await store.runAs('opt', PW, ['tfa', 'add', 'recovery', 'opt', '--json']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('says a --code given for a user who needs none was not used', async () => {
    await store.addUser('nocode', PW);
    const r = await store.login('nocode', PW, '123456');
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().warnings).toEqual(['nocode@local needs no second factor: --code was not used (the password alone signed in)']);
  });

  it('lets a user whose factors are all disabled manage them, as in Proxmox', async () => {
    await store.addUser('dis', PW);
    const { id } = await addTotp('dis');
    expect((await store.run(['tfa', 'disable', 'dis', id])).code).toBe(0);
    const enable = await store.runAs('dis', PW, ['tfa', 'enable', 'dis', id, '--json']);
    expect(enable.code, enable.stderr).toBe(0);
    // Now enabled: the password alone no longer changes anything.
    const again = await store.runAs('dis', PW, ['tfa', 'disable', 'dis', id]);
    expect(again.code).toBe(5);
    expect(oneLineError(again)).toContain('--auth-code');
  });

  it.each([
    ['add recovery keys', (u: string) => ['tfa', 'add', 'recovery', u]],
    ['add a TOTP factor', (u: string) => ['tfa', 'add', 'totp', u, '--secret', 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ', '--code', '123456', '--qr', 'none']],
    ['delete every factor', (u: string) => ['tfa', 'delete', u, '--all', '--yes']],
    ['disable a factor', (u: string) => ['tfa', 'disable', u, 'xxxx']],
  ])('never lets a user with an enabled factor %s (exit 5, nothing changed)', async (_what, args) => {
    const u = `en${Math.floor(Math.random() * 1e9)}`;
    await store.addUser(u, PW);
    await addTotp(u);
    const before = store.snapshot();
    const r = await store.runAs(u, PW, args(u));
    expect(r.code, r.stderr).toBe(5);
    expect(store.snapshot()).toBe(before);
  });

  it('with the second factor, the same user may', async () => {
    await store.addUser('both', PW);
    const { secret } = await addTotp('both');
    const r = await store.runAs('both', PW, ['--auth-code', oathtool(secret), 'tfa', 'add', 'recovery', 'both', '--json']);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('a refused command', () => {
  it('spends no second factor: the recovery key still works afterwards', async () => {
    await store.addUser('zed', PW);
    await store.addUser('alice', PW);
    const keys = await addRecovery('zed');
    const refused = await store.runAs('zed', PW, ['--auth-code', keys[0]!, 'tfa', 'list', 'alice']);
    expect(refused.code, refused.stderr).toBe(4);
    expect(oneLineError(refused)).toContain('may not act on alice@local');
    expect(store.auditRows().at(-1)).toMatchObject({ actor: 'zed@local', action: 'tfa.list', target: 'alice@local', outcome: 'refused' });
    const login = await store.login('zed', PW, keys[0]!);
    expect(login.code, login.stderr).toBe(0);
    expect(login.json().result.recoveryKeysLeft).toBe(9);
  });

  it('spends none when the command itself refuses taking the last factor the user\'s realm enforces', async () => {
    expect((await store.run(['realm', 'add', 'strict'])).code).toBe(0);
    await store.addUser('yan@strict', PW);
    const { id } = await addTotp('yan@strict');
    expect((await store.run(['realm', 'set-enforce', 'strict', 'totp'])).code).toBe(0);
    const yanKeys = await addRecovery('yan@strict');
    const before = store.snapshot();
    const cases: [string, string[], string, RegExp][] = [
      ['yan@strict', ['tfa', 'disable', 'yan@strict', id], 'tfa.disable', /you cannot remove or disable your last enabled totp factor/],
      ['yan@strict', ['tfa', 'delete', 'yan@strict', id], 'tfa.delete', /you cannot remove or disable your last enabled totp factor/],
    ];
    for (const [actor, args, action, message] of cases) {
      const key = yanKeys[0]!;
      const refused = await store.runAs(actor, PW, ['--auth-code', key, ...args]);
      expect(refused.code, refused.stderr).toBe(4);
      expect(oneLineError(refused)).toMatch(message);
      expect(store.auditRows().at(-1)).toMatchObject({ actor, action, outcome: 'refused' });
      expect(store.snapshot()).toBe(before);
    }
    // The key was not spent: it signs in, with nine left.
    const login = await store.login('yan@strict', PW, yanKeys[0]!);
    expect(login.code, login.stderr).toBe(0);
    expect(login.json().result.recoveryKeysLeft).toBe(9);
  });

  it('--as says, as login does, when few recovery keys are left', async () => {
    await store.addUser('few', PW);
    const keys = await addRecovery('few');
    for (const key of keys.slice(0, 7)) expect((await store.login('few', PW, key)).code).toBe(0);
    const r = await store.runAs('few', PW, ['--auth-code', keys[7]!, 'user', 'show', 'few', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().warnings).toEqual(["only 2 recovery keys left for few@local: consider 'tfactl tfa add recovery few@local --regenerate'"]);
  });

  it("spends none on an ordinary user's --no-verify, which only admins may give, nor on a factor id too short to name one", async () => {
    await store.addUser('uma', PW);
    const keys = await addRecovery('uma');
    const noVerify = await store.runAs('uma', PW, ['--auth-code', keys[0]!, 'tfa', 'add', 'totp', 'uma', '--no-verify', '--qr', 'none']);
    expect(noVerify.code, noVerify.stderr).toBe(4);
    expect(oneLineError(noVerify)).toBe('error: --no-verify is for admins provisioning accounts');
    expect(store.auditRows().at(-1)).toMatchObject({ actor: 'uma@local', action: 'tfa.add', outcome: 'refused' });
    const short = await store.runAs('uma', PW, ['--auth-code', keys[0]!, 'tfa', 'delete', 'uma', 'ab']);
    expect(short.code, short.stderr).toBe(2);
    const login = await store.login('uma', PW, keys[0]!);
    expect(login.code, login.stderr).toBe(0);
    expect(login.json().result.recoveryKeysLeft).toBe(9);
  });

  it('spends none on a new password the policy refuses (user passwd, user add): it is read before the second factor', async () => {
    await store.addUser('pia', PW);
    expect((await store.run(['user', 'modify', 'pia', '--admin'])).code).toBe(0);
    const keys = await addRecovery('pia');
    const before = store.snapshot();
    for (const args of [['user', 'passwd', 'pia'], ['user', 'add', 'pia-new']]) {
      const r = await store.runAs('pia', PW, ['--auth-code', keys[0]!, ...args], ['short']);
      expect(r.code, r.stderr).toBe(2);
      expect(oneLineError(r)).toBe('error: password rejected: it must be 8 to 256 characters long (it has 5)');
    }
    expect(store.snapshot()).toBe(before);
    // Audited as the command's refusal, not as a failed sign-in: the password was right.
    expect(store.auditRows().slice(-2)).toMatchObject([
      { actor: 'pia@local', action: 'user.passwd', outcome: 'refused', detail: expect.stringContaining('weak_password') },
      { actor: 'pia@local', action: 'user.add', outcome: 'refused', detail: expect.stringContaining('weak_password') },
    ]);
    // The key was not spent: it signs in, with nine left, and a good password is then taken.
    const changed = await store.runAs('pia', PW, ['--auth-code', keys[0]!, 'user', 'passwd', 'pia', '--json'], ['pia new password']);
    expect(changed.code, changed.stderr).toBe(0);
    // With --auth-code -, the second factor's line comes before the new password's, as documented.
    const fromStdin = await store.runAs('pia', 'pia new password', ['--auth-code', '-', 'user', 'passwd', 'pia', '--json'], [keys[1]!, 'pia newer password']);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    const login = await store.login('pia', 'pia newer password', keys[2]!);
    expect(login.json().result.recoveryKeysLeft).toBe(7);
  });

  it('names the kind a user has none of, after their password, and what they could give instead', async () => {
    await store.addUser('onlytotp', PW);
    const { secret } = await addTotp('onlytotp');
    const recovery = await store.run(['login', 'onlytotp', '--type', 'recovery', '--password-stdin', '--code', 'abcd-efgh-ijkl-mnop', '--no-session'], { input: `${PW}\n` });
    expect(recovery.code).toBe(5);
    expect(oneLineError(recovery)).toBe('error: authentication failed: onlytotp@local has no recovery keys to sign in with; give a TOTP code');
    const otp = await store.login('onlytotp', PW, 'cccccccccccccccccccccccccccccccccccccccccccc');
    expect(otp.code).toBe(5);
    expect(oneLineError(otp)).toBe('error: authentication failed: onlytotp@local has no YubiKey to sign in with; give a TOTP code');
    // Before the password, nothing of it: a wrong password says only that.
    const wrong = await store.run(['login', 'onlytotp', '--type', 'recovery', '--password-stdin', '--code', 'abcd-efgh-ijkl-mnop', '--no-session'], { input: 'not the password\n' });
    expect(oneLineError(wrong)).toBe('error: authentication failed');
    expect(store.auditRows().at(-2)).toMatchObject({ action: 'login', target: 'onlytotp@local', outcome: 'failed' });
    expect(JSON.parse(store.auditRows().at(-2)!.detail!)).toMatchObject({ reason: 'no usable yubico factor', method: 'yubico' });
    expect((await store.login('onlytotp', PW, oathtool(secret))).code).toBe(0);
  });

  it('says nothing of factors before the second factor: an unknown factor id waits for it (exit 5 without one)', async () => {
    const r = await store.runAs('yan@strict', PW, ['tfa', 'disable', 'yan@strict', 'ffffffff']);
    expect(r.code, r.stderr).toBe(5);
  });
});

describe('second factors from standard input or a file', () => {
  it('takes --code - from the line after the password, and --auth-code - the same way', async () => {
    await store.addUser('sid', PW);
    const keys = await addRecovery('sid');
    const login = await store.run(['login', 'sid', '--password-stdin', '--code', '-', '--json'], { input: `${PW}\n${keys[0]}\n` });
    expect(login.code, login.stderr).toBe(0);
    expect(login.json().result.method).toBe('recovery');
    const as = await store.run(['--as', 'sid', '--password-stdin', '--auth-code', '-', 'tfa', 'list', 'sid', '--json'], { input: `${PW}\n${keys[1]}\n` });
    expect(as.code, as.stderr).toBe(0);
  });

  it('takes --code @FILE, and names the flag when the line is missing', async () => {
    await store.addUser('fil', PW);
    const keys = await addRecovery('fil');
    const file = join(store.dir, 'code.txt');
    writeFileSync(file, `${keys[0]}\n`);
    const login = await store.login('fil', PW, `@${file}`);
    expect(login.code, login.stderr).toBe(0);
    const missing = await store.run(['login', 'fil', '--password-stdin', '--code', '-'], { input: `${PW}\n` });
    // Exit 5 and counted as a sign-in without its second factor: as exit 2 it told a right
    // password (read before the line) from a wrong one, uncounted.
    expect(missing.code).toBe(5);
    expect(oneLineError(missing)).toContain('--code: expected the second factor of fil@local on line 2 of standard input');
  });

  it('takes no empty code as a guess: the lockout is not spent on a script\'s unset $CODE', async () => {
    await store.addUser('emp', PW);
    await addRecovery('emp');
    const state = () => store.read<{ lock: { secondFactorFailures: number } }>(['user', 'show', 'emp']).lock.secondFactorFailures;
    // On the command line: said before anything is checked, whatever the password.
    for (const password of [PW, 'wrong password!']) {
      const r = await store.run(['login', 'emp', '--password-stdin', '--code', '', '--json'], { input: `${password}\n` });
      expect(r.code).toBe(2);
      expect(r.json().error).toEqual({ code: 'missing_secret', message: '--code is empty: give the second factor of emp@local (- reads it from standard input)' });
    }
    const auth = await store.run(['--as', 'emp', '--password-stdin', '--auth-code', ' ', 'tfa', 'list', 'emp'], { input: `${PW}\n` });
    expect(oneLineError(auth)).toBe('error: --auth-code is empty: give the second factor of emp@local (- reads it from standard input)');
    // Before the store is looked for, as every usage error (a mistyped --db makes it no exit 6).
    expect((await store.run(['--db', join(store.dir, 'no-such.db'), 'login', 'emp', '--password-stdin', '--code', ''], { input: `${PW}\n` })).code).toBe(2);
    // A --code file that cannot be read says so before the password is checked: no ban is counted.
    const unread = await store.run(['login', 'emp', '--password-stdin', '--code', `@${join(store.dir, 'no-such-code')}`], { input: `${PW}\n` });
    expect(unread.code).toBe(2);
    // Answering a challenge with nothing: said, counted toward nothing.
    const begun = (await store.run(['login', 'emp', '--begin', '--password-stdin', '--json'], { input: `${PW}\n` })).json().result.challenge as string;
    const finish = await store.run(['login', 'emp', '--finish', '--challenge', begun, '--code', '-', '--json'], { input: '\n' });
    expect(finish.code).toBe(2);
    expect(finish.json().error).toEqual({ code: 'missing_secret', message: 'no answer was given to the challenge for emp@local (an empty line of standard input)' });
    // An empty line after the password: no second factor, as when none is given (exit 5, counted
    // toward the password's ban, not the second factors' lockout).
    const line = await store.run(['login', 'emp', '--password-stdin', '--code', '-', '--json'], { input: `${PW}\n\n` });
    expect(line.code).toBe(5);
    // Counted, and said so with what is left: a script that gives no code learns it before the ban.
    expect(line.json().error.message).toBe(
      "no second factor was given for emp@local (an empty line of standard input); counted as a failed sign-in (1 of 5 within 10 minutes ban emp@local's password sign-ins for 15 minutes)",
    );
    expect(state()).toBe(0);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'login', target: 'emp@local', outcome: 'failed' });
    expect(JSON.parse(store.auditRows().filter((e) => e.target === 'emp@local').at(-1)!.detail!)).toEqual({ reason: 'no second factor given', passwordFailures: 1 });
    // The failure that bans the password says so (a script whose code came out empty, five times).
    for (let i = 2; i <= 4; i++) {
      const again = await store.run(['login', 'emp', '--password-stdin', '--code', '-', '--json'], { input: `${PW}\n\n` });
      expect(again.code).toBe(5);
      expect(again.json().error.message).toContain(`counted as a failed sign-in (${i} of 5 within 10 minutes`);
    }
    const fifth = await store.run(['login', 'emp', '--password-stdin', '--code', '-', '--json'], { input: `${PW}\n\n` });
    expect(fifth.code).toBe(5);
    expect(fifth.json().error.message).toMatch(
      /^no second factor was given for emp@local \(an empty line of standard input\); that was too many failed sign-ins for emp@local: try again after \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?Z?/,
    );
    expect((await store.run(['tfa', 'unlock', 'emp'])).code).toBe(0);
  });

  it('takes a verification code from standard input for tfa add totp', async () => {
    await store.addUser('ver', PW);
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    const r = await store.run(['tfa', 'add', 'totp', 'ver', '--secret', secret, '--code', '-', '--json'], { input: `${oathtool(secret)}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.verified).toBe(true);
  });
});

/** Spawns tfactl with standard input from `command` (a shell pipeline), failing the test after `ms`. */
function piped(command: string, args: string[], ms: number): Promise<{ code: number | null; stderr: string; elapsed: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('sh', ['-c', `${command} | ${quoted}`], { env: { ...process.env, ...store.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tfactl still running after ${ms} ms`));
    }, ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, elapsed: Date.now() - started });
    });
  });
}

describe('standard input that never ends', () => {
  it('is read only as far as the lines needed (yes | tfactl login)', async () => {
    const r = await piped('yes', ['login', 'nobody', '--password-stdin'], 20_000);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('authentication failed');
  });

  it('is cut off at a bound when it has no line end (/dev/zero), exit 2', async () => {
    const r = await piped('cat /dev/zero', ['login', 'nobody', '--password-stdin'], 20_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 1 of standard input .* is longer than 65536 bytes/);
  });
});

describe('a stored password hash beyond what tfactl writes', () => {
  it('is never checked: a sign-in fails at once, as a wrong password does, instead of spending its 4 GiB', async () => {
    await store.addUser('heavy', PW);
    store.tamper("UPDATE users SET password_hash = '$argon2id$v=19$m=4194304,t=1000,p=1$5H416CLlucbG/NIQNGbz+g$obsbecjS2HWHACfSlYtDgblumIeonbJtTcRuNrCNz8w' WHERE userid = 'heavy@local'");
    const started = Date.now();
    const r = await store.login('heavy', PW);
    expect(r.code).toBe(5);
    expect(r.json().error.message).toBe('authentication failed');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('a password failure limit lowered below the failures counted', () => {
  it('bans at once, as the failure that crossed it would have, instead of waiting 30 s for checks that are not there', async () => {
    await store.addUser('low', PW);
    for (let i = 0; i < 3; i++) expect((await store.login('low', 'wrong password!')).code).toBe(5);
    expect((await store.run(['settings', 'set', 'lockout.password-failures', '2'])).code).toBe(0);
    try {
      const started = Date.now();
      const r = await store.login('low', PW);
      expect(r.code).toBe(5);
      expect(r.json().error.message).toMatch(/^authentication failed: too many failed sign-ins for low@local; try again after /);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(store.read<{ lock: { passwordUntil: string | null } }>(['user', 'show', 'low']).lock.passwordUntil).not.toBeNull();
      expect((await store.run(['tfa', 'unlock', 'low'])).code).toBe(0);
      expect((await store.login('low', PW)).code).toBe(0);
      // A new password set by an admin starts the count afresh: no unlock needed as well.
      for (let i = 0; i < 2; i++) expect((await store.login('low', 'wrong password!')).code).toBe(5);
      expect((await store.login('low', PW)).code).toBe(5);
      expect((await store.run(['user', 'passwd', 'low', '--password-stdin'], { input: 'a new password for low\n' })).code).toBe(0);
      expect((await store.login('low', 'a new password for low')).code).toBe(0);
    } finally {
      await store.run(['settings', 'unset', 'lockout.password-failures']);
    }
  });
});

describe('password guesses', () => {
  it('do not include an empty password: a line left empty is a usage error (exit 2), counted toward no ban, no failed sign-in in the trail', async () => {
    await store.addUser('emma', PW);
    for (let i = 0; i < 6; i++) {
      const r = await store.login('emma', '');
      expect(r.code).toBe(2);
      expect(r.json().error).toEqual({ code: 'missing_secret', message: 'no password was given for emma@local (an empty line or answer)' });
    }
    // Nor is it a failed sign-in in the trail, as no --as password that could not be asked for is.
    const noTty = await store.run(['--as', 'emma', 'user', 'show', 'emma', '--json']);
    expect({ code: noTty.code, error: noTty.json().error.code }).toEqual({ code: 2, error: 'no_tty' });
    expect(store.auditRows().filter((a) => a.target === 'emma@local' && a.outcome === 'failed')).toEqual([]);
    const right = await store.login('emma', PW);
    expect(right.code, right.stderr).toBe(0);
    const shown = (await store.run(['user', 'show', 'emma', '--json'])).json().result;
    expect(shown.lock.passwordUntil).toBeNull();
  });

  it('counted are shown to an admin before any ban: how many and since when, gone once the window has passed or tfa unlock', async () => {
    await store.addUser('gus', PW);
    const lock = (prefix: string[] = []) =>
      store.run(['user', 'show', 'gus', '--json'], { prefix }).then((r) => r.json().result.lock as { passwordFailures: number; passwordFailuresSince: string | null; passwordUntil: string | null });
    expect(await lock()).toMatchObject({ passwordFailures: 0, passwordFailuresSince: null });
    const before = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 3; i++) expect((await store.login('gus', 'wrong password!')).code).toBe(5);
    const counted = await lock();
    expect(counted).toMatchObject({ passwordFailures: 3, passwordUntil: null });
    expect(Date.parse(counted.passwordFailuresSince!) / 1000).toBeGreaterThanOrEqual(before);
    expect((await store.run(['user', 'show', 'gus'])).stdout).toMatch(/^failures: +3 failed password sign-ins since \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/m);
    expect((await store.run(['user', 'list', '--json'])).json().result.find((u: { userid: string }) => u.userid === 'gus@local').lock.passwordFailures).toBe(3);
    expect((await store.run(['tfa', 'list', 'gus', '--json'])).json().result[0].lock.passwordFailures).toBe(3);
    // The window (600 s) passed: they count no more, and are not shown.
    expect(await lock(['faketime', '-f', '+11m'])).toMatchObject({ passwordFailures: 0, passwordFailuresSince: null });
    expect((await store.run(['user', 'show', 'gus'], { prefix: ['faketime', '-f', '+11m'] })).stdout).toMatch(/^failures: +none$/m);
    // Five ban; while the ban holds, it is what is shown.
    for (let i = 0; i < 2; i++) expect((await store.login('gus', 'wrong password!')).code).toBe(5);
    expect(await lock()).toMatchObject({ passwordFailures: 0, passwordFailuresSince: null, passwordUntil: expect.any(String) });
    expect((await store.run(['tfa', 'unlock', 'gus'])).code).toBe(0);
    expect(await lock()).toMatchObject({ passwordFailures: 0, passwordUntil: null });
  });

  it('ban for no longer than the ban from now: one made while the clock ran ahead is cut once it is set back', async () => {
    await store.addUser('fwd', PW);
    for (let i = 0; i < 5; i++) {
      const r = await store.run(['login', 'fwd', '--password-stdin', '--json'], { input: 'wrong password!\n', prefix: ['faketime', '-f', '+1d'] });
      expect(r.code).toBe(5);
    }
    const bannedFor = () => Date.parse((store.read(['user', 'show', 'fwd']) as { lock: { passwordUntil: string } }).lock.passwordUntil) / 1000 - Date.now() / 1000;
    expect(bannedFor()).toBeGreaterThan(86_000);
    const right = await store.login('fwd', PW);
    expect(right.json().error.message).toMatch(/too many failed sign-ins/);
    expect(bannedFor()).toBeLessThanOrEqual(900);
    expect((await store.run(['tfa', 'unlock', 'fwd'])).code).toBe(0);
  });

  it('are banned after five failures in the window, for known and unknown users alike, with the same answer', async () => {
    await store.addUser('pam', PW);
    const answers: Record<string, string[]> = {};
    for (const u of ['pam', 'ghost']) {
      answers[u] = [];
      for (let i = 0; i < 6; i++) {
        const r = await store.login(u, 'wrong password!');
        expect(r.code).toBe(5);
        answers[u].push((r.json().error.message as string).replaceAll(`${u}@local`, 'U').replace(/after \S+ \S+Z/, 'after T'));
      }
    }
    expect(answers.pam).toEqual(answers.ghost);
    expect(answers.pam?.[0]).toBe('authentication failed');
    // The failure that bans says the way out sooner, as each one after does.
    expect(answers.pam?.[4]).toBe("authentication failed: too many failed sign-ins for U; try again after T (or ask an admin to run tfactl tfa unlock U)");
    expect(answers.pam?.[5]).toBe(answers.pam?.[4]);
    // Banned: even the right password is refused, and no password is checked at all.
    const right = await store.login('pam', PW);
    expect(right.code).toBe(5);
    expect(right.json().error.message).toMatch(/too many failed sign-ins/);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'login', target: 'pam@local', outcome: 'failed' });
    const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(JSON.parse(store.auditRows().at(-1)?.detail ?? '{}')).toMatchObject({ reason: 'password sign-ins banned', bannedUntil: iso });
    // tfa unlock lifts the ban, and its audit entry says what it lifted, in the trail's own times.
    expect((await store.run(['tfa', 'unlock', 'pam'])).code).toBe(0);
    expect(JSON.parse(store.auditRows().at(-1)?.detail ?? '{}')).toEqual({ totpLocked: false, lockedUntil: null, passwordBannedUntil: iso });
    expect((await store.login('pam', PW)).code).toBe(0);
  });

  it('count a right password given without its second factor', async () => {
    await store.addUser('noc', PW);
    await addTotp('noc');
    for (let i = 0; i < 5; i++) {
      const r = await store.login('noc', PW);
      expect(r.code).toBe(5);
    }
    const r = await store.login('noc', PW);
    expect(r.json().error.message).toMatch(/too many failed sign-ins/);
  });

  it('check no more than the limit when twenty wrong passwords race', async () => {
    await store.addUser('race', PW);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.login('race', 'not the password')));
    expect(results.every((r) => r.code === 5)).toBe(true);
    const checked = store.auditRows().filter((a) => a.target === 'race@local' && a.detail?.includes('"wrong password"'));
    expect(checked).toHaveLength(5);
  });

  it('counted against a user id before the user existed do not ban the user made with it', async () => {
    for (let i = 0; i < 6; i++) expect((await store.login('later', 'guessing before she exists')).code).toBe(5);
    const banned = await store.login('later', PW);
    expect(banned.json().error.message).toMatch(/too many failed sign-ins/);
    await store.addUser('later', PW);
    const r = await store.login('later', PW);
    expect(r.code, r.stderr).toBe(0);
    // The same for a user an import makes.
    for (let i = 0; i < 6; i++) await store.login('imported', 'guessing');
    const csv = join(store.dir, 'later.csv');
    writeFileSync(csv, `userid,password\nimported,${PW}\n`);
    expect((await store.run(['user', 'import', csv])).code).toBe(0);
    expect((await store.login('imported', PW)).code).toBe(0);
  });

  it('are counted per the settings, which root@local may change', async () => {
    expect((await store.run(['settings', 'set', 'lockout.password-failures', '2'])).code).toBe(0);
    await store.addUser('two', PW);
    await store.login('two', 'wrong wrong wrong');
    const second = await store.login('two', 'wrong wrong wrong');
    expect(second.json().error.message).toMatch(/too many failed sign-ins/);
    expect((await store.run(['settings', 'set', 'lockout.password-failures', '5'])).code).toBe(0);
  });
});

describe('a sign-in that cannot be checked', () => {
  it('finds a missing key file before counting a failure, and is audited', async () => {
    await store.addUser('key', PW);
    const { secret } = await addTotp('key');
    const keyFile = store.keyFile;
    renameSync(keyFile, `${keyFile}.away`);
    try {
      const r = await store.login('key', PW, oathtool(secret, { epoch: nowSeconds() }));
      expect(r.code).toBe(6);
      expect(oneLineError(r)).toContain('key file');
    } finally {
      renameSync(`${keyFile}.away`, keyFile);
    }
    const lock = store.atRest<{ tfa_failures: number; totp_failures: number }>("SELECT tfa_failures, totp_failures FROM users WHERE userid = 'key@local'");
    expect(lock).toEqual([{ tfa_failures: 0, totp_failures: 0 }]);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'login', target: 'key@local', outcome: 'failed' });
    expect(store.auditRows().at(-1)?.detail).toContain('key_file');
  });
});

describe('a password typed where the user id goes', () => {
  // A sign-in's user id with a sign no user id holds is likelier a password typed a line early
  // (at a login prompt, in a script's --as, as PAM_USER): refused without repeating it.
  const typed = 'Hunter2 secret!';

  it.each([
    ['login', () => store.login(typed, PW)],
    ['--as', () => store.runAs(typed, PW, ['user', 'list'])],
    ['pam check', () => store.run(['pam', 'check'], { env: { PAM_USER: typed, PAM_TYPE: 'auth' }, input: '123456\n' })],
  ])('%s: exit 2, named by its length only, in no message and no audit row, nothing changed', async (_what, attempt) => {
    const before = store.snapshot();
    const audited = store.auditRows().length;
    const r = await attempt();
    expect(r.code, r.stderr).toBe(2);
    expect(oneLineError(r)).toMatch(/\(?(user id|PAM_USER) of 15 characters/);
    expect(r.stderr + r.stdout).not.toContain('Hunter2');
    expect(store.auditRows().length).toBe(audited);
    expect(JSON.stringify(store.auditRows())).not.toContain('Hunter2');
    expect(store.snapshot()).toBe(before);
  });

  it('a user id with a user id\'s shape is still named as typed', async () => {
    const r = await store.login('nobody@x', PW);
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toMatch(/^error: invalid user id "nobody@x": /);
  });
});
