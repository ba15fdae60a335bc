import { auditEntriesToAppend, restoredAuditId, sizeOf } from './audit-merge.js';
import { storedValidationUrlsProblem } from '../domain/validation-url.js';
import BetterSqlite3 from 'better-sqlite3';
import { closeSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { NotFoundError, StoreError, TfaError, VANISHED } from '../errors.js';
import { checkFileUnopened, type FileProblem, makePrivateDirectories, refuseOpenToOthers } from '../files.js';
import { countOf, describeUnsafe, escapeText, unsafeCodePoint } from '../domain/text.js';
import { type AccessRows, type FactorAccessRow, type HeldStep, type RealmAccessRow, restoreEffect, type SettingRow, type TokenAccessRow, type UserAccessRow } from '../domain/restore-revival.js';
import { canonicalName, parseRealmName, parseUserId, ROOT_USERID } from '../domain/userid.js';
import { isStoredTime, parseDate } from '../domain/dates.js';
import { passwordHashProblem } from '../domain/password-hash.js';
import { SETTINGS, storedSettingProblem } from '../domain/settings.js';
import { MAX_RECOVERY_SLOTS } from '../domain/recovery.js';
import { MIN_PERIOD, STEP_SLACK_SECONDS } from '../domain/totp-params.js';
import { APPLICATION_ID, CORE_TABLES, LATEST_VERSION, loadMigrations, migrate, type MigrationContext } from './migrations/index.js';
import { APPLY_REPLAY_LEDGER, type AuditRow, DROP_ORPHAN_CHALLENGES, SqlStore, type SqlStatement, storeMissing } from './sql-store.js';
import type { BackupCopy, BackupInspection, SealedSecretRow, Store } from './types.js';
import type { BackgroundCheckpoints } from './sqlite-checkpoints.js';
import { errnoText } from '../domain/errno.js';

/** A BEGIN that took longer than this waited for another process's write lock. */
const LOCK_WAITED_MS = 20;
/** SQLite's own wait for the write lock in each try of beginWrite: short, as it blocks the process. */
const LOCK_POLL_MS = 20;

const Database = BetterSqlite3;

/**
 * The tables a restore replaces, parents before children. The audit trail and the replay ledger
 * are merged instead, the password failures are kept (a restore never lifts a ban), and
 * sqlite_sequence is SQLite's own; a test checks that no other table exists.
 */
export const RESTORED_TABLES = ['settings', 'realms', 'users', 'factors', 'recovery_slots', 'api_tokens'] as const;
export const KEPT_TABLES = ['audit', 'password_failures', 'password_checks', 'replay_ledger', 'challenges', 'sessions'] as const;
type Database = BetterSqlite3.Database;

/**
 * The package the background checkpoints' worker loads: the installed one, found at run time (a
 * name in a constant, so the bundler leaves the lookup alone instead of bundling it).
 */
const SQLITE_DRIVER = 'better-sqlite3';

/** SQLite's default: a commit that takes the WAL past this many pages checkpoints it. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

/** Long enough that concurrent tfactl processes queue for the write lock instead of failing. */
const BUSY_TIMEOUT_MS = 30_000;

export interface OpenOptions {
  /** Epoch seconds, for the rows a new store starts with. */
  readonly now: number;
  /**
   * The store's key file and a source of random bytes, for migrations that re-seal secrets
   * (MigrationContext). Without them such a migration refuses to run.
   */
  readonly keyPath?: string;
  readonly randomBytes?: (n: number) => Buffer;
  /**
   * Only read: the store must exist and be up to date (nothing is created or migrated), and a
   * lock held by a writer is waited for only briefly. For answers that must come at once
   * (shell completion), where nothing is better than a wait.
   */
  readonly readOnly?: boolean;
  /** The store must be there already: a missing file is exit 6 (store_missing), never made anew. */
  readonly existing?: boolean;
  /**
   * For a long-running process (tfactl serve): WAL checkpoints on a thread of their own, not in
   * the commit that happens to cross SQLite's threshold (see sqlite-checkpoints.ts); `failed` is
   * told, once, if that thread cannot run.
   */
  readonly backgroundCheckpoints?: { readonly failed: (trouble: string) => void };
}

/** How long a read-only connection waits for a lock (a checkpoint) before giving up. */
const READ_ONLY_BUSY_TIMEOUT_MS = 200;

export interface OpenedStore {
  readonly store: Store;
  /** True when this call made a new store: the schema was created from nothing, in an empty file. */
  readonly created: boolean;
}

/** Every table a store file holds, parents before children: what a backup from another backend writes. */
export const STORE_TABLES = [...RESTORED_TABLES, ...KEPT_TABLES] as const;

/**
 * The rows another backend read (a PostgreSQL store's, for `backup`) as a store of this tfactl's
 * schema, made in memory: the schema's own rows replaced by the ones given, each table's columns
 * taken by name (what the other backend has besides, its `rowid`, is left out). Its bytes are
 * then what `backup` writes on SQLite: the portable format.
 */
export async function storeImage(now: number, rows: (table: (typeof STORE_TABLES)[number], columns: readonly string[]) => Promise<readonly Record<string, unknown>[]>): Promise<Buffer> {
  const db = new Database(':memory:');
  try {
    migrate(db, now, await loadMigrations());
    db.pragma('foreign_keys = ON');
    const columnsOf = (t: string) => (db.pragma(`table_info(${t})`) as { name: string }[]).map((c) => c.name);
    const read = new Map<string, readonly Record<string, unknown>[]>();
    for (const t of STORE_TABLES) read.set(t, await rows(t, columnsOf(t)));
    db.transaction(() => {
      for (const t of [...STORE_TABLES].reverse()) db.exec(`DELETE FROM ${t}`);
      for (const t of STORE_TABLES) {
        const columns = columnsOf(t);
        const quoted = columns.map((c) => `"${c}"`).join(', ');
        // The ledger's triggers have written what the factors say; the other backend's ledger may say more.
        const conflict = t === 'replay_ledger' ? ' ON CONFLICT (factor_id, guard, slot) DO UPDATE SET spent = max(spent, excluded.spent)' : '';
        const insert = db.prepare(`INSERT INTO ${t} (${quoted}) VALUES (${columns.map((c) => `@${c}`).join(', ')})${conflict}`);
        for (const row of read.get(t) ?? []) insert.run(Object.fromEntries(columns.map((c) => [c, row[c] ?? null])));
      }
    }).immediate();
    return db.serialize();
  } finally {
    db.close();
  }
}

/**
 * Opens (creating on first use) the SQLite store at `path`. A new directory is made 0700 and the
 * file 0600 before SQLite touches it; SQLite gives its WAL and shared-memory files the same mode.
 * Refused, each with one line and before SQLite writes a byte: what is not a regular file this
 * user may write, a file its group or others may read or write, and a SQLite file that is not a
 * tfactl store (see identifyStore).
 */
export async function openSqliteStore(path: string, options: OpenOptions): Promise<OpenedStore> {
  if (options.readOnly) return { store: openReadOnly(path, options), created: false };
  if (options.existing && notThere(path)) throw storeMissing(path);
  checkStoreFile(path, { create: true });
  let db: Database;
  try {
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  } catch (e) {
    throw storeError(e, path);
  }
  let created = false;
  try {
    // Decided before anything writes: setting WAL alone rewrites the header of someone else's file.
    const marked = identifyStore(db, path);
    await useWal(db);
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // What is deleted or replaced (a deleted user's password hash, a deleted factor's sealed
    // secret, a used recovery key's hash) is overwritten with zeros, not left in free space where
    // the file and every backup of it would keep it.
    db.pragma('secure_delete = ON');
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current !== LATEST_VERSION || !marked) created = migrate(db, options.now, await loadMigrations(), await migrationContext(db, options), path) === 0;
  } catch (e) {
    db.close();
    throw storeError(e, path);
  }
  const store = new SqliteStore(db, path, options);
  if (options.backgroundCheckpoints) {
    const [{ Worker }, { backgroundCheckpoints }] = await Promise.all([import('node:worker_threads'), import('./sqlite-checkpoints.js')]);
    store.checkpoints = backgroundCheckpoints(resolve(path), store, Worker, require.resolve(SQLITE_DRIVER), options.backgroundCheckpoints.failed);
  }
  return { store, created };
}

/**
 * Puts the store in WAL mode (a no-op once it is). Switching a new file from its rollback journal
 * reads its header and then takes the write lock without SQLite's busy handler (it would deadlock
 * with another reader wanting the same), so processes creating one store at once get SQLITE_BUSY
 * at once: tried again here, a little later each time, for as long as the busy timeout.
 */
async function useWal(db: Database): Promise<void> {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (e) {
      if (!String((e as { code?: unknown }).code).startsWith('SQLITE_BUSY') || Date.now() >= deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, wait + Math.random() * wait));
  }
}

/**
 * What migrations of `db` may use: its key, read from the key file only if a migration asks, and
 * checked against the fingerprint `db` keeps; undefined when no key file is known. Loaded only
 * when a migration is pending (the key file reader needs node:crypto).
 */
async function migrationContext(db: Database, options: OpenOptions): Promise<MigrationContext | undefined> {
  const { keyPath, randomBytes } = options;
  if (keyPath === undefined || randomBytes === undefined) return undefined;
  const { fingerprintMatches, readKeyFile } = await import('./keyfile.js');
  return {
    keyPath,
    randomBytes,
    key: () => {
      const key = readKeyFile(keyPath);
      const fingerprint = db.prepare("SELECT value FROM settings WHERE key = 'key.fingerprint'").pluck().get() as string | undefined;
      if (fingerprint !== undefined && !fingerprintMatches(key, fingerprint)) {
        throw new StoreError(`key file ${keyPath} belongs to another store`, 'key_mismatch');
      }
      return key;
    },
  };
}

/**
 * Whether no store is at `path`: nothing, or an empty file (which a writing command would make a
 * new store of); not what cannot be looked at (a directory of another user's), which the opening
 * then reports as it is, rather than as a store that is missing.
 */
function notThere(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isFile() && st.size === 0;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}

/** A store that is already there and up to date, for reading only: see OpenOptions.readOnly. */
function openReadOnly(path: string, options: OpenOptions): Store {
  // As PostgreSQL's says it of an empty database.
  if (notThere(path)) throw storeMissing(path);
  checkStoreFile(path, { create: false });
  let db: Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: READ_ONLY_BUSY_TIMEOUT_MS });
  } catch (e) {
    throw storeError(e, path);
  }
  try {
    const marked = identifyStore(db, path);
    if (!marked || db.pragma('user_version', { simple: true }) !== LATEST_VERSION) {
      throw new StoreError(`the store at ${path} must be brought up to date first (any tfactl command that writes does it)`, 'store_outdated');
    }
  } catch (e) {
    db.close();
    throw storeError(e, path);
  }
  return new SqliteStore(db, path, options);
}

/**
 * Whether the database SQLite opened at `path` may be used as a tfactl store, from reads only:
 * one marked with tfactl's APPLICATION_ID; one made before stores were marked (no application id,
 * user_version from 1, tfactl's tables), which the migration runner marks; or an empty one, which
 * becomes a new store. Anything else is refused (exit 6) and left exactly as it was. Returns true
 * when the store is already marked.
 */
function identifyStore(db: Database, path: string): boolean {
  // One read transaction: read one by one, another process making the store meanwhile would show
  // an unmarked version 0 with tables, which no store is.
  const { applicationId, version, names } = db
    .transaction(() => ({
      applicationId: db.pragma('application_id', { simple: true }) as number,
      version: db.pragma('user_version', { simple: true }) as number,
      names: new Set(db.prepare('SELECT name FROM sqlite_master').pluck().all() as string[]),
    }))
    .deferred();
  if (applicationId === APPLICATION_ID) return true;
  if (applicationId === 0) {
    if (version === 0 && names.size === 0) return false;
    if (version >= 1 && CORE_TABLES.every((t) => names.has(t))) return false;
  }
  throw new StoreError(`${path} is a SQLite database but not a tfactl store`, 'not_a_store');
}

const storeFileError = (message: string, problem: FileProblem) =>
  new StoreError(message, problem === 'file_permissions' ? 'store_permissions' : 'store_unavailable');

/**
 * Creates the store file (0600, in new 0700 directories) when missing and `create` is set, and
 * refuses a path SQLite must not be given: anything but a regular file this user may write (a
 * FIFO, /dev/null, a directory), or a store file, WAL or shared-memory file that its group or
 * others may read or write. Checked with our own calls, which fail at once, so SQLite never waits
 * on such a path.
 */
function checkStoreFile(path: string, { create }: { readonly create: boolean }): void {
  try {
    if (create) {
      makePrivateDirectories(dirname(path));
      closeSync(openSync(path, 'wx', 0o600));
    }
  } catch (e) {
    const { code, syscall, path: where } = e as NodeJS.ErrnoException;
    if (code !== 'EEXIST') {
      const detail = where !== undefined && where !== path ? ` (${syscall ?? 'creating'} ${where})` : '';
      // Denied, the store may well exist, in a directory of another user's: say only what is known.
      const what = code === 'EACCES' ? 'cannot open or create the store' : 'cannot create the store';
      // Most often another user's store (root's): its users reach it through its owner's service.
      const next = code === 'EACCES' ? ": it, or a directory above it, is not yours to open; another user's store is reached through its owner's tfactl service (--server SOCKET)" : '';
      throw new StoreError(`${what} at ${path}: ${errnoText(e)}${detail}${next}`, code === 'EACCES' ? 'store_permissions' : 'store_unavailable');
    }
  }
  // Never opened here: closing our descriptor would drop this process's SQLite locks on the file.
  checkFileUnopened(path, { name: 'the store', writable: true, private: true, fail: storeFileError });
  for (const [side, name] of [
    [`${path}-wal`, "the store's WAL file"],
    [`${path}-shm`, "the store's shared-memory file"],
  ] as const) {
    let mode: number;
    try {
      const st = statSync(side);
      if (!st.isFile()) throw storeFileError(`${name} ${side} is not a regular file`, 'file_error');
      // Made by this user, the store's owner or root, or put beside the store by someone else to read what is written to it.
      const owners = [0, process.geteuid?.(), statSync(path).uid];
      if (!owners.includes(st.uid)) throw storeFileError(`${name} ${side} belongs to uid ${st.uid}, not to the store's owner: another user put it there to read what the store writes; remove it`, 'file_permissions');
      mode = st.mode;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      throw e instanceof TfaError ? e : new StoreError(`cannot check ${name} ${side}: ${errnoText(e)}`, 'store_unavailable');
    }
    refuseOpenToOthers(side, name, mode, storeFileError);
  }
}

/** Turns SQLite and file system failures into one clear StoreError. */
function storeError(e: unknown, path: string): Error {
  if (e instanceof TfaError) return e;
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new StoreError(`the store at ${path} is damaged or not a tfactl store`, 'store_corrupt');
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreError(`the store at ${path} stayed locked by another process for too long`, 'store_busy');
  }
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM')) {
    return new StoreError(`cannot write the store at ${path} (${code})`, 'store_unavailable');
  }
  if (code.startsWith('SQLITE_FULL')) {
    return new StoreError(`the disk holding the store at ${path} is full (${code}): what was being written was not; free some space and run the command again`, 'store_full');
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return new NotFoundError(VANISHED, 'not_found');
  if (code.startsWith('SQLITE_')) return new StoreError(`store error at ${path}: ${code}`, 'store_error');
  return e instanceof Error ? e : new Error(String(e));
}


/**
 * The connections of this process to one store file (tfactl serve keeps several). SQLite's busy
 * wait blocks the thread: a statement waiting in SQLite for another connection of the same process
 * would hold up the very code that is to end that connection's transaction, until the busy timeout.
 * So a transaction holds its file's gate from BEGIN to COMMIT, and a statement of another connection
 * of this process waits for the gate instead. Processes still wait for each other in SQLite.
 */
class ProcessGate {
  holder: SqliteStore | null = null;
  private waiting: (() => void)[] = [];

  /**
   * Null when `who` may go on now, else a promise of the next release (then ask again). It fails
   * as SQLite's own wait would, after BUSY_TIMEOUT_MS: a wait that never ends (a transaction that
   * waits for another connection of its own process) must not hang the process.
   */
  busyFor(who: SqliteStore): Promise<void> | null {
    if (this.holder === null || this.holder === who) return null;
    return new Promise((resolve, reject) => {
      const holder = this.holder;
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter((w) => w !== wake);
        // A connection waiting for its own unit of work: a call on the store, not on the unit, from inside it.
        const own = holder !== null && Object.getPrototypeOf(holder) === who;
        reject(
          own
            ? new StoreError(`a store call waited for a unit of work of its own connection (inside a transaction, use the store it is given): ${who.path}`, 'store_busy')
            : new StoreError(`the store at ${who.path} stayed locked by another process for too long`, 'store_busy'),
        );
      }, BUSY_TIMEOUT_MS);
      timer.unref();
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiting.push(wake);
    });
  }

  async take(who: SqliteStore): Promise<void> {
    for (let busy = this.busyFor(who); busy; busy = this.busyFor(who)) await busy;
    this.holder = who;
  }

  release(): void {
    this.holder = null;
    const woken = this.waiting;
    this.waiting = [];
    for (const wake of woken) wake();
  }
}

const gates = new Map<string, ProcessGate>();

function gateOf(path: string): ProcessGate {
  const key = resolve(path);
  let gate = gates.get(key);
  if (!gate) gates.set(key, (gate = new ProcessGate()));
  return gate;
}

class SqliteStore extends SqlStore {
  /** A file's connection is never lost. */
  readonly connectionLost = false;
  private readonly gate: ProcessGate;
  /** Set when its WAL is checkpointed in the background (OpenOptions.backgroundCheckpoints). */
  checkpoints: BackgroundCheckpoints | null = null;

  constructor(
    private readonly db: Database,
    readonly path: string,
    /** How this store was opened: the key file and randomness for migrating a backup being restored. */
    private readonly options: OpenOptions,
  ) {
    super();
    this.gate = gateOf(path);
  }

  protected sql(text: string): SqlStatement {
    const call =
      <T>(fn: (s: BetterSqlite3.Statement, params: unknown[]) => T) =>
      (...params: unknown[]): Promise<T> =>
        this.run(() => fn(this.statement(text), params));
    return {
      get: call((s, p) => s.get(...p)) as SqlStatement['get'],
      all: call((s, p) => s.all(...p)) as SqlStatement['all'],
      run: call((s, p) => ({ changes: s.run(...p).changes })),
      pluck: () => ({
        get: call((s, p) => s.pluck().get(...p)) as SqlStatement['get'],
        all: call((s, p) => s.pluck().all(...p)) as SqlStatement['all'],
      }),
    };
  }

  /** A user's audit entries through both indexes, merged in id order (sql-store.ts auditMatching). */
  protected readonly auditByUnion = true;

  /**
   * All the rows of `sql`, a page of a listing (sql-store.ts LISTING_PAGE), read before any is
   * handed out: the statement is done, and the read over, when this returns. Rows come as arrays
   * and are made objects here: better-sqlite3 builds each row object property by property through
   * V8's API, twice as slow as this over a 200,000-row listing.
   */
  protected async page<T>(sql: string, params: Record<string, unknown>): Promise<T[]> {
    return this.run(() => {
      const statement = this.statement(sql).raw();
      const names = statement.columns().map((c) => c.name);
      return (statement.all(params) as unknown[][]).map((values) => {
        const row: Record<string, unknown> = {};
        for (let i = 0; i < names.length; i++) row[names[i] as string] = values[i];
        return row as T;
      });
    });
  }

  /** Prepared statements by their SQL: preparing costs more than running most of ours. */
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  /**
   * The prepared statement for `sql`, made once per connection: a bulk import runs the same few
   * statements hundreds of thousands of times, and preparing each anew took most of its time. It
   * comes back in its default mode (objects, not plucked or raw) whatever a caller set before.
   * Not for iterate(): an iterated statement is busy until the iteration ends.
   */
  private statement(sql: string): BetterSqlite3.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    } else if (s.reader) {
      s.pluck(false).raw(false).expand(false);
    }
    return s;
  }

  /** Runs a statement (once no other connection of this process is in a transaction), turning driver errors into StoreErrors. */
  private run<T>(fn: () => T): Promise<T> {
    const busy = this.gate.busyFor(this);
    if (busy) return busy.then(() => this.run(fn));
    try {
      const result = fn();
      // Outside a unit of work a statement commits on its own (a read says so too: a spare
      // checkpoint that finds nothing to copy costs less than telling the two apart).
      if (this.checkpoints !== null && !this.db.inTransaction) this.checkpoints.written();
      return Promise.resolve(result);
    } catch (e) {
      return Promise.reject(storeError(e, this.path));
    }
  }

  /** Transactions of this connection, one after another (several tasks of one process may ask at once). */
  private queue: Promise<unknown> = Promise.resolve();

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    const run = this.queue.then(() => this.runTransaction(fn));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The unit of work a transaction hands to its function: this connection, but a store of its own,
   * which holds the gate. The connection's own store waits for the unit to end like any other
   * connection would, as on a backend where a transaction is a connection of its own (PostgreSQL):
   * a write that should be in the unit but goes to the store is found here too, not only there.
   */
  private unitOfWork(): SqliteStore {
    const unit = Object.create(this) as SqliteStore;
    // Inside a unit, a transaction is a savepoint of it (SQLite has no nested BEGIN): what it wrote
    // is undone if it throws, the rest of the unit stays.
    let savepoints = 0;
    const nested = async <T>(fn: (tx: Store) => Promise<T>): Promise<T> => {
      const name = `nested_${++savepoints}`;
      await unit.run(() => this.db.exec(`SAVEPOINT ${name}`));
      try {
        const result = await fn(unit);
        await unit.run(() => this.db.exec(`RELEASE ${name}`));
        return result;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
        throw e;
      }
    };
    Object.defineProperty(unit, 'transaction', { value: nested });
    return unit;
  }

  private async runTransaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    const unit = this.unitOfWork();
    await this.gate.take(unit);
    try {
      const asked = performance.now();
      await this.beginWrite(unit);
      // A Ctrl-C or SIGTERM is delivered when the event loop turns: turned here after a wait,
      // before anything is written, it ends the run (exit 130) rather than letting it commit.
      if (performance.now() - asked > LOCK_WAITED_MS) await new Promise((turned) => setImmediate(turned));
      try {
        const result = await fn(unit);
        await unit.run(() => this.db.exec('COMMIT'));
        return result;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
    } finally {
      this.gate.release();
    }
  }

  /**
   * Takes the write lock (BEGIN IMMEDIATE), waiting for another process's between tries on the
   * event loop rather than in SQLite's busy handler, which blocks the whole process: a Ctrl-C or
   * SIGTERM meanwhile is heard at once (exit 130), not once the lock came free or the busy timeout
   * ran out (store_busy, exit 6). It waits as long as the connection's busy timeout, as before.
   */
  private async beginWrite(unit: SqliteStore): Promise<void> {
    const usual = this.db.pragma('busy_timeout', { simple: true }) as number;
    const deadline = performance.now() + usual;
    this.db.pragma(`busy_timeout = ${LOCK_POLL_MS}`);
    try {
      for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
        try {
          await unit.run(() => this.db.exec('BEGIN IMMEDIATE'));
          return;
        } catch (e) {
          if (!(e instanceof StoreError && e.code === 'store_busy') || performance.now() >= deadline) throw e;
        }
        await new Promise((later) => setTimeout(later, wait));
      }
    } finally {
      this.db.pragma(`busy_timeout = ${usual}`);
    }
  }

  backupImage(): Promise<Buffer> {
    // One statement's read transaction: the pages of one moment, the WAL's included.
    return this.run(() => this.db.serialize());
  }

  async readBackup(image: Buffer, path: string): Promise<BackupCopy> {
    return readBackupImage(image, path);
  }

  async restoreFrom(copy: BackupCopy, now: number) {
    // The copy is in memory (never a second copy of the secrets on disk, not even for a moment) and
    // is brought up to this tfactl's schema there. Then one IMMEDIATE transaction on this
    // connection replaces the contents: no other process writes in between, so a code or key used
    // a moment before stays used, and others see the old store or the restored one.
    const staged = await stageBackup(copy, now, this.options);
    return this.run(() =>
      this.db
        .transaction(() => {
          const effect = restoreEffect(accessRowsOf(this.db), accessRowsOf(staged), now, staged.held);
          return { ...effect, auditEntries: this.replaceWith(staged) };
        })
        .immediate(),
    );
  }

  async previewRestore(copy: BackupCopy, now: number) {
    const staged = await stageBackup(copy, now, this.options);
    // One read transaction: the store's rows as of one moment.
    return this.run(() =>
      this.db
        .transaction(() => {
          return { ...restoreEffect(accessRowsOf(this.db), accessRowsOf(staged), now, staged.held), auditEntries: sizeOf(this.auditToAppend(staged)) };
        })
        .deferred(),
    );
  }

  /** The staged backup's audit entries this store's trail lacks (audit-merge.ts), read as they are taken. */
  private auditToAppend(staged: Database): Generator<AuditRow> {
    // The store's entries of a second are read before any of that second's is appended.
    const at = this.statement('SELECT actor, action, target, outcome, detail, ts FROM audit WHERE ts = ?');
    const backup = staged.prepare('SELECT * FROM audit ORDER BY ts, id').iterate() as IterableIterator<AuditRow>;
    return auditEntriesToAppend(backup, (ts) => at.all(ts) as AuditRow[]);
  }

  /**
   * Inside restoreFrom's transaction: `staged`'s rows replace this store's, except what must
   * outlive a restore. Whatever was spent stays spent: the backup's replay ledger is merged into
   * this one (migration 8), which holds every TOTP step, YubiKey counter and recovery key used
   * here, of factors deleted or replaced since the backup too, and the merged ledger is then
   * applied to the restored factors. Lockouts stay (a restore never lifts one), and the audit
   * trail stays, with any entries only the backup has added to it (returns how many).
   */
  private replaceWith(staged: Database & StagedBackup): number {
    const merge = this.statement(
      `INSERT INTO replay_ledger (factor_id, guard, slot, spent, userid, device) VALUES (@factor_id, @guard, @slot, @spent, @userid, @device)
       ON CONFLICT (factor_id, guard, slot) DO UPDATE SET spent = max(spent, excluded.spent)`,
    );
    for (const row of staged.prepare('SELECT factor_id, guard, slot, spent, userid, device FROM replay_ledger').iterate()) merge.run(row);
    // Only users with something to keep: max() with zeros changes nothing, and a store of a million
    // users has few locked.
    const locks = this.statement(
      `SELECT userid, tfa_failures, tfa_locked_until, totp_failures, totp_locked FROM users
       WHERE tfa_failures > 0 OR tfa_locked_until > 0 OR totp_failures > 0 OR totp_locked > 0`,
    ).all();
    // Children first when emptying, parents first when filling. Deleting leaves the ledger alone;
    // filling records the backup's own guards in it (its triggers).
    for (const t of [...RESTORED_TABLES].reverse()) this.db.exec(`DELETE FROM ${t}`);
    for (const t of RESTORED_TABLES) {
      const columns = (this.db.pragma(`table_info(${t})`) as { name: string }[]).map((c) => `"${c.name}"`);
      const insert = this.statement(`INSERT INTO ${t} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`);
      for (const row of staged.prepare(`SELECT ${columns.join(', ')} FROM ${t}`).raw().iterate()) insert.run(...(row as unknown[]));
    }
    this.applyReplayLedger();
    this.db.prepare(DROP_ORPHAN_CHALLENGES).run();
    const lock = this.statement(
      `UPDATE users SET tfa_failures = max(tfa_failures, @tfa_failures), tfa_locked_until = max(tfa_locked_until, @tfa_locked_until),
         totp_failures = max(totp_failures, @totp_failures), totp_locked = max(totp_locked, @totp_locked)
       WHERE userid = @userid`,
    );
    for (const l of locks) lock.run(l);
    const append = this.statement('INSERT INTO audit (id, ts, actor, action, target, outcome, detail) VALUES (@id, @ts, @actor, @action, @target, @outcome, @detail)');
    const oldest = this.statement('SELECT min(id) FROM audit').pluck().get() as number | null;
    let appended = 0;
    for (const a of this.auditToAppend(staged)) {
      append.run({ ...a, id: restoredAuditId(a.id, oldest) });
      appended++;
    }
    return appended;
  }

  /**
   * Makes every factor at least as spent as the replay ledger says, never less: a TOTP factor's
   * last step and a YubiKey's last counter rise to the highest the ledger holds, and a recovery
   * key the ledger has seen used loses its hash. A WebAuthn or U2F signature counter rises the
   * same way, by factor and by credential id. A YubiKey counter is the physical key's, so a
   * factor also takes the counters spent by the same key (same user, same public id) under other
   * factors: a key deleted and added again after the backup, then used, leaves the restored
   * factor behind those OTPs. Kept to the user's own keys, so nobody can make another user's key
   * look spent by registering its public id with key material of their own.
   */
  private applyReplayLedger(): void {
    for (const statement of APPLY_REPLAY_LEDGER) this.db.exec(statement);
  }

  close() {
    this.db.close();
    this.checkpoints?.release();
  }

  ownCheckpoints(on: boolean) {
    this.db.pragma(`wal_autocheckpoint = ${on ? DEFAULT_AUTOCHECKPOINT_PAGES : 0}`);
  }
}

/**
 * Checks a file before it is restored: a SQLite database that passes integrity_check, with
 * tfactl's tables, from this or an older tfactl. Never throws for bad files: says why instead.
 */
/** A backup file read into memory (Store.readBackup), with what its inspection found. */
class MemoryBackup implements BackupCopy {
  constructor(
    readonly path: string,
    readonly db: Database | null,
    readonly inspection: BackupInspection,
  ) {}

  *sealedSecrets(): Iterable<SealedSecretRow> {
    const db = this.db;
    if (db === null) return;
    // A backup without these (schema 1 had no factors) has none to open; one that lacks them
    // where its version says it has them is refused when it is staged.
    const has = (table: string, column: string) => (db.pragma(`table_info(${table})`) as { name: string }[]).some((c) => c.name === column);
    if (!has('factors', 'secret') || !has('factors', 'userid') || !has('factors', 'type')) return;
    for (const f of db.prepare('SELECT id, userid, type, secret FROM factors WHERE secret IS NOT NULL').iterate() as IterableIterator<{ id: string; userid: string; type: string; secret: Buffer }>) {
      yield { kind: 'factor', userid: f.userid, id: f.id, type: f.type, sealed: f.secret };
    }
    // A realm's API key column came with schema 3.
    if (!has('realms', 'yubico_api_key')) return;
    for (const r of db.prepare('SELECT name, yubico_api_key FROM realms WHERE yubico_api_key IS NOT NULL').iterate() as IterableIterator<{ name: string; yubico_api_key: Buffer }>) {
      yield { kind: 'realm', realm: r.name, sealed: r.yubico_api_key };
    }
  }

  close(): void {
    this.db?.close();
  }
}

/** A backup file read into memory and inspected (Store.readBackup, either backend's). */
export function readBackupImage(image: Buffer, path: string): BackupCopy {
  let db: Database | null = null;
  try {
    db = imageDatabase(image);
    return new MemoryBackup(path, db, inspectDatabase(db));
  } catch (e) {
    db?.close();
    return new MemoryBackup(path, null, unreadable(e));
  }
}

/** The rows that grant access (domain/restore-revival.ts): the queries, on either backend. */
export const ACCESS_QUERIES = {
  root: `SELECT created FROM users WHERE userid = '${ROOT_USERID}'`,
  users: 'SELECT userid, created, modified, admin, enabled, expire, password_hash FROM users',
  factors: 'SELECT id, userid, type, enabled FROM factors',
  tokens: 'SELECT userid, name, secret_hash, privileges, expires FROM api_tokens',
  realms: 'SELECT name, enforce FROM realms',
  settings: 'SELECT key, value FROM settings',
} as const;

/** A SQLite database's rows that grant access, read as they are asked for (a store's, or a staged backup's). */
export function accessRowsOf(db: Database): AccessRows {
  const rows = <T>(sql: string) => () => db.prepare(sql).iterate() as IterableIterator<T>;
  return {
    rootCreated: db.prepare(ACCESS_QUERIES.root).pluck().get() as number | undefined,
    users: rows<UserAccessRow>(ACCESS_QUERIES.users),
    factors: rows<FactorAccessRow>(ACCESS_QUERIES.factors),
    tokens: rows<TokenAccessRow>(ACCESS_QUERIES.tokens),
    realms: rows<RealmAccessRow>(ACCESS_QUERIES.realms),
    settings: rows<SettingRow>(ACCESS_QUERIES.settings),
  };
}

/** A backup brought up to this tfactl's schema and checked, ready to be restored (either backend). */
export interface StagedBackup {
  /** The rows of `table`, by column name. */
  rows(table: string): IterableIterator<Record<string, unknown>>;
  /** The columns of `table` in this schema. */
  columns(table: string): readonly string[];
  /** The TOTP steps of a time still to come, held to now in the staged copy. */
  readonly held: readonly HeldStep[];
}

/**
 * Brings an accepted backup copy (readBackupImage) up to this tfactl's schema, in memory, and
 * checks what a restore relies on: the tables and columns, canonical names, and that every row
 * refers to rows it has. Refusals are StoreErrors naming the file.
 */
export async function stageBackup(copy: BackupCopy, now: number, options: OpenOptions): Promise<Database & StagedBackup> {
  if (!(copy instanceof MemoryBackup) || copy.db === null || !copy.inspection.ok) throw new Error('restoreFrom: not an accepted backup copy');
  const staged = copy.db;
  const migrations = await loadMigrations();
  try {
    migrate(staged, now, migrations, await migrationContext(staged, options));
  } catch (e) {
    if (e instanceof StoreError) throw new StoreError(`refusing to restore ${copy.path}: ${e.message}`, 'backup_invalid');
    // tfactl's migrations take every store tfactl wrote: one they fail on has tables its schema
    // version never had (SQLite's words say which).
    const why = (e as { code?: unknown }).code !== undefined && e instanceof Error ? (e.message.split('\n')[0] ?? '') : null;
    if (why !== null) throw new StoreError(`refusing to restore ${copy.path}: its tables are not those of its schema version (bringing it up to date failed: ${escapeText(why)})`, 'backup_invalid');
    throw e;
  }
  const unlike = shapeProblem(staged, migrations);
  if (unlike !== null) throw new StoreError(`refusing to restore ${copy.path}: ${unlike}`, 'backup_invalid');
  // Once brought up to date, every name is canonical; one that is not was written by hand, and
  // could stand beside the user it imitates.
  let odd: string | undefined;
  for (const name of staged.prepare('SELECT userid FROM users UNION ALL SELECT name FROM realms').pluck().iterate() as IterableIterator<string>) {
    if (canonicalName(name) === name) continue;
    odd = name;
    break;
  }
  if (odd !== undefined) {
    throw new StoreError(`refusing to restore ${copy.path}: it holds the name ${JSON.stringify(escapeText(odd))}, which is not in canonical form (lower case, NFKC)`, 'backup_invalid');
  }
  const refused = valueProblem(staged);
  if (refused !== null) throw new StoreError(`refusing to restore ${copy.path}: ${refused}`, 'backup_invalid');
  // Staged twice (a restore's preview, then the restore): what the first held is said again.
  const held = [...((staged as Partial<StagedBackup>).held ?? []), ...holdFutureSteps(staged, now)];
  let broken: { table: string }[];
  try {
    broken = staged.pragma('foreign_key_check') as { table: string }[];
  } catch (e) {
    // Keys edited (a users table without its primary key): SQLite cannot even check them.
    throw new StoreError(`refusing to restore ${copy.path}: its tables are not as tfactl makes them (${escapeText(oneLineShort(String((e as Error).message)))})`, 'backup_invalid');
  }
  if (broken.length > 0) {
    throw new StoreError(`refusing to restore ${copy.path}: ${countOf(broken.length, 'row')} in ${broken[0]?.table} ${broken.length === 1 ? 'refers' : 'refer'} to rows it does not have`, 'backup_invalid');
  }
  const columns = (table: string) => (staged.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
  return Object.assign(staged, {
    held,
    columns,
    rows: (table: string) => staged.prepare(`SELECT ${columns(table).map((c) => `"${c}"`).join(', ')} FROM ${table}${table === 'audit' ? ' ORDER BY ts, id' : ''}`).iterate() as IterableIterator<Record<string, unknown>>,
  });
}

/** A value of a backup as a refusal names it: quoted, its unsafe characters escaped. */
const shown = (value: unknown) => JSON.stringify(escapeText(String(value)));

/**
 * A value of `staged` that tfactl's own commands refuse, or null: a setting `settings set` would
 * not take, an expiry that is no date (read as "never", it would bring a user or token back for
 * good). Such a file was edited by hand.
 */
function valueProblem(staged: Database): string | null {
  const settings = new Map<string, unknown>();
  for (const { key, value } of staged.prepare('SELECT key, value FROM settings').iterate() as IterableIterator<{ key: string; value: unknown }>) {
    const why = storedSettingProblem(key, value);
    if (why !== null) {
      return Object.hasOwn(SETTINGS, key) ? `its setting ${key} is ${shown(value)}, which settings set refuses (${why})` : `it holds a setting ${shown(key)}: ${why}`;
    }
    settings.set(key, value);
  }
  const names = nameProblem(staged);
  if (names !== null) return names;
  const damage = damagedRow(staged);
  if (damage !== null) return damage;
  for (const { userid, hash } of staged.prepare('SELECT userid, password_hash AS hash FROM users WHERE password_hash IS NOT NULL').iterate() as IterableIterator<{ userid: string; hash: unknown }>) {
    const why = typeof hash === 'string' ? passwordHashProblem(hash) : 'it is not text';
    if (why !== null) return `the password hash of user ${shown(userid)} is refused: ${why}`;
  }
  // The one rule between two settings (settings set keeps it): every password would be refused.
  const length = (key: string) => Number(settings.get(key) ?? SETTINGS[key]?.defaultValue(''));
  if (length('password.min-length') > length('password.max-length')) return 'its password.min-length is more than its password.max-length, which settings set refuses';
  const isDate = (value: unknown) => {
    try {
      return typeof value === 'string' && parseDate(value) === value;
    } catch {
      return false;
    }
  };
  const spent = spentProblem(staged);
  if (spent !== null) return spent;
  const audit = auditProblem(staged);
  if (audit !== null) return audit;
  for (const [sql, what] of [
    ['SELECT userid AS name, expire FROM users WHERE expire IS NOT NULL', 'user'],
    ["SELECT userid || '!' || name AS name, expires AS expire FROM api_tokens WHERE expires IS NOT NULL", 'API token'],
  ] as const) {
    for (const { name, expire } of staged.prepare(sql).iterate() as IterableIterator<{ name: string; expire: unknown }>) {
      if (!isDate(expire)) return `the expiry date of ${what} ${shown(name)} is ${shown(expire)}, not a date (YYYY-MM-DD)`;
    }
  }
  return null;
}


/**
 * What was spent, as no command writes it: a recovery key slot past MAX_RECOVERY_SLOTS or a hash
 * that is no HMAC-SHA256 (a key that can never work). Null when there is none. (A TOTP step of a
 * time still to come is held to now instead: holdFutureSteps.)
 */
function spentProblem(staged: Database): string | null {
  const slot = staged
    .prepare(`SELECT factor_id, slot, hash FROM recovery_slots WHERE slot >= ${MAX_RECOVERY_SLOTS} OR (hash IS NOT NULL AND (typeof(hash) <> 'text' OR length(hash) <> 64 OR hash GLOB '*[^0-9a-f]*')) LIMIT 1`)
    .get() as { factor_id: string; slot: number; hash: unknown } | undefined;
  if (slot) {
    return slot.slot >= MAX_RECOVERY_SLOTS
      ? `its recovery keys ${shown(slot.factor_id)} have a slot ${slot.slot} (tfactl keeps at most ${MAX_RECOVERY_SLOTS})`
      : `its recovery key ${shown(slot.factor_id)} slot ${slot.slot} has a hash that is no HMAC-SHA256 (64 hex digits)`;
  }
  return null;
}

/**
 * Holds, in the staged copy, every TOTP step it says was spent at a time still to come (more than
 * STEP_SLACK_SECONDS ahead: a sign-in while this host's clock, or the backed-up one's, ran ahead)
 * to the step of now, as `import proxmox` holds a last-count: restored as it is, it would refuse
 * every code of the factor, and of its secret added again (the ledger keeps it), until then. A
 * ledger row is held to the step of now of the longest period among the factors it raises (its
 * own, or those its secret's mark names: applyReplayLedger), or of the shortest period when there
 * is none. The factors first: raising one's step writes its ledger row (a trigger).
 */
function holdFutureSteps(staged: Database, now: number): HeldStep[] {
  const held: HeldStep[] = [];
  const factors = staged
    .prepare(`SELECT id, userid, last_step, period FROM factors WHERE type = 'totp' AND last_step IS NOT NULL AND last_step > (@now + ${STEP_SLACK_SECONDS}) / period ORDER BY userid, id`)
    .all({ now }) as { id: string; userid: string; last_step: number; period: number }[];
  const setStep = staged.prepare('UPDATE factors SET last_step = ? WHERE id = ?');
  for (const f of factors) {
    const heldTo = Math.floor(now / f.period);
    setStep.run(heldTo, f.id);
    held.push({ userid: f.userid, factor: f.id, step: f.last_step, heldTo });
  }
  const period = `COALESCE((SELECT max(f.period) FROM factors f WHERE f.type = 'totp' AND (f.id = l.factor_id OR (f.userid = l.userid AND f.secret_mark = l.device))), ${MIN_PERIOD})`;
  const ledger = staged
    .prepare(
      `SELECT l.factor_id, l.slot, l.userid, l.spent, ${period} AS period FROM replay_ledger l
       WHERE l.guard = 'totp-step' AND l.spent > (@now + ${STEP_SLACK_SECONDS}) / ${period} ORDER BY l.userid, l.factor_id`,
    )
    .all({ now }) as { factor_id: string; slot: number; userid: string; spent: number; period: number }[];
  const setSpent = staged.prepare("UPDATE replay_ledger SET spent = ? WHERE factor_id = ? AND guard = 'totp-step' AND slot = ?");
  const named = new Set(held.map((h) => h.factor));
  for (const l of ledger) {
    const heldTo = Math.floor(now / l.period);
    setSpent.run(heldTo, l.factor_id, l.slot);
    // A factor's own row was held with it above: said once.
    if (!named.has(l.factor_id)) held.push({ userid: l.userid, factor: l.factor_id, step: l.spent, heldTo });
  }
  return held;
}

/** An audit entry `tfactl audit` could not show (its detail not JSON, a NUL in its text): restored, the trail would fail to list. */
function auditProblem(staged: Database): string | null {
  for (const row of staged.prepare('SELECT id, actor, action, target, outcome, detail FROM audit').iterate() as IterableIterator<Record<string, unknown>>) {
    const text = [row.actor, row.action, row.target, row.outcome, row.detail];
    if (text.some((v) => typeof v === 'string' && v.includes('\0'))) return `its audit entry ${String(row.id)} holds a NUL character`;
    if (!row.detail) continue;
    try {
      JSON.parse(String(row.detail));
    } catch {
      return `its audit entry ${String(row.id)} has a detail that is not JSON`;
    }
  }
  return null;
}

/**
 * A realm or user whose name no command would take (a blank in a realm name, a user id without
 * its realm or in another realm than its own, a built-in realm other than `local`), or null.
 * Restored, it could be listed but neither shown nor deleted, or block deleting its realm.
 */
function nameProblem(staged: Database): string | null {
  const refused = (parse: () => unknown): string | null => {
    try {
      parse();
      return null;
    } catch (e) {
      if (e instanceof TfaError) return e.message;
      throw e;
    }
  };
  for (const { name, builtin } of staged.prepare('SELECT name, builtin FROM realms').iterate() as IterableIterator<{ name: string; builtin: number }>) {
    const why = refused(() => parseRealmName(name));
    if (why !== null) return `its realm ${shown(name)} is no realm name tfactl takes (${why})`;
    if (builtin !== 0 && name !== 'local') return `its realm ${shown(name)} is marked built in, which only local is`;
  }
  for (const { userid, realm } of staged.prepare('SELECT userid, realm FROM users').iterate() as IterableIterator<{ userid: string; realm: string }>) {
    let id: { id: string; realm: string } | undefined;
    const why = refused(() => (id = parseUserId(userid)));
    if (why !== null || id?.id !== userid) return `its user ${shown(userid)} is no user id tfactl takes (${why ?? `it would be ${shown(id?.id)}`})`;
    if (id.realm !== realm) return `its user ${shown(userid)} is in realm ${shown(realm)}, not in the realm its id names`;
  }
  return null;
}

/** Integer columns that hold a time (epoch seconds): a date must be able to show them. */
const TIME_COLUMNS = new Set(['created', 'modified', 'last_used', 'tfa_locked_until']);

const INT32_MAX = 2_147_483_647;

/**
 * Integer columns with a narrower range than any whole number: what tfactl's commands (and
 * imports) ever write there, within the 32 bits PostgreSQL keeps them in (postgres-schema.ts), so
 * a backup restores into either backend or is refused by both. Columns of 0 or 1 and the TOTP
 * digits have CHECK constraints of their own.
 */
const INTEGER_BOUNDS: readonly (readonly [table: string, column: string, rowName: string, low: number, high: number])[] = [
  ['factors', 'period', 'id', 10, 300],
  ['realms', 'totp_step', 'name', 10, 300],
  ['users', 'totp_failures', 'userid', 0, INT32_MAX],
  ['users', 'tfa_failures', 'userid', 0, INT32_MAX],
  ['recovery_slots', 'slot', "factor_id || ' slot ' || slot", 0, INT32_MAX],
  ['replay_ledger', 'slot', "factor_id || ' slot ' || slot", -INT32_MAX - 1, INT32_MAX],
];

/** How a row of each restored table is named in a refusal. */
const ROW_NAMES: Readonly<Record<(typeof RESTORED_TABLES)[number], string>> = {
  settings: 'key',
  realms: 'name',
  users: 'userid',
  factors: 'id',
  recovery_slots: "factor_id || ' slot ' || slot",
  api_tokens: "userid || '!' || name",
};

/**
 * A row of `staged` the store would read back as damage (sql-store.ts: a factor without what its
 * kind needs, a time no date can show), or an integer column holding what is no whole number
 * JavaScript can hold (a value SQLite keeps as text or REAL, or past 2^53): restored, it would
 * fail every command that reads it, or the restore itself on a column that is STRICT. Null when
 * there is none.
 */
function damagedRow(staged: Database): string | null {
  for (const table of RESTORED_TABLES) {
    const integers = (staged.pragma(`table_info(${table})`) as { name: string; type: string }[]).filter((c) => c.type.toUpperCase() === 'INTEGER').map((c) => c.name);
    if (integers.length === 0) continue;
    for (const row of staged.prepare(`SELECT ${ROW_NAMES[table]} AS row_name, ${integers.map((c) => `"${c}"`).join(', ')} FROM ${table}`).iterate() as IterableIterator<Record<string, unknown>>) {
      for (const column of integers) {
        const value = row[column];
        if (value === null) continue;
        const whole = typeof value === 'number' && Number.isSafeInteger(value);
        if (!whole || (TIME_COLUMNS.has(column) && !isStoredTime(value))) {
          return `its ${table} row ${JSON.stringify(escapeText(String(row.row_name)))} holds ${JSON.stringify(escapeText(String(value)))} in ${column}, ${whole ? 'a time no date can show' : 'which is no whole number tfactl stores'}`;
        }
      }
    }
  }
  for (const [table, column, rowName, low, high] of INTEGER_BOUNDS) {
    const row = staged.prepare(`SELECT ${rowName} AS row_name, "${column}" AS value FROM ${table} WHERE "${column}" < ? OR "${column}" > ? LIMIT 1`).get(low, high) as
      | { row_name: unknown; value: unknown }
      | undefined;
    if (row !== undefined) {
      return `its ${table} row ${JSON.stringify(escapeText(String(row.row_name)))} holds ${JSON.stringify(escapeText(String(row.value)))} in ${column}, outside what tfactl stores there (${low} to ${high})`;
    }
  }
  // A realm's validation URLs as set-yubico stores them: JSON the realm is read back from, and URLs
  // realm show prints (none with a password in it).
  for (const realm of staged.prepare("SELECT name, yubico_urls FROM realms WHERE yubico_mode = 'online'").iterate() as IterableIterator<{ name: string; yubico_urls: string | null }>) {
    const problem = storedValidationUrlsProblem(realm.yubico_urls ?? '');
    if (problem !== null) return `its realm ${JSON.stringify(escapeText(realm.name))} is damaged: ${problem}`;
  }
  const factor = staged
    .prepare(
      `SELECT id, type FROM factors WHERE
         (type IN ('totp', 'recovery') AND secret IS NULL)
         OR (type = 'totp' AND (algorithm IS NULL OR digits IS NULL OR period IS NULL))
         OR (type = 'yubico' AND public_id IS NULL) LIMIT 1`,
    )
    .get() as { id: string; type: string } | undefined;
  return factor === undefined ? null : `its ${factor.type} factor ${JSON.stringify(escapeText(factor.id))} lacks what a ${factor.type} factor has (its secret, or its parameters)`;
}

/**
 * What `staged` (brought up to date) lacks of the tables and columns a restore reads from it, or
 * null: compared with an empty store of this tfactl, made in memory. A file that claims this
 * schema but lacks them was not written by tfactl.
 */
function shapeProblem(staged: Database, migrations: Parameters<typeof migrate>[2]): string | null {
  const reference = new Database(':memory:');
  try {
    migrate(reference, 0, migrations);
    for (const table of [...RESTORED_TABLES, 'replay_ledger', 'audit']) {
      const has = new Set((staged.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name));
      if (has.size === 0) return `it has no table ${table}`;
      const wanted = (reference.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
      const missing = wanted.find((c) => !has.has(c));
      if (missing) return `its table ${table} has no column ${missing}`;
      const extra = [...has].find((c) => !wanted.includes(c));
      if (extra !== undefined) return `its table ${table} has a column ${JSON.stringify(escapeText(extra))} that tfactl never made`;
    }
    // Tables, views and triggers of its own: a restore would drop them unsaid (and a trigger would
    // run on the staged copy's writes).
    const objects = (db: Database) => db.prepare("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view', 'trigger') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").all() as { type: string; name: string }[];
    const known = new Set(objects(reference).map((o) => `${o.type} ${o.name}`));
    const stranger = objects(staged).find((o) => !known.has(`${o.type} ${o.name}`));
    if (stranger) return `it has a ${stranger.type} ${JSON.stringify(escapeText(stranger.name))} that tfactl never made`;
    return null;
  } finally {
    reference.close();
  }
}

/** The first line of `text`, cut at 200 characters. */
const oneLineShort = (text: string): string => {
  const first = text.split('\n')[0] ?? '';
  return first.length > 200 ? `${first.slice(0, 200)}...` : first;
};

const badBackup = (problem: string): BackupInspection => ({ ok: false, problem, version: 0, keyFingerprint: null, users: 0 });

function unreadable(e: unknown): BackupInspection {
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return badBackup('it is damaged or not a SQLite database');
  if (code === 'SQLITE_CANTOPEN') return badBackup('it cannot be opened');
  return badBackup(`it cannot be read (${code || String(e)})`);
}

/** What restoring `db` would mean: is it whole, a tfactl store, from this or an older tfactl, and whose key. */
function inspectDatabase(db: Database): BackupInspection {
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    // Only the first of what the check found: it may list thousands of pages, all on one line.
    if (integrity !== 'ok') return badBackup(`it is damaged (integrity check: ${oneLineShort(String(integrity))})`);
    const version = db.pragma('user_version', { simple: true }) as number;
    const applicationId = db.pragma('application_id', { simple: true }) as number;
    const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
    const foreign = applicationId !== 0 && applicationId !== APPLICATION_ID;
    if (foreign || version < 1 || !CORE_TABLES.every((t) => tables.has(t))) return badBackup('it is not a tfactl store');
    if (version > LATEST_VERSION) return badBackup(`it was written by a newer tfactl (schema ${version})`);
    const unsafe = unsafeText(db, tables);
    if (unsafe) return badBackup(unsafe);
    const builtins = builtinsProblem(db);
    if (builtins !== null) return badBackup(builtins);
    const fingerprint = db.prepare("SELECT value FROM settings WHERE key = 'key.fingerprint'").pluck().get() as string | undefined;
    const users = db.prepare('SELECT count(*) FROM users').pluck().get() as number;
    return { ok: true, version, keyFingerprint: fingerprint ?? null, users };
  } catch (e) {
    return unreadable(e);
  }
}

/** The tables whose text a restore brings back, each with the column that names a row. */
const TEXT_CHECKED: readonly (readonly [table: string, key: string])[] = [
  ['users', 'userid'],
  ['realms', 'name'],
  ['factors', 'id'],
  ['settings', 'key'],
  ['api_tokens', 'name'],
];

/**
 * Says where a backup holds text tfactl never stores (domain/text.ts: controls, bidirectional
 * overrides, line separators, lone surrogates), naming table, row and column; null when it holds
 * none. Such a backup was doctored: it is refused whole. The audit trail is history and not checked.
 */
function unsafeText(db: Database, tables: ReadonlySet<string>): string | null {
  for (const [table, key] of TEXT_CHECKED) {
    if (!tables.has(table)) continue;
    for (const row of db.prepare(`SELECT * FROM ${table}`).iterate() as IterableIterator<Record<string, unknown>>) {
      for (const [column, value] of Object.entries(row)) {
        const bad = typeof value === 'string' ? unsafeCodePoint(value) : null;
        if (bad !== null) {
          return `its ${table} row ${JSON.stringify(escapeText(String(row[key])))} holds ${describeUnsafe(bad)} in ${column}, which tfactl never stores`;
        }
      }
    }
  }
  return null;
}

/**
 * What is wrong with the built-ins of a backup, or null: every store tfactl writes has the
 * built-in realm `local` and `root@local` in it, an enabled admin who never expires. Without them
 * the restored store would have no superuser to act as; a file without them was not written by
 * tfactl.
 */
function builtinsProblem(db: Database): string | null {
  const realm = db.prepare("SELECT builtin FROM realms WHERE name = 'local'").pluck().get() as number | undefined;
  if (realm !== 1) return 'it has no built-in realm local';
  const root = db.prepare("SELECT realm, admin, enabled, expire FROM users WHERE userid = 'root@local'").get() as
    | { realm: string; admin: number; enabled: number; expire: string | null }
    | undefined;
  if (root === undefined || root.realm !== 'local') return 'it has no root@local';
  if (root.admin !== 1 || root.enabled !== 1 || root.expire !== null) return 'its root@local is disabled, expired or not an admin';
  return null;
}

/**
 * A store file's bytes as a private in-memory database (restore's working copy; SQLite copies
 * them). The file's header may say WAL (bytes 18 and 19), which an in-memory database cannot be:
 * `image` is set to rollback first.
 */
function imageDatabase(image: Buffer): Database {
  if (image.length >= 20) {
    image[18] = 1;
    image[19] = 1;
  }
  const db = new Database(image);
  try {
    // Reads the header: bytes that are no database fail here with SQLITE_NOTADB.
    db.pragma('schema_version');
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

