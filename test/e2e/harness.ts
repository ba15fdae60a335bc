import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, inject } from 'vitest';
import { PG_BIN } from '../fixtures/postgres.js';
import { checkJsonOutput } from '../schemas.js';

export const BIN = resolve(import.meta.dirname, '../../bin/tfactl.cjs');

/** Runs the binary on the SQLite store `db` as its owner, to set a test up: its standard output, or it throws. */
export function setUpOn(db: string): (...args: string[]) => string {
  return (...args) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, TFACTL_DB: db, TFACTL_AS: undefined }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tfactl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
}

/**
 * The backend the end-to-end tests' stores are on: SQLite, or with TFACTL_TEST_BACKEND=postgres
 * (vitest's `postgres` project, vitest.config.ts) a fresh database each in a throwaway cluster.
 */
export const BACKEND: 'sqlite' | 'postgres' = process.env.TFACTL_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

/** A new database in the project's cluster (test/fixtures/postgres-global.ts), made at once. */
function newPostgresDatabase(): string {
  const admin = new URL(inject('postgresAdminUrl'));
  const name = `t_${Math.random().toString(36).slice(2, 12)}`;
  const r = spawnSync(join(PG_BIN ?? '', 'psql'), [admin.href, '-X', '-q', '-c', `CREATE DATABASE ${name}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cannot make a PostgreSQL database for the test: ${r.stderr || r.error}`);
  admin.pathname = `/${name}`;
  return admin.href;
}

export interface RunResult {
  readonly code: number | null;
  /** True when the process ran past RunOptions.timeoutMs and was killed. */
  readonly timedOut: boolean;
  /** How long the process ran, in milliseconds. */
  readonly ms: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as the JSON envelope (throws when it is not JSON). */
  json<T = any>(): { ok: boolean; result: T; warnings: string[]; error: { code: string; message: string } };
}

export interface RunOptions {
  /** Standard input: text (written as UTF-8) or raw bytes. */
  readonly input?: string | Buffer;
  /** Standard input from this descriptor (a file or device opened by the test) instead of `input`. */
  readonly stdinFd?: number;
  /** A command that runs node (`unshare ...`, `sh -c 'umask 0; exec "$0" "$@"'`), its arguments first. */
  readonly prefix?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Kill the process (SIGKILL) after this long: a hang then fails the test that expected an
   * answer (timedOut, code null) instead of stalling the run.
   */
  readonly timeoutMs?: number;
  /** Called with all of standard error so far, whenever more comes (a URL to open while it runs). */
  readonly onStderr?: (stderr: string) => void;
}

/** The environment of the test process without anything that would point tfactl elsewhere. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('TFACTL_') && k !== 'NO_COLOR' && k !== 'FORCE_COLOR' && k !== 'XDG_RUNTIME_DIR') env[k] = v;
  }
  return env;
}

/** Spawns the built binary. Standard input is a pipe (closed after `input`), never a TTY. */
export function runBin(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const env = { ...baseEnv() };
    for (const [k, v] of Object.entries(options.env ?? {})) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    const started = performance.now();
    const [command, ...commandArgs] = [...(options.prefix ?? []), process.execPath, BIN, ...args];
    const child = spawn(command!, commandArgs, { env, stdio: [options.stdinFd ?? 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      options.onStderr?.(stderr);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      // Every --json output any test sees must match its schema (schemas/): a drifting shape
      // fails the test that produced it.
      if (args.slice(0, args.includes('--') ? args.indexOf('--') : args.length).includes('--json') && !timedOut && code !== null) {
        try {
          checkJsonOutput(args, stdout);
        } catch (e) {
          reject(new Error(`tfactl ${args.join(' ')}: ${(e as Error).message}\nstdout: ${stdout.slice(0, 2000)}`));
          return;
        }
      }
      resolvePromise({
        code,
        timedOut,
        ms: performance.now() - started,
        stdout,
        stderr,
        json: () => JSON.parse(stdout),
      });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input ?? '');
    }
  });
}

/**
 * Runs as another OS user (uid 1000) in a user namespace, as a RunOptions prefix: root could write
 * any file. Unlike setuid this keeps access to the checkout wherever it lives (the real uid is
 * unchanged), and works without root.
 */
export const AS_UID_1000 = ['unshare', '--user', '--map-user=1000', '--map-group=1000'];

/** Runs `node ARGS` as uid 1000 (see AS_UID_1000), synchronously. */
export function asOtherUid(args: readonly string[], env: NodeJS.ProcessEnv, input = '') {
  return spawnSync('unshare', [...AS_UID_1000.slice(1), process.execPath, ...args], { env, input, encoding: 'utf8' });
}

/** Temporary stores made on demand by a test file, all removed when it ends. */
export function storeFactory(): () => TempStore {
  const stores: TempStore[] = [];
  afterAll(() => stores.forEach((s) => s.remove()));
  return () => {
    const s = new TempStore();
    stores.push(s);
    return s;
  };
}

/** Where TempStore.atRest() puts the backups it reads. */
const AT_REST = 'at-rest-';

/** A fresh temporary store for one test file, on the backend the run is for (BACKEND). */
export class TempStore {
  readonly dir = mkdtempSync(join(tmpdir(), 'tfactl-test-'));
  /** The store's location: a SQLite file, or a PostgreSQL connection string. */
  readonly db = BACKEND === 'postgres' ? newPostgresDatabase() : join(this.dir, 'store', 'tfactl.db');
  /** Its key file: beside a SQLite file; for PostgreSQL, TFACTL_KEY_FILE in the test's directory. */
  readonly keyFile = BACKEND === 'postgres' ? join(this.dir, 'tfactl.key') : `${this.db}.key`;
  /** The environment that points tfactl at this store. */
  readonly env: Readonly<Record<string, string>> = BACKEND === 'postgres' ? { TFACTL_DB: this.db, TFACTL_KEY_FILE: this.keyFile } : { TFACTL_DB: this.db };

  run(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return runBin(args, { ...options, env: { ...this.env, ...options.env } });
  }

  /** Runs as `userid` authenticated by `password` on standard input (plus any further lines). */
  runAs(userid: string, password: string, args: readonly string[], moreInput: readonly string[] = []): Promise<RunResult> {
    return this.run(['--as', userid, '--password-stdin', ...args], { input: [password, ...moreInput].join('\n') + '\n' });
  }

  /** `tfactl user add USERID --password-stdin [extra]`; throws with tfactl's error unless it succeeds. */
  async addUser(userid: string, password: string, extra: readonly string[] = []): Promise<RunResult> {
    const r = await this.run(['user', 'add', userid, '--password-stdin', ...extra], { input: `${password}\n` });
    if (r.code !== 0) throw new Error(`user add ${userid} exited ${r.code}: ${r.stderr}`);
    return r;
  }

  /** `tfactl login USERID --password-stdin [--code CODE] --json [extra]`. */
  login(userid: string, password: string, code?: string, extra: readonly string[] = []): Promise<RunResult> {
    return this.run(['login', userid, '--password-stdin', ...(code === undefined ? [] : ['--code', code]), '--json', ...extra], {
      input: `${password}\n`,
    });
  }

  /** The result of `tfactl ARGS --json` as the store's owner, at once; throws unless it succeeds. */
  read<T = any>(args: readonly string[]): T {
    const r = spawnSync(process.execPath, [BIN, ...args, '--json'], { env: { ...baseEnv(), ...this.env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`tfactl ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { result: T }).result;
  }

  /** A user's factors as `tfa list USERID` shows them ([] for a user that has none, or is not there). */
  factorsOf(userid: string): Record<string, unknown>[] {
    const r = spawnSync(process.execPath, [BIN, 'tfa', 'list', userid, '--json'], { env: { ...baseEnv(), ...this.env }, encoding: 'utf8' });
    if (r.status === 3) return [];
    if (r.status !== 0) throw new Error(`tfactl tfa list ${userid} exited ${r.status}: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { result: { factors: Record<string, unknown>[] }[] }).result.flatMap((u) => u.factors);
  }

  /**
   * The store's rows, for what no listing shows (how a password or secret is kept, attempt
   * counters): a SQLite store's own, else as its backup holds them (`tfactl backup` writes a SQLite
   * store file on every backend; audited, and left out of auditRows()).
   */
  atRest<T = Record<string, unknown>>(sql: string): T[] {
    if (BACKEND === 'sqlite') return this.query<T>(sql);
    const file = join(mkdtempSync(join(this.dir, AT_REST)), 'backup.db');
    this.read(['backup', file]);
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare(sql).all() as T[];
    } finally {
      db.close();
    }
  }

  /**
   * Changes rows behind tfactl's back, on either backend: only to set up what no command can and
   * no test should wait for (a challenge past its 120 s, a key whose counter another copy of it
   * moved on; text no command would take). What it changed is then read through the CLI.
   */
  tamper(sql: string, ...params: (string | number | null)[]): void {
    if (BACKEND === 'sqlite') {
      const db = new Database(this.db);
      try {
        if (params.length) db.prepare(sql).run(...params);
        else db.exec(sql);
      } finally {
        db.close();
      }
      return;
    }
    // Each ? becomes its value as an SQL literal (the statements here hold no other ?).
    const values = [...params];
    const text = sql.replace(/\?/g, () => {
      const v = values.shift();
      return v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`;
    });
    const r = spawnSync(join(PG_BIN ?? '', 'psql'), [this.db, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', text], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql: ${sql}: ${r.stderr || r.error}`);
  }

  /**
   * Everything the store keeps, as text to search for secrets that must not be there: a SQLite
   * store's file and write-ahead log as bytes, and its rows; a PostgreSQL store's pg_dump (where
   * binary columns are hex: search for the hex of a needle too).
   */
  everythingKept(): string[] {
    if (BACKEND === 'postgres') {
      const r = spawnSync(join(PG_BIN ?? '', 'pg_dump'), ['--no-owner', '-d', this.db], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
      if (r.status !== 0) throw new Error(`pg_dump: ${r.stderr || r.error}`);
      return [r.stdout];
    }
    const files = ['', '-wal'].map((suffix) => (existsSync(`${this.db}${suffix}`) ? readFileSync(`${this.db}${suffix}`).toString('latin1') : ''));
    const tables = this.query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").map((t) => t.name);
    return [...files, JSON.stringify(tables.map((t) => this.query(`SELECT * FROM "${t}"`)))];
  }

  /** The signature counter tfactl last saw from a security key (by its credential id), as `tfa list` shows it. */
  counterOf(credentialId: string): number {
    type Listed = { factors: { credential: { id: string; counter: number } | null }[] };
    const found = this.read<Listed[]>(['tfa', 'list']).flatMap((u) => u.factors).find((f) => f.credential?.id === credentialId);
    if (!found?.credential) throw new Error(`no security key ${credentialId} in tfa list`);
    return found.credential.counter;
  }

  /** Whether the store has been made: its file, or its tables in the database (which the test made empty). */
  exists(): boolean {
    if (BACKEND === 'sqlite') return existsSync(this.db);
    const r = spawnSync(join(PG_BIN ?? '', 'psql'), [this.db, '-X', '-A', '-t', '-c', "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`psql: ${r.stderr || r.error}`);
    return Number(r.stdout.trim()) > 0;
  }

  /** Whether `user show USERID` finds the user. */
  hasUser(userid: string): boolean {
    const r = spawnSync(process.execPath, [BIN, 'user', 'show', userid, '--json'], { env: { ...baseEnv(), ...this.env }, encoding: 'utf8' });
    if (r.status !== 0 && r.status !== 3) throw new Error(`tfactl user show ${userid} exited ${r.status}: ${r.stderr}`);
    return r.status === 0;
  }

  /** Reads the store file directly with SQLite (read-only): for what only the file shows (secrets at rest). */
  query<T = Record<string, unknown>>(sql: string, ...params: unknown[]): T[] {
    if (BACKEND !== 'sqlite') throw new Error('store.query reads a SQLite file: on other backends, read the state through the CLI');
    const db = new Database(this.db, { readonly: true });
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  }

  /**
   * Everything but the audit trail, to prove a refused or invalid command changed nothing: on
   * SQLite the rows themselves, which also hold what no listing shows (password hashes); elsewhere
   * what the CLI shows of realms, users (their attempt counters included), factors, settings and
   * tokens.
   */
  snapshot(): string {
    if (BACKEND !== 'sqlite') {
      // Without the password failures a refused sign-in counts: kept apart from the users, as the
      // SQLite snapshot's tables leave out password_failures.
      const exported = JSON.stringify(this.read(['export', 'users']), (k, v: unknown) => (k === 'passwordFailures' || k === 'passwordFailuresSince' ? undefined : v));
      return JSON.stringify({ export: JSON.parse(exported), settings: this.read(['settings', 'list']), tokens: this.read(['token', 'list']) });
    }
    return JSON.stringify({
      users: this.query('SELECT * FROM users ORDER BY userid'),
      realms: this.query('SELECT * FROM realms ORDER BY name'),
      settings: this.query('SELECT * FROM settings ORDER BY key'),
      factors: this.query('SELECT * FROM factors ORDER BY id'),
      recovery: this.query('SELECT * FROM recovery_slots ORDER BY factor_id, slot'),
    });
  }

  /**
   * The audit trail, oldest first (detail as its JSON text), but for atRest()'s backups: a SQLite
   * store's rows, else as `tfactl audit --all` shows it.
   */
  auditRows(): { actor: string | null; action: string; target: string | null; outcome: string; detail: string | null }[] {
    if (BACKEND === 'sqlite') return this.query('SELECT actor, action, target, outcome, detail FROM audit ORDER BY id');
    type Entry = { actor: string | null; action: string; target: string | null; outcome: string; detail: { file?: unknown } | null };
    const ours = (e: Entry) => e.action === 'store.backup' && String(e.detail?.file).startsWith(join(this.dir, AT_REST));
    return this.read<Entry[]>(['audit', '--all']).filter((e) => !ours(e)).map((e) => ({
      actor: e.actor,
      action: e.action,
      target: e.target,
      outcome: e.outcome,
      detail: e.detail === null || e.detail === undefined ? null : JSON.stringify(e.detail),
    }));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Asserts the shape every failure must have: one line on stderr, nothing but the envelope on stdout. */
export function oneLineError(r: RunResult): string {
  const lines = r.stderr.trimEnd().split('\n');
  if (lines.length !== 1 || !lines[0]?.startsWith('error: ')) {
    throw new Error(`expected one error line on stderr, got: ${JSON.stringify(r.stderr)}`);
  }
  return lines[0];
}

/** A TOTP code from Debian's oathtool, an implementation independent of ours. */
export function oathtool(
  secret: string,
  options: { epoch?: number; algorithm?: 'SHA1' | 'SHA256' | 'SHA512'; digits?: number; period?: number } = {},
): string {
  const args = [`--totp=${(options.algorithm ?? 'SHA1').toLowerCase()}`, '-b', secret];
  if (options.digits) args.push('-d', String(options.digits));
  if (options.period) args.push('-s', `${options.period}s`);
  if (options.epoch !== undefined) args.push('--now', `@${options.epoch}`);
  const r = spawnSync('oathtool', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`oathtool failed: ${r.stderr}`);
  return r.stdout.trim();
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * How a secret could sit in what everythingKept() shows, if it were kept: its text, and its bytes
 * (a token's base64url, a TOTP secret's base32, decoded) as they are and as hex (pg_dump's bytea).
 */
export function secretForms(text: string, bytes?: Buffer): string[] {
  return [text, Buffer.from(text).toString('hex'), ...(bytes ? [bytes.toString('latin1'), bytes.toString('hex')] : [])];
}

/** RFC 4648 base32 (a TOTP secret) as bytes. */
export function base32Bytes(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  return Buffer.from(bits.match(/.{8}/g)?.map((b) => parseInt(b, 2)) ?? []);
}

/** A simulated YubiKey (python3-yubiotp's `yubikey`), its state in a file of its own in `dir`. */
export class SimulatedYubiKey {
  readonly config: string;
  constructor(
    dir: string,
    name: string,
    readonly publicId: string,
    readonly aesKey: string,
    readonly privateId: string,
  ) {
    this.config = join(dir, `${name}.yubikey`);
    this.sim(['init', '-p', publicId, '-k', aesKey, '-u', privateId]);
  }
  private sim(args: string[]): string {
    const r = spawnSync('yubikey', ['-f', this.config, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`yubikey ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim();
  }
  /** The next OTP, as a touch would type it. */
  otp(): string {
    return this.sim(['gen']);
  }
  /** The flags that give tfactl this key's AES key and private id (offline validation). */
  get material(): string[] {
    return ['--aes-key', this.aesKey, '--private-id', this.privateId];
  }
}

/**
 * `tfactl serve --socket SOCKET [extra]` on the store `env` names (TFACTL_DB, ...); resolves once
 * it listens, with its request log so far.
 */
export async function startServe(socket: string, env: Readonly<Record<string, string>>, extra: readonly string[] = []): Promise<{ child: ChildProcess; log: () => string }> {
  let text = '';
  const child = spawn(process.execPath, [BIN, 'serve', '--socket', socket, ...extra], { env: { ...process.env, TFACTL_AS: undefined, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((ready, fail) => {
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('"listening"')) ready();
    });
    child.on('exit', (code) => fail(new Error(`tfactl serve exited ${code}: ${text}`)));
  });
  return { child, log: () => text };
}

/**
 * Runs `use` with a directory on a small file system (a tmpfs of `size` bytes) that is full but for
 * `free` bytes (in whole 4 KiB pages): where a command's output cannot be written, or only its
 * first part. Mounting needs root, as the PAM and other-user tests do; the file system is
 * unmounted afterwards whatever happens. `use` gets a way to free the filler's space again.
 */
export async function withFullDisk<T>(use: (dir: string, makeRoom: () => void) => Promise<T>, { size = 64 << 10, free = 0 } = {}): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tfactl-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) throw new Error(`cannot mount a small tmpfs for a full-disk test (run the tests as root): ${mounted.stderr || mounted.error}`);
  try {
    const filler = join(dir, 'filler');
    const filled = spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { encoding: 'utf8' });
    if (!/No space left/.test(filled.stderr)) throw new Error(`could not fill ${dir}: ${filled.stderr}`);
    if (free > 0) truncateSync(filler, Math.max(0, statSync(filler).size - Math.ceil(free / 4096) * 4096));
    return await use(dir, () => rmSync(filler));
  } finally {
    spawnSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}
