import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { BACKEND, BIN, oneLineError, secretForms, TempStore, type RunOptions } from './harness.js';

/**
 * Sessions kept by `login --session` (Proxmox's tickets): later `--as` commands of the user sign
 * in with the ticket in $XDG_RUNTIME_DIR/tfactl until it expires, `logout` or `user logout` ends
 * it, or what the sign-in relied on changes. Changing one's own factors, password or tokens needs
 * the password even inside a session. Time is moved by editing the session's expiry, not slept.
 */
const store = new TempStore();
const runtime = join(store.dir, 'runtime');
const PW = 'session user password';
const env = { XDG_RUNTIME_DIR: runtime };
const run = (args: string[], options: RunOptions = {}) => store.run(args, { ...options, env: { ...env, ...options.env } });
const login = (userid: string, extra: string[] = []) => run(['login', userid, '--password-stdin', '--session', '--json', ...extra], { input: `${PW}\n` });
/** A command as the user with nothing on standard input: only a session can sign them in. */
const asUser = (userid: string, args: string[]) => run(['--as', userid, ...args]);
/** The sessions the store keeps for a user, live or not (user show lists the live ones): read from the store's backup. */
const sessionsOf = (userid: string) => store.atRest<{ n: number }>(`SELECT count(*) AS n FROM sessions WHERE userid = '${userid}'`)[0]!.n;

beforeAll(async () => {
  mkdirSync(runtime, { mode: 0o700 });
  await store.run(['init']);
  for (const u of ['amy', 'ben', 'cal', 'dot']) await store.addUser(u, PW);
});
afterAll(() => store.remove());

describe('user show', () => {
  it('lists the sessions kept for a user that still sign them in, until when, and what ends them', async () => {
    await store.addUser('kept', PW);
    const none = await run(['user', 'show', 'kept', '--json']);
    expect(none.json().result.sessions).toEqual([]);
    expect((await run(['user', 'show', 'kept'])).stdout).toMatch(/^sessions: +none$/m);
    const r = await login('kept');
    expect(r.code, r.stderr).toBe(0);
    const { expires } = r.json().result.session;
    expect((await asUser('kept', ['user', 'show', 'kept'])).code).toBe(0);
    const shown = (await run(['user', 'show', 'kept', '--json'])).json().result.sessions;
    expect(shown).toEqual([{ created: expect.any(String), expires, lastUsed: expect.any(String) }]);
    expect((await run(['user', 'show', 'kept'])).stdout).toContain(`sessions: 1 kept, the last until ${expires.replace('T', ' ')} (tfactl user logout kept@local ends them)`);
    // One that no longer signs in is not listed: its user given a new password, or logged out.
    expect((await run(['user', 'passwd', 'kept', '--password-stdin'], { input: `${PW} 2\n` })).code).toBe(0);
    expect((await run(['user', 'show', 'kept', '--json'])).json().result.sessions).toEqual([]);
    expect(sessionsOf('kept@local')).toBe(1);
    await run(['login', 'kept', '--password-stdin', '--session'], { input: `${PW} 2\n` });
    expect((await run(['user', 'show', 'kept', '--json'])).json().result.sessions).toHaveLength(1);
    expect((await run(['user', 'logout', 'kept'])).code).toBe(0);
    expect((await run(['user', 'show', 'kept', '--json'])).json().result.sessions).toEqual([]);
  });
});

describe('login --session', () => {
  it('keeps a ticket (0600, in a 0700 directory) that later --as commands use instead of signing in', async () => {
    const r = await login('amy');
    expect(r.code, r.stderr).toBe(0);
    const { session } = r.json().result;
    expect(session.file.startsWith(join(runtime, 'tfactl'))).toBe(true);
    expect(statSync(session.file).mode & 0o777).toBe(0o600);
    expect(statSync(join(runtime, 'tfactl')).mode & 0o777).toBe(0o700);
    expect(Date.parse(session.expires) / 1000 - Date.now() / 1000).toBeGreaterThan(119 * 60);
    const shown = await asUser('amy', ['user', 'show', 'amy', '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.json().result.userid).toBe('amy@local');
    const modified = await asUser('amy', ['user', 'modify', 'amy', '--comment', 'from a session']);
    expect(modified.code, modified.stderr).toBe(0);
    expect(store.auditRows().at(-1)).toMatchObject({ actor: 'amy@local', action: 'user.modify', outcome: 'ok' });
    // The ticket's secret is not in the store: only its hash.
    const secret = (await import('node:fs')).readFileSync(session.file, 'utf8').trim();
    for (const text of store.everythingKept()) for (const form of secretForms(secret)) expect(text).not.toContain(form);
  });

  it("still asks for the password to change one's own factors, password or tokens", async () => {
    await login('ben');
    for (const args of [
      ['tfa', 'add', 'recovery', 'ben'],
      ['user', 'passwd', 'ben'],
      ['token', 'add', 'ben', 'ci'],
    ]) {
      const r = await asUser('ben', args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneLineError(r)).toMatch(/cannot ask for (the|a new) password/);
    }
    const fresh = await run(['--as', 'ben', '--password-stdin', 'tfa', 'add', 'recovery', 'ben', '--json'], { input: `${PW}\n` });
    expect(fresh.code, fresh.stderr).toBe(0);
  });

  it("makes no credential that would outlive it without the password, as an API token makes none: another's token, an admin or an admin's password", async () => {
    await store.addUser('sadm', PW, ['--admin']);
    await store.addUser('sadm2', PW, ['--admin']);
    await store.addUser('splain', PW);
    await login('sadm');
    const before = store.snapshot();
    // A token for another admin signs in afresh: no terminal here, so it asks for the password and cannot.
    const token = await asUser('sadm', ['token', 'add', 'sadm2', 'backdoor']);
    expect(token.code).toBe(2);
    expect(oneLineError(token)).toMatch(/cannot ask for the password/);
    // What is found to make or arm an admin on the way is refused (exit 4), audited.
    for (const args of [
      ['user', 'passwd', 'sadm2', '--password-stdin'],
      ['user', 'modify', 'splain', '--admin'],
    ]) {
      const r = await run(['--as', 'sadm', ...args], { input: 'Hijacked by a session 1\n' });
      expect(r.code, args.join(' ')).toBe(4);
      expect(oneLineError(r)).toMatch(/needs your password, which a kept session does not ask for: end the session \(logout\) and sign in again$/);
    }
    expect(store.snapshot()).toBe(before);
    // An ordinary user's password is an admin's work, session or not.
    expect((await run(['--as', 'sadm', 'user', 'passwd', 'splain', '--password-stdin'], { input: 'Reset by an admin 1\n' })).code).toBe(0);
  });

  it("refuses the rows of an admin's user import --update that change their own password or factors", async () => {
    await store.addUser('eva', PW, ['--admin']);
    await store.addUser('ivo', PW);
    await login('eva');
    // One row per run: a file names each user once.
    const importRow = (n: number, row: string) => {
      const csv = join(store.dir, `session-import-${n}.csv`);
      writeFileSync(csv, `userid,password,tfa,comment\n${row}\n`);
      return asUser('eva', ['user', 'import', csv, '--update', '--json']);
    };
    for (const [n, row] of ['eva,Taken over by a session 1,,', 'eva,,recovery,'].entries()) {
      const r = await importRow(n, row);
      expect(r.code, r.stderr).toBe(2);
      expect(r.json().result.results[0].error).toMatch(/needs your password, which a kept session does not ask for: end the session \(logout\) and sign in again/);
    }
    expect(store.factorsOf('eva')).toEqual([]);
    expect((await store.run(['login', 'eva', '--password-stdin'], { input: `${PW}\n` })).code).toBe(0);
    expect((await importRow(2, 'eva,,,from an import')).code).toBe(0);
    expect((await importRow(3, 'ivo,Set by an admin 1,,')).code).toBe(0);
    expect((await store.run(['login', 'ivo', '--password-stdin'], { input: 'Set by an admin 1\n' })).code).toBe(0);
  });

  it('is kept on a terminal by default, never in scripts unless asked, and needs XDG_RUNTIME_DIR', async () => {
    const plain = await run(['login', 'cal', '--password-stdin', '--json'], { input: `${PW}\n` });
    expect(plain.code).toBe(0);
    expect(plain.json().result.session).toBeNull();
    expect(sessionsOf('cal@local')).toBe(0);
    const noDir = await store.run(['login', 'cal', '--password-stdin', '--session'], { input: `${PW}\n` });
    expect(noDir.code).toBe(2);
    expect(oneLineError(noDir)).toMatch(/XDG_RUNTIME_DIR is not set \(or not an absolute path\)$/);
    // A relative one is ignored, as the XDG spec says: no directory of wherever the command runs.
    const relative = await store.run(['login', 'cal', '--password-stdin', '--session'], { input: `${PW}\n`, env: { XDG_RUNTIME_DIR: 'relative-runtime' } });
    expect(relative.code).toBe(2);
    expect(existsSync('relative-runtime')).toBe(false);
    const web = await run(['login', 'cal', '--begin', '--session', '--password-stdin'], { input: `${PW}\n` });
    expect(web.code).toBe(2);
  });

  it('with no place to keep it (XDG_RUNTIME_DIR a file), fails before signing in: exit 6, nothing spent', async () => {
    await store.addUser('fil', PW);
    const notDir = join(store.dir, 'runtime-is-a-file');
    writeFileSync(notDir, '');
    const before = store.auditRows().filter((a) => a.target === 'fil@local').length;
    const r = await run(['login', 'fil', '--password-stdin', '--session', '--json'], { input: `${PW}\n`, env: { XDG_RUNTIME_DIR: notDir } });
    expect(r.code).toBe(6);
    expect(r.json().error).toEqual({ code: 'session_unavailable', message: `cannot keep a session in ${notDir}/tfactl: a part of the path is not a directory (ENOTDIR) (is XDG_RUNTIME_DIR this user's directory?)` });
    expect(sessionsOf('fil@local')).toBe(0);
    expect(store.auditRows().filter((a) => a.target === 'fil@local')).toHaveLength(before);
  });

  it("refuses a ticket directory that others may use or that is another user's for login --session: exit 6 before signing in; --as signs in without it", async () => {
    await store.addUser('ned', PW);
    const before = store.auditRows().filter((a) => a.target === 'ned@local' && a.action === 'login').length;
    for (const [mode, owner, why] of [
      [0o777, 0, (d: string) => `others may use it (mode 0777): run 'chmod 700 ${d}'`],
      [0o700, 1000, () => 'it belongs to another user (uid 1000)'],
    ] as const) {
      const shared = join(store.dir, `runtime-${mode.toString(8)}-${owner}`);
      mkdirSync(join(shared, 'tfactl'), { recursive: true });
      chmodSync(join(shared, 'tfactl'), mode);
      chownSync(join(shared, 'tfactl'), owner, owner);
      const r = await run(['login', 'ned', '--password-stdin', '--session', '--json'], { input: `${PW}
`, env: { XDG_RUNTIME_DIR: shared } });
      expect(r.code).toBe(6);
      expect(r.json().error).toEqual({ code: 'session_unavailable', message: `cannot keep a session in ${shared}/tfactl: ${why(`${shared}/tfactl`)}` });
      // Nor is a ticket taken from there for --as: it signs in as without one, saying why.
      const as = await run(['--as', 'ned', 'user', 'show', 'ned', '--json'], { env: { XDG_RUNTIME_DIR: shared } });
      expect(as.code).toBe(2);
      expect(as.stderr).toMatch(/^error: cannot ask for the password of ned@local/m);
      const signed = await run(['--as', 'ned', '--password-stdin', 'user', 'show', 'ned', '--json'], { input: `${PW}\n`, env: { XDG_RUNTIME_DIR: shared } });
      expect(signed.code, signed.stderr).toBe(0);
      expect(signed.json().warnings).toContain(`no kept session is used: cannot keep a session in ${shared}/tfactl: ${why(`${shared}/tfactl`)}`);
    }
    expect(sessionsOf('ned@local')).toBe(0);
    // The refused --session logins never began: no sign-in of theirs is audited.
    expect(store.auditRows().filter((a) => a.target === 'ned@local' && a.action === 'login')).toHaveLength(before);
  });

  it('reads no ticket from a file that is not one (a FIFO would block) or from a runtime directory that is a file', async () => {
    await store.addUser('fay', PW);
    const rt = join(store.dir, 'runtime-fifo');
    mkdirSync(rt, { mode: 0o700 });
    const kept = await run(['login', 'fay', '--password-stdin', '--session'], { input: `${PW}\n`, env: { XDG_RUNTIME_DIR: rt } });
    expect(kept.code, kept.stderr).toBe(0);
    const [ticket] = readdirSync(join(rt, 'tfactl'));
    rmSync(join(rt, 'tfactl', ticket!));
    execFileSync('mkfifo', ['-m', '600', join(rt, 'tfactl', ticket!)]);
    for (const env of [{ XDG_RUNTIME_DIR: rt }, { XDG_RUNTIME_DIR: '/dev/null' }]) {
      // No ticket to use: asked for the password, which a script does not have (exit 2), at once.
      const as = await run(['--as', 'fay', 'user', 'show', 'fay', '--json'], { env, timeoutMs: 10_000 });
      expect(as.timedOut).toBe(false);
      expect({ code: as.code, error: as.json().error.code }).toEqual({ code: 2, error: 'no_tty' });
      const out = await run(['logout', '--json'], { env, timeoutMs: 10_000 });
      expect(out.timedOut).toBe(false);
      expect(out.code, out.stderr).toBe(0);
    }
  });

  it('is kept by login on a terminal, and not with --no-session', async () => {
    await store.addUser('tia', PW);
    const onTerminal = (extra: string[], dir: string | null = runtime) => {
      const spec = {
        argv: [process.execPath, BIN, 'login', 'tia', ...extra],
        env: { ...store.env, NO_COLOR: '1', XDG_RUNTIME_DIR: dir },
        timeout: 30,
        steps: [{ expect: 'Enter the password of tia@local', send: `${PW}\r` }],
      };
      const r = spawnSync('python3', [resolve(import.meta.dirname, 'pty-driver.py'), JSON.stringify(spec)], { encoding: 'utf8' });
      return JSON.parse(r.stdout) as { status: number; output: string };
    };
    const none = onTerminal(['--no-session']);
    expect(none.status, none.output).toBe(0);
    expect(sessionsOf('tia@local')).toBe(0);
    const kept = onTerminal([]);
    expect(kept.status, kept.output).toBe(0);
    expect(kept.output).toMatch(/session kept until .*'tfactl --as tia@local \.\.\.' uses it; 'tfactl logout' ends it/);
    expect(sessionsOf('tia@local')).toBe(1);
    expect((await asUser('tia', ['user', 'show', 'tia'])).code).toBe(0);
    // Without XDG_RUNTIME_DIR (after su -) none can be kept, and the person is told why.
    const noDir = onTerminal([], null);
    expect(noDir.status, noDir.output).toBe(0);
    expect(noDir.output).toContain('no session kept: XDG_RUNTIME_DIR is not set (as after su -) or not an absolute path, so later commands ask again');
    expect(none.output).not.toContain('no session kept');
  });

  it('lasts session.minutes', async () => {
    expect((await store.run(['settings', 'set', 'session.minutes', '5'])).code).toBe(0);
    try {
      const r = await login('cal');
      expect(Date.parse(r.json().result.session.expires) / 1000 - Date.now() / 1000).toBeLessThanOrEqual(300);
    } finally {
      await store.run(['settings', 'set', 'session.minutes', '120']);
    }
  });
});

describe('a session ends', () => {
  /** The user's session no longer signs in: the next --as asks for the password again, and the ticket is gone. */
  const ended = async (userid: string, file: string) => {
    const r = await asUser(userid, ['user', 'show', userid]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`the session of ${userid}@local has ended`));
    expect(existsSync(file)).toBe(false);
    expect(sessionsOf(`${userid}@local`)).toBe(0);
  };

  it('when it expires', async () => {
    const file = (await login('dot')).json().result.session.file as string;
    store.tamper("UPDATE sessions SET expires = created - 1 WHERE userid = 'dot@local'");
    await ended('dot', file);
  });

  it('when session.minutes is shortened below its age, though it was made to last longer', async () => {
    await store.addUser('max', PW);
    const file = (await login('max')).json().result.session.file as string;
    // Ten minutes old, kept for the default 120.
    store.tamper("UPDATE sessions SET created = created - 600 WHERE userid = 'max@local'");
    expect((await asUser('max', ['user', 'show', 'max'])).code).toBe(0);
    expect((await store.run(['settings', 'set', 'session.minutes', '5'])).code).toBe(0);
    try {
      await ended('max', file);
    } finally {
      await store.run(['settings', 'unset', 'session.minutes']);
    }
  });

  it('when it was made while the clock ran ahead (more than 300 s) and the clock is set back', async () => {
    await store.addUser('ahead', PW);
    await store.addUser('near', PW);
    // A day ahead: set back, its two hours would last a day and two hours.
    const ahead = await run(['login', 'ahead', '--password-stdin', '--session', '--json'], { input: `${PW}\n`, prefix: ['faketime', '-f', '+1d'] });
    expect(ahead.code, ahead.stderr).toBe(0);
    await ended('ahead', ahead.json().result.session.file as string);
    // A clock a minute ahead is one host's clock against another's: that session works.
    const near = await run(['login', 'near', '--password-stdin', '--session', '--json'], { input: `${PW}\n`, prefix: ['faketime', '-f', '+60s'] });
    expect(near.code, near.stderr).toBe(0);
    expect((await asUser('near', ['user', 'show', 'near'])).code).toBe(0);
  });

  it('when its realm comes to require a second factor', async () => {
    expect((await store.run(['realm', 'add', 'later'])).code).toBe(0);
    await store.addUser('hal@later', PW);
    const file = (await login('hal@later')).json().result.session.file as string;
    expect((await asUser('hal@later', ['user', 'show', 'hal@later'])).code).toBe(0);
    expect((await store.run(['realm', 'set-enforce', 'later', 'totp'])).code).toBe(0);
    const r = await asUser('hal@later', ['user', 'show', 'hal@later']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the session of hal@later has ended/);
    expect(existsSync(file)).toBe(false);
  });

  it('when an admin changes its password, disables it, or changes its factors', async () => {
    for (const [userid, change] of [
      ['eve', ['user', 'passwd', 'eve', '--password-stdin']],
      ['ivy', ['tfa', 'add', 'recovery', 'ivy']],
      ['jon', ['user', 'modify', 'jon', '--disabled']],
    ] as const) {
      await store.addUser(userid, PW);
      const file = (await login(userid)).json().result.session.file as string;
      expect((await asUser(userid, ['user', 'show', userid])).code).toBe(0);
      expect((await store.run([...change], { input: `${PW}\n` })).code, change.join(' ')).toBe(0);
      await ended(userid, file);
    }
  });

  it('when an admin disables it or changes its expiry, even if it is enabled again (or given a later date) before the session is used', async () => {
    for (const [userid, first, then] of [
      ['kim', ['--disabled'], ['--enable']],
      ['lea', ['--expire', '2020-01-01'], ['--expire', 'never']],
    ] as const) {
      await store.addUser(userid, PW);
      const file = (await login(userid)).json().result.session.file as string;
      for (const change of [first, then]) expect((await store.run(['user', 'modify', userid, ...change])).code, change.join(' ')).toBe(0);
      await ended(userid, file);
    }
  });

  it('not when a modify says again what the account has: --expire never or --enable of one that has it already', async () => {
    await store.addUser('noa', PW);
    const file = (await login('noa')).json().result.session.file as string;
    for (const change of [['--expire', 'never'], ['--enable']]) {
      const r = await store.run(['user', 'modify', 'noa', ...change]);
      expect({ code: r.code, said: r.stdout.split('\n')[0] }, change.join(' ')).toEqual({ code: 0, said: 'noa@local had that already: nothing changed' });
    }
    expect(sessionsOf('noa@local')).toBe(1);
    expect(existsSync(file)).toBe(true);
    expect((await asUser('noa', ['user', 'show', 'noa'])).code).toBe(0);
  });

  it('with user logout (every host), and with logout (here)', async () => {
    await store.addUser('fin', PW);
    const file = (await login('fin')).json().result.session.file as string;
    const out = await store.run(['user', 'logout', 'fin', '--json']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.json().result).toEqual({ userid: 'fin@local', ended: 1 });
    await ended('fin', file);

    const again = (await login('fin')).json().result.session.file as string;
    const local = await run(['logout', 'fin', '--json']);
    expect(local.json().result).toEqual({ ended: ['fin@local'] });
    expect(existsSync(again)).toBe(false);
    expect(sessionsOf('fin@local')).toBe(0);
    expect((await run(['logout', '--json'])).json().result.ended).not.toContain('fin@local');
  });

  it('when login keeps another here for the same user: the ticket it replaced is no key any more', async () => {
    await store.addUser('rep', PW);
    const file = (await login('rep')).json().result.session.file as string;
    const old = readFileSync(file);
    expect((await login('rep')).code).toBe(0);
    expect(sessionsOf('rep@local')).toBe(1);
    // The old ticket put back (kept aside by someone) signs nobody in.
    writeFileSync(file, old, { mode: 0o600 });
    const r = await asUser('rep', ['user', 'show', 'rep']);
    expect(r.stderr).toMatch(/the session of rep@local has ended/);
  });

  it('not by logout while the store cannot be opened: said (exit 6), the ticket kept for a logout that can', async () => {
    await store.addUser('away', PW);
    const file = (await login('away')).json().result.session.file as string;
    if (BACKEND === 'sqlite') {
      // The store file moved away for a while (a PostgreSQL store cannot be, here).
      renameSync(store.db, `${store.db}.away`);
      try {
        const moved = await run(['logout', 'away']);
        expect(moved.code).toBe(6);
        expect(oneLineError(moved)).toMatch(/^error: there is no tfactl store at /);
        expect(existsSync(file)).toBe(true);
      } finally {
        renameSync(`${store.db}.away`, store.db);
      }
    }
    const r = await run(['logout', 'away', '--json']);
    expect(r.json().result).toEqual({ ended: ['away@local'] });
    expect(sessionsOf('away@local')).toBe(0);
  });

  it('with a restore', async () => {
    await store.addUser('rex', PW);
    const backup = join(store.dir, 'before-rex-session.db');
    expect((await store.run(['backup', backup])).code).toBe(0);
    const file = (await login('rex')).json().result.session.file as string;
    expect((await asUser('rex', ['user', 'show', 'rex'])).code).toBe(0);
    const restored = await store.run(['restore', backup, '--yes']);
    expect(restored.code, restored.stderr).toBe(0);
    await ended('rex', file);
  });

  it('with its user, and never opens another store', async () => {
    await store.addUser('gil', PW);
    const file = (await login('gil')).json().result.session.file as string;
    // Another store with a user of the same name: the ticket, copied to its name there, is unknown.
    const other = new TempStore();
    try {
      await other.run(['init']);
      await other.addUser('gil', PW);
      await other.run(['login', 'gil', '--password-stdin', '--session'], { input: `${PW}\n`, env });
      const theirs = readdirSync(join(runtime, 'tfactl')).filter((n) => n.endsWith('-gil@local')).map((n) => join(runtime, 'tfactl', n)).find((p) => p !== file)!;
      copyFileSync(file, theirs);
      const r = await other.run(['--as', 'gil', 'user', 'show', 'gil'], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/the session of gil@local has ended/);
    } finally {
      other.remove();
    }
    expect((await store.run(['user', 'delete', 'gil', '--yes'])).code).toBe(0);
    expect(sessionsOf('gil@local')).toBe(0);
  });
});
