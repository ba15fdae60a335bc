import { spawn, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { AS_UID_1000, BACKEND, BIN, oneLineError, runBin, TempStore } from './harness.js';

const store = new TempStore();
beforeAll(async () => {
  await store.run(['init']);
});
afterAll(() => store.remove());

function leaves(cmd: Command, path: string[] = []): string[][] {
  const subs = cmd.commands as Command[];
  if (subs.length === 0) return [path];
  return subs.flatMap((c) => leaves(c, [...path, c.name()]));
}

describe('the command line', () => {
  it('prints its version and exits 0', async () => {
    const r = await runBin(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('with --json, the version and help are the result of the one envelope', async () => {
    const version = await runBin(['--version', '--json']);
    expect(version.code).toBe(0);
    expect(version.stderr).toBe('');
    const plain = (await runBin(['--version'])).stdout.trim();
    expect(version.json()).toEqual({ ok: true, result: { version: plain }, warnings: [] });
    const help = await runBin(['--json', 'tfa', 'add', '--help']);
    expect(help.code).toBe(0);
    expect(help.json()).toEqual({ ok: true, result: { help: (await runBin(['tfa', 'add', '--help'])).stdout }, warnings: [] });
    expect(help.json().result.help).toContain('Usage: tfactl tfa add');
  });

  it('documents the exit codes in --help', async () => {
    const r = await runBin(['--help']);
    expect(r.code).toBe(0);
    for (const line of ['0    success', '2    usage error', '3    not found', '4    conflict or refused', '5    authentication failed', '6    store unavailable', '130  cancelled']) {
      expect(r.stdout).toContain(line);
    }
  });

  it('offers --json on every command', async () => {
    const program = buildProgram('0', async () => undefined);
    const paths = leaves(program);
    expect(paths.length).toBeGreaterThan(10);
    for (const path of paths) {
      const r = await runBin([...path, '--help']);
      expect(r.code, path.join(' ')).toBe(0);
      expect(r.stdout, path.join(' ')).toContain('--json');
    }
  });

  it('exits 2 with help when a command is missing; with --json, one line naming the help to ask for', async () => {
    const r = await runBin(['user']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: tfactl user');
    for (const [path, named] of [[['tfa', 'add'], 'tfactl tfa add'], [['user'], 'tfactl user'], [[], 'tfactl']] as const) {
      const json = await runBin([...path, '--json']);
      expect(json.code).toBe(2);
      expect(json.json().error).toEqual({ code: 'usage', message: `missing command: see ${named} --help` });
      expect(oneLineError(json)).toBe(`error: missing command: see ${named} --help`);
    }
  });

  it('rejects an unknown command or option in one line (exit 2), also as JSON', async () => {
    const cmd = await store.run(['frobnicate']);
    expect(cmd.code).toBe(2);
    expect(oneLineError(cmd)).toBe("error: unknown command 'frobnicate': tfactl has init, user, realm, tfa, login, logout, serve, token, settings, backup, restore, export, import, pam, audit, completion");
    const opt = await store.run(['user', 'list', '--frob', '--json']);
    expect(opt.code).toBe(2);
    expect(opt.json()).toEqual({ ok: false, error: { code: 'usage', message: "unknown option '--frob'" }, warnings: [] });
  });

  it('names an unknown option without the value after its = (a guessed --password=… would put the password in a log), and says how passwords are given', async () => {
    const guessed = await store.run(['user', 'add', 'pwguess', '--password=Hunter2-in-the-log', '--json']);
    expect(guessed.code).toBe(2);
    expect(guessed.stdout + guessed.stderr).not.toContain('Hunter2');
    expect(guessed.json().error).toEqual({
      code: 'usage',
      message: "unknown option '--password': a password is never taken as an argument (ps shows arguments to every user); type it when asked, or give --password-stdin",
    });
    const other = await store.run(['user', 'add', 'pwguess', '--secret=Hunter2-in-the-log']);
    expect(oneLineError(other)).toBe("error: unknown option '--secret=...'");
    // A short option with the value run on (mysql -pSECRET), and a value given to an option that takes none.
    expect(oneLineError(await store.run(['user', 'add', 'pwguess', '-pHunter2-in-the-log']))).toBe("error: unknown option '-p...' (an argument that starts with '-' goes after --)");
    expect(oneLineError(await store.run(['user', 'show', '-x']))).toBe("error: unknown option '-x'");
    expect(oneLineError(await store.run(['user', 'add', 'pwguess', '--password-stdin=x']))).toBe("error: option '--password-stdin' takes no value (what followed its = is not repeated)");
    // A second factor given as login takes it, where --as takes --auth-code (the code not repeated).
    expect(oneLineError(await store.run(['--as', 'root', '--password-stdin', '--code', '123456', 'user', 'list'], { input: 'x\n' }))).toBe(
      "error: unknown option '--code' here: --code goes after login, user add and tfa add totp; the second factor of a user signing in with --as is --auth-code",
    );
    const typo = await store.run(['user', 'add', 'pwguess', '--passwrd-stdin']);
    expect(oneLineError(typo)).toBe("error: unknown option '--passwrd-stdin' (Did you mean --password-stdin?)");
    expect((await store.run(['user', 'show', 'pwguess'])).code).toBe(3);
  });

  it('says a global option whose value would be the next option is missing its value (exit 2), rather than take the option for it', async () => {
    const dir = join(store.dir, 'option-for-value');
    mkdirSync(dir);
    for (const [args, message] of [
      [['init', '--db', '--json'], "option '--db <path>' argument missing"],
      [['--as', '--json', 'user', 'list'], "option '--as <userid>' argument missing"],
      [['user', 'list', '--server', '--json'], "option '--server <path|url>' argument missing"],
      [['--token', '--json', 'user', 'list'], "option '--token <@file>' argument missing"],
      [['--auth-code', '--json', 'user', 'list'], "option '--auth-code <code>' argument missing"],
    ] as const) {
      const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, ...store.env }, encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(2);
      expect(JSON.parse(r.stdout)).toEqual({ ok: false, error: { code: 'usage', message }, warnings: [] });
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it("says a command's option whose value would be another option is missing its value, changing nothing; a value that only starts with dashes, or given with =, is taken", async () => {
    await store.addUser('dashes', 'dashes password 1', ['--disabled']);
    const before = store.snapshot();
    for (const [args, message] of [
      [['user', 'modify', 'dashes', '--comment', '--enable'], "option '--comment <text>' argument missing"],
      [['user', 'modify', 'dashes', '--email', '--json'], "option '--email <email>' argument missing"],
      [['user', 'modify', 'dashes', '--comment', '-h'], "option '--comment <text>' argument missing"],
      [['tfa', 'add', 'totp', 'dashes', '--description', '--no-verify'], "option '--description <text>' argument missing"],
      [['tfa', 'add', 'recovery', 'dashes', '--output', '--db=x'], "option '--output <file>' argument missing"],
    ] as const) {
      const r = await store.run([...args, '--json']);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.json().error).toEqual({ code: 'usage', message });
    }
    expect(store.snapshot()).toBe(before);
    expect((await store.run(['user', 'modify', 'dashes', '--comment', '--- moved ---'])).code).toBe(0);
    expect((await store.run(['user', 'modify', 'dashes', '--comment=--enable', '--json'])).json().result).toMatchObject({ comment: '--enable', enabled: false });
  });

  it('refuses an empty or unusable --server (exit 2, invalid_server) and a validation service of the wrong form (invalid_yubico), saying what was wrong', async () => {
    const take = 'takes a socket path (/run/tfactl/tfactl.sock) or https://HOST:PORT, not';
    const withPassword = '--server holds a user name or password (https://USER:PASSWORD@HOST), not repeated: the service takes none there, only an API token (--token @FILE)';
    for (const [args, env, code, message] of [
      [['--server', '', 'user', 'list'], {}, 'invalid_server', `--server ${take} an empty value`],
      [['user', 'list'], { TFACTL_SERVER: ' ' }, 'invalid_server', `TFACTL_SERVER ${take} an empty value`],
      [['--server', 'nowhere', 'user', 'list'], {}, 'invalid_server', `--server ${take} nowhere`],
      // A password pasted there, or in a URL: never repeated (notes, errors and PAM lines show the address).
      [['--server', 'Pw$ecretZZ9', 'user', 'list'], {}, 'invalid_server', `--server ${take} a value of 11 characters`],
      [['--server', 'https://admin:Pw$ecretZZ9@127.0.0.1:1', 'user', 'list'], {}, 'invalid_server', withPassword],
      [['user', 'list', '--debug'], { TFACTL_SERVER: 'https://admin:Pw$ecretZZ9@127.0.0.1:1' }, 'invalid_server', withPassword.replace('--server', 'TFACTL_SERVER')],
      [['pam', 'config', 'sshd', '--server', 'https://:Pw$ecretZZ9@127.0.0.1:1', '--token', '@/nonexistent'], {}, 'invalid_server', withPassword],
      [['realm', 'set-yubico', 'local', '--api-id', '1', '--api-key', 'not base64!'], {}, 'invalid_yubico', 'invalid --api-key: expected the base64 key the validation service issued'],
      [['realm', 'set-yubico', 'local', '--api-id', '-1', '--api-key', 'c2VjcmV0LWFwaS1rZXktMDEyMzQ1Njc4OQ=='], {}, 'invalid_yubico', 'invalid --api-id: a client id such as 12345'],
      // The API key given where the URL goes: not repeated.
      [['realm', 'set-yubico', 'local', '--api-id', '1', '--api-key', 'c2VjcmV0LWFwaS1rZXktMDEyMzQ1Njc4OQ==', '--url', 'c2VjcmV0LWFwaS1rZXktMDEyMzQ1Njc4OQ=='], {}, 'invalid_yubico', 'invalid --url of 36 characters: expected an http(s) URL of a /wsapi/2.0/verify endpoint'],
    ] as const) {
      const r = await store.run([...args, '--json'], { env });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.json().error).toEqual({ code, message });
      expect(r.stdout + r.stderr).not.toContain('Pw$ecret');
    }
  });

  it('under sudo with --as (root acting for another user), refuses every file the command line names, and the commands on the store\'s own files', async () => {
    await store.addUser('sudoer', 'sudoer password 1', ['--admin']);
    const sudo = { SUDO_UID: '1000', SUDO_USER: 'someone' };
    const file = join(store.dir, 'under-sudo');
    writeFileSync(`${file}.csv`, 'userid\nnew-under-sudo\n');
    const fix = 'under sudo with --as, which acts as root for another user: run it as yourself, or through the tfactl service (tfactl serve)';
    for (const [args, what] of [
      [['tfa', 'add', 'recovery', 'sudoer', '--output', `${file}.keys`], '--output writes a file as root, refused'],
      [['user', 'import', `${file}.csv`], 'user import FILE reads a file as root, refused (- reads standard input)'],
      [['tfa', 'add', 'totp', 'sudoer', '--secret', `@${file}.csv`, '--no-verify'], '--secret @FILE reads a file as root, refused'],
      [['--db', `${file}.db`, 'user', 'list'], '--db is refused'],
      [['backup', `${file}.bak`], 'tfactl backup does not run'],
    ] as const) {
      const r = await store.run(['--as', 'sudoer', '--password-stdin', ...args], { input: 'sudoer password 1\n', env: sudo });
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneLineError(r)).toBe(`error: ${what} ${fix}`);
    }
    expect(readdirSync(store.dir).filter((f) => f.startsWith('under-sudo'))).toEqual(['under-sudo.csv']);
    // Without --as, sudo gives root@local (the store's owner); without sudo, --as writes as itself.
    expect((await store.run(['tfa', 'add', 'recovery', 'sudoer', '--output', `${file}.keys`], { env: sudo })).code).toBe(0);
  });

  it('starts no browser as root for a user sudo runs it for (a browser of root\'s on their display)', async () => {
    await store.addUser('keyless', 'keyless password 1');
    const bin = join(store.dir, 'fake-browser');
    mkdirSync(bin);
    const opened = join(store.dir, 'browser-opened');
    writeFileSync(join(bin, 'xdg-open'), `#!/bin/sh\necho "$(id -u) $1" >> '${opened}'\n`, { mode: 0o755 });
    const env = { PATH: `${bin}:${process.env.PATH}`, DISPLAY: ':0', SSH_CONNECTION: undefined, SSH_CLIENT: undefined };
    const wait = (extra: Record<string, string>) => store.run(['tfa', 'add', 'webauthn', 'keyless', '--page'], { env: { ...env, ...extra }, timeoutMs: 4000 });
    // Without sudo, the desktop's browser is started (the fake one records it).
    await wait({});
    expect(existsSync(opened)).toBe(true);
    rmSync(opened);
    const r = await wait({ SUDO_UID: '1000' });
    expect(r.stderr).toContain('http://localhost:');
    expect(existsSync(opened)).toBe(false);
  });

  it('shows a stack trace only with --debug', async () => {
    // A store tfactl refuses (exit 6): a file that is not SQLite's; a database of another program's.
    const s = new TempStore();
    if (BACKEND === 'postgres') s.tamper('CREATE TABLE not_tfactl (x integer)');
    else {
      mkdirSync(join(s.dir, 'store'));
      writeFileSync(s.db, 'x'.repeat(4096));
    }
    const plain = await s.run(['user', 'list']);
    expect(plain.code).toBe(6);
    expect(plain.stderr).not.toMatch(/\n\s+at /);
    const debug = await s.run(['user', 'list', '--debug']);
    expect(debug.code).toBe(6);
    expect(debug.stderr).toMatch(/\n\s+at /);
    s.remove();
  });

  it('rejects arbitrary bad user ids with exit 2, one line, and no change to the store', async () => {
    const before = store.snapshot();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom('a b', 'x@', '@y', 'a:b', 'a/b', 'é@1x'), fc.string({ minLength: 1, maxLength: 12 }).map((s) => `u${s} ${s}`)),
        async (bad) => {
          const r = await store.run(['user', 'add', bad, '--no-password', '--json']);
          expect(r.code).toBe(2);
          expect(r.json().error.code).toBe('invalid_userid');
          oneLineError(r);
        },
      ),
      { numRuns: 12 },
    );
    expect(store.snapshot()).toBe(before);
  });

  it.each([
    [['user', 'add', 'x', '--no-password', '--expire', '2024-02-30'], 2, 'invalid_date'],
    [['user', 'add', 'x', '--no-password', '--expire', '2001-01-01'], 4, 'date_passed'],
    [['token', 'add', 'root@local', 'old', '--expire', '2001-01-01'], 4, 'date_passed'],
    [['user', 'add', 'x', '--no-password', '--email', 'nope'], 2, 'invalid_email'],
    [['user', 'add', 'x', '--password-stdin'], 2, 'missing_secret'],
    [['user', 'add', 'x', '--password-stdin', '--no-password'], 2, 'conflicting_options'],
    [['user', 'modify', 'root@local', '--admin', '--no-admin'], 2, 'conflicting_options'],
    [['user', 'add', 'x', '--no-password', '--tfa', 'none', '--no-verify'], 2, 'conflicting_options'],
    [['user', 'add', 'x', '--no-password', '--tfa', 'none', '--qr', 'none'], 2, 'conflicting_options'],
    [['user', 'add', 'x', '--no-password', '--tfa', 'none', '--code', '1'], 2, 'conflicting_options'],
    [['user', 'add', 'x', '--no-password', '--tfa', 'totp', '--yubico-otp', 'cccccccccccb'], 2, 'conflicting_options'],
    [['realm', 'set-enforce', 'local', 'none', '--digits', '8'], 2, 'conflicting_options'],
    [['realm', 'set-enforce', 'local', 'totp', '--offline'], 2, 'conflicting_options'],
    [['login', 'root@local', '--webauthn', '--code', '123456', '--password-stdin'], 2, 'conflicting_options'],
    [['user', 'add', 'x', '--no-password', '--aes-key', '00'], 2, 'usage'],
    [['user', 'add', 'x', '--no-password', '--tfa', 'auto', '--no-verify'], 2, 'usage'],
    [['login', 'root@local', '--no-session', '--session'], 2, 'conflicting_options'],
    [['user', 'add', 'x', '--no-password', '--tfa', 'totp', '--code', '123456', '--no-verify'], 2, 'conflicting_options'],
    [['tfa', 'add', 'totp', 'root@local', '--code', '123456', '--no-verify'], 2, 'conflicting_options'],
    [['restore', 'nothing.db', '--yes', '--dry-run'], 2, 'conflicting_options'],
    [['login', 'root@local', '--finish', '--challenge', 'x', '--code', '1', '--response', '-'], 2, 'conflicting_options'],
    [['tfa', 'delete', 'root@local', ''], 2, 'invalid_factor_id'],
    [['tfa', 'disable', 'root@local', 'a b'], 2, 'invalid_factor_id'],
    // Names of Object's own properties are unknown settings like any other.
    ...['__proto__', 'constructor', 'toString', 'hasOwnProperty'].map((name): [string[], number, string] => [['settings', 'set', name, '1'], 2, 'invalid_setting']),
    [['user', 'show', 'nobody'], 3, 'not_found'],
    [['user', 'modify', 'nobody', '--comment', 'x'], 3, 'not_found'],
    [['user', 'passwd', 'nobody', '--password-stdin'], 3, 'not_found'],
    [['user', 'list', '--realm', 'nowhere'], 3, 'not_found'],
    [['audit', '--since', 'yesterday'], 2, 'invalid_date'],
    [['audit', '--limit', '0'], 2, 'invalid_number'],
    [['audit', '--limit', '006'], 2, 'invalid_number'],
    [['settings', 'set', 'session.minutes', '006'], 2, 'invalid_setting'],
    [['--db', '', 'user', 'list'], 2, 'invalid_store'],
    [['--db', 'mysql://root:pw@localhost/tfa', 'user', 'list'], 2, 'invalid_store'],
    [['--db', 'postgres://u:Sekr1t@[::1', 'user', 'list'], 2, 'invalid_store'],
  ])('rejects %j with exit %i and error code %s, changing nothing', async (args, code, errorCode) => {
    const before = store.snapshot();
    const r = await store.run([...args, '--json']);
    expect(r.code).toBe(code);
    expect(r.json().error.code).toBe(errorCode);
    expect(r.stdout + r.stderr).not.toContain('Sekr1t');
    oneLineError(r);
    expect(store.snapshot()).toBe(before);
  });

  it('cuts a long unknown setting short in its error, as any echoed value', async () => {
    const r = await store.run(['settings', 'set', `a\u001b${'a'.repeat(100_000)}`, 'v']);
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toMatch(/^error: unknown setting "a\?a{75}\.\.\.": known are /);
    expect(r.stderr.length).toBeLessThan(1000);
  });

  it('says how to write a PostgreSQL password holding a slash, without repeating it', async () => {
    const r = await store.run(['--db', 'postgres://tfactl:S3cr/etPG@127.0.0.1:5432/tfa', 'user', 'list']);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('S3cr');
    expect(oneLineError(r)).toMatch(/^error: the PostgreSQL connection string cannot be read \(.*\): expected postgres:\/\/USER:PASSWORD@HOST:PORT\/DATABASE, .* percent-encoded \(%2F for \/\)$/);
  });

  it('takes the choices of options and arguments in any case, as user ids and realm names', async () => {
    expect((await store.run(['realm', 'add', 'anycase'])).code).toBe(0);
    const enforced = await store.run(['realm', 'set-enforce', 'AnyCase', 'TOTP', '--json']);
    expect(enforced.code, enforced.stderr).toBe(0);
    expect((await store.run(['realm', 'show', 'anycase', '--json'])).json().result.enforce).toBe('totp');
    const added = await store.run(['user', 'add', 'casey@anycase', '--no-password', '--tfa', 'None', '--json']);
    expect(added.code, added.stderr).toBe(0);
    const audited = await store.run(['audit', '--outcome', 'REFUSED', '--json']);
    expect(audited.code, audited.stderr).toBe(0);
    const outcomes = (audited.json().result as { outcome: string }[]).map((e) => e.outcome);
    expect(outcomes.length).toBeGreaterThan(0);
    expect(new Set(outcomes)).toEqual(new Set(['refused']));
    const quiet = await store.run(['user', 'add', 'quincy@anycase', '--no-password', '--tfa', 'TOTP', '--no-verify', '--qr', 'NONE']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toMatch(/^Secret: [A-Z2-7]{32}$/m);
    expect(quiet.stdout).not.toContain('Scan this QR code');
    expect((await store.run(['completion', 'BASH'])).stdout).toMatch(/^# bash completion for tfactl/);
    // Not a choice in any case: refused as before, the choices named.
    expect(oneLineError(await store.run(['realm', 'set-enforce', 'anycase', 'TOTPX']))).toBe(
      'error: invalid type "TOTPX": expected none, totp or yubico (the realm comes first: tfactl realm set-enforce REALM TYPE)',
    );
    expect(oneLineError(await store.run(['audit', '--outcome', 'FINE']))).toBe('error: invalid --outcome "FINE": expected ok, refused or failed');
  });

  it('says the user comes first when a factor id was given in its place', async () => {
    for (const command of [['tfa', 'delete'], ['tfa', 'enable'], ['tfa', 'disable'], ['tfa', 'modify']]) {
      const r = await store.run([...command, '5b49e077', 'root@local', ...(command[1] === 'modify' ? ['--description', 'x'] : [])]);
      expect({ code: r.code, line: oneLineError(r) }).toEqual({ code: 3, line: `error: user 5b49e077@local does not exist (the user comes first: tfactl ${command.join(' ')} USERID ID)` });
    }
    // A user that is not there, the id after it: only that.
    expect(oneLineError(await store.run(['tfa', 'delete', 'nobody', '5b49e077']))).toBe('error: user nobody@local does not exist');
  });

  it('cuts a long unknown command or option short in its error', async () => {
    const long = 'a'.repeat(60_000);
    for (const [args, line] of [
      [[long], `error: unknown command '${'a'.repeat(77)}...': tfactl has `],
      [['user', long], `error: unknown command 'user ${'a'.repeat(72)}...': tfactl user has `],
      [['user', 'list', `--${long}`], `error: unknown option '--${'a'.repeat(75)}...'`],
    ] as const) {
      const r = await store.run([...args]);
      expect(r.code).toBe(2);
      expect(oneLineError(r).startsWith(line), oneLineError(r).slice(0, 200)).toBe(true);
      expect(r.stderr.length).toBeLessThan(1000);
    }
  });

  it('names the setting a mistyped one was near', async () => {
    const r = await store.run(['settings', 'set', 'session.minute', '10']);
    expect({ code: r.code, error: oneLineError(r) }).toEqual({ code: 2, error: 'error: unknown setting "session.minute" (did you mean session.minutes?)' });
  });

  it('makes no store for a sign-in: --as, an API token and login on a store not there yet are exit 6', async () => {
    const s = new TempStore();
    try {
      const tokenFile = join(s.dir, 'token');
      writeFileSync(tokenFile, `bob@local!ci=${'A'.repeat(43)}\n`, { mode: 0o600 });
      const tries = [
        () => s.runAs('bob', 'pw-of-bob-1234', ['user', 'list', '--json']),
        () => s.run(['--token', `@${tokenFile}`, 'user', 'list', '--json']),
        () => s.login('bob', 'pw-of-bob-1234'),
        // Had any of the above made the store, this would be a failed sign-in (exit 5).
        () => s.runAs('root@local', 'pw-of-root-1234', ['tfa', 'list', '--json']),
      ];
      for (const attempt of tries) {
        const r = await attempt();
        expect(r.code, r.stderr).toBe(6);
        expect(r.json().error).toEqual({ code: 'store_missing', message: `there is no tfactl store at ${s.db.replace(/:[^:@/]*@/, ':***@')} (its owner makes one with tfactl init)` });
      }
      if (BACKEND === 'sqlite') {
        expect(existsSync(s.db)).toBe(false);
        // Nor of an empty file (a store cut off to nothing), which an owner's command would make one of.
        mkdirSync(dirname(s.db), { recursive: true, mode: 0o700 });
        writeFileSync(s.db, '', { mode: 0o600 });
        for (const attempt of tries) expect((await attempt()).code).toBe(6);
        expect(statSync(s.db).size).toBe(0);
        expect(existsSync(s.keyFile)).toBe(false);
      }
    } finally {
      s.remove();
    }
  });

  it('reads --json and --debug only before --: after it they are arguments, here user names', async () => {
    const s = new TempStore();
    try {
      const plain = await s.run(['user', 'add', '--no-password', '--', '--json']);
      expect(plain.code, plain.stderr).toBe(0);
      expect(plain.stdout).toMatch(/^added --json@local/);
      const json = await s.run(['user', 'add', '--no-password', '--json', '--', '--debug']);
      expect(json.json().result.user.userid).toBe('--debug@local');
      // Its fix, as tfa list suggests it, is read back as meant.
      const listed = s.read<{ userid: string; signIn: { fix: string } }[]>(['user', 'list']).find((u) => u.userid === '--json@local');
      expect(listed?.signIn.fix).toBe('tfactl user passwd -- --json@local');
      const fixed = await s.run(['--password-stdin', ...listed!.signIn.fix.split(' ').slice(1)], { input: 'a long enough password\n' });
      expect(fixed.code, fixed.stderr).toBe(0);
    } finally {
      s.remove();
    }
  });

  it('refuses a TFACTL_DB that is set but empty (a variable that was not), opening no default store', async () => {
    const home = join(store.dir, 'empty-db-home');
    mkdirSync(home, { recursive: true });
    // As another user, so that a default store, were one opened, would be made under this test's HOME.
    const r = await runBin(['user', 'list', '--json'], { env: { TFACTL_DB: '', HOME: home, XDG_DATA_HOME: join(home, 'data') }, prefix: AS_UID_1000 });
    expect({ code: r.code, error: r.json().error }).toEqual({ code: 2, error: { code: 'invalid_store', message: 'TFACTL_DB is set but empty: name a store, or unset it for the default one' } });
    expect(existsSync(join(home, 'data'))).toBe(false);
  });

  it('refuses --auth-code without an acting user (a forgotten --as), rather than dropping it and reading the lines it stood for as others', async () => {
    const before = store.snapshot();
    const r = await store.run(['--password-stdin', '--auth-code', '123456', 'user', 'add', 'forgot-as', '--json'], { input: 'actor password 1\nnew user password\n' });
    expect({ code: r.code, error: r.json().error }).toEqual({
      code: 2,
      error: { code: 'usage', message: "--auth-code is the --as user's second factor, and no acting user is named: give --as USERID (or TFACTL_AS), or leave --auth-code out to act as the store's owner" },
    });
    expect(store.snapshot()).toBe(before);
  });

  it('refuses a TFACTL_KEY_FILE set but empty or with blanks around it, making no key file anywhere', async () => {
    const dir = join(store.dir, 'key-file-env');
    mkdirSync(dir);
    for (const [value, message] of [
      ['', 'TFACTL_KEY_FILE is set but empty: name the key file, or unset it for the one beside the store'],
      [' ', "TFACTL_KEY_FILE begins or ends with a blank: name the key file's path as it is"],
      [`${join(dir, 'k')} `, "TFACTL_KEY_FILE begins or ends with a blank: name the key file's path as it is"],
    ]) {
      const r = await runBin(['init', '--json'], { env: { TFACTL_DB: join(dir, 'new.db'), TFACTL_KEY_FILE: value! }, prefix: ['sh', '-c', 'cd "$0" && exec "$@"', dir] });
      expect({ code: r.code, error: r.json().error }).toEqual({ code: 2, error: { code: 'invalid_key_file', message } });
      expect(readdirSync(dir)).toEqual([]);
    }
  });

  it('refuses a TFACTL_AS or TFACTL_TOKEN set but empty, rather than acting as the owner, changing nothing', async () => {
    const before = store.snapshot();
    const as = await store.run(['user', 'add', 'by-nobody', '--no-password', '--json'], { env: { TFACTL_AS: '' } });
    expect({ code: as.code, error: as.json().error }).toEqual({
      code: 2,
      error: { code: 'invalid_userid', message: "TFACTL_AS is set but empty: name the acting user, or unset it to act as the store's owner" },
    });
    // As the README's example would run it, with the token's file missing: TFACTL_TOKEN="$(cat FILE)".
    const token = await store.run(['user', 'add', 'by-nobody', '--no-password', '--json'], { env: { TFACTL_TOKEN: '' } });
    expect({ code: token.code, error: token.json().error }).toEqual({
      code: 2,
      error: { code: 'invalid_token', message: 'TFACTL_TOKEN is set but empty: give the token, or unset it to act without one' },
    });
    expect(store.snapshot()).toBe(before);
    // Only where it would be used: with --as naming who acts, an empty TFACTL_TOKEN is let be.
    const asNamed = await store.run(['--as', 'nobody-here', 'user', 'list', '--json'], { env: { TFACTL_TOKEN: '' } });
    expect(asNamed.json().error.code).not.toBe('invalid_token');
  });

  it('says cancelled (exit 130, with --json one envelope) on Ctrl-C or SIGTERM where nothing else listens: a connection that hangs', async () => {
    // A "PostgreSQL server" that takes the connection and never answers: the command waits in its connect.
    const { createServer } = await import('node:net');
    let connected = 0;
    const silent = createServer(() => void connected++);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as { port: number };
    try {
      for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
        const before = connected;
        const child = spawn(process.execPath, [BIN, 'user', 'list', '--json'], {
          env: { ...process.env, TFACTL_DB: `postgres://tfactl:Sekr1t@127.0.0.1:${port}/main`, TFACTL_KEY_FILE: join(store.dir, 'silent.key') },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        for (const begun = Date.now(); connected === before && Date.now() - begun < 20_000; ) await new Promise((r) => setTimeout(r, 10));
        child.kill(signal);
        const code = await new Promise((r) => child.on('close', r));
        expect(code, stderr).toBe(130);
        expect(JSON.parse(stdout)).toEqual({ ok: false, error: { code: 'cancelled', message: 'interrupted' }, warnings: [] });
        expect(stderr).toBe('error: interrupted\n');
      }
    } finally {
      silent.close();
    }
  });

  it('takes a TOTP-only option of user add as asking for TOTP, as --code and --totp-secret do', async () => {
    const r = await store.run(['user', 'add', 'implied', '--no-password', '--no-verify', '--qr', 'none', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.totp).toMatchObject({ userid: 'implied@local', verified: false });
  });

  it('names the whole command that has too many arguments, as typed', async () => {
    for (const [args, said] of [
      [['tfa', 'add', 'totp', 'a', 'b'], 'tfa add totp: it takes 1, not 2'],
      [['token', 'delete', 'ops', 'today', 'extra'], 'token delete: it takes 2, not 3'],
      [['audit', 'list', 'x'], 'audit list: it takes none, not 1'],
      [['init', 'x'], 'init: it takes none, not 1'],
    ] as const) {
      const r = await store.run([...args]);
      expect({ code: r.code, error: oneLineError(r) }).toEqual({ code: 2, error: `error: too many arguments for ${said} (see its --help)` });
    }
  });

  it('calls options that contradict each other conflicting_options on every command, and what is missing usage', async () => {
    const s = new TempStore();
    try {
      await s.run(['init']);
      const KEY = 'c2VjcmV0LWFwaS1rZXktMDEyMzQ1Njc4OQ==';
      for (const [args, code] of [
        [['tfa', 'list', 'root', '--realm', 'local'], 'conflicting_options'],
        [['tfa', 'delete', 'root', 'abcd', '--all', '--yes'], 'conflicting_options'],
        [['tfa', 'delete', 'root', '--yes'], 'usage'],
        [['realm', 'set-enforce', 'local', 'totp', '--step', '30', '--period', '60'], 'conflicting_options'],
        [['realm', 'set-yubico', 'local', '--offline', '--none'], 'conflicting_options'],
        [['realm', 'set-yubico', 'local'], 'usage'],
        [['realm', 'set-yubico', 'local', '--offline', '--api-id', '1', '--api-key', KEY], 'conflicting_options'],
        [['audit', '--limit', '5', '--all'], 'conflicting_options'],
        [['tfa', 'add', 'webauthn', 'root', '--begin', '--finish'], 'conflicting_options'],
        [['user', 'modify', 'root', '--disabled', '--enable'], 'conflicting_options'],
        // A YubiKey's key material beside another --tfa contradicts it; without --tfa, the OTP is missing.
        [['user', 'add', 'k', '--no-password', '--tfa', 'none', '--aes-key', '00112233445566778899aabbccddeeff'], 'conflicting_options'],
        [['user', 'add', 'k', '--no-password', '--tfa', 'totp', '--no-verify', '--private-id', '001122334455'], 'conflicting_options'],
        [['user', 'add', 'k', '--no-password', '--aes-key', '00112233445566778899aabbccddeeff'], 'usage'],
      ] as const) {
        const before = s.snapshot();
        const r = await s.run([...args, '--json']);
        expect({ exit: r.code, code: r.json().error.code }, args.join(' ')).toEqual({ exit: 2, code });
        expect(s.snapshot()).toBe(before);
      }
    } finally {
      s.remove();
    }
  });

  it('rejects weak passwords without echoing them', async () => {
    const before = store.snapshot();
    const r = await store.run(['user', 'add', 'weak', '--password-stdin', '--json'], { input: 'short\n' });
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('weak_password');
    expect(r.stdout + r.stderr).not.toContain('short\n');
    expect(store.snapshot()).toBe(before);
  });

  it('rejects the passwords guessers try first, in user add, user passwd and user import, changing nothing', async () => {
    const before = store.snapshot();
    for (const [pw, why] of [
      ['Password123', 'it is one of the most common passwords'],
      ['aaaaaaaaaaaa', 'it is one character repeated'],
      ['abcdefghijk', 'it is a run of characters in order'],
    ]) {
      const r = await store.run(['user', 'add', 'guessed', '--password-stdin', '--json'], { input: `${pw}\n` });
      expect({ code: r.code, error: r.json().error }).toEqual({ code: 2, error: { code: 'weak_password', message: `password rejected: ${why}, which guessers try first: choose another` } });
    }
    const passwd = await store.run(['user', 'passwd', 'root@local', '--password-stdin', '--json'], { input: 'iloveyou\n' });
    expect({ code: passwd.code, error: passwd.json().error.code }).toEqual({ code: 2, error: 'weak_password' });
    expect(store.snapshot()).toBe(before);
    // In an import, that row is refused and said, the others go in.
    const csv = join(store.dir, 'guessed.csv');
    writeFileSync(csv, 'userid,password\nguess1,letmein1\nguess2,a passphrase of mine\n');
    const imported = await store.run(['user', 'import', csv, '--json']);
    expect(imported.stdout + imported.stderr).not.toContain('letmein1');
    expect(imported.json().result.results.map((r: { status: string; error: string | null }) => [r.status, r.error])).toEqual([
      ['failed', 'line 2: password rejected: it is one of the most common passwords, which guessers try first: choose another'],
      ['created', null],
    ]);
    expect(store.hasUser('guess1@local')).toBe(false);
    expect(store.hasUser('guess2@local')).toBe(true);
  });
});

describe('tfactl audit', () => {
  it('filters by user, date and count', async () => {
    await store.run(['user', 'add', 'aud1', '--no-password']);
    await store.run(['user', 'add', 'aud2', '--no-password']);
    await store.run(['user', 'modify', 'aud1', '--comment', 'hello']);
    const forUser = (await store.run(['audit', '--user', 'aud1', '--json'])).json().result as { action: string; target: string }[];
    expect(forUser.map((e) => e.action)).toEqual(['user.add', 'user.modify']);
    const last = (await store.run(['audit', '--limit', '1', '--json'])).json().result as { action: string }[];
    expect(last).toEqual([expect.objectContaining({ action: 'user.modify', target: 'aud1@local', actor: 'root@local', outcome: 'ok' })]);
    const future = (await store.run(['audit', '--since', '2999-01-01', '--json'])).json().result;
    expect(future).toEqual([]);
    const today = new Date().toISOString().slice(0, 10);
    const since = (await store.run(['audit', '--since', today, '--json'])).json().result as unknown[];
    expect(since.length).toBeGreaterThanOrEqual(3);
    // --until takes in the whole of its day, and nothing after it.
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const allToday = (await store.run(['audit', '--all', '--since', today, '--json'])).json().result as unknown[];
    expect((await store.run(['audit', '--all', '--since', today, '--until', today, '--json'])).json().result).toEqual(allToday);
    expect((await store.run(['audit', '--since', yesterday, '--until', yesterday, '--json'])).json().result).toEqual([]);
    const before = await store.run(['audit', '--until', '1999-12-31', '--since', '2000-01-01', '--json']);
    expect([before.code, before.json().error.code]).toEqual([2, 'conflicting_options']);
    expect(oneLineError(await store.run(['audit', '--until', '1999-12-31', '--since', '2000-01-01']))).toBe('error: --until 1999-12-31 is before --since 2000-01-01: no entry can be in both');
    expect((await store.run(['audit', '--until', 'tomorrow', '--json'])).json().error.code).toBe('invalid_date');
    const human = await store.run(['audit', '--user', 'aud1']);
    expect(human.stdout.split('\n')[0]).toMatch(/^TIME +ACTOR +ACTION +TARGET +OUTCOME/);
    expect(human.stderr).toBe('');
    // Cut at the limit: said to a person, once, on standard error (nor when all fit).
    const cut = await store.run(['audit', '--limit', '2']);
    expect(cut.stdout.trimEnd().split('\n')).toHaveLength(3);
    expect(cut.stderr).toBe('only the newest 2 entries are shown: --limit N or --all for older ones\n');
    expect((await store.run(['audit', '--limit', '1'])).stderr).toBe('only the newest entry is shown: --limit N or --all for older ones\n');
    // With --json, in the envelope's warnings (and on standard error, as every warning).
    const cutJson = await store.run(['audit', '--limit', '2', '--json']);
    expect(cutJson.json().warnings).toEqual(['only the newest 2 entries are shown: --limit N or --all for older ones']);
    expect(cutJson.stderr).toBe('warning: only the newest 2 entries are shown: --limit N or --all for older ones\n');
    expect((await store.run(['audit', '--all', '--json'])).json().warnings).toEqual([]);
    expect((await store.run(['audit', '--user', 'aud1', '--limit', '2'])).stderr).toBe('');
  });
});
