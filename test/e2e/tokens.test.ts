import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { BIN, oneLineError, secretForms, TempStore } from './harness.js';

/**
 * API tokens (`token add/list/delete`, TFACTL_TOKEN, --token @FILE) through the built CLI: a
 * token acts as its user (or only looks), never changes second factors, tokens or its own user's
 * password, can be revoked alone and dies with its user; its secret is shown once and never stored.
 */
const store = new TempStore();
const PW = 'token user password';

beforeAll(async () => {
  await store.run(['init']);
  await store.addUser('boss', PW, ['--admin']);
  await store.addUser('ci', PW);
});
afterAll(() => store.remove());

async function addToken(userid: string, name: string, extra: string[] = []): Promise<string> {
  const r = await store.run(['token', 'add', userid, name, '--json', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return r.json().result.value as string;
}
const withToken = (value: string, args: string[], extra: { input?: string } = {}) => store.run(args, { ...extra, env: { TFACTL_TOKEN: value } });

describe('token add', () => {
  it('is never echoed when given where a user id, realm or factor belongs (TFACTL_AS for TFACTL_TOKEN): exit 2, the secret left out', async () => {
    const value = await addToken('boss', 'mixup');
    const secret = value.split('=')[1]!;
    for (const [args, env] of [
      [['user', 'list', '--json'], { TFACTL_AS: value }],
      [['--as', value, 'user', 'list'], {}],
      [['user', 'show', value, '--json'], {}],
      [['audit', '--user', value], {}],
      [['realm', 'show', value], {}],
      [['tfa', 'delete', 'ci', value], {}],
    ] as const) {
      const r = await store.run([...args], { env });
      expect(r.code === 2 || r.code === 3, `${args.join(' ')}: ${r.stderr}`).toBe(true);
      expect(r.stdout + r.stderr, args.join(' ')).not.toContain(secret);
    }
    const asUser = await store.run(['user', 'show', value]);
    expect(oneLineError(asUser)).toBe("error: invalid user id: that is an API token's value (USERID!NAME=SECRET), not repeated here; a token is given with TFACTL_TOKEN or --token @FILE");
    expect(oneLineError(await store.run(['tfa', 'delete', 'ci', value]))).toBe(
      `error: ci@local has no factor of the id given; it is not repeated here (${value.length} characters): a factor id is hex, as tfa list shows it (see tfactl tfa list ci@local)`,
    );
    expect((await store.run(['token', 'delete', 'boss', 'mixup'])).code).toBe(0);
  });

  it('shows the value once, in the shape USERID!NAME=SECRET, and keeps only its hash', async () => {
    const r = await store.run(['token', 'add', 'boss', 'deploy', '--comment', 'CI deploys', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const t = r.json().result;
    expect(t).toMatchObject({ tokenid: 'boss@local!deploy', userid: 'boss@local', name: 'deploy', privileges: 'inherit', expires: null, comment: 'CI deploys', lastUsed: null });
    expect(t.value).toMatch(/^boss@local!deploy=[A-Za-z0-9_-]{43}$/);
    const secret = (t.value as string).split('=')[1]!;
    // Neither the store nor the audit trail nor a listing holds the secret.
    for (const text of store.everythingKept()) for (const form of secretForms(secret, Buffer.from(secret, 'base64url'))) expect(text).not.toContain(form);
    expect(JSON.stringify(store.auditRows())).not.toContain(secret);
    const listed = await store.run(['token', 'list', '--json']);
    expect(listed.stdout).not.toContain(secret);
    expect(listed.json().result).toEqual([expect.objectContaining({ tokenid: 'boss@local!deploy', comment: 'CI deploys' })]);
    expect(store.atRest('SELECT length(secret_hash) AS n FROM api_tokens')).toEqual([{ n: 32 }]);
  });

  it.each([
    [['ci', '1bad'], 2, /invalid token name/],
    [['ci', 'x', '--privileges', 'all'], 2, /privileges/],
    [['ci', 'x', '--expire', '2020-13-01'], 2, /invalid expiry date/],
    [['ci', 'x', '--expire', '2001-01-01'], 4, /has passed/],
    [['nobody', 'x'], 3, /nobody@local does not exist/],
    [['boss', 'deploy'], 4, /already has a token named deploy/],
  ])('refuses %j (exit %i) and changes nothing', async (args, code, message) => {
    const before = store.read(['token', 'list']);
    const r = await store.run(['token', 'add', ...args]);
    expect(r.code).toBe(code);
    expect(oneLineError(r)).toMatch(message);
    expect(store.read(['token', 'list'])).toEqual(before);
  });
});

describe('acting with a token', () => {
  it('acts as its user, audited as that user by that token, and records its last use', async () => {
    const value = await addToken('boss', 'provision');
    const r = await withToken(value, ['user', 'add', 'dora', '--no-password', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(store.auditRows().at(-1)).toMatchObject({ actor: 'boss@local', action: 'user.add', target: 'dora@local', outcome: 'ok' });
    expect(JSON.parse(store.auditRows().at(-1)!.detail!)).toMatchObject({ token: 'provision' });
    const [listed] = (await store.run(['token', 'list', 'boss', '--json'])).json().result.filter((t: { name: string }) => t.name === 'provision');
    expect(listed.lastUsed).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('reads the token from --token @FILE, and refuses one given on the command line without echoing it', async () => {
    const value = await addToken('ci', 'file');
    const file = join(store.dir, 'ci.token');
    writeFileSync(file, `${value}\n`, { mode: 0o600 });
    const ok = await store.run(['--token', `@${file}`, 'user', 'show', 'ci', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json().result.userid).toBe('ci@local');
    expect(ok.json().warnings).toEqual([]);
    // One others may read is theirs too: said (as of the key file), the command still runs.
    chmodSync(file, 0o644);
    const open = await store.run(['--token', `@${file}`, 'user', 'show', 'ci', '--json']);
    expect(open.code, open.stderr).toBe(0);
    expect(open.json().warnings).toEqual([`the --token file ${file} is readable by others (mode 0644): run 'chmod 600 ${file}'`]);
    const bare = await store.run(['--token', value, 'user', 'show', 'ci']);
    expect(bare.code).toBe(2);
    expect(oneLineError(bare)).toMatch(/--token takes @FILE/);
    expect(bare.stderr).not.toContain(value.split('=')[1]!);
  });

  it('never changes second factors, tokens or its own password, even its own user\'s', async () => {
    const value = await addToken('ci', 'self');
    for (const args of [
      ['tfa', 'add', 'recovery', 'ci'],
      ['tfa', 'add', 'totp', 'ci', '--no-verify'],
      ['token', 'add', 'ci', 'another'],
      ['token', 'delete', 'ci', 'self'],
    ]) {
      const r = await withToken(value, args);
      expect(r.code, args.join(' ')).toBe(4);
      expect(oneLineError(r)).toMatch(/API token ci@local!self may not change second factors, tokens or its own user's password/);
    }
    const passwd = await withToken(value, ['user', 'passwd', 'ci', '--password-stdin'], { input: 'a new password 1\n' });
    expect(passwd.code).toBe(4);
    expect(store.factorsOf('ci')).toEqual([]);
  });

  it('nor through user import --update: such rows fail, audited, while new users still get theirs', async () => {
    for (const u of ['imp1', 'imp2', 'imp3']) await store.addUser(u, PW);
    const value = await addToken('boss', 'importer');
    const csv = join(store.dir, 'token-import.csv');
    const rows = ['boss,Hijacked password 1,', 'imp1,,recovery', 'imp2,,totp', 'imp3,Changed by an admin 1,', 'fresh-by-token,,totp'];
    writeFileSync(csv, `userid,password,tfa\n${rows.join('\n')}\n`);
    const before = store.read(['user', 'show', 'boss']);
    // A dry run says the same of each row, and neither changes nor audits anything.
    const trail = store.auditRows().length;
    const dry = await withToken(value, ['user', 'import', csv, '--update', '--dry-run', '--json']);
    expect(dry.code).toBe(2);
    expect((dry.json().result.results as { status: string }[]).map((x) => x.status)).toEqual(['failed', 'failed', 'failed', 'updated', 'created']);
    expect(store.auditRows()).toHaveLength(trail);
    expect(store.read<{ userid: string }[]>(['user', 'list']).map((u) => u.userid)).not.toContain('fresh-by-token@local');
    const r = await withToken(value, ['user', 'import', csv, '--update', '--json']);
    expect(r.code).toBe(2);
    const results = r.json().result.results as { line: number; status: string; error: string | null; totp: unknown }[];
    expect(results.map((x) => x.status)).toEqual(['failed', 'failed', 'failed', 'updated', 'created']);
    for (const x of results.slice(0, 3)) {
      expect(x.error).toMatch(/^line \d: API token boss@local!importer may not change second factors, tokens or its own user's password/);
    }
    expect(store.read(['user', 'show', 'boss'])).toEqual(before);
    expect((await store.run(['login', 'boss', '--password-stdin'], { input: `${PW}\n` })).code).toBe(0);
    expect([...store.factorsOf('imp1'), ...store.factorsOf('imp2')]).toEqual([]);
    const audited = store.auditRows().filter((a) => JSON.parse(a.detail ?? '{}').via === 'import' && a.outcome === 'refused');
    expect(audited.map((a) => [a.action, a.target, JSON.parse(a.detail!).line, JSON.parse(a.detail!).token]).sort()).toEqual([
      ['tfa.add', 'imp1@local', 3, 'importer'],
      ['tfa.add', 'imp2@local', 4, 'importer'],
      ['user.passwd', 'boss@local', 2, 'importer'],
    ]);
    // Another user's password, as `user passwd` by an admin's token sets it; a new user's first factor, as `user add` makes it.
    expect((await store.run(['login', 'imp3', '--password-stdin'], { input: 'Changed by an admin 1\n' })).code).toBe(0);
    expect(results[4]!.totp).toMatchObject({ secret: expect.any(String) });
    expect(store.factorsOf('fresh-by-token')).toHaveLength(1);
  });

  it("never makes an admin or sets an admin's password, which would outlive the token (user add, user modify, user passwd, user import)", async () => {
    await store.addUser('other-boss', PW, ['--admin']);
    await store.addUser('plain', PW);
    await store.addUser('off-boss', PW, ['--admin', '--disabled']);
    const value = await addToken('boss', 'provisioner');
    // Used once first: its last use (to the minute) is then what the snapshot holds.
    expect((await withToken(value, ['user', 'show', 'boss'])).code).toBe(0);
    const before = store.snapshot();
    const refusals: [string[], string?][] = [
      [['user', 'add', 'made-admin', '--admin', '--password-stdin'], 'made admin 1\n'],
      [['user', 'add', 'made-admin', '--admin', '--no-password']],
      [['user', 'modify', 'plain', '--admin']],
      [['user', 'passwd', 'other-boss', '--password-stdin'], 'taken over 1\n'],
      // A disabled or expired admin given back.
      [['user', 'modify', 'off-boss', '--enable']],
      [['user', 'modify', 'off-boss', '--expire', 'never']],
    ];
    for (const [args, input] of refusals) {
      const r = await withToken(value, args, input === undefined ? {} : { input });
      expect(r.code, args.join(' ')).toBe(4);
      expect(oneLineError(r)).toBe('error: API token boss@local!provisioner may not make admins, enable them, change their expiry or set their password (what it made would outlive the token): sign in as boss@local');
    }
    expect(store.snapshot()).toBe(before);
    const csv = join(store.dir, 'admin-import.csv');
    writeFileSync(csv, 'userid,password,admin\nimp-admin,Imported admin 1,true\nother-boss,Taken over 1,\nimp-plain,Imported plain 1,false\n');
    const imported = await withToken(value, ['user', 'import', csv, '--update', '--json']);
    expect(imported.code).toBe(2);
    expect((imported.json().result.results as { status: string }[]).map((x) => x.status)).toEqual(['failed', 'failed', 'created']);
    expect(store.hasUser('imp-admin')).toBe(false);
    expect((await store.run(['login', 'other-boss', '--password-stdin'], { input: `${PW}\n` })).code).toBe(0);
    // What it may: ordinary users, and their passwords.
    expect((await withToken(value, ['user', 'passwd', 'plain', '--password-stdin'], { input: 'set by a token 1\n' })).code).toBe(0);
    expect((await store.run(['login', 'plain', '--password-stdin'], { input: 'set by a token 1\n' })).code).toBe(0);
  });

  it("sets no password of a user made an admin while the new password was being typed (the token's user may not)", async () => {
    await store.addUser('promoted', PW);
    const value = await addToken('boss', 'waiting');
    const child = spawn(process.execPath, [BIN, 'user', 'passwd', 'promoted', '--password-stdin', '--json'], { env: { ...process.env, ...store.env, TFACTL_TOKEN: value }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    // The command has signed in with the token (its last use written), checked the user (not an
    // admin) and waits for the new password.
    const used = async () => ((await store.run(['token', 'list', 'boss', '--json'])).json().result as { name: string; lastUsed: string | null }[]).find((t) => t.name === 'waiting')?.lastUsed;
    await expect.poll(used, { timeout: 15_000 }).not.toBeNull();
    await new Promise((r) => setTimeout(r, 500));
    expect((await store.run(['user', 'modify', 'promoted', '--admin'])).code).toBe(0);
    child.stdin.end('taken over 2\n');
    expect(await exited).toBe(4);
    expect(JSON.parse(stdout).error.code).toBe('permission_denied');
    expect((await store.run(['login', 'promoted', '--password-stdin'], { input: 'taken over 2\n' })).code).toBe(5);
    expect((await store.run(['login', 'promoted', '--password-stdin'], { input: `${PW}\n` })).code).toBe(0);
  });

  it('only looks when read-only', async () => {
    const value = await addToken('boss', 'audit', ['--privileges', 'read-only']);
    expect((await withToken(value, ['user', 'list'])).code).toBe(0);
    expect((await withToken(value, ['audit', '--limit', '1'])).code).toBe(0);
    // What admins read of the whole store, no secret in it.
    for (const args of [['settings', 'list'], ['export', 'users']]) expect((await withToken(value, args)).code, args.join(' ')).toBe(0);
    // TOTP secrets are more than a look.
    expect((await withToken(value, ['export', 'totp'])).code).toBe(4);
    const r = await withToken(value, ['user', 'modify', 'ci', '--comment', 'changed']);
    expect(r.code).toBe(4);
    expect(oneLineError(r)).toBe('error: API token boss@local!audit is read-only');
  });

  it('is refused with --as (a token acts as its own user)', async () => {
    const value = await addToken('boss', 'as');
    const r = await store.run(['--as', 'ci', 'user', 'list'], { env: { TFACTL_TOKEN: value } });
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toMatch(/--as or an API token/);
    // Both from the environment, neither wins unsaid; a flag beats the environment's other one.
    const both = await store.run(['user', 'list'], { env: { TFACTL_TOKEN: value, TFACTL_AS: 'ci' } });
    expect(both.code).toBe(2);
    expect(oneLineError(both)).toBe('error: TFACTL_AS and TFACTL_TOKEN are both set: unset one of them (a token acts as its own user)');
    const file = join(store.dir, 'as.token');
    writeFileSync(file, `${value}\n`, { mode: 0o600 });
    expect((await store.run(['--token', `@${file}`, 'user', 'list'], { env: { TFACTL_AS: 'ci' } })).code).toBe(0);
  });
});

describe('a token that does not work (exit 5, audited, one message)', () => {
  const refused = async (value: string, target: string, reason: string) => {
    const r = await withToken(value, ['user', 'list']);
    expect(r.code).toBe(5);
    expect(oneLineError(r)).toMatch(/^error: authentication failed: API token \S+ is unknown, wrong, expired, or its user may not sign in$/);
    expect(r.stderr).not.toContain(value.split('=')[1]!);
    expect(store.auditRows().at(-1)).toMatchObject({ actor: null, action: 'auth.token', target, outcome: 'failed' });
    expect(JSON.parse(store.auditRows().at(-1)!.detail!).reason).toBe(reason);
  };

  it('with a wrong secret, or a name it does not have', async () => {
    const value = await addToken('ci', 'wrong');
    const secret = value.split('=')[1]!;
    await refused(value.replace(secret, `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`), 'ci@local', 'wrong secret');
    await refused(value.replace('!wrong=', '!other='), 'ci@local', 'unknown token');
    // A secret of another length or alphabet is a wrong one too: refused by the store, audited.
    await refused(`${value.split('=')[0]}=guessed`, 'ci@local', 'wrong secret');
    await refused(`${value}x`, 'ci@local', 'wrong secret');
  });

  it('after its last day, and once its user is disabled', async () => {
    const value = await addToken('ci', 'dated', ['--expire', '2099-12-31']);
    expect((await withToken(value, ['user', 'list'])).code).toBe(0);
    store.tamper("UPDATE api_tokens SET expires = '2001-01-01' WHERE name = 'dated'");
    await refused(value, 'ci@local', 'token expired');

    await store.addUser('eli', PW);
    const eli = await addToken('eli', 'job');
    expect((await store.run(['user', 'modify', 'eli', '--disabled'])).code).toBe(0);
    await refused(eli, 'eli@local', 'account disabled');
    // One made for the disabled account says it will not work until then (and works from then on).
    const made = await store.run(['token', 'add', 'eli', 'later', '--json']);
    expect({ code: made.code, warnings: made.json().warnings }).toEqual({
      code: 0,
      warnings: ['eli@local is disabled: the token works once the account is enabled again (tfactl user modify eli@local --enable)'],
    });
    expect((await store.run(['user', 'modify', 'eli', '--enable'])).code).toBe(0);
    expect((await withToken(made.json().result.value as string, ['user', 'show', 'eli'])).code).toBe(0);
    expect((await store.run(['user', 'modify', 'eli', '--expire', '2001-01-01'])).code).toBe(0);
    const expired = await store.run(['token', 'add', 'eli', 'expired', '--json']);
    expect(expired.json().warnings).toEqual(["eli@local expired on 2001-01-01: the token works only if the account's expiry is moved (tfactl user modify eli@local --expire DATE)"]);
    // An account that may sign in: nothing to say.
    expect((await store.run(['token', 'add', 'ci', 'fine', '--json'])).json().warnings).toEqual([]);
  });

  it('once deleted alone, and once its user is deleted', async () => {
    const a = await addToken('boss', 'gone');
    const b = await addToken('boss', 'stays');
    const deleted = await store.run(['token', 'delete', 'boss', 'gone', '--json']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.json().result).toEqual({ tokenid: 'boss@local!gone', deleted: true });
    await refused(a, 'boss@local', 'unknown token');
    expect((await withToken(b, ['user', 'list'])).code).toBe(0);
    expect((await store.run(['token', 'delete', 'boss', 'gone'])).code).toBe(3);
    // As token list shows it, USERID!NAME; the name alone missing says both forms.
    const c = await addToken('boss', 'copied');
    const byId = await store.run(['token', 'delete', 'boss@local!copied', '--json']);
    expect(byId.json().result).toEqual({ tokenid: 'boss@local!copied', deleted: true });
    await refused(c, 'boss@local', 'unknown token');
    const noName = await store.run(['token', 'delete', 'boss']);
    expect(noName.code).toBe(2);
    expect(oneLineError(noName)).toBe("error: missing the token's name: tfactl token delete USERID NAME (or USERID!NAME, as token list shows it)");
    // A user name may hold a ! (a token's name never does): with the name given, nothing is split.
    await store.addUser('a!b', PW);
    const bang = await addToken('a!b', 'ci');
    expect((await store.run(['token', 'delete', 'a!b', 'ci'])).code).toBe(0);
    await refused(bang, 'a!b@local', 'unknown token');
    expect((await withToken(b, ['user', 'list'])).code).toBe(0);

    await store.addUser('fay', PW);
    const fay = await addToken('fay', 'job');
    expect(store.read(['token', 'list'])).toContainEqual(expect.objectContaining({ userid: 'fay@local' }));
    expect((await store.run(['user', 'delete', 'fay', '--yes'])).code).toBe(0);
    expect(store.read(['token', 'list'])).not.toContainEqual(expect.objectContaining({ userid: 'fay@local' }));
    await refused(fay, 'fay@local', 'unknown token');
  });

  it('when TFACTL_TOKEN or the --token file does not hold a token at all: exit 2, invalid_token, as the README\'s table says', async () => {
    const r = await withToken('not a token', ['user', 'list', '--json']);
    expect(r.code).toBe(2);
    expect(r.json().error).toEqual({ code: 'invalid_token', message: 'TFACTL_TOKEN does not hold an API token (USERID!NAME=SECRET)' });
    const file = join(store.dir, 'junk-token');
    writeFileSync(file, 'junk\n', { mode: 0o600 });
    const flagged = await store.run(['--token', `@${file}`, 'user', 'list']);
    expect(flagged.code).toBe(2);
    expect(oneLineError(flagged)).toBe(`error: the --token file ${file} does not hold an API token (USERID!NAME=SECRET)`);
  });
});

describe('token list', () => {
  it("shows a user their own tokens, and refuses others' (exit 4)", async () => {
    const mine = await store.run(['--as', 'ci', '--password-stdin', 'token', 'list', '--json'], { input: `${PW}\n` });
    expect(mine.code, mine.stderr).toBe(0);
    expect(new Set(mine.json().result.map((t: { userid: string }) => t.userid))).toEqual(new Set(['ci@local']));
    const others = await store.run(['--as', 'ci', '--password-stdin', 'token', 'list', 'boss'], { input: `${PW}\n` });
    expect(others.code).toBe(4);
  });

  it('lets a user make and revoke their own tokens after signing in', async () => {
    const added = await store.run(['--as', 'ci', '--password-stdin', 'token', 'add', 'ci', 'mine', '--json'], { input: `${PW}\n` });
    expect(added.code, added.stderr).toBe(0);
    const removed = await store.run(['--as', 'ci', '--password-stdin', 'token', 'delete', 'ci', 'mine'], { input: `${PW}\n` });
    expect(removed.code, removed.stderr).toBe(0);
    const forBoss = await store.run(['--as', 'ci', '--password-stdin', 'token', 'add', 'boss', 'sneaky'], { input: `${PW}\n` });
    expect(forBoss.code).toBe(4);
  });
});
