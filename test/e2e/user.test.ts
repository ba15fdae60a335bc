import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oneLineError, TempStore } from './harness.js';

const store = new TempStore();
afterAll(() => store.remove());

describe('tfactl user', () => {
  beforeAll(async () => {
    expect((await store.run(['init'])).code).toBe(0);
  });

  it('starts with root@local as the only user', async () => {
    const r = await store.run(['user', 'list', '--json']);
    expect(r.code).toBe(0);
    expect(r.json().result.map((u: { userid: string }) => u.userid)).toEqual(['root@local']);
  });

  it('adds a user with a password read from stdin, stored as an argon2id hash', async () => {
    const r = await store.run(
      ['user', 'add', 'alice', '--password-stdin', '--email', 'alice@example.org', '--comment', 'Alice A.', '--json'],
      { input: 'correct horse battery\n' },
    );
    expect(r.code).toBe(0);
    expect(r.json()).toMatchObject({
      ok: true,
      result: { user: { userid: 'alice@local', realm: 'local', admin: false, enabled: true, password: true, email: 'alice@example.org' }, totp: null, yubico: null },
      warnings: [],
    });
    const [row] = store.atRest<{ password_hash: string }>("SELECT password_hash FROM users WHERE userid = 'alice@local'");
    expect(row?.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(row?.password_hash).not.toContain('correct horse');
  });

  it('records every change in the audit trail without the password', async () => {
    const rows = store.auditRows().filter((a) => a.target === 'alice@local');
    expect(rows).toEqual([
      expect.objectContaining({ actor: 'root@local', action: 'user.add', outcome: 'ok' }),
    ]);
    expect(JSON.stringify(store.auditRows())).not.toContain('correct horse');
  });

  it('refuses a user id that is taken (exit 4) and records the refusal', async () => {
    const r = await store.run(['user', 'add', 'alice@local', '--no-password']);
    expect(r.code).toBe(4);
    expect(oneLineError(r)).toBe('error: user alice@local already exists');
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'user.add', target: 'alice@local', outcome: 'refused' });
  });

  it('shows one user as a table of fields and as JSON', async () => {
    const human = await store.run(['user', 'show', 'alice']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^user: +alice@local$/m);
    expect(human.stdout).toMatch(/^password: +set$/m);
    expect(human.stdout).not.toContain('argon2');
    const json = await store.run(['user', 'show', 'alice@local', '--json']);
    expect(json.json().result).not.toHaveProperty('passwordHash');
  });

  it('modifies fields, clears them with an empty value and sets an expiry date', async () => {
    const r = await store.run(['user', 'modify', 'alice', '--comment', '', '--email', 'a@example.com', '--expire', '2099-12-31', '--admin', '--json']);
    expect(r.code).toBe(0);
    expect(r.json().result).toMatchObject({ comment: null, email: 'a@example.com', expire: '2099-12-31', admin: true });
    const back = await store.run(['user', 'modify', 'alice', '--no-admin', '--expire', 'never', '--json']);
    expect(back.json().result).toMatchObject({ admin: false, expire: null });
  });

  it("takes --expire never on user add too, as user modify, token add and an import's cell do", async () => {
    const r = await store.run(['user', 'add', 'evernew', '--no-password', '--expire', 'never', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.user).toMatchObject({ userid: 'evernew@local', expire: null });
  });

  it('audits what each modify changed, to what, and what was so already', async () => {
    await store.addUser('mo', 'mo password 1');
    for (const args of [['--admin'], ['--no-admin'], ['--no-admin', '--comment', 'ops'], ['--comment', 'ops', '--disabled']]) {
      expect((await store.run(['user', 'modify', 'mo', ...args])).code, args.join(' ')).toBe(0);
    }
    const entries = store.auditRows().filter((a) => a.action === 'user.modify' && a.target === 'mo@local');
    expect(entries.map((a) => JSON.parse(a.detail!))).toEqual([
      { changed: ['admin'], admin: true },
      { changed: ['admin'], admin: false },
      { changed: ['comment'], comment: 'ops', unchanged: ['admin'] },
      { changed: ['enabled'], enabled: false, unchanged: ['comment'] },
    ]);
    const same = await store.run(['user', 'modify', 'mo', '--disabled', '--json']);
    expect({ code: same.code, enabled: same.json().result.enabled }).toEqual({ code: 0, enabled: false });
    expect(JSON.parse(store.auditRows().at(-1)!.detail!)).toEqual({ changed: [], unchanged: ['enabled'] });
  });

  it('disables and enables an account', async () => {
    expect((await store.run(['user', 'modify', 'alice', '--disabled', '--json'])).json().result.enabled).toBe(false);
    expect((await store.run(['user', 'modify', 'alice', '--enable', '--json'])).json().result.enabled).toBe(true);
  });

  it('refuses --disabled together with --enable', async () => {
    const r = await store.run(['user', 'modify', 'alice', '--disabled', '--enable']);
    expect(r.code).toBe(2);
    oneLineError(r);
  });

  it('refuses a modify that changes nothing', async () => {
    const r = await store.run(['user', 'modify', 'alice']);
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toContain('nothing to change');
  });

  it('changes a password from stdin and the new one authenticates', async () => {
    const r = await store.run(['user', 'passwd', 'alice', '--password-stdin'], { input: 'a brand new secret\n' });
    expect(r.code).toBe(0);
    expect((await store.runAs('alice', 'a brand new secret', ['user', 'show', 'alice'])).code).toBe(0);
    expect((await store.runAs('alice', 'correct horse battery', ['user', 'show', 'alice'])).code).toBe(5);
  });

  it('lists users of one realm', async () => {
    await store.run(['realm', 'add', 'corp']);
    await store.run(['user', 'add', 'bob@corp', '--no-password']);
    const r = await store.run(['user', 'list', '--realm', 'corp', '--json']);
    expect(r.json().result.map((u: { userid: string }) => u.userid)).toEqual(['bob@corp']);
    const human = await store.run(['user', 'list']);
    expect(human.stdout.split('\n')[0]).toMatch(/^USER +ADMIN +STATE/);
  });

  it('refuses a user in a realm that does not exist (exit 3)', async () => {
    const before = store.snapshot();
    const r = await store.run(['user', 'add', 'carol@nowhere', '--no-password', '--json']);
    expect(r.code).toBe(3);
    expect(r.json()).toEqual({ ok: false, error: { code: 'not_found', message: expect.stringContaining('realm nowhere does not exist') }, warnings: [] });
    expect(store.snapshot()).toBe(before);
  });

  it('names the users of that name in other realms when there is none in the one given (a realm left out is local)', async () => {
    const r = await store.run(['user', 'show', 'bob']);
    expect(r.code).toBe(3);
    expect(oneLineError(r)).toBe('error: user bob@local does not exist (there is bob@corp: is the realm right?)');
    // A name that is only the start of another's is not that user.
    expect(oneLineError(await store.run(['user', 'show', 'bo']))).toBe('error: user bo@local does not exist');
  });

  it('deletes a user', async () => {
    const r = await store.run(['user', 'delete', 'bob@corp', '--json', '--yes']);
    expect(r.json()).toMatchObject({ ok: true, result: { userid: 'bob@corp', deleted: true } });
    const again = await store.run(['user', 'delete', 'bob@corp', '--yes']);
    expect(again.code).toBe(3);
    expect(oneLineError(again)).toBe('error: user bob@corp does not exist');
  });

  it('never deletes, disables, expires or demotes root@local', async () => {
    const before = store.snapshot();
    for (const args of [
      ['user', 'delete', 'root@local', '--yes'],
      ['user', 'modify', 'root@local', '--disabled'],
      ['user', 'modify', 'root@local', '--no-admin'],
      ['user', 'modify', 'root@local', '--expire', '2030-01-01'],
    ]) {
      const r = await store.run(args);
      expect(r.code, args.join(' ')).toBe(4);
      oneLineError(r);
    }
    expect(store.snapshot()).toBe(before);
  });

  it('lets a disabled or expired user not act at all', async () => {
    await store.run(['user', 'add', 'dave', '--password-stdin'], { input: 'dave password 1\n' });
    await store.run(['user', 'modify', 'dave', '--disabled']);
    const disabled = await store.runAs('dave', 'dave password 1', ['user', 'show', 'dave']);
    expect(disabled.code).toBe(5);
    await store.run(['user', 'modify', 'dave', '--enable', '--expire', '2020-01-01']);
    const expired = await store.runAs('dave', 'dave password 1', ['user', 'show', 'dave']);
    expect(expired.code).toBe(5);
    expect(oneLineError(expired)).toContain('expired');
    await store.run(['user', 'modify', 'dave', '--expire', 'never']);
    expect((await store.runAs('dave', 'dave password 1', ['user', 'show', 'dave'])).code).toBe(0);
  });

  it('asks for --password-stdin or --no-password instead of waiting when stdin is not a TTY', async () => {
    const before = store.snapshot();
    const r = await store.run(['user', 'add', 'erin']);
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toContain('--password-stdin');
    expect(oneLineError(r)).toContain('--no-password');
    expect(store.snapshot()).toBe(before);
  });

  it('takes the acting user\'s password first and the new password second on stdin', async () => {
    await store.run(['user', 'add', 'admin1', '--admin', '--password-stdin'], { input: 'admin password 1\n' });
    const r = await store.runAs('admin1', 'admin password 1', ['user', 'add', 'frank', '--json'], ['frank password 1']);
    expect(r.code).toBe(0);
    expect((await store.runAs('frank', 'frank password 1', ['user', 'show', 'frank'])).code).toBe(0);
    const audit = store.auditRows().find((a) => a.target === 'frank@local' && a.action === 'user.add');
    expect(audit).toMatchObject({ actor: 'admin1@local', outcome: 'ok' });
  });
});
