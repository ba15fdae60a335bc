import { renameSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowSeconds, oathtool, oneLineError, TempStore } from './harness.js';

/**
 * Sign-in in two halves, for web apps: `login --begin` checks the password and hands out a
 * challenge; `login --finish --challenge ID` answers it. The challenge is single use, bound to its
 * user, and taken before its answer is checked.
 */
const store = new TempStore();
afterAll(() => store.remove());
const PW = 'ceremony password';
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

beforeAll(async () => {
  await store.run(['init']);
  await store.addUser('ann', PW);
  expect((await store.run(['tfa', 'add', 'totp', 'ann', '--secret', SECRET, '--no-verify'])).code).toBe(0);
  await store.addUser('ben', PW);
});

const begin = (userid: string, password = PW) => store.run(['login', userid, '--begin', '--password-stdin', '--json'], { input: `${password}\n` });
const finish = (userid: string, challenge: string, answer: string) =>
  store.run(['login', userid, '--finish', '--challenge', challenge, '--response', '-', '--json'], { input: `${answer}\n` });
const failures = (userid: string) => store.atRest<{ tfa_failures: number }>(`SELECT tfa_failures FROM users WHERE userid = '${userid}'`)[0]?.tfa_failures;

async function recoveryKeys(userid: string): Promise<string[]> {
  const r = await store.run(['tfa', 'add', 'recovery', userid, '--regenerate', '--yes', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return r.json().result.keys;
}

describe('login --begin and --finish', () => {
  it('hand out a challenge for the password and sign in with the code that answers it', async () => {
    const b = await begin('ann');
    expect(b.code, b.stderr).toBe(0);
    const { challenge, kinds, expires } = b.json().result;
    expect(kinds).toEqual(['totp']);
    expect(Date.parse(expires) / 1000 - nowSeconds()).toBeGreaterThan(100);
    const f = await finish('ann', challenge, oathtool(SECRET));
    expect(f.code, f.stderr).toBe(0);
    expect(f.json().result).toEqual({ userid: 'ann@local', method: 'totp', recoveryKeysLeft: null, session: null });
  });

  it('say how to answer on a terminal', async () => {
    const b = await store.run(['login', 'ann', '--begin', '--password-stdin'], { input: `${PW}\n` });
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^password accepted for ann@local; the second factor \(totp\) answers challenge \S+ until .*:\n {2}tfactl login ann@local --finish --challenge \S+ --code CODE\n$/);
  });

  it('sign in at once when the password alone is enough', async () => {
    const b = await begin('ben');
    expect(b.code, b.stderr).toBe(0);
    expect(b.json().result).toEqual({ userid: 'ben@local', method: 'password', recoveryKeysLeft: null, session: null });
  });

  it('take an empty password at --begin for none given (exit 2), counted toward no ban', async () => {
    for (let i = 0; i < 6; i++) {
      const b = await begin('ben', '');
      expect(b.code).toBe(2);
      expect(b.json().error).toEqual({ code: 'missing_secret', message: 'no password was given for ben@local (an empty line or answer)' });
    }
    expect((await begin('ben')).code).toBe(0);
  });

  it('count a wrong password at --begin as any wrong password', async () => {
    const b = await begin('ann', 'not the password');
    expect(b.code).toBe(5);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'login', target: 'ann@local', outcome: 'failed' });
  });

  it('refuse a challenge made while the clock ran ahead (more than 300 s), once the clock is set back', async () => {
    const ahead = await store.run(['login', 'ann', '--begin', '--password-stdin', '--json'], { input: `${PW}\n`, prefix: ['faketime', '-f', '+1d'] });
    expect(ahead.code, ahead.stderr).toBe(0);
    const f = await finish('ann', ahead.json().result.challenge, '000000');
    expect(f.code).toBe(5);
    expect(f.json().error.message).toBe('authentication failed: the challenge is unknown, used or expired: sign in again');
    // Made a minute ahead, as another host's clock may be: it works.
    const keys = await recoveryKeys('ann');
    const near = await store.run(['login', 'ann', '--begin', '--password-stdin', '--json'], { input: `${PW}\n`, prefix: ['faketime', '-f', '+60s'] });
    const done = await finish('ann', near.json().result.challenge, keys[0]!);
    expect(done.code, done.stderr).toBe(0);
  });

  it('take a challenge once: a second answer is refused and audited (no answer is checked, nothing counted)', async () => {
    const keys = await recoveryKeys('ann');
    const { challenge } = (await begin('ann')).json().result;
    expect((await finish('ann', challenge, keys[0]!)).code).toBe(0);
    const before = failures('ann@local');
    const again = await finish('ann', challenge, keys[1]!);
    expect(again.code).toBe(5);
    expect(again.json().error.message).toBe('authentication failed: the challenge is unknown, used or expired: sign in again');
    expect(failures('ann@local')).toBe(before);
    expect(store.auditRows().at(-1)?.detail).toContain('unknown, used or expired challenge');
    // The key that answered nothing was not spent.
    const next = (await begin('ann')).json().result.challenge;
    expect((await finish('ann', next, keys[1]!)).code).toBe(0);
  });

  it('never lock a user out for challenges that were never theirs: made-up ids count nothing', async () => {
    await store.addUser('lou', PW);
    expect((await store.run(['tfa', 'add', 'totp', 'lou', '--secret', SECRET, '--no-verify'])).code).toBe(0);
    const before = failures('lou@local');
    // Anyone who can reach a service can send these: no password, token or session of lou's needed.
    for (let i = 0; i < 12; i++) {
      const r = await store.run(['login', 'lou', '--finish', '--challenge', `made-up-${i}`, '--code', '000000', '--json']);
      expect(r.code).toBe(5);
      expect(r.json().error.message).toBe('authentication failed: the challenge is unknown, used or expired: sign in again');
    }
    expect(failures('lou@local')).toBe(before);
    expect(store.auditRows().filter((a) => a.target === 'lou@local' && a.detail?.includes('unknown, used or expired challenge'))).toHaveLength(12);
    expect((await store.login('lou', PW, oathtool(SECRET))).code).toBe(0);
  });

  it('refuse the answer of an account disabled or expired since its challenge, audited, spending nothing', async () => {
    await store.addUser('cid', PW);
    const keys = await recoveryKeys('cid');
    for (const [change, undo, reason] of [
      [['--disabled'], ['--enable'], 'disabled'],
      [['--expire', '2020-01-01'], ['--expire', 'never'], 'has expired'],
    ] as const) {
      const challenge = (await begin('cid')).json().result.challenge;
      expect((await store.run(['user', 'modify', 'cid', ...change])).code).toBe(0);
      const r = await finish('cid', challenge, keys[0]!);
      expect(r.code).toBe(5);
      expect(r.json().error.message).toBe(`authentication failed: cid@local ${reason === 'disabled' ? 'is disabled' : 'has expired'}`);
      expect(store.auditRows().at(-1)).toMatchObject({ action: 'login', target: 'cid@local', outcome: 'failed' });
      expect(failures('cid@local')).toBe(0);
      expect((await store.run(['user', 'modify', 'cid', ...undo])).code).toBe(0);
    }
    // The key was never spent.
    const challenge = (await begin('cid')).json().result.challenge;
    expect((await finish('cid', challenge, keys[0]!)).code).toBe(0);
  });

  it('refuse the answer when the password that earned the challenge was reset since (or the user made anew), spending nothing', async () => {
    await store.addUser('cyd', PW);
    const keys = await recoveryKeys('cyd');
    const challenge = (await begin('cyd')).json().result.challenge;
    expect((await store.run(['user', 'passwd', 'cyd', '--password-stdin'], { input: 'reset password 2\n' })).code).toBe(0);
    const r = await finish('cyd', challenge, keys[0]!);
    expect(r.code).toBe(5);
    expect(r.json().error.message).toBe('authentication failed: cyd@local was made anew or given a new password since this challenge: sign in again');
    expect(failures('cyd@local')).toBe(0);
    // The key was never spent: with the new password it signs in.
    const again = (await begin('cyd', 'reset password 2')).json().result.challenge;
    expect((await finish('cyd', again, keys[0]!)).code).toBe(0);
  });

  it('refuse a challenge handed out to another user', async () => {
    const keys = await recoveryKeys('ben');
    const annChallenge = (await begin('ann')).json().result.challenge;
    const r = await finish('ben', annChallenge, keys[0]!);
    expect(r.code).toBe(5);
    // Ann's challenge is still hers to answer.
    expect((await finish('ann', annChallenge, oathtool(SECRET, { epoch: nowSeconds() + 30 }))).code).toBe(0);
  });

  it('let exactly one of ten racing answers to one challenge in', async () => {
    const keys = await recoveryKeys('ann');
    const { challenge } = (await begin('ann')).json().result;
    const results = await Promise.all(keys.map((k) => finish('ann', challenge, k)));
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
    expect(results.filter((r) => r.code === 5)).toHaveLength(9);
    // Nine keys were never checked, so nine are left.
    const list = await store.run(['tfa', 'list', 'ann', '--json']);
    expect(list.json().result[0].factors.find((f: { type: string }) => f.type === 'recovery').recoveryKeysLeft).toBe(9);
  });

  it('keep the challenge when the key file cannot be read, so the answer can be given again once it is back', async () => {
    await store.addUser('kay', PW);
    expect((await store.run(['tfa', 'add', 'totp', 'kay', '--secret', SECRET, '--no-verify'])).code).toBe(0);
    const { challenge } = (await begin('kay')).json().result;
    const keyFile = store.keyFile;
    renameSync(keyFile, `${keyFile}.away`);
    let refused;
    try {
      refused = await finish('kay', challenge, oathtool(SECRET));
    } finally {
      renameSync(`${keyFile}.away`, keyFile);
    }
    expect(refused.code).toBe(6);
    expect(oneLineError(refused)).toContain('key file');
    expect(failures('kay@local')).toBe(0);
    // Nothing of that sign-in was written but its audit entry: the same challenge still answers.
    const f = await finish('kay', challenge, oathtool(SECRET));
    expect(f.code, f.stderr).toBe(0);
    expect(f.json().result.method).toBe('totp');
  });

  it.each([
    [['--begin', '--finish'], '--begin or --finish, not both', 'conflicting_options'],
    [['--finish', '--code', '123456'], 'give its id with --challenge', 'usage'],
    [['--challenge', 'x'], '--challenge and --response go with --finish', 'usage'],
    [['--finish', '--challenge', 'x'], '--finish needs the answer', 'usage'],
    [['--begin', '--code', '123456'], 'the code goes with --finish', 'conflicting_options'],
    [['--webauthn', '--no-browser'], '--webauthn or --no-browser, not both', 'conflicting_options'],
    [['--begin', '--session'], 'not with --begin or --finish', 'conflicting_options'],
  ])('refuse %j with exit 2', async (args, message, code) => {
    const r = await store.run(['login', 'ann', ...args]);
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toContain(message);
    const json = await store.run(['login', 'ann', ...args, '--json']);
    expect(json.json().error.code).toBe(code);
  });
});
