import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { asOtherUid, BIN, oneLineError, storeFactory } from './harness.js';

const fresh = storeFactory();

const mode = (path: string) => statSync(path).mode & 0o777;

describe('the store on disk', () => {
  it('is created on first use with a 0700 directory, a 0600 file and a 0600 key file', async () => {
    const s = fresh();
    const r = await s.run(['user', 'add', 'ada', '--no-password']);
    expect(r.code).toBe(0);
    expect(mode(join(s.dir, 'store'))).toBe(0o700);
    expect(mode(s.db)).toBe(0o600);
    expect(mode(`${s.db}.key`)).toBe(0o600);
    expect(readFileSync(`${s.db}.key`, 'utf8')).toMatch(/^tfactl-key-v1:[A-Za-z0-9+/]{43}=\n$/);
  });

  it('waits while another process holds a new store\'s write lock before it is in WAL mode, not store_busy at once', async () => {
    const s = fresh();
    mkdirSync(join(s.dir, 'store'), { mode: 0o700 });
    writeFileSync(s.db, '', { mode: 0o600 });
    // Another process making the store: its write lock on the file, still in the rollback journal.
    const other = new Database(s.db);
    other.exec('BEGIN IMMEDIATE');
    const held = 1500;
    setTimeout(() => other.exec('ROLLBACK'), held);
    const started = Date.now();
    const r = await s.run(['init', '--json']);
    other.close();
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(held - 100);
    expect(r.json().result.created).toBe(true);
  });

  it('keeps WAL and shared-memory files at 0600 while in use', async () => {
    const s = fresh();
    await s.run(['init']);
    const db = new Database(s.db);
    db.prepare('SELECT count(*) FROM users').get();
    db.prepare("UPDATE settings SET value = value WHERE key = 'x'").run();
    expect(mode(`${s.db}-wal`)).toBe(0o600);
    expect(mode(`${s.db}-shm`)).toBe(0o600);
    db.close();
  });

  it('init is idempotent and keeps the key', async () => {
    const s = fresh();
    const first = await s.run(['init', '--json']);
    expect(first.json().result).toMatchObject({ store: s.db, keyFile: `${s.db}.key`, created: true, keyCreated: true });
    const key = readFileSync(`${s.db}.key`, 'utf8');
    const second = await s.run(['init', '--json']);
    expect(second.json().result).toMatchObject({ created: false, keyCreated: false });
    expect(readFileSync(`${s.db}.key`, 'utf8')).toBe(key);
  });

  it('init on several hosts at once, each with a key file of its own: one key is the store\'s, the others are removed and say whose to copy', async () => {
    const s = fresh();
    const keys = Array.from({ length: 8 }, (_, i) => join(s.dir, `host${i}.key`));
    const runs = await Promise.all(keys.map((key) => s.run(['init', '--json'], { env: { TFACTL_KEY_FILE: key } })));
    const made = runs.filter((r) => r.code === 0 && r.json().result.keyCreated === true);
    expect(made).toHaveLength(1);
    const kept = made[0]!.json().result.keyFile as string;
    for (const [i, r] of runs.entries()) {
      if (keys[i] === kept) continue;
      // It found the store's key made already (its own is none), or it lost the race: its key is removed, and it says whose to copy.
      expect({ code: r.code, exists: existsSync(keys[i]!) }).toEqual({ code: 6, exists: false });
      const { message } = r.json().error as { message: string };
      if (message.startsWith('another tfactl')) {
        expect(message).toBe(`another tfactl made this store's key file at the same moment, elsewhere (the one made at ${keys[i]} is removed): copy that key file to ${keys[i]}`);
      }
    }
    // The key that was kept is the store's: it opens it.
    expect((await s.run(['user', 'add', 'after-race', '--no-password'], { env: { TFACTL_KEY_FILE: kept } })).code).toBe(0);
    expect((await s.run(['tfa', 'add', 'recovery', 'after-race'], { env: { TFACTL_KEY_FILE: kept } })).code).toBe(0);
  });

  it('init of a new store with a key file kept from another (a site moving) says it uses that key, and keeps it', async () => {
    const s = fresh();
    expect((await s.run(['init'])).code).toBe(0);
    const key = readFileSync(s.keyFile, 'utf8');
    const moved = join(s.dir, 'moved.db');
    const r = await s.run(['--db', moved, 'init'], { env: { TFACTL_KEY_FILE: s.keyFile, NO_COLOR: '1' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`created store ${moved}\nusing key file ${s.keyFile} (keep it with every backup of the store)\n`);
    expect(readFileSync(s.keyFile, 'utf8')).toBe(key);
    const json = await s.run(['--db', join(s.dir, 'moved-too.db'), 'init', '--json'], { env: { TFACTL_KEY_FILE: s.keyFile } });
    expect(json.json().result).toMatchObject({ created: true, keyCreated: false, keyFile: s.keyFile });
  });

  it('honours --db over TFACTL_DB and TFACTL_KEY_FILE for the key', async () => {
    const s = fresh();
    const other = join(s.dir, 'other.db');
    const keyFile = join(s.dir, 'keys', 'k');
    const r = await s.run(['--db', other, 'init', '--json'], { env: { TFACTL_KEY_FILE: keyFile } });
    expect(r.json().result).toMatchObject({ store: other, keyFile });
    expect(existsSync(other)).toBe(true);
    expect(existsSync(s.db)).toBe(false);
    expect(mode(keyFile)).toBe(0o600);
  });

  it('uses $XDG_DATA_HOME/tfactl/tfactl.db for users other than root when nothing else is set', async () => {
    const s = fresh();
    const xdg = join(s.dir, 'xdg');
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_DATA_HOME: xdg, HOME: s.dir };
    delete env.TFACTL_DB;
    // In a user namespace tfactl runs as uid 1000, so even under root the real system store is never touched.
    const r = asOtherUid([BIN, 'init', '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).result.store).toBe(join(xdg, 'tfactl', 'tfactl.db'));
    expect(mode(join(xdg, 'tfactl'))).toBe(0o700);
  });

  it('refuses a store written by a newer tfactl (exit 6) and leaves it alone', async () => {
    const s = fresh();
    await s.run(['init']);
    const db = new Database(s.db);
    db.pragma('user_version = 999');
    db.close();
    const r = await s.run(['user', 'list', '--json']);
    expect(r.code).toBe(6);
    // Said as PostgreSQL's is (test/e2e/postgres.test.ts).
    expect(r.json().error).toEqual({ code: 'store_too_new', message: expect.stringMatching(new RegExp(`^the store at ${s.db.replace(/[.]/g, '\\.')} is from a newer tfactl \\(schema 999; this tfactl knows up to \\d+\\): upgrade tfactl$`)) });
    oneLineError(r);
    const check = new Database(s.db, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(999);
    check.close();
  });

  it('refuses a file that is not a store (exit 6) with one line', async () => {
    const s = fresh();
    mkdirSync(join(s.dir, 'store'), { recursive: true });
    writeFileSync(s.db, 'this is not a database, just some text that is long enough to look like a header'.repeat(20), { mode: 0o600 });
    const r = await s.run(['user', 'list']);
    expect(r.code).toBe(6);
    expect(oneLineError(r)).toContain('damaged or not a tfactl store');
  });

  it('refuses a store it cannot create (exit 6)', async () => {
    const s = fresh();
    writeFileSync(join(s.dir, 'file'), '');
    const r = await s.run(['--db', join(s.dir, 'file', 'sub', 'x.db'), 'user', 'list']);
    expect(r.code).toBe(6);
    oneLineError(r);
  });

  it('says a store whose creation was cut short before its key (no fingerprint, no key file) is finished by init, which makes the key', async () => {
    const s = fresh();
    await s.run(['init']);
    await s.addUser('al', 'a password of al');
    // What a kill between the store and its key file leaves.
    s.tamper("DELETE FROM settings WHERE key = 'key.fingerprint'");
    rmSync(s.keyFile);
    const r = await s.run(['tfa', 'add', 'recovery', 'al']);
    expect(r.code).toBe(6);
    expect(oneLineError(r)).toBe(`error: this store has no key file yet (${s.keyFile}): its creation was cut short; run tfactl init to finish it`);
    expect((await s.run(['init', '--json'])).json().result).toMatchObject({ keyCreated: true });
    expect((await s.run(['tfa', 'add', 'recovery', 'al'])).code).toBe(0);
    // A key lost from a store that had one is not made anew.
    rmSync(s.keyFile);
    const lost = await s.run(['init']);
    expect(lost.code).toBe(6);
    expect(oneLineError(lost)).toMatch(/is missing: the secrets in this store cannot be read without it/);
  });

  it('finishes a store whose creation was cut short after its key file (no fingerprint) at its next backup, so that backup restores', async () => {
    const s = fresh();
    await s.run(['init']);
    await s.addUser('bo', 'a password of bo');
    // What a kill between the key file and its fingerprint leaves; the key is used since.
    s.tamper("DELETE FROM settings WHERE key = 'key.fingerprint'");
    expect((await s.run(['tfa', 'add', 'recovery', 'bo'])).code).toBe(0);
    const backup = join(s.dir, 'finished.db');
    expect((await s.run(['backup', backup])).code).toBe(0);
    const restored = await s.run(['restore', backup, '--yes', '--json']);
    expect(restored.code, restored.stderr).toBe(0);
    // And the key it took is the store's from then on: another store's is refused.
    const other = fresh();
    await other.run(['init']);
    const wrong = await s.run(['tfa', 'add', 'totp', 'bo', '--no-verify', '--qr', 'none'], { env: { TFACTL_KEY_FILE: other.keyFile } });
    expect(wrong.code).toBe(6);
    expect(oneLineError(wrong)).toMatch(/belongs to another store/);
  });

  it('removes the temporary key files a killed tfactl left (KEY.PID.tmp of a process gone), not those of one that runs', async () => {
    const s = fresh();
    await s.run(['init']);
    const gone = `${s.keyFile}.999999999.tmp`;
    const running = `${s.keyFile}.${process.pid}.tmp`;
    for (const f of [gone, running]) writeFileSync(f, 'tfactl-key-v1:left\n', { mode: 0o600 });
    // A kill between the key file and its fingerprint: the next making of the key looks again.
    s.tamper("DELETE FROM settings WHERE key = 'key.fingerprint'");
    expect((await s.run(['init'])).code).toBe(0);
    expect(existsSync(gone)).toBe(false);
    expect(existsSync(running)).toBe(true);
    rmSync(running);
  });

  it('refuses a key file from another store', async () => {
    const a = fresh();
    const b = fresh();
    await a.run(['init']);
    await b.run(['init']);
    const r = await a.run(['init'], { env: { TFACTL_KEY_FILE: `${b.db}.key` } });
    expect(r.code).toBe(6);
    expect(oneLineError(r)).toContain('belongs to another store');
  });

  it('refuses to act as root@local for an OS user who does not own the store, and a store others may open even with --as', async () => {
    const s = fresh();
    await s.run(['user', 'add', 'alice', '--password-stdin'], { input: 'alice password 1\n' });
    if (process.getuid?.() !== 0) {
      // Only root can give the store another owner; as the owner we act as root@local.
      expect((await s.run(['user', 'list'])).code).toBe(0);
      return;
    }
    // Another owner; the directories let anyone look up the file, which stays private.
    chownSync(s.db, 65534, 65534);
    for (const p of [s.dir, join(s.dir, 'store')]) chmodSync(p, 0o755);
    const env = { ...process.env, TFACTL_DB: s.db };
    const refused = asOtherUid([BIN, 'user', 'list'], env);
    expect(refused.status, refused.stderr).toBe(4);
    expect(refused.stderr).toContain('--as');
    // A careless chmod that lets anyone reach the files: refused for everyone, --as or not.
    const show = () => asOtherUid([BIN, '--as', 'alice', '--password-stdin', 'user', 'show', 'alice', '--json'], env, 'alice password 1\n');
    for (const p of [s.db, `${s.db}.key`]) {
      chmodSync(p, 0o666);
      const open = show();
      expect(open.status, open.stderr).toBe(6);
      expect(open.stderr).toContain(`run 'chmod 600 ${p}'`);
    }
  });

  it("tells an OS user who cannot reach another user's store so, and never that it cannot be created", async () => {
    const s = fresh();
    await s.run(['user', 'add', 'alice', '--password-stdin'], { input: 'alice password 1\n' });
    if (process.getuid?.() !== 0) return void expect((await s.run(['user', 'list'])).code).toBe(0);
    // As on a shared host: the store in a directory only its owner (here another user) may enter.
    chmodSync(s.dir, 0o755);
    chownSync(join(s.dir, 'store'), 65534, 65534);
    chmodSync(join(s.dir, 'store'), 0o700);
    const env = { ...process.env, TFACTL_DB: s.db };
    const plain = asOtherUid([BIN, 'user', 'list'], env);
    expect(plain.status, plain.stderr).toBe(6);
    expect(plain.stderr.trim()).toBe(`error: cannot reach the store ${s.db}: permission denied: it or a directory above it belongs to another user; a store of your own: --db PATH (or TFACTL_DB)`);
    const as = asOtherUid([BIN, '--as', 'alice', '--password-stdin', 'user', 'show', 'alice'], env, 'alice password 1\n');
    expect(as.status, as.stderr).toBe(6);
    expect(as.stderr).toContain(`cannot open or create the store at ${s.db}: permission denied (EACCES)`);
    expect(as.stderr).not.toContain('cannot create the store');
  });

});
