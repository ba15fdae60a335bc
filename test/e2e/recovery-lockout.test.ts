import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowSeconds, oathtool, oneLineError, TempStore, withFullDisk } from './harness.js';

const store = new TempStore();
afterAll(() => store.remove());
const PW = 'recovery test password';

beforeAll(async () => {
  await store.run(['init']);
});

const addUser = (userid: string) => store.addUser(userid, PW);

async function addRecovery(userid: string): Promise<string[]> {
  const r = await store.run(['tfa', 'add', 'recovery', userid, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return r.json().result.keys;
}

async function addTotp(userid: string): Promise<string> {
  const r = await store.run(['tfa', 'add', 'totp', userid, '--no-verify', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return r.json().result.secret;
}

const login = (userid: string, code: string) => store.login(userid, PW, code);

describe('recovery keys', () => {
  it('are ten keys shown once, stored as keyed hashes, each working exactly once', async () => {
    await addUser('rita');
    const keys = await addRecovery('rita');
    expect(keys).toHaveLength(10);
    for (const k of keys) expect(k).toMatch(/^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/);
    const first = await login('rita', keys[0]!);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json().result).toEqual({ userid: 'rita@local', method: 'recovery', recoveryKeysLeft: 9, session: null });
    expect((await login('rita', keys[0]!)).code).toBe(5);
    const upper = await login('rita', keys[1]!.toUpperCase().replace(/-/g, ''));
    expect(upper.code, upper.stderr).toBe(0);
    // Read out from paper with spaces for its dashes.
    const spaced = await login('rita', keys[2]!.replace(/-/g, ' '));
    expect(spaced.code, spaced.stderr).toBe(0);
    // A key of the wrong form is a wrong key: exit 5, audited, counted as every attempt is.
    const malformed = await store.login('rita', PW, '12', ['--type', 'recovery']);
    expect([malformed.code, malformed.json().error.code]).toEqual([5, 'auth_failed']);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'login', target: 'rita@local', outcome: 'failed' });
    expect((await store.run(['user', 'show', 'rita', '--json'])).json().result.lock.secondFactorFailures).toBe(1);
    const list = await store.run(['tfa', 'list', 'rita', '--json']);
    expect(list.json().result[0].factors[0]).toMatchObject({ type: 'recovery', recoveryKeysLeft: 7 });
    expect(list.stdout).not.toContain(keys[3]);
  });

  it('are made with a new user by user add --recovery-keys, shown before the user is stored', async () => {
    const r = await store.run(['user', 'add', 'remy', '--password-stdin', '--tfa', 'totp', '--no-verify', '--qr', 'none', '--recovery-keys', '--json'], { input: `${PW}\n` });
    expect(r.code, r.stderr).toBe(0);
    const { user, totp, recovery } = r.json().result;
    expect(user.factors).toMatchObject({ totp: 1, recoveryKeysLeft: 10 });
    expect(recovery).toMatchObject({ id: expect.any(String), output: null });
    expect(recovery.keys).toHaveLength(10);
    // Keys in hand, the next step is not suggested.
    expect(r.stderr).not.toContain('tfa add recovery');
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'user.add', target: 'remy@local', outcome: 'ok' });
    expect(JSON.parse(store.auditRows().at(-1)!.detail!)).toMatchObject({ totp: totp.id, recovery: recovery.id });
    expect(store.auditRows().at(-1)!.detail).not.toContain(recovery.keys[0].slice(5));
    const signIn = await login('remy', recovery.keys[0]);
    expect(signIn.json().result).toMatchObject({ method: 'recovery', recoveryKeysLeft: 9 });
    // On a terminal's output: numbered, each key once; a second set is tfa add recovery --regenerate's.
    const human = await store.run(['user', 'add', 'remy2', '--no-password', '--recovery-keys'], { env: { NO_COLOR: '1' } });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/\n\nrecovery keys of remy2@local:\n\n {3}1\. [0-9a-f]{4}(-[0-9a-f]{4}){3}\n[\s\S]* 10\. [0-9a-f]{4}(-[0-9a-f]{4}){3}\n\nEach key works once/);
  });

  it('are written by user add --recovery-output to a new 0600 file, which goes again when the user is not added', async () => {
    const file = join(store.dir, 'new-user-keys.txt');
    const r = await store.run(['user', 'add', 'rosa', '--no-password', '--recovery-output', file], { env: { NO_COLOR: '1' } });
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const keys = readFileSync(file, 'utf8').match(/[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}/g) ?? [];
    expect(keys).toHaveLength(10);
    expect(r.stdout).toContain(`recovery keys of rosa@local: the 10 keys are in ${file} (mode 0600), not shown here.`);
    for (const k of keys) expect(r.stdout).not.toContain(k);
    const before = store.snapshot();
    // A taken name, a user that exists, a TOTP code that is wrong: nothing stored, no file left.
    const other = join(store.dir, 'other-keys.txt');
    for (const [args, code] of [
      [['rosa', '--no-password', '--recovery-output', file], 4],
      [['rosa', '--no-password', '--recovery-output', other], 4],
      [['rosa3', '--no-password', '--totp-secret', 'JBSWY3DPEHPK3PXP', '--code', '000000', '--recovery-output', other], 5],
    ] as const) {
      const failed = await store.run(['user', 'add', ...args]);
      expect(failed.code, `${args.join(' ')}: ${failed.stderr}`).toBe(code);
      expect(existsSync(other)).toBe(false);
    }
    expect(readFileSync(file, 'utf8').match(/[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}/g)).toEqual(keys);
    expect(store.snapshot()).toBe(before);
    expect((await store.run(['login', 'rosa', '--code', keys[3]!, '--json'])).code).not.toBe(0);
  });

  it('are not repeated when one is given where a factor id goes', async () => {
    await addUser('rhea');
    const [key] = await addRecovery('rhea');
    for (const command of ['delete', 'disable', 'enable']) {
      const r = await store.run(['tfa', command, 'rhea', key!, ...(command === 'delete' ? ['--yes'] : []), '--json']);
      expect([r.code, r.json().error.code], r.stderr).toEqual([3, 'not_found']);
      expect(r.json().error.message).toBe('rhea@local has no factor of the id given; it is not repeated here (19 characters): a factor id is hex, as tfa list shows it (see tfactl tfa list rhea@local)');
      expect(r.stdout + r.stderr).not.toContain(key!.slice(5));
    }
    const spaced = await store.run(['tfa', 'delete', 'rhea', key!.replace(/-/g, ' '), '--yes']);
    expect([spaced.code, oneLineError(spaced)]).toEqual([2, 'error: invalid factor id: give the id tfa list shows, or a start of it of at least 4 characters']);
    expect((await login('rhea', key!)).code).toBe(0);
  });

  it('warn when fewer than four are left, and say when none are', async () => {
    await addUser('lowe');
    const keys = await addRecovery('lowe');
    for (const k of keys.slice(0, 6)) expect((await login('lowe', k)).code).toBe(0);
    const seventh = await login('lowe', keys[6]!);
    expect(seventh.json().warnings).toEqual([expect.stringContaining('only 3 recovery keys left')]);
    expect(seventh.stderr).toContain('warning: only 3 recovery keys left');
    for (const k of keys.slice(7, 9)) await login('lowe', k);
    const last = await login('lowe', keys[9]!);
    expect(last.json().warnings).toEqual([expect.stringContaining('no recovery keys left')]);
    const none = await login('lowe', keys[9]!);
    expect(none.code).toBe(5);
    expect(oneLineError(none)).toContain('no second factor');
    // A set all used is said to be so, not as keys that still work.
    const again = await store.run(['tfa', 'add', 'recovery', 'lowe']);
    expect(again.code).toBe(4);
    expect(oneLineError(again)).toBe('error: lowe@local has used every recovery key of their set: use --regenerate to make a new one');
  });

  it('are one set per user: adding again is refused, --regenerate replaces with --yes', async () => {
    await addUser('reg');
    const old = await addRecovery('reg');
    const again = await store.run(['tfa', 'add', 'recovery', 'reg']);
    expect(again.code).toBe(4);
    expect(oneLineError(again)).toBe('error: reg@local already has recovery keys: use --regenerate to replace them');
    const noYes = await store.run(['tfa', 'add', 'recovery', 'reg', '--regenerate']);
    expect(noYes.code).toBe(2);
    expect(oneLineError(noYes)).toContain('--yes');
    const fresh = await store.run(['tfa', 'add', 'recovery', 'reg', '--regenerate', '--yes', '--json']);
    expect(fresh.json().result.regenerated).toBe(true);
    expect((await login('reg', old[0]!)).code).toBe(5);
    expect((await login('reg', fresh.json().result.keys[0])).code).toBe(0);
  });

  it('stores nothing when the --output file cannot be created', async () => {
    await addUser('nofile');
    const file = join(store.dir, 'taken.txt');
    writeFileSync(file, 'already here');
    const r = await store.run(['tfa', 'add', 'recovery', 'nofile', '--output', file]);
    expect(r.code).toBe(4);
    expect(readFileSync(file, 'utf8')).toBe('already here');
    expect(store.factorsOf('nofile@local')).toEqual([]);
  });

  it('are written to --output before they are stored: a full disk keeps the old keys and stores nothing', async () => {
    await addUser('fulldisk');
    const old = await addRecovery('fulldisk');
    const before = store.factorsOf('fulldisk@local');
    await addUser('fulldisk2');
    await withFullDisk(async (dir) => {
      for (const [userid, extra] of [['fulldisk', ['--regenerate', '--yes']], ['fulldisk2', []]] as const) {
        const file = join(dir, `${userid}.txt`);
        const r = await store.run(['tfa', 'add', 'recovery', userid, ...extra, '--output', file, '--json']);
        expect(r.code, r.stderr).toBe(6);
        expect(r.json().error).toEqual({ code: 'file_error', message: `cannot write ${file}: no space left on the device (ENOSPC) (nothing was kept)` });
        expect(existsSync(file)).toBe(false);
      }
    });
    expect(store.factorsOf('fulldisk@local')).toEqual(before);
    expect(store.factorsOf('fulldisk2@local')).toEqual([]);
    expect((await login('fulldisk', old[0]!)).code).toBe(0);
    // Only the first set was ever added.
    const added = store.auditRows().filter((a) => a.action === 'tfa.add' && ['fulldisk@local', 'fulldisk2@local'].includes(a.target ?? ''));
    expect(added.map((a) => [a.target, a.outcome, JSON.parse(a.detail ?? '{}').regenerated])).toEqual([['fulldisk@local', 'ok', false]]);
  });

  it('can be written to a new 0600 file, never over an existing one', async () => {
    await addUser('filer');
    const file = join(store.dir, 'keys.txt');
    const r = await store.run(['tfa', 'add', 'recovery', 'filer', '--output', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    for (const k of r.json().result.keys) expect(readFileSync(file, 'utf8')).toContain(k);
    const again = await store.run(['tfa', 'add', 'recovery', 'filer', '--regenerate', '--yes', '--output', file]);
    expect(again.code).toBe(4);
    expect(existsSync(file)).toBe(true);
    // Without --json, the keys are in the file only: not on the terminal, nor in a CI job's log.
    const other = join(store.dir, 'keys-2.txt');
    const human = await store.run(['tfa', 'add', 'recovery', 'filer', '--regenerate', '--yes', '--output', other], { env: { NO_COLOR: '1' } });
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toBe(`replaced recovery keys for filer@local: the 10 keys are in ${other} (mode 0600), not shown here. Each works once: print them and lock them away, or keep them in a password vault, then delete the file.\n`);
    const written = readFileSync(other, 'utf8').match(/[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}/g) ?? [];
    expect(written).toHaveLength(10);
    for (const k of written) expect(human.stdout + human.stderr).not.toContain(k);
  });

  it('work once even when ten sign-ins race with the same key', async () => {
    await addUser('race');
    const [key] = await addRecovery('race');
    const results = await Promise.all(Array.from({ length: 10 }, () => login('race', key!)));
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
    expect(results.filter((r) => r.code === 5)).toHaveLength(9);
  });
});

describe('TOTP under concurrent sign-ins', () => {
  it('accepts one valid code exactly once when ten sign-ins race with it', async () => {
    await addUser('racer');
    const secret = await addTotp('racer');
    const code = oathtool(secret);
    const results = await Promise.all(Array.from({ length: 10 }, () => login('racer', code)));
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
    expect(results.filter((r) => r.code === 5)).toHaveLength(9);
  });
});

describe('lockout', () => {
  it('checks no more than 8 TOTP codes even when 20 wrong codes race, then refuses the right one', async () => {
    await addUser('burst');
    const secret = await addTotp('burst');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => login('burst', String(100000 + i))));
    expect(results.every((r) => r.code === 5)).toBe(true);
    const checked = store.auditRows().filter((a) => a.target === 'burst@local' && a.action === 'login' && a.detail?.includes('wrong totp code'));
    expect(checked).toHaveLength(8);
    const right = await login('burst', oathtool(secret));
    expect(right.code).toBe(5);
    expect(oneLineError(right)).toContain('TOTP is locked');
  });

  it('starts counting afresh when an all-factor lock has expired', async () => {
    // A lock long enough to still hold on a loaded machine when the next sign-in comes.
    await store.run(['settings', 'set', 'lockout.failures', '2']);
    await store.run(['settings', 'set', 'lockout.seconds', '5']);
    try {
      await addUser('expiry');
      const keys = await addRecovery('expiry');
      for (let i = 0; i < 2; i++) await login('expiry', 'ffff-ffff-ffff-ffff');
      expect(oneLineError(await login('expiry', keys[0]!))).toContain('locked');
      await new Promise((r) => setTimeout(r, 5200));
      expect((await login('expiry', 'ffff-ffff-ffff-ffff')).code).toBe(5);
      const ok = await login('expiry', keys[0]!);
      expect(ok.code, ok.stderr).toBe(0);
    } finally {
      await store.run(['settings', 'set', 'lockout.failures', '100']);
      await store.run(['settings', 'set', 'lockout.seconds', '3600']);
    }
  }, 60_000);

  it('cuts a lock that ends later than lockout.seconds from now (set while the clock ran ahead, or before the setting was lowered) to that', async () => {
    await store.run(['settings', 'set', 'lockout.failures', '2']);
    try {
      await addUser('ahead');
      const keys = await addRecovery('ahead');
      // Locked a day ahead, for the default hour: set back, the lock would last a day and an hour.
      for (let i = 0; i < 2; i++) await store.run(['login', 'ahead', '--password-stdin', '--code', 'ffff-ffff-ffff-ffff', '--json'], { input: `${PW}\n`, prefix: ['faketime', '-f', '+1d'] });
      const lockedFor = () => Date.parse((store.read(['user', 'show', 'ahead']) as { lock: { secondFactorsUntil: string } }).lock.secondFactorsUntil) / 1000 - Date.now() / 1000;
      expect(lockedFor()).toBeGreaterThan(86_000);
      const refused = await login('ahead', keys[0]!);
      expect(oneLineError(refused)).toContain('second factors are locked until');
      expect(lockedFor()).toBeLessThanOrEqual(3600);
      // Lowering lockout.seconds cuts a lock in force too.
      await store.run(['settings', 'set', 'lockout.seconds', '60']);
      expect(oneLineError(await login('ahead', keys[0]!))).toContain('second factors are locked until');
      expect(lockedFor()).toBeLessThanOrEqual(60);
    } finally {
      await store.run(['settings', 'set', 'lockout.failures', '100']);
      await store.run(['settings', 'set', 'lockout.seconds', '3600']);
    }
  });

  it('locks TOTP after 8 consecutive TOTP failures until a recovery key succeeds', async () => {
    await addUser('lock1');
    const secret = await addTotp('lock1');
    const keys = await addRecovery('lock1');
    for (let i = 0; i < 7; i++) expect((await login('lock1', '000000')).code).toBe(5);
    const eighth = await login('lock1', '000000');
    expect(oneLineError(eighth)).toBe('error: authentication failed: too many failed TOTP codes; TOTP is now locked: use a recovery key, or ask an admin to unlock it (tfactl tfa unlock lock1@local)');
    const list = await store.run(['tfa', 'list', 'lock1', '--json']);
    expect(list.json().result[0]).toMatchObject({ lock: { totp: true }, signIn: { possible: true } });
    const locked = await login('lock1', oathtool(secret));
    expect(locked.code).toBe(5);
    expect(oneLineError(locked)).toBe('error: authentication failed: TOTP is locked after too many failures: use a recovery key, or ask an admin to unlock it (tfactl tfa unlock lock1@local)');
    // Told before a code is typed: a web app's challenge says so, and so does a script's refusal without --code.
    const begun = await store.run(['login', 'lock1', '--password-stdin', '--begin', '--json'], { input: `${PW}\n` });
    expect(begun.code, begun.stderr).toBe(0);
    expect(begun.json().result).toMatchObject({ kinds: ['recovery'], recoveryKeysLeft: 10, totpLocked: true });
    const uncoded = await store.run(['login', 'lock1', '--password-stdin'], { input: `${PW}\n` });
    expect(uncoded.code).toBe(5);
    expect(oneLineError(uncoded)).toBe('error: lock1@local needs a second factor: give it with --code (a recovery key (10 left); - reads it from standard input); TOTP is locked after too many failed codes; counted as a failed sign-in (1 of 5 within 10 minutes ban lock1@local\'s password sign-ins for 15 minutes)');
    // So does PAM's line before its prompt.
    const pam = await store.run(['--db', store.db, 'pam', 'prompt'], { env: { PAM_USER: 'lock1' } });
    expect(pam.stdout).toBe('Second factor for lock1@local (TOTP is locked after too many failures): type a recovery key (10 left) at the next prompt.\n');
    expect((await login('lock1', keys[0]!)).code).toBe(0);
    const open = await store.run(['login', 'lock1', '--password-stdin', '--begin', '--json'], { input: `${PW}\n` });
    expect(open.json().result).toMatchObject({ kinds: ['totp', 'recovery'], totpLocked: false });
    const unlocked = await login('lock1', oathtool(secret, { epoch: nowSeconds() + 30 }));
    expect(unlocked.code, unlocked.stderr).toBe(0);
  });

  it('tells a user whose TOTP is locked and who has no recovery key to ask an admin, naming the command', async () => {
    await addUser('nokeys');
    await addTotp('nokeys');
    for (let i = 0; i < 7; i++) expect((await login('nokeys', '000000')).code).toBe(5);
    const ask = "ask an admin to unlock it (tfactl tfa unlock nokeys@local)";
    expect(oneLineError(await login('nokeys', '000000'))).toBe(`error: authentication failed: too many failed TOTP codes; TOTP is now locked: ${ask}`);
    const after = await login('nokeys', '000000');
    expect(after.code).toBe(5);
    expect(oneLineError(after)).toBe(`error: authentication failed: TOTP is locked after too many failures: ${ask}`);
    // The phone lost: its entry deleted and a new one enrolled. The lock is the user's, so the
    // enrolment says the new factor's codes are refused too until it is lifted.
    expect((await store.run(['tfa', 'delete', 'nokeys', '--type', 'totp', '--yes'])).code).toBe(0);
    const added = await store.run(['tfa', 'add', 'totp', 'nokeys', '--no-verify', '--json']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.json().warnings).toContain(
      "nokeys@local's TOTP is locked after too many wrong codes: this factor's codes are refused too until an admin runs 'tfactl tfa unlock nokeys@local' (or a recovery key signs nokeys@local in)",
    );
    expect((await login('nokeys', oathtool(added.json().result.secret))).code).toBe(5);
    expect((await store.run(['tfa', 'unlock', 'nokeys'])).code).toBe(0);
    expect((await login('nokeys', oathtool(added.json().result.secret, { epoch: nowSeconds() + 30 }))).code).toBe(0);
    // Unlocked, no such warning.
    const again = await store.run(['tfa', 'add', 'totp', 'nokeys', '--no-verify', '--json']);
    expect(again.json().warnings.filter((w: string) => w.includes('is locked'))).toEqual([]);
  });

  it('locks every factor after the configured number of failures, until an admin unlocks', async () => {
    expect((await store.run(['settings', 'set', 'lockout.failures', '3'])).code).toBe(0);
    expect((await store.run(['settings', 'set', 'lockout.seconds', '3600'])).code).toBe(0);
    await addUser('lock2');
    const keys = await addRecovery('lock2');
    for (let i = 0; i < 3; i++) {
      expect((await login('lock2', 'ffff-ffff-ffff-ffff')).code).toBe(5);
      // user show counts them (no TOTP code among them).
      expect(store.read(['user', 'show', 'lock2']).lock).toMatchObject({ secondFactorFailures: i + 1, totpFailures: 0 });
    }
    expect((await store.run(['user', 'show', 'lock2'])).stdout).toMatch(/^failures: +3 wrong second factors in a row$/m);
    const refused = await login('lock2', keys[0]!);
    expect(refused.code).toBe(5);
    expect(oneLineError(refused)).toContain('locked until');
    await addUser('bystander');
    const byUser = await store.runAs('bystander', PW, ['tfa', 'unlock', 'lock2']);
    expect(byUser.code).toBe(4);
    // Refused before any second factor is asked for: unlocking is for admins.
    const self = await store.runAs('lock2', PW, ['tfa', 'unlock', 'lock2']);
    expect(self.code).toBe(4);
    const unlock = await store.run(['tfa', 'unlock', 'lock2', '--json']);
    expect(unlock.json().result).toMatchObject({ userid: 'lock2@local', before: { totp: false } });
    expect(Date.parse(unlock.json().result.before.secondFactorsUntil) / 1000).toBeGreaterThan(nowSeconds());
    expect(unlock.json().result.before.secondFactorFailures).toBe(3);
    // Unlocking starts the counts afresh.
    expect(store.read(['user', 'show', 'lock2']).lock).toMatchObject({ secondFactorFailures: 0, totpFailures: 0, secondFactorsUntil: null });
    expect((await store.run(['user', 'show', 'lock2'])).stdout).toMatch(/^failures: +none$/m);
    expect((await login('lock2', keys[0]!)).code).toBe(0);
    expect(store.auditRows().filter((a) => a.action === 'tfa.unlock' && a.target === 'lock2@local').map((a) => [a.actor, a.outcome])).toEqual([
      ['bystander@local', 'refused'],
      ['lock2@local', 'refused'],
      ['root@local', 'ok'],
    ]);
    await store.run(['settings', 'set', 'lockout.failures', '100']);
  });
});
