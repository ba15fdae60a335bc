import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { AS_UID_1000, BIN, oneLineError, runBin, type RunOptions, type RunResult, startServe, storeFactory, type TempStore } from './harness.js';

/**
 * What --db may point at. Every bad path fails at once with one line and exit 6; SQLite is never
 * handed a path it would wait on, and never writes to a file that is not a tfactl store. Runs are
 * killed after KILL_MS so a hang fails its test; an answer must come within ANSWER_MS (start-up
 * included, on a busy machine; these answers take about 0.2 s).
 */
const KILL_MS = 10_000;
const ANSWER_MS = 2_000;
const TFA1 = 0x54464131;

const fresh = storeFactory();

const mode = (path: string) => statSync(path).mode & 0o777;
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function withDb(s: TempStore, db: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return s.run(['--db', db, ...args], { timeoutMs: KILL_MS, ...options });
}

function failsAtOnce(r: RunResult, message: string): void {
  expect(r.timedOut, 'the command hung and was killed').toBe(false);
  expect(r.ms).toBeLessThan(ANSWER_MS);
  expect(r.code, r.stderr).toBe(6);
  expect(oneLineError(r)).toBe(`error: ${message}`);
}

describe('a --db path that cannot be a store', () => {
  it('under /proc fails at once (Node\'s recursive mkdir loops for ever there)', async () => {
    const s = fresh();
    failsAtOnce(await withDb(s, '/proc/nope/x.db', ['init']), 'cannot create the store at /proc/nope/x.db: no such file or directory (ENOENT) (mkdir /proc/nope)');
  });

  it('one that begins with a ~ the shell did not expand (--db=~/x) is a usage error, and no directory named ~ is made', async () => {
    const s = fresh();
    const inDir = { prefix: ['env', '-C', s.dir], timeoutMs: KILL_MS };
    const r = await s.run(['--db=~/tilde.db', 'init', '--json'], inDir);
    expect(r.code, r.stderr).toBe(2);
    expect(r.json().error.message).toBe('--db begins with ~, which the shell did not expand into a home directory: write --db ~/... (a space, not =) or $HOME/...');
    const key = await s.run(['init'], { ...inDir, env: { TFACTL_KEY_FILE: '~/tilde.key' } });
    expect(key.code, key.stderr).toBe(2);
    expect(existsSync(join(s.dir, '~'))).toBe(false);
    expect(existsSync(s.db)).toBe(false);
  });

  it('a key file under /proc fails at once too', async () => {
    const s = fresh();
    const r = await s.run(['init'], { env: { TFACTL_KEY_FILE: '/proc/nope/x.key' }, timeoutMs: KILL_MS });
    failsAtOnce(r, 'cannot create key file /proc/nope/x.key: no such file or directory (ENOENT)');
  });

  it('a directory, a FIFO or a device is refused before SQLite opens it', async () => {
    const s = fresh();
    const fifo = join(s.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    failsAtOnce(await withDb(s, s.dir, ['user', 'list']), `the store ${s.dir} is not a regular file`);
    failsAtOnce(await withDb(s, fifo, ['user', 'list']), `the store ${fifo} is not a regular file`);
    failsAtOnce(await withDb(s, '/dev/null', ['user', 'list']), 'the store /dev/null is not a regular file');
    expect(readdirSync(s.dir)).toEqual(['fifo']);
  });

  it('a file in a directory that cannot be created', async () => {
    const s = fresh();
    const file = join(s.dir, 'plain-file');
    writeFileSync(file, '');
    failsAtOnce(await withDb(s, join(file, 'sub', 'x.db'), ['init']), `cannot create the store at ${join(file, 'sub', 'x.db')}: a part of the path is not a directory (ENOTDIR) (stat ${join(file, 'sub')})`);
    const locked = join(s.dir, 'locked');
    mkdirSync(locked, { mode: 0o500 });
    const r = await withDb(s, join(locked, 'new', 'x.db'), ['init'], { prefix: AS_UID_1000 });
    failsAtOnce(r, `cannot open or create the store at ${join(locked, 'new', 'x.db')}: permission denied (EACCES) (mkdir ${join(locked, 'new')}): it, or a directory above it, is not yours to open; another user's store is reached through its owner's tfactl service (--server SOCKET)`);
  });

  it('a store file this user may only read', async () => {
    const s = fresh();
    await s.run(['init']);
    chmodSync(s.db, 0o400);
    const before = sha256(s.db);
    failsAtOnce(await s.run(['user', 'list'], { prefix: AS_UID_1000, timeoutMs: KILL_MS }), `cannot open the store ${s.db} for writing: permission denied (EACCES)`);
    expect(sha256(s.db)).toBe(before);
  });
});

describe('a SQLite file that is not a tfactl store', () => {
  /** Another program's database, as it would make it: a table of its own, rollback or WAL journal. */
  function foreignDb(dir: string, journal: 'delete' | 'wal'): string {
    const path = join(dir, `notes-${journal}.db`);
    const db = new Database(path);
    db.pragma(`journal_mode = ${journal}`);
    db.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('remember the milk')");
    db.close();
    chmodSync(path, 0o600);
    return path;
  }

  for (const journal of ['delete', 'wal'] as const) {
    it(`is refused and left byte for byte as it was (${journal} journal), with nothing beside it`, async () => {
      const s = fresh();
      const db = foreignDb(s.dir, journal);
      const before = sha256(db);
      for (const args of [['user', 'list'], ['init'], ['user', 'add', 'bob', '--no-password']]) {
        failsAtOnce(await withDb(s, db, args), `${db} is a SQLite database but not a tfactl store`);
      }
      expect(sha256(db)).toBe(before);
      expect(readdirSync(s.dir).sort()).toEqual([`notes-${journal}.db`]);
    });
  }

  it('is refused when marked with another application id, even with tfactl\'s tables', async () => {
    const s = fresh();
    await s.run(['init']);
    const db = new Database(s.db);
    db.pragma('application_id = 1234');
    db.close();
    const before = sha256(s.db);
    failsAtOnce(await s.run(['user', 'list'], { timeoutMs: KILL_MS }), `${s.db} is a SQLite database but not a tfactl store`);
    expect(sha256(s.db)).toBe(before);
  });

  it('is refused with user_version 0 and a schema, even one with tfactl\'s table names', async () => {
    const s = fresh();
    const path = join(s.dir, 'lookalike.db');
    const db = new Database(path);
    db.exec('CREATE TABLE users (userid TEXT); CREATE TABLE realms (name TEXT); CREATE TABLE settings (key TEXT); CREATE TABLE audit (id INTEGER)');
    db.close();
    chmodSync(path, 0o600);
    const before = sha256(path);
    failsAtOnce(await withDb(s, path, ['user', 'list']), `${path} is a SQLite database but not a tfactl store`);
    expect(sha256(path)).toBe(before);
  });
});

describe('a store whose pages are damaged', () => {
  it('is not backed up into a file that restore would refuse: the backup fails (exit 6) and writes nothing', async () => {
    const s = fresh();
    for (const u of ['pa', 'pb', 'pc']) await s.addUser(u, `${u} password 1`);
    // The users table's first cell pointers overwritten, as a bad disk block would: SQLite's
    // integrity check finds it, while a plain listing may still read.
    const db = new Database(s.db);
    db.pragma('wal_checkpoint(TRUNCATE)');
    const root = db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'users'").pluck().get() as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const bytes = readFileSync(s.db);
    bytes.fill(0xff, (root - 1) * pageSize + 8, (root - 1) * pageSize + 16);
    writeFileSync(s.db, bytes);
    const file = join(s.dir, 'damaged-backup.db');
    const r = await s.run(['backup', file, '--json']);
    expect(r.code, r.stderr).toBe(6);
    expect(r.json().error).toMatchObject({ code: 'store_corrupt', message: expect.stringMatching(/^the store is damaged, so no backup was written: its copy would not restore \(it is damaged \(integrity check: .{1,210}\)\)$/) });
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(s.dir).filter((f) => f.includes('damaged-backup'))).toEqual([]);
  });
});

describe('marking tfactl stores', () => {
  it('marks a new store with application_id "TFA1"', async () => {
    const s = fresh();
    expect((await s.run(['init'])).code).toBe(0);
    expect(s.query('PRAGMA application_id')).toEqual([{ application_id: TFA1 }]);
  });

  it('recognises a store made before stores were marked, keeps its rows and marks it', async () => {
    const s = fresh();
    await s.addUser('old', 'old password 1');
    const db = new Database(s.db);
    db.pragma('application_id = 0');
    db.close();
    const r = await s.run(['user', 'show', 'old', '--json'], { timeoutMs: KILL_MS });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.userid).toBe('old@local');
    expect(s.query('PRAGMA application_id')).toEqual([{ application_id: TFA1 }]);
    expect((await s.login('old', 'old password 1')).code).toBe(0);
  });
});

describe("another process's write lock", () => {
  it('a Ctrl-C or SIGTERM while waiting for it ends the run (exit 130) once the lock is let go, writing nothing', async () => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const s = fresh();
      expect((await s.run(['init'])).code).toBe(0);
      const holder = new Database(s.db);
      holder.exec('BEGIN IMMEDIATE');
      let stderr = '';
      const child = spawn(process.execPath, [BIN, 'realm', 'add', 'waited', '--json'], { env: { ...process.env, ...s.env, TFACTL_AS: undefined } });
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const exited = new Promise<number | null>((done) => child.on('close', done));
      // Waiting on the lock (a blocking busy wait): the signal is delivered once the wait ends.
      await new Promise((r) => setTimeout(r, 1500));
      child.kill(signal);
      await new Promise((r) => setTimeout(r, 500));
      holder.exec('ROLLBACK');
      holder.close();
      expect(await exited, stderr).toBe(130);
      expect(JSON.parse(stdout)).toEqual({ ok: false, error: { code: 'cancelled', message: 'interrupted' }, warnings: [] });
      expect((await s.run(['realm', 'list', '--json'])).json().result.map((r: { name: string }) => r.name)).toEqual(['local']);
    }
  });
});

describe('file permissions, as OpenSSH checks private keys', () => {
  it('refuses a store its group or others may read or write, naming the command that fixes it, changing nothing', async () => {
    const s = fresh();
    await s.run(['init']);
    const before = sha256(s.db);
    for (const [bits, how] of [
      [0o644, 'readable by others'],
      [0o640, 'readable by its group'],
      [0o602, 'writable by others'],
      [0o620, 'writable by its group'],
    ] as const) {
      chmodSync(s.db, bits);
      const r = await s.run(['user', 'list'], { timeoutMs: KILL_MS });
      failsAtOnce(r, `the store ${s.db} is ${how} (mode 0${bits.toString(8)}): run 'chmod 600 ${s.db}'`);
    }
    expect(sha256(s.db)).toBe(before);
    chmodSync(s.db, 0o600);
    expect((await s.run(['user', 'list'])).code).toBe(0);
  });

  it('quotes a path that needs it in the chmod it suggests', async () => {
    const s = fresh();
    const db = join(s.dir, "it's here.db");
    await withDb(s, db, ['init']);
    chmodSync(db, 0o604);
    failsAtOnce(await withDb(s, db, ['user', 'list']), `the store ${db} is readable by others (mode 0604): run chmod 600 '${db.replace("'", "'\\''")}'`);
  });

  it("refuses a store's WAL file that others may read", async () => {
    const s = fresh();
    await s.run(['init']);
    writeFileSync(`${s.db}-wal`, '', { mode: 0o644 });
    chmodSync(`${s.db}-wal`, 0o644);
    failsAtOnce(await s.run(['user', 'list'], { timeoutMs: KILL_MS }), `the store's WAL file ${s.db}-wal is readable by others (mode 0644): run 'chmod 600 ${s.db}-wal'`);
  });

  it('refuses a key file its group or others may read, by every command: one that only lists would never say so', async () => {
    const s = fresh();
    await s.addUser('kim', 'kim password 1');
    const key = `${s.db}.key`;
    chmodSync(key, 0o644);
    const message = `the key file ${key} is readable by others (mode 0644): run 'chmod 600 ${key}'`;
    failsAtOnce(await s.run(['init'], { timeoutMs: KILL_MS }), message);
    failsAtOnce(await s.run(['tfa', 'add', 'recovery', 'kim'], { timeoutMs: KILL_MS }), message);
    for (const listing of [['user', 'list'], ['tfa', 'list'], ['realm', 'list']]) failsAtOnce(await s.run(listing, { timeoutMs: KILL_MS }), message);
    expect(s.query("SELECT count(*) AS n FROM factors WHERE userid = 'kim@local'")).toEqual([{ n: 0 }]);
  });

  it("refuses a store, key file or directory another user put where others may write (/tmp), and takes another user's in their own", async () => {
    const s = fresh();
    const shared = join(s.dir, 'shared');
    mkdirSync(shared, { mode: 0o1777 });
    chmodSync(shared, 0o1777);
    const unsafe = (file: string, what: string, why: string) =>
      `${file} is not safe to use: ${what} ${why}, so another user could have put it there or could swap it; keep it where only root and you may write`;
    const inShared = 'belongs to uid 1000 in a directory others may write';
    // An empty store of someone else's: root would write its users into a file they can read.
    const db = join(shared, 'store.db');
    writeFileSync(db, '', { mode: 0o600 });
    chownSync(db, 1000, 1000);
    failsAtOnce(await withDb(s, db, ['user', 'add', 'carol', '--no-password'], { timeoutMs: KILL_MS }), `the store ${unsafe(db, 'it', inShared)}`);
    expect(statSync(db).size).toBe(0);
    // A key file of someone else's beside a store of ours: they could read every secret sealed with it.
    rmSync(db);
    const other = fresh();
    await other.run(['init']);
    writeFileSync(`${db}.key`, readFileSync(other.keyFile), { mode: 0o600 });
    chownSync(`${db}.key`, 1000, 1000);
    const r = await withDb(s, db, ['user', 'add', 'carol', '--no-password', '--tfa', 'totp', '--no-verify', '--qr', 'none'], { timeoutMs: KILL_MS });
    failsAtOnce(r, `the key file ${unsafe(`${db}.key`, 'it', inShared)}`);
    expect(r.stdout).toBe('');
    // Refused before the store is opened: init made nothing beside it.
    expect(existsSync(db)).toBe(false);
    // A directory of someone else's made there under the name expected: whatever is in it is theirs to swap.
    const made = join(shared, 'expected');
    mkdirSync(made, { mode: 0o755 });
    chownSync(made, 1000, 1000);
    const inMade = join(made, 'store.db');
    failsAtOnce(await withDb(s, inMade, ['init'], { timeoutMs: KILL_MS }), `the store ${unsafe(inMade, `the directory ${made}`, inShared)}`);
    // A WAL file of someone else's beside a store of ours: it would read every write.
    const ours = join(shared, 'ours.db');
    expect((await withDb(s, ours, ['init'])).code).toBe(0);
    writeFileSync(`${ours}-wal`, '', { mode: 0o600 });
    chownSync(`${ours}-wal`, 1000, 1000);
    failsAtOnce(await withDb(s, ours, ['user', 'list'], { timeoutMs: KILL_MS }), `the store's WAL file ${ours}-wal belongs to uid 1000, not to the store's owner: another user put it there to read what the store writes; remove it`);
    // A directory its group may write: refused, but for this user's own group (a user private group).
    const grouped = join(s.dir, 'grouped');
    mkdirSync(grouped, { mode: 0o775 });
    chmodSync(grouped, 0o775);
    const inGroup = join(grouped, 'store.db');
    expect((await withDb(s, inGroup, ['init'])).code).toBe(0);
    chownSync(grouped, 0, 1000);
    // (The key file beside it is looked at first, before the store is opened.)
    failsAtOnce(await withDb(s, inGroup, ['user', 'list'], { timeoutMs: KILL_MS }), `the key file ${unsafe(`${inGroup}.key`, `the directory ${grouped}`, 'is writable by its group (mode 0775)')}`);
    chownSync(grouped, 0, process.getegid!());
    expect((await withDb(s, inGroup, ['user', 'list'])).code).toBe(0);
    // In a directory of the user's own (as their home), their store is theirs to have root look after.
    const home = join(s.dir, 'home-of-1000');
    mkdirSync(home, { mode: 0o700 });
    const theirs = join(home, 'store.db');
    expect((await withDb(s, theirs, ['init'])).code).toBe(0);
    chownSync(home, 1000, 1000);
    chownSync(theirs, 1000, 1000);
    chownSync(`${theirs}.key`, 1000, 1000);
    const looked = await withDb(s, theirs, ['user', 'add', 'carol', '--no-password']);
    expect(looked.code, looked.stderr).toBe(0);
  });

  it('makes every new file 0600 and directory 0700 even under umask 000, the WAL and shared-memory files too', async () => {
    const s = fresh();
    await s.addUser('una', 'una password 1');
    const env = { ...process.env, TFACTL_DB: s.db };
    // `user passwd` opens the store, then waits for the new password: meanwhile SQLite's files exist.
    for (const side of ['-wal', '-shm']) expect(existsSync(`${s.db}${side}`)).toBe(false);
    const child = spawn('bash', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, BIN, 'user', 'passwd', 'una', '--password-stdin'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      for (let i = 0; i < 100 && !existsSync(`${s.db}-shm`); i++) await new Promise((r) => setTimeout(r, 50));
      expect(mode(`${s.db}-wal`)).toBe(0o600);
      expect(mode(`${s.db}-shm`)).toBe(0o600);
    } finally {
      // A client that exits before reading (a refusal) closes its end: EPIPE is its answer, not a failure.
      child.stdin.on('error', () => undefined);
      child.stdin.end('una password 2\n');
    }
    expect(await exited).toBe(0);

    const fresher = join(s.dir, 'umask', 'deeper', 'new.db');
    const r = await withDb(s, fresher, ['init'], { prefix: ['bash', '-c', 'umask 000; exec "$0" "$@"'] });
    expect(r.code, r.stderr).toBe(0);
    expect(mode(join(s.dir, 'umask'))).toBe(0o700);
    expect(mode(join(s.dir, 'umask', 'deeper'))).toBe(0o700);
    expect(mode(fresher)).toBe(0o600);
    expect(mode(`${fresher}.key`)).toBe(0o600);
  });
});

describe('a store that is not there (a mistyped --db)', () => {
  it('is said to be missing, exit 6, by every command but those that add something, and none is made', async () => {
    const s = fresh();
    const db = join(s.dir, 'typo', 'tfactl.db');
    // The store named by --db: the command to make it names it too.
    const missing = `there is no tfactl store at ${db} (its owner makes one with tfactl --db ${db} init)`;
    for (const args of [
      ['user', 'show', 'nobody'],
      ['user', 'list', '--json'],
      ['user', 'delete', 'nobody', '--yes'],
      ['tfa', 'list'],
      ['tfa', 'delete', 'nobody', '--all', '--yes'],
      ['tfa', 'add', 'recovery', 'root@local'],
      ['realm', 'show', 'nope'],
      ['audit'],
      ['settings', 'list'],
      ['token', 'list'],
      ['export', 'users'],
      ['backup', join(s.dir, 'b.db')],
    ]) {
      const r = await withDb(s, db, args);
      expect(r.code, args.join(' ')).toBe(6);
      expect(oneLineError(r), args.join(' ')).toBe(`error: ${missing}`);
      expect(readdirSync(s.dir), args.join(' ')).toEqual([]);
    }
    expect((await withDb(s, db, ['user', 'list', '--json'])).json().error).toEqual({ code: 'store_missing', message: missing });
    // Adding the first user makes it, as the README's first command does.
    expect((await withDb(s, db, ['user', 'add', 'ada', '--no-password'])).code).toBe(0);
    expect(existsSync(db) && existsSync(`${db}.key`)).toBe(true);
  });

  it('is made, with its key file, only where no other user could swap a directory on the way: else exit 6 and nothing left', async () => {
    const s = fresh();
    const open = join(s.dir, 'open');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    const safe = join(s.dir, 'safe', 'tfactl.db');
    for (const [db, key] of [
      [join(open, 'tfactl.db'), undefined],
      [join(open, 'new', 'tfactl.db'), undefined],
      [safe, join(open, 'tfactl.key')],
    ] as const) {
      const r = await withDb(s, db, ['init'], key === undefined ? {} : { env: { TFACTL_KEY_FILE: key } });
      expect(r.code, db).toBe(6);
      expect(oneLineError(r)).toMatch(/is not safe to use: the directory .*\/open is writable by others \(mode 0777\)/);
      expect(readdirSync(open)).toEqual([]);
    }
    expect(existsSync(safe)).toBe(false);
  });

  it('is said by logout (exit 6), which ends no session there and keeps the tickets: the store may only be moved away for now', async () => {
    const s = fresh();
    const db = join(s.dir, 'gone', 'tfactl.db');
    const runtime = join(s.dir, 'runtime');
    mkdirSync(runtime, { mode: 0o700 });
    const env = { XDG_RUNTIME_DIR: runtime };
    expect((await withDb(s, db, ['user', 'add', 'ada', '--password-stdin'], { input: 'ada password 1\n' })).code).toBe(0);
    const kept = await withDb(s, db, ['login', 'ada', '--password-stdin', '--session', '--json'], { input: 'ada password 1\n', env });
    const ticket = kept.json().result.session.file as string;
    expect(existsSync(ticket)).toBe(true);
    rmSync(join(s.dir, 'gone'), { recursive: true });
    const out = await withDb(s, db, ['logout', '--json'], { env });
    expect(out.code).toBe(6);
    expect(out.json().error.code).toBe('store_missing');
    expect(existsSync(ticket)).toBe(true);
    expect(existsSync(db)).toBe(false);
  });
});

describe('an existing empty file', () => {
  it('becomes a new store with its key file, so the first secret can be sealed', async () => {
    const s = fresh();
    const db = join(s.dir, 'empty.db');
    writeFileSync(db, '', { mode: 0o600 });
    const add = await withDb(s, db, ['user', 'add', 'bob', '--password-stdin'], { input: 'bob password 1\n' });
    expect(add.code, add.stderr).toBe(0);
    expect(mode(`${db}.key`)).toBe(0o600);
    const recovery = await withDb(s, db, ['tfa', 'add', 'recovery', 'bob', '--json']);
    expect(recovery.code, recovery.stderr).toBe(0);
    expect(recovery.json().result.keys).toHaveLength(10);
  });

  it('is reported as created by init', async () => {
    const s = fresh();
    const db = join(s.dir, 'empty.db');
    writeFileSync(db, '', { mode: 0o600 });
    const r = await withDb(s, db, ['init', '--json']);
    expect(r.json().result).toMatchObject({ created: true, keyCreated: true });
    const again = await withDb(s, db, ['init', '--json']);
    expect(again.json().result).toMatchObject({ created: false, keyCreated: false });
  });
});

describe("a service's hold on the store file", () => {
  it("keeps SQLite's locks through its requests: a program that reads the store and leaves never deletes the WAL under it", async () => {
    const s = fresh();
    await s.run(['init']);
    const tokenFile = join(s.dir, 'token');
    writeFileSync(tokenFile, `${(await s.run(['token', 'add', 'root', 'held', '--json'])).json().result.value}\n`, { mode: 0o600 });
    const sock = join(s.dir, 'held.sock');
    const { child } = await startServe(sock, s.env);
    try {
      for (let i = 0; i < 4; i++) {
        const r = await runBin(['--server', sock, '--token', `@${tokenFile}`, 'user', 'add', `held${i}`, '--no-password']);
        expect(r.code, r.stderr).toBe(0);
        // Had the service let its locks go (a descriptor of the store closed), SQLite's shell would
        // take itself for the last connection and checkpoint and delete the WAL as it leaves.
        const reader = spawnSync('sqlite3', [s.db, 'SELECT count(*) FROM users'], { encoding: 'utf8' });
        expect(reader.stdout.trim(), reader.stderr).toBe(String(i + 2));
        expect(existsSync(`${s.db}-wal`), `after request ${i + 1}`).toBe(true);
      }
      const listed = await runBin(['--server', sock, '--token', `@${tokenFile}`, 'user', 'list', '--json']);
      expect(listed.json().result.map((u: { userid: string }) => u.userid).sort()).toEqual(['held0@local', 'held1@local', 'held2@local', 'held3@local', 'root@local']);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    const db = new Database(s.db, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });
});

describe('what is deleted from the store file', () => {
  it('is overwritten, not left in free space: a deleted user\'s password hash and TOTP secret, a deleted token\'s hash', async () => {
    const s = fresh();
    await s.run(['init']);
    await s.addUser('gone', 'a password to forget');
    expect((await s.run(['tfa', 'add', 'totp', 'gone', '--no-verify', '--qr', 'none'])).code).toBe(0);
    expect((await s.run(['token', 'add', 'gone', 'ci'])).code).toBe(0);
    const db = new Database(s.db);
    const traces = [
      (db.prepare("SELECT password_hash FROM users WHERE userid = 'gone@local'").pluck().get() as string).split('$').at(-1)!,
      (db.prepare("SELECT secret FROM factors WHERE userid = 'gone@local'").pluck().get() as Buffer).subarray(0, 24),
      db.prepare("SELECT secret_hash FROM api_tokens WHERE userid = 'gone@local'").pluck().get() as Buffer | string,
    ].map((v) => Buffer.from(v as string | Buffer));
    db.close();
    const found = () => {
      const bytes = Buffer.concat([readFileSync(s.db), existsSync(`${s.db}-wal`) ? readFileSync(`${s.db}-wal`) : Buffer.alloc(0)]);
      return traces.map((t) => bytes.includes(t));
    };
    expect(found()).toEqual([true, true, true]);
    expect((await s.run(['user', 'delete', 'gone', '--yes'])).code).toBe(0);
    // Folded into the file, the WAL emptied: neither holds them.
    const folded = new Database(s.db);
    folded.pragma('wal_checkpoint(TRUNCATE)');
    folded.close();
    expect(found()).toEqual([false, false, false]);
  });
});
