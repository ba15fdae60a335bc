import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oathtool, oneLineError, TempStore } from './harness.js';

const store = new TempStore();
afterAll(() => store.remove());
const PW = 'enforcement password';

beforeAll(async () => {
  await store.run(['init']);
  await store.run(['realm', 'add', 'corp']);
  expect((await store.run(['realm', 'set-enforce', 'corp', 'totp', '--digits', '8'])).code).toBe(0);
  await store.run(['user', 'add', 'boss', '--admin', '--password-stdin'], { input: `${PW}\n` });
});

const login = (userid: string, code?: string) => store.login(userid, PW, code);

async function addCorpUser(name: string) {
  const r = await store.run(['user', 'add', `${name}@corp`, '--password-stdin', '--no-verify', '--json'], { input: `${PW}\n` });
  expect(r.code, r.stderr).toBe(0);
  return r.json().result;
}

describe('a realm that enforces TOTP', () => {
  it('enrols TOTP when a user is added, with the realm\'s parameters, and hands out secret and URI with --json', async () => {
    const user = await addCorpUser('bob');
    expect(user.totp).toMatchObject({ userid: 'bob@corp', digits: 8, period: 30, algorithm: 'SHA1', verified: false });
    expect(user.totp.uri).toContain('digits=8');
    const code = oathtool(user.totp.secret, { digits: 8 });
    const r = await login('bob@corp', code);
    expect(r.code, r.stderr).toBe(0);
  });

  it('without a terminal, refuses before showing a secret no code can then confirm, as --tfa totp does', async () => {
    const before = store.snapshot();
    // Without --tfa, the realm is why TOTP is enrolled: said first, with the way to add the user without it.
    const byRealm = 'the realm of nina@corp enforces TOTP, so it is enrolled now (--tfa none adds the user without it, to enrol later with tfa add totp): ';
    for (const [extra, why] of [[[], byRealm], [['--tfa', 'totp'], '']] as const) {
      const r = await store.run(['user', 'add', 'nina@corp', '--no-password', ...extra]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(oneLineError(r).startsWith(`error: ${why}cannot ask for the verification code: standard input is not a terminal; give a secret with --totp-secret`), r.stderr).toBe(true);
    }
    expect(store.snapshot()).toBe(before);
  });

  it('names the factor the realm has enrolled with --description, without --tfa totp', async () => {
    const r = await store.run(['user', 'add', 'dot@corp', '--no-password', '--no-verify', '--description', 'pixel 7', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.totp).toMatchObject({ userid: 'dot@corp', description: 'pixel 7', digits: 8 });
    const listed = (await store.run(['tfa', 'list', 'dot@corp', '--json'])).json().result[0].factors;
    expect(listed.map((f: { type: string; description: string }) => [f.type, f.description])).toEqual([['totp', 'pixel 7']]);
  });

  it('enrols TOTP in any realm when --totp-secret or --code is given', async () => {
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJR';
    const r = await store.run(['user', 'add', 'greg', '--no-password', '--totp-secret', secret, '--no-verify', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.totp).toMatchObject({ secret, userid: 'greg@local' });
  });

  it('takes a given secret with --totp-secret and checks --code when given', async () => {
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    const bad = await store.run(['user', 'add', 'cy@corp', '--no-password', '--totp-secret', secret, '--code', '00000000']);
    expect(bad.code).toBe(5);
    expect(store.hasUser('cy@corp')).toBe(false);
    const r = await store.run(['user', 'add', 'cy@corp', '--no-password', '--totp-secret', secret, '--code', oathtool(secret, { digits: 8 }), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.totp).toMatchObject({ secret, verified: true });
  });

  it('creates a user with --tfa none, warning that they cannot sign in', async () => {
    const r = await store.run(['user', 'add', 'dan@corp', '--password-stdin', '--tfa', 'none', '--json'], { input: `${PW}\n` });
    expect(r.code).toBe(0);
    expect(r.json().warnings).toEqual([expect.stringContaining('cannot sign in until a totp factor is added')]);
    const signIn = await login('dan@corp');
    expect(signIn.code).toBe(5);
    expect(signIn.json().error.message).toContain('no second factor configured for dan@corp; ask an admin');
  });

  it('refuses TOTP parameters other than the realm\'s', async () => {
    const r = await store.run(['tfa', 'add', 'totp', 'dan@corp', '--digits', '6', '--no-verify']);
    expect(r.code).toBe(4);
    expect(oneLineError(r)).toContain('enforces TOTP with 8 digits');
    const json = await store.run(['tfa', 'add', 'totp', 'dan@corp', '--algorithm', 'SHA256', '--no-verify', '--json']);
    expect(json.code).toBe(4);
    expect(json.json().error).toMatchObject({ code: 'realm_policy', message: expect.stringContaining('leave out --digits, --period and --algorithm') });
    const audit = await store.run(['audit', 'list', '--outcome', 'refused', '--json']);
    expect(audit.json().result).toContainEqual(expect.objectContaining({ action: 'tfa.add', target: 'dan@corp', outcome: 'refused', detail: { reason: expect.stringContaining('enforces TOTP with 8 digits') } }));
  });

  it('is not bypassed by disabling every factor', async () => {
    const user = await addCorpUser('eve');
    const id = user.totp.id;
    const r = await store.run(['tfa', 'disable', 'eve@corp', id, '--json']);
    expect(r.code).toBe(0);
    expect(r.json().warnings).toEqual([expect.stringContaining('no enabled totp factor left')]);
    const signIn = await login('eve@corp');
    expect(signIn.code).toBe(5);
    expect(signIn.json().error.message).toContain('no second factor configured');
  });

  it('accepts a recovery key instead of the realm\'s type', async () => {
    await addCorpUser('fay');
    const keys = (await store.run(['tfa', 'add', 'recovery', 'fay@corp', '--json'])).json().result.keys;
    const r = await login('fay@corp', keys[0]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.method).toBe('recovery');
  });

  it('does not let users delete or disable their own last TOTP factor; admins may, with a warning', async () => {
    const user = await addCorpUser('gus');
    const keys = (await store.run(['tfa', 'add', 'recovery', 'gus@corp', '--json'])).json().result.keys as string[];
    const factors = () => JSON.stringify(store.factorsOf('gus@corp').map((f) => [f.id, f.enabled]));
    const before = factors();
    const del = await store.runAs('gus@corp', PW, ['--auth-code', keys[0]!, 'tfa', 'delete', 'gus@corp', user.totp.id]);
    expect(del.code, del.stderr).toBe(4);
    expect(oneLineError(del)).toContain('last enabled totp factor');
    expect(factors()).toBe(before);
    const disable = await store.runAs('gus@corp', PW, ['--auth-code', keys[1]!, 'tfa', 'disable', 'gus@corp', user.totp.id]);
    expect(disable.code, disable.stderr).toBe(4);
    expect(factors()).toBe(before);
    const admin = await store.runAs('boss', PW, ['tfa', 'delete', 'gus@corp', user.totp.id, '--json']);
    expect(admin.code, admin.stderr).toBe(0);
    // Its recovery keys (none spent by the refusals) still sign it in, and the warning says so.
    expect(admin.json().warnings).toEqual(['gus@corp has no enabled totp factor left: only its 10 recovery keys sign it in until one is added (realm corp enforces totp)']);
    expect((await login('gus@corp', keys[2])).code).toBe(0);
    // Now the recovery keys are the last way in: gus may not delete them; an admin may, told what it leaves.
    const recovery = (store.factorsOf('gus@corp') as { id: string; type: string }[]).find((f) => f.type === 'recovery')!.id;
    const own = await store.runAs('gus@corp', PW, ['--auth-code', keys[3]!, 'tfa', 'delete', 'gus@corp', recovery]);
    expect(own.code, own.stderr).toBe(4);
    expect(oneLineError(own)).toBe('error: realm corp enforces totp and you have no enabled totp factor: your recovery keys are your last way to sign in (add a totp factor first)');
    const last = await store.runAs('boss', PW, ['tfa', 'delete', 'gus@corp', recovery, '--json']);
    expect(last.code, last.stderr).toBe(0);
    expect(last.json().warnings).toEqual(['gus@corp has no enabled totp factor and no recovery key left, and cannot sign in until a totp factor is added (realm corp enforces totp)']);
  });
});

describe('changing what a realm enforces', () => {
  it('warns about users who cannot sign in afterwards', async () => {
    await store.run(['realm', 'add', 'ops']);
    await store.run(['user', 'add', 'ann@ops', '--no-password']);
    // One with recovery keys left can still sign in: not named.
    await store.addUser('kit@ops', PW);
    expect((await store.run(['tfa', 'add', 'recovery', 'kit@ops'])).code).toBe(0);
    const r = await store.run(['realm', 'set-enforce', 'ops', 'totp', '--json']);
    expect(r.code).toBe(0);
    expect(r.json().warnings).toEqual([expect.stringMatching(/has no enabled totp factor and cannot sign in until one is added \(run 'tfactl tfa add totp USERID' for each; 'tfactl tfa list --realm ops' marks them\): ann@ops$/)]);
    const marked = await store.run(['tfa', 'list', '--realm', 'ops', '--json']);
    expect(marked.json().result).toEqual([
      expect.objectContaining({ userid: 'ann@ops', signIn: { possible: false, problem: 'no password is set', fix: 'tfactl user passwd ann@ops' } }),
      expect.objectContaining({ userid: 'kit@ops', signIn: { possible: true, problem: null, fix: null } }),
    ]);
  });

  it('leaves enforcement in the built-in realm to root@local', async () => {
    const before = store.snapshot();
    const r = await store.runAs('boss', PW, ['realm', 'set-enforce', 'local', 'totp']);
    expect(r.code).toBe(4);
    expect(store.snapshot()).toBe(before);
  });
});

describe('root protection for second factors', () => {
  const attempts: [string, string[]][] = [
    ['tfa add totp', ['tfa', 'add', 'totp', 'root@local', '--no-verify']],
    ['tfa add recovery', ['tfa', 'add', 'recovery', 'root@local']],
    ['tfa delete', ['tfa', 'delete', 'root@local', '--all', '--yes']],
    ['tfa enable', ['tfa', 'enable', 'root@local', 'xxxx']],
    ['tfa disable', ['tfa', 'disable', 'root@local', 'xxxx']],
    ['tfa unlock', ['tfa', 'unlock', 'root@local']],
  ];

  it.each(attempts)('refuses an admin %s on root@local (exit 4, audited, nothing changed)', async (_name, args) => {
    const before = store.snapshot();
    const r = await store.runAs('boss', PW, [...args, '--json']);
    expect(r.code).toBe(4);
    expect(r.json().error.code).toBe('permission_denied');
    expect(store.snapshot()).toBe(before);
    expect(store.auditRows().at(-1)).toMatchObject({ actor: 'boss@local', target: 'root@local', outcome: 'refused' });
  });

  it('lets an admin look at root@local\'s factors and root manage its own', async () => {
    expect((await store.runAs('boss', PW, ['tfa', 'list', 'root@local'])).code).toBe(0);
    const own = await store.run(['tfa', 'add', 'recovery', 'root@local', '--json']);
    expect(own.code, own.stderr).toBe(0);
    expect((await store.run(['tfa', 'delete', 'root@local', '--all', '--yes'])).code).toBe(0);
  });

  it('refuses an ordinary user every tfa command on others', async () => {
    await store.run(['user', 'add', 'joe', '--password-stdin'], { input: `${PW}\n` });
    for (const [, args] of attempts) {
      const onOther = args.map((a) => (a === 'root@local' ? 'boss' : a));
      const r = await store.runAs('joe', PW, onOther);
      expect(r.code, onOther.join(' ')).toBe(4);
    }
    expect((await store.runAs('joe', PW, ['tfa', 'list', 'boss'])).code).toBe(4);
    const own = await store.runAs('joe', PW, ['tfa', 'list', '--json']);
    expect(own.json().result).toEqual([expect.objectContaining({ userid: 'joe@local', factors: [] })]);
  });
});

describe('settings', () => {
  it('lists defaults and changes a value (admins only), rejecting bad values', async () => {
    const list = await store.run(['settings', 'list', '--json']);
    expect(list.json().result).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: 'lockout.totp-failures', value: '8', default: true }),
        expect.objectContaining({ key: 'lockout.failures', value: '100' }),
        expect.objectContaining({ key: 'lockout.seconds', value: '3600' }),
        expect.objectContaining({ key: 'totp.issuer', value: expect.stringMatching(/^tfactl@/) }),
      ]),
    );
    const set = await store.run(['settings', 'set', 'totp.issuer', 'ACME VPN', '--json']);
    expect(set.json().result).toMatchObject({ key: 'totp.issuer', value: 'ACME VPN', default: false });
    const r = await store.run(['tfa', 'add', 'totp', 'joe', '--no-verify', '--json']);
    expect(r.json().result.uri).toMatch(/^otpauth:\/\/totp\/ACME%20VPN:joe%40local\?.*issuer=ACME%20VPN/);
    for (const bad of [['lockout.failures', '0'], ['nope', '1'], ['password.min-length', '999']]) {
      const b = await store.run(['settings', 'set', ...bad]);
      expect(b.code, bad.join(' ')).toBe(2);
    }
    // Refused as soon as joe's password is known to be right, before the second factor is looked at.
    expect((await store.runAs('joe', PW, ['--auth-code', 'x', 'settings', 'list'])).code).toBe(4);
  });

  it('unset puts a setting back to its default (one that follows the host follows it again), under the rules set keeps, audited', async () => {
    expect((await store.run(['settings', 'set', 'totp.issuer', 'Old Corp'])).code).toBe(0);
    const unset = await store.run(['settings', 'unset', 'totp.issuer', '--json']);
    expect(unset.code, unset.stderr).toBe(0);
    expect(unset.json().result).toMatchObject({ key: 'totp.issuer', value: expect.stringMatching(/^tfactl@/), default: true });
    expect((await store.run(['settings', 'unset', 'totp.issuer'])).stdout).toMatch(/^unset totp\.issuer: its default applies \(tfactl@/);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'settings.unset', outcome: 'ok' });
    // min above max is refused whichever way it would come about, and nothing changes.
    // Below NIST's least (the default), taken with a warning.
    const short = await store.run(['settings', 'set', 'password.min-length', '4', '--json']);
    expect(short.code).toBe(0);
    expect(short.json().warnings).toEqual(["new passwords may now be shorter than 8 characters, the least NIST SP 800-63B allows even beside a second factor (tfactl's default)"]);
    expect((await store.run(['settings', 'set', 'password.max-length', '5'])).code).toBe(0);
    const before = store.snapshot();
    // The default minimum, 8, is above the maximum set.
    const refused = await store.run(['settings', 'unset', 'password.min-length', '--json']);
    expect({ code: refused.code, error: refused.json().error }).toEqual({ code: 2, error: { code: 'invalid_setting', message: 'password.min-length cannot exceed password.max-length' } });
    expect(store.snapshot()).toBe(before);
    for (const key of ['password.max-length', 'password.min-length']) expect((await store.run(['settings', 'unset', key])).code).toBe(0);
    expect((await store.run(['settings', 'unset', 'nope'])).code).toBe(2);
    expect((await store.runAs('boss', PW, ['settings', 'unset', 'totp.issuer'])).code).toBe(4);
  });
});
