import BetterSqlite3 from 'better-sqlite3';
import { closeSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StoreError, TfaError } from '../errors.js';
import { type FileProblem, makePrivateDirectories, openCheckedFile, refuseOpenToOthers } from '../files.js';
import { describeUnsafe, escapeText, unsafeCodePoint } from '../domain/text.js';
import { canonicalName } from '../domain/userid.js';
import { countEnabled, type EnabledFactors } from '../domain/sign-in.js';
import type { TotpAlgorithm, TotpParams } from '../domain/totp-params.js';
import { APPLICATION_ID, CORE_TABLES, LATEST_VERSION, loadMigrations, migrate, type MigrationContext } from './migrations/index.js';
import type {
  AuditEntry,
  AuditFilter,
  AuditRecord,
  BackupCopy,
  BackupInspection,
  ChallengePurpose,
  ChallengeRecord,
  EnforceType,
  NewRealm,
  NewUser,
  RealmRecord,
  RealmSummary,
  FactorRecord,
  FactorType,
  LockoutLimits,
  LockState,
  PasswordCheckStart,
  PasswordFailureCount,
  PasswordLimits,
  NewRecoverySet,
  NewCredentialFactor,
  CredentialRecord,
  NewTotpFactor,
  RecoverySetRecord,
  Store,
  TotpSecretRecord,
  NewYubicoFactor,
  UserFilter,
  UserOverview,
  UserPatch,
  YubikeyRecord,
  YubicoRealmConfig,
  UserRecord,
  ApiTokenRecord,
  SessionRecord,
} from './types.js';

const Database = BetterSqlite3;

/**
 * The tables a restore replaces, parents before children. The audit trail and the replay ledger
 * are merged instead, the password failures are kept (a restore never lifts a ban), and
 * sqlite_sequence is SQLite's own; a test checks that no other table exists.
 */
export const RESTORED_TABLES = ['settings', 'realms', 'users', 'factors', 'recovery_slots', 'api_tokens'] as const;
export const KEPT_TABLES = ['audit', 'password_failures', 'password_checks', 'replay_ledger', 'challenges', 'sessions'] as const;
type Database = BetterSqlite3.Database;

/** A password check takes well under a second; one older than this died with its process. */
const PASSWORD_CHECK_LIFETIME = 60;

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
}

/** How long a read-only connection waits for a lock (a checkpoint) before giving up. */
const READ_ONLY_BUSY_TIMEOUT_MS = 200;

export interface OpenedStore {
  readonly store: Store;
  /** True when this call made a new store: the schema was created from nothing, in an empty file. */
  readonly created: boolean;
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
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current !== LATEST_VERSION || !marked) created = migrate(db, options.now, await loadMigrations(), await migrationContext(db, options)) === 0;
  } catch (e) {
    db.close();
    throw storeError(e, path);
  }
  return { store: new SqliteStore(db, path, options), created };
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

/** A store that is already there and up to date, for reading only: see OpenOptions.readOnly. */
function openReadOnly(path: string, options: OpenOptions): Store {
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
  const applicationId = db.pragma('application_id', { simple: true }) as number;
  if (applicationId === APPLICATION_ID) return true;
  if (applicationId === 0) {
    const version = db.pragma('user_version', { simple: true }) as number;
    const names = new Set(db.prepare('SELECT name FROM sqlite_master').pluck().all() as string[]);
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
      throw new StoreError(`${what} at ${path}: ${code ?? String(e)}${detail}`, code === 'EACCES' ? 'store_permissions' : 'store_unavailable');
    }
  }
  closeSync(openCheckedFile(path, { name: 'the store', writable: true, private: true, fail: storeFileError }).fd);
  for (const [side, name] of [
    [`${path}-wal`, "the store's WAL file"],
    [`${path}-shm`, "the store's shared-memory file"],
  ] as const) {
    let mode: number;
    try {
      const st = statSync(side);
      if (!st.isFile()) throw storeFileError(`${name} ${side} is not a regular file`, 'file_error');
      mode = st.mode;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      throw e instanceof TfaError ? e : new StoreError(`cannot check ${name} ${side}: ${code ?? String(e)}`, 'store_unavailable');
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
  if (code.startsWith('SQLITE_')) return new StoreError(`store error at ${path}: ${code}`, 'store_error');
  return e instanceof Error ? e : new Error(String(e));
}

interface UserRow {
  userid: string;
  realm: string;
  admin: number;
  enabled: number;
  email: string | null;
  comment: string | null;
  expire: string | null;
  created: number;
  modified: number;
  has_password: number;
}

interface RealmRow {
  name: string;
  comment: string | null;
  builtin: number;
  enforce: EnforceType;
  totp_digits: number | null;
  totp_step: number | null;
  totp_algorithm: TotpAlgorithm | null;
  yubico_mode: 'online' | 'offline' | null;
  yubico_api_id: string | null;
  yubico_urls: string | null;
  created: number;
  user_count?: number;
}

interface AuditRow {
  id: number;
  ts: number;
  actor: string | null;
  action: string;
  target: string | null;
  outcome: AuditRecord['outcome'];
  detail: string | null;
}

const USER_COLUMNS = `userid, realm, admin, enabled, email, comment, expire, created, modified,
  password_hash IS NOT NULL AS has_password`;

const toUser = (r: UserRow): UserRecord => ({
  userid: r.userid,
  realm: r.realm,
  admin: r.admin === 1,
  enabled: r.enabled === 1,
  email: r.email,
  comment: r.comment,
  expire: r.expire,
  created: r.created,
  modified: r.modified,
  hasPassword: r.has_password === 1,
});

const toRealm = (r: RealmRow): RealmSummary => ({
  name: r.name,
  comment: r.comment,
  builtin: r.builtin === 1,
  enforce: r.enforce,
  totp:
    r.enforce === 'totp' && r.totp_digits !== null && r.totp_step !== null && r.totp_algorithm !== null
      ? { digits: r.totp_digits as TotpParams['digits'], period: r.totp_step, algorithm: r.totp_algorithm }
      : null,
  yubico:
    r.yubico_mode === null
      ? null
      : r.yubico_mode === 'offline'
        ? { mode: 'offline' }
        : { mode: 'online', apiId: r.yubico_api_id ?? '', urls: JSON.parse(r.yubico_urls ?? '[]') as string[] },
  created: r.created,
  userCount: r.user_count ?? 0,
});

interface FactorRow {
  id: string;
  userid: string;
  type: FactorType;
  description: string;
  enabled: number;
  verified: number;
  created: number;
  last_used: number | null;
  algorithm: TotpAlgorithm | null;
  digits: number | null;
  period: number | null;
  recovery_left: number | null;
  public_id: string | null;
  credential_id: string | null;
  rp_id: string | null;
  last_counter: number | null;
}

/** A factor row as the record of its kind; a row the schema's checks would not allow is damage. */
function toFactor(r: FactorRow): FactorRecord {
  const base = { id: r.id, userid: r.userid, description: r.description, enabled: r.enabled === 1, created: r.created, lastUsed: r.last_used };
  switch (r.type) {
    case 'totp':
      if (r.algorithm === null || r.digits === null || r.period === null) throw new StoreError(`TOTP factor ${r.id} has no parameters: the store is damaged`, 'store_corrupt');
      return { ...base, type: 'totp', verified: r.verified === 1, params: { algorithm: r.algorithm, digits: r.digits as TotpParams['digits'], period: r.period } };
    case 'recovery':
      return { ...base, type: 'recovery', keysLeft: r.recovery_left ?? 0 };
    case 'yubico':
      if (r.public_id === null) throw new StoreError(`YubiKey factor ${r.id} has no public id: the store is damaged`, 'store_corrupt');
      return { ...base, type: 'yubico', publicId: r.public_id };
    case 'webauthn':
    case 'u2f':
      return { ...base, type: r.type, credentialId: r.credential_id, rpId: r.rp_id, counter: r.last_counter };
  }
}

/** A user row with its realm's rule, enabled factors and locks (UserOverview), `u` being users. */
const OVERVIEW_COLUMNS = `u.userid, u.realm, u.admin, u.enabled, u.email, u.comment, u.expire, u.created, u.modified,
  u.password_hash IS NOT NULL AS has_password, u.totp_locked, u.tfa_locked_until,
  (SELECT r.enforce FROM realms r WHERE r.name = u.realm) AS enforce,
  coalesce((SELECT p.banned_until FROM password_failures p WHERE p.userid = u.userid), 0) AS password_banned_until`;

const ENABLED_COUNT_COLUMNS = `
  (SELECT count(*) FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'totp') AS n_totp,
  (SELECT count(*) FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'yubico') AS n_yubico,
  (SELECT count(*) FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'webauthn') AS n_webauthn,
  (SELECT count(*) FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'u2f') AS n_u2f,
  (SELECT count(s.hash) FROM factors f JOIN recovery_slots s ON s.factor_id = f.id
     WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'recovery') AS recovery_left,
  EXISTS (SELECT 1 FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'recovery') AS has_recovery`;

interface OverviewRow extends UserRow {
  totp_locked: number;
  tfa_locked_until: number;
  enforce: EnforceType | null;
  password_banned_until: number;
}

interface CountsRow {
  n_totp: number;
  n_yubico: number;
  n_webauthn: number;
  n_u2f: number;
  recovery_left: number;
  has_recovery: number;
}

// Spelled out, not {...toUser(r), ...}: on Node 20 a spread followed by more properties takes
// microseconds per object, seconds over a listing of 200,000 users.
const toOverview = (r: OverviewRow, factors: EnabledFactors): UserOverview => ({
  userid: r.userid,
  realm: r.realm,
  admin: r.admin === 1,
  enabled: r.enabled === 1,
  email: r.email,
  comment: r.comment,
  expire: r.expire,
  created: r.created,
  modified: r.modified,
  hasPassword: r.has_password === 1,
  enforce: r.enforce ?? 'none',
  factors,
  totpLocked: r.totp_locked === 1,
  lockedUntil: r.tfa_locked_until,
  passwordBannedUntil: r.password_banned_until,
});

const countsOf = (r: CountsRow): EnabledFactors => ({
  totp: r.n_totp,
  yubico: r.n_yubico,
  webauthn: r.n_webauthn,
  u2f: r.n_u2f,
  recoveryKeysLeft: r.has_recovery === 1 ? r.recovery_left : null,
});

/** The WHERE clause of a user listing, with only the conditions in use (so SQLite can use indexes). */
function userWhere(filter: UserFilter): { sql: string; params: Record<string, string> } {
  const where: string[] = [];
  const params: Record<string, string> = {};
  if (filter.realm !== undefined) {
    where.push('u.realm = @realm');
    params.realm = filter.realm;
  }
  if (filter.userid !== undefined) {
    where.push('u.userid = @userid');
    params.userid = filter.userid;
  }
  return { sql: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

interface LockRow {
  totp_failures: number;
  totp_locked: number;
  tfa_failures: number;
  tfa_locked_until: number;
}

const toLock = (r: LockRow): LockState => ({
  totpFailures: r.totp_failures,
  totpLocked: r.totp_locked === 1,
  failures: r.tfa_failures,
  lockedUntil: r.tfa_locked_until,
});

const LOCK_COLUMNS = 'totp_failures, totp_locked, tfa_failures, tfa_locked_until';

const REALM_SUMMARY_SELECT = `SELECT r.*, (SELECT count(*) FROM users u WHERE u.realm = r.name) AS user_count FROM realms r`;

const PATCH_COLUMNS: Record<keyof UserPatch, string> = {
  admin: 'admin',
  enabled: 'enabled',
  email: 'email',
  comment: 'comment',
  expire: 'expire',
  passwordHash: 'password_hash',
};

/**
 * The SQL of the listings read as they are written out (user list, tfa list, audit, the exports),
 * with their parameters. Apart so that a test can check their query plans on a big store: each
 * must read through indexes in the order it lists, never sort all its rows first.
 */
export const listingQueries = {
  /** Users with their enabled factor counts, by realm and user id. */
  users(filter: UserFilter) {
    const { sql, params } = userWhere(filter);
    return { sql: `SELECT ${OVERVIEW_COLUMNS}, ${ENABLED_COUNT_COLUMNS} FROM users u ${sql} ORDER BY u.realm, u.userid`, params };
  },
  /** Users joined with their factors (a row per factor, one for a user without), by user id. */
  usersWithFactors(filter: UserFilter) {
    const { sql, params } = userWhere(filter);
    return {
      sql: `SELECT ${OVERVIEW_COLUMNS}, f.id AS f_id, f.type AS f_type, f.description AS f_description, f.enabled AS f_enabled,
         f.verified AS f_verified, f.created AS f_created, f.last_used AS f_last_used, f.algorithm AS f_algorithm,
         f.digits AS f_digits, f.period AS f_period, f.public_id AS f_public_id,
         f.credential_id AS f_credential_id, f.rp_id AS f_rp_id, f.last_counter AS f_last_counter,
         (SELECT count(*) FROM recovery_slots s WHERE s.factor_id = f.id AND s.hash IS NOT NULL) AS f_recovery_left
       FROM users u LEFT JOIN factors f ON f.userid = u.userid ${sql}
       ORDER BY u.userid, f.created, f.rowid`,
      params,
    };
  },
  /** TOTP factors with their sealed secrets, by user. */
  totpFactors(exceptUserid: string | undefined) {
    return {
      sql: `SELECT f.*, 0 AS recovery_left FROM factors f WHERE f.type = 'totp' ${exceptUserid === undefined ? '' : 'AND f.userid <> @except'}
       ORDER BY f.userid, f.created, f.rowid`,
      params: exceptUserid === undefined ? {} : { except: exceptUserid },
    };
  },
  /** Audit entries, oldest first; with a limit, the newest that many. */
  audit(filter: AuditFilter) {
    // Only the conditions in use, so SQLite can use the actor, target and ts indexes.
    const where: string[] = [];
    if (filter.user !== undefined) where.push('(actor = @user OR target = @user)');
    if (filter.since !== undefined) where.push('ts >= @since');
    const matching = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
    const params = {
      ...(filter.user !== undefined && { user: filter.user }),
      ...(filter.since !== undefined && { since: filter.since }),
      ...(filter.limit !== undefined && { limit: filter.limit }),
    };
    // The newest `limit`, oldest first: SQLite sorts them (spilling to disk if it must).
    const sql = filter.limit === undefined ? `${matching} ORDER BY id` : `SELECT * FROM (${matching} ORDER BY id DESC LIMIT @limit) ORDER BY id`;
    return { sql, params };
  },
};

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

class SqliteStore implements Store {
  private readonly gate: ProcessGate;

  constructor(
    private readonly db: Database,
    readonly path: string,
    /** How this store was opened: the key file and randomness for migrating a backup being restored. */
    private readonly options: OpenOptions,
  ) {
    this.gate = gateOf(path);
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
      return Promise.resolve(fn());
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
    // Inside a unit, a transaction is the unit itself: SQLite has no nested BEGIN.
    Object.defineProperty(unit, 'transaction', { value: <T>(fn: (tx: Store) => Promise<T>) => fn(unit) });
    return unit;
  }

  private async runTransaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    const unit = this.unitOfWork();
    await this.gate.take(unit);
    try {
      await unit.run(() => this.db.exec('BEGIN IMMEDIATE'));
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

  getUser(userid: string) {
    return this.run(() => {
      const row = this.statement(`SELECT ${USER_COLUMNS} FROM users WHERE userid = ?`).get(userid) as UserRow | undefined;
      return row && toUser(row);
    });
  }

  getPasswordHash(userid: string) {
    return this.run(() => {
      const row = this.statement('SELECT password_hash FROM users WHERE userid = ?').get(userid) as
        | { password_hash: string | null }
        | undefined;
      return row?.password_hash;
    });
  }

  getUserOverview(userid: string) {
    return this.run(() => {
      const row = this.statement(`SELECT ${OVERVIEW_COLUMNS}, ${ENABLED_COUNT_COLUMNS} FROM users u WHERE u.userid = ?`).get(userid) as
        | (OverviewRow & CountsRow)
        | undefined;
      return row && toOverview(row, countsOf(row));
    });
  }

  async *users(filter: UserFilter) {
    const { sql, params } = listingQueries.users(filter);
    for (const row of this.iterate<OverviewRow & CountsRow>(sql, params)) yield toOverview(row, countsOf(row));
  }

  async *usersWithFactors(filter: UserFilter) {
    const { sql, params } = listingQueries.usersWithFactors(filter);
    // One pass over users joined with their factors, in user order: each user's rows come
    // together, so a user is complete when the next one starts.
    const rows = this.iterate<OverviewRow & { f_id: string | null } & Record<string, unknown>>(sql, params);
    let current: { row: OverviewRow; factors: FactorRecord[] } | undefined;
    const done = (c: { row: OverviewRow; factors: FactorRecord[] }) => ({ user: toOverview(c.row, countEnabled(c.factors)), factors: c.factors });
    for (const row of rows) {
      if (current && current.row.userid !== row.userid) {
        yield done(current);
        current = undefined;
      }
      current ??= { row, factors: [] };
      if (row.f_id !== null) {
        current.factors.push(
          toFactor({
            id: row.f_id,
            userid: row.userid,
            type: row.f_type as FactorType,
            description: row.f_description as string,
            enabled: row.f_enabled as number,
            verified: row.f_verified as number,
            created: row.f_created as number,
            last_used: row.f_last_used as number | null,
            algorithm: row.f_algorithm as TotpAlgorithm | null,
            digits: row.f_digits as number | null,
            period: row.f_period as number | null,
            recovery_left: row.f_recovery_left as number,
            public_id: row.f_public_id as string | null,
            credential_id: row.f_credential_id as string | null,
            rp_id: row.f_rp_id as string | null,
            last_counter: row.f_last_counter as number | null,
          }),
        );
      }
    }
    if (current) yield done(current);
  }

  usersWithout(realm: string, type: FactorType, sample: number) {
    return this.run(() => {
      const missing = `FROM users u WHERE u.realm = @realm
        AND NOT EXISTS (SELECT 1 FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = @type)`;
      const count = this.statement(`SELECT count(*) ${missing}`).pluck().get({ realm, type }) as number;
      const first = this.statement(`SELECT u.userid ${missing} ORDER BY u.userid LIMIT @sample`).pluck().all({ realm, type, sample }) as string[];
      return { count, first };
    });
  }

  /**
   * Rows of `sql`, read one at a time as the caller consumes them. SQLite errors surface as
   * StoreErrors; the statement stays open (and the connection busy) until the iteration ends.
   */
  private *iterate<T>(sql: string, params: Record<string, unknown> = {}): Generator<T> {
    let rows: IterableIterator<unknown[]>;
    let names: string[];
    try {
      // Its own statement, never a cached one: a statement is busy for as long as it is iterated.
      // Rows come as arrays and are made objects here: better-sqlite3 builds each row object
      // property by property through V8's API, twice as slow as this over a 200,000-row listing.
      const statement = this.db.prepare(sql).raw();
      names = statement.columns().map((c) => c.name);
      rows = statement.iterate(params) as IterableIterator<unknown[]>;
    } catch (e) {
      throw storeError(e, this.path);
    }
    try {
      for (;;) {
        let next: IteratorResult<unknown[]>;
        try {
          next = rows.next();
        } catch (e) {
          throw storeError(e, this.path);
        }
        if (next.done) return;
        const row: Record<string, unknown> = {};
        for (let i = 0; i < names.length; i++) row[names[i] as string] = next.value[i];
        yield row as T;
      }
    } finally {
      // A reader that stops early (an error, a closed pipe) frees the connection for what follows
      // (an audit entry).
      rows.return?.();
    }
  }

  insertUser(u: NewUser) {
    return this.run(
      () =>
        this.statement(
            `INSERT INTO users (userid, realm, password_hash, admin, enabled, email, comment, expire, created, modified)
             VALUES (@userid, @realm, @passwordHash, @admin, @enabled, @email, @comment, @expire, @created, @created)
             ON CONFLICT (userid) DO NOTHING`,
          )
          .run({ ...u, admin: u.admin ? 1 : 0, enabled: u.enabled ? 1 : 0 }).changes === 1,
    );
  }

  updateUser(userid: string, patch: UserPatch, modified: number) {
    return this.run(() => {
      const keys = (Object.keys(patch) as (keyof UserPatch)[]).filter((k) => patch[k] !== undefined);
      const sets = keys.map((k) => `${PATCH_COLUMNS[k]} = @${k}`);
      const values: Record<string, unknown> = { userid, modified };
      for (const k of keys) {
        const v = patch[k];
        values[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
      }
      return (
        this.statement(`UPDATE users SET ${[...sets, 'modified = @modified'].join(', ')} WHERE userid = @userid`).run(values)
          .changes === 1
      );
    });
  }

  replacePasswordHash(userid: string, oldHash: string, newHash: string) {
    return this.run(
      () =>
        this.statement('UPDATE users SET password_hash = ? WHERE userid = ? AND password_hash = ?')
          .run(newHash, userid, oldHash).changes === 1,
    );
  }

  deleteUser(userid: string) {
    return this.run(() => this.statement('DELETE FROM users WHERE userid = ?').run(userid).changes === 1);
  }

  getRealm(name: string) {
    return this.run(() => {
      // No user count here: sign-in reads the realm, and counting would scan its users.
      const row = this.statement('SELECT r.* FROM realms r WHERE r.name = ?').get(name) as RealmRow | undefined;
      if (!row) return undefined;
      const { userCount: _omitted, ...realm } = toRealm(row);
      return realm satisfies RealmRecord;
    });
  }

  getRealmSummary(name: string) {
    return this.run(() => {
      const row = this.statement(`${REALM_SUMMARY_SELECT} WHERE r.name = ?`).get(name) as RealmRow | undefined;
      return row && toRealm(row);
    });
  }

  listRealms() {
    return this.run(() => (this.statement(`${REALM_SUMMARY_SELECT} ORDER BY r.name`).all() as RealmRow[]).map(toRealm));
  }

  insertRealm(r: NewRealm) {
    return this.run(
      () =>
        this.statement('INSERT INTO realms (name, comment, created) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING')
          .run(r.name, r.comment, r.created).changes === 1,
    );
  }

  setRealmEnforcement(name: string, enforce: EnforceType, totp: TotpParams | null) {
    return this.run(
      () =>
        this.statement('UPDATE realms SET enforce = ?, totp_digits = ?, totp_step = ?, totp_algorithm = ? WHERE name = ?')
          .run(enforce, totp?.digits ?? null, totp?.period ?? null, totp?.algorithm ?? null, name).changes === 1,
    );
  }

  setRealmYubico(name: string, yubico: { config: YubicoRealmConfig; sealedApiKey: Buffer | null } | null) {
    const online = yubico?.config.mode === 'online' ? yubico.config : null;
    return this.run(
      () =>
        this.statement('UPDATE realms SET yubico_mode = ?, yubico_api_id = ?, yubico_api_key = ?, yubico_urls = ? WHERE name = ?')
          .run(
            yubico?.config.mode ?? null,
            online?.apiId ?? null,
            yubico?.sealedApiKey ?? null,
            online ? JSON.stringify(online.urls) : null,
            name,
          ).changes === 1,
    );
  }

  getRealmYubicoApiKey(name: string) {
    return this.run(() => {
      const row = this.statement('SELECT yubico_api_key FROM realms WHERE name = ?').get(name) as { yubico_api_key: Buffer | null } | undefined;
      return row?.yubico_api_key ?? null;
    });
  }

  getYubicoFactors(userid: string) {
    return this.run(() =>
      (
        this.statement(`SELECT id, public_id, secret, last_counter FROM factors WHERE userid = ? AND type = 'yubico' AND enabled = 1 ORDER BY created, rowid`)
          .all(userid) as { id: string; public_id: string; secret: Buffer | null; last_counter: number | null }[]
      ).map((r): YubikeyRecord => ({ id: r.id, publicId: r.public_id, sealedSecret: r.secret, lastCounter: r.last_counter })),
    );
  }

  insertYubicoFactor(f: NewYubicoFactor) {
    return this.run(
      () =>
        this.statement(
            `INSERT INTO factors (id, userid, type, description, enabled, verified, created, public_id, secret, last_counter)
             VALUES (?, ?, 'yubico', ?, 1, 1, ?, ?, ?, ?)
             ON CONFLICT DO NOTHING`,
          )
          .run(f.id, f.userid, f.description, f.created, f.publicId, f.sealedSecret, f.lastCounter).changes === 1,
    );
  }

  advanceYubicoCounter(factorId: string, counter: number, now: number) {
    return this.run(
      () =>
        this.statement(
            `UPDATE factors SET last_counter = @counter, last_used = @now
             WHERE id = @id AND type = 'yubico' AND (last_counter IS NULL OR last_counter < @counter)`,
          )
          .run({ id: factorId, counter, now }).changes === 1,
    );
  }

  touchFactor(factorId: string, now: number) {
    return this.run(() => {
      this.statement('UPDATE factors SET last_used = ? WHERE id = ?').run(now, factorId);
    });
  }

  deleteRealm(name: string) {
    return this.run(() =>
      this.db.transaction(() => {
        const users = this.statement('DELETE FROM users WHERE realm = ?').run(name).changes;
        this.statement('DELETE FROM realms WHERE name = ? AND builtin = 0').run(name);
        return users;
      })(),
    );
  }

  getSettings() {
    return this.run(() => {
      const rows = this.statement('SELECT key, value FROM settings').all() as { key: string; value: string }[];
      return new Map(rows.map((r) => [r.key, r.value]));
    });
  }

  setSetting(key: string, value: string) {
    return this.run(() => {
      this.statement('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
        .run(key, value);
    });
  }

  listFactors(userid: string) {
    return this.run(() => {
      const rows = this.statement(
          `SELECT f.*, (SELECT count(*) FROM recovery_slots s WHERE s.factor_id = f.id AND s.hash IS NOT NULL) AS recovery_left
           FROM factors f WHERE f.userid = ? ORDER BY f.created, f.rowid`,
        )
        .all(userid) as FactorRow[];
      return rows.map(toFactor);
    });
  }

  async *totpFactors(exceptUserid?: string) {
    const { sql, params } = listingQueries.totpFactors(exceptUserid);
    const rows = this.iterate<FactorRow & { secret: Buffer; last_step: number | null }>(sql, params);
    for (const r of rows) {
      const factor = toFactor(r);
      if (factor.type !== 'totp') continue;
      yield { factor, secret: { id: r.id, sealedSecret: r.secret, params: factor.params, lastStep: r.last_step } satisfies TotpSecretRecord };
    }
  }

  getTotpSecrets(userid: string, includeDisabled = false) {
    return this.run(() => {
      const rows = this.statement(
          `SELECT id, secret, algorithm, digits, period, last_step FROM factors
           WHERE userid = ? AND type = 'totp' AND (enabled = 1 OR ?) ORDER BY created, rowid`,
        )
        .all(userid, includeDisabled ? 1 : 0) as { id: string; secret: Buffer; algorithm: TotpAlgorithm; digits: number; period: number; last_step: number | null }[];
      return rows.map(
        (r): TotpSecretRecord => ({
          id: r.id,
          sealedSecret: r.secret,
          params: { algorithm: r.algorithm, digits: r.digits as TotpParams['digits'], period: r.period } satisfies TotpParams,
          lastStep: r.last_step,
        }),
      );
    });
  }

  insertTotpFactor(f: NewTotpFactor) {
    return this.run(() => {
      this.statement(
          `INSERT INTO factors (id, userid, type, description, enabled, verified, created, secret, algorithm, digits, period, last_step)
           VALUES (?, ?, 'totp', ?, 1, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(f.id, f.userid, f.description, f.verified ? 1 : 0, f.created, f.sealedSecret, f.params.algorithm, f.params.digits, f.params.period, f.lastStep);
    });
  }

  advanceTotpStep(factorId: string, step: number, now: number) {
    return this.run(
      () =>
        this.statement(
            `UPDATE factors SET last_step = @step, last_used = @now, verified = 1
             WHERE id = @id AND type = 'totp' AND (last_step IS NULL OR last_step < @step)`,
          )
          .run({ id: factorId, step, now }).changes === 1,
    );
  }

  getRecoverySet(userid: string) {
    return this.run(() => {
      const set = this.statement(`SELECT id, secret, enabled FROM factors WHERE userid = ? AND type = 'recovery'`)
        .get(userid) as { id: string; secret: Buffer; enabled: number } | undefined;
      if (!set) return undefined;
      const slots = this.statement('SELECT slot, hash FROM recovery_slots WHERE factor_id = ? ORDER BY slot')
        .all(set.id) as { slot: number; hash: string | null }[];
      const bySlot: (string | null)[] = [];
      for (const s of slots) bySlot[s.slot] = s.hash;
      return { id: set.id, sealedSecret: set.secret, enabled: set.enabled === 1, slots: Array.from(bySlot, (h) => h ?? null) } satisfies RecoverySetRecord & {
        enabled: boolean;
      };
    });
  }

  putRecoverySet(set: NewRecoverySet, replace: boolean) {
    return this.run(() =>
      this.db.transaction(() => {
        const existing = this.statement(`SELECT id FROM factors WHERE userid = ? AND type = 'recovery'`).get(set.userid);
        if (existing && !replace) return false;
        this.statement(`DELETE FROM factors WHERE userid = ? AND type = 'recovery'`).run(set.userid);
        this.statement(
            `INSERT INTO factors (id, userid, type, description, enabled, verified, created, secret)
             VALUES (?, ?, 'recovery', ?, 1, 1, ?, ?)`,
          )
          .run(set.id, set.userid, set.description, set.created, set.sealedSecret);
        const insert = this.statement('INSERT INTO recovery_slots (factor_id, slot, hash) VALUES (?, ?, ?)');
        set.hashes.forEach((hash, slot) => insert.run(set.id, slot, hash));
        return true;
      })(),
    );
  }

  consumeRecoverySlot(factorId: string, slot: number, hash: string, now: number) {
    return this.run(() =>
      this.db.transaction(() => {
        const used =
          this.statement('UPDATE recovery_slots SET hash = NULL WHERE factor_id = ? AND slot = ? AND hash = ?').run(factorId, slot, hash)
            .changes === 1;
        if (used) this.statement('UPDATE factors SET last_used = ? WHERE id = ?').run(now, factorId);
        return used;
      })(),
    );
  }

  setFactorEnabled(userid: string, factorId: string, enabled: boolean) {
    return this.run(
      () => this.statement('UPDATE factors SET enabled = ? WHERE userid = ? AND id = ?').run(enabled ? 1 : 0, userid, factorId).changes === 1,
    );
  }

  deleteFactor(userid: string, factorId: string) {
    return this.run(() => this.statement('DELETE FROM factors WHERE userid = ? AND id = ?').run(userid, factorId).changes === 1);
  }

  deleteFactors(userid: string) {
    return this.run(() => this.statement('DELETE FROM factors WHERE userid = ?').run(userid).changes);
  }

  getLockState(userid: string) {
    return this.run(() => {
      const row = this.statement(`SELECT ${LOCK_COLUMNS} FROM users WHERE userid = ?`).get(userid) as LockRow | undefined;
      return row && toLock(row);
    });
  }

  reserveAttempt(userid: string, totp: boolean, limits: LockoutLimits, now: number) {
    return this.run(() => {
      // One statement: right-hand sides see the old row, and the WHERE clause refuses locked users,
      // so concurrent attempts are each counted once and none slips past a lock.
      const previous = 'CASE WHEN tfa_locked_until > 0 THEN 0 ELSE tfa_failures END';
      const row = this.statement(
          `UPDATE users SET
             tfa_failures = ${previous} + 1,
             tfa_locked_until = CASE WHEN ${previous} + 1 >= @failures THEN @until ELSE 0 END,
             totp_failures = totp_failures + @totp,
             totp_locked = CASE WHEN @totp = 1 AND totp_failures + 1 >= @totpFailures THEN 1 ELSE totp_locked END
           WHERE userid = @userid AND tfa_locked_until <= @now AND (@totp = 0 OR totp_locked = 0)
           RETURNING ${LOCK_COLUMNS}`,
        )
        .get({
          userid,
          now,
          totp: totp ? 1 : 0,
          failures: limits.failures,
          totpFailures: limits.totpFailures,
          until: now + limits.lockSeconds,
        }) as LockRow | undefined;
      return row ? toLock(row) : null;
    });
  }

  releaseAttempt(userid: string, totp: boolean) {
    return this.run(() => {
      this.statement(
          `UPDATE users SET tfa_failures = max(tfa_failures - 1, 0),
             totp_failures = CASE WHEN @totp = 1 THEN max(totp_failures - 1, 0) ELSE totp_failures END
           WHERE userid = @userid`,
        )
        .run({ userid, totp: totp ? 1 : 0 });
    });
  }

  recordSuccess(userid: string, resetTotp: boolean) {
    return this.run(() => {
      this.statement(
          `UPDATE users SET tfa_failures = 0, tfa_locked_until = 0,
             totp_failures = CASE WHEN @reset = 1 THEN 0 ELSE totp_failures END,
             totp_locked = CASE WHEN @reset = 1 THEN 0 ELSE totp_locked END
           WHERE userid = @userid`,
        )
        .run({ userid, reset: resetTotp ? 1 : 0 });
    });
  }

  getPasswordBan(userid: string, now: number) {
    return this.run(() => {
      const until = this.statement('SELECT banned_until FROM password_failures WHERE userid = ?').pluck().get(userid) as number | undefined;
      return until !== undefined && until > now ? until : 0;
    });
  }

  beginPasswordCheck(userid: string, token: string, limits: PasswordLimits, now: number) {
    return this.run(() =>
      // IMMEDIATE: the count and the insert that depends on it cannot be split by another process.
      this.db
        .transaction((): PasswordCheckStart => {
          const row = this.statement('SELECT failures, window_start, banned_until FROM password_failures WHERE userid = ?').get(userid) as
            | { failures: number; window_start: number; banned_until: number }
            | undefined;
          if (row && row.banned_until > now) return { status: 'banned', until: row.banned_until };
          const failures = !row || row.window_start + limits.windowSeconds <= now || row.banned_until > 0 ? 0 : row.failures;
          const inFlight = this.statement('SELECT count(*) FROM password_checks WHERE userid = ? AND started > ?')
            .pluck()
            .get(userid, now - PASSWORD_CHECK_LIFETIME) as number;
          if (failures + inFlight >= limits.failures) return { status: 'busy' };
          if (row && failures === 0 && row.failures > 0) {
            this.statement('UPDATE password_failures SET failures = 0, window_start = ?, banned_until = 0 WHERE userid = ?').run(now, userid);
          }
          this.statement('INSERT INTO password_checks (token, userid, started) VALUES (?, ?, ?)').run(token, userid, now);
          // Checks that died with their process are cleared now and then, a few at a time.
          this.statement('DELETE FROM password_checks WHERE rowid IN (SELECT rowid FROM password_checks WHERE started <= ? LIMIT 20)').run(now - PASSWORD_CHECK_LIFETIME);
          return { status: 'allowed' };
        })
        .immediate(),
    );
  }

  finishPasswordCheck(userid: string, token: string, failed: boolean, limits: PasswordLimits, now: number) {
    return this.run(() =>
      this.db
        .transaction(() => {
          this.statement('DELETE FROM password_checks WHERE token = ?').run(token);
          return failed ? this.countPasswordFailure(userid, limits, now) : null;
        })
        .immediate(),
    );
  }

  recordPasswordFailure(userid: string, limits: PasswordLimits, now: number) {
    return this.run(() => this.countPasswordFailure(userid, limits, now));
  }

  /** One more failure in the current window (a passed window starts afresh), banning at the limit. */
  private countPasswordFailure(userid: string, limits: PasswordLimits, now: number): PasswordFailureCount {
    // The right-hand sides see the old row. A ban in force stays; one that has ended, or a window
    // that has passed, starts the count afresh.
    const fresh = `password_failures.window_start + @window <= @now OR (password_failures.banned_until > 0 AND password_failures.banned_until <= @now)`;
    const failures = `CASE WHEN ${fresh} THEN 1 ELSE password_failures.failures + 1 END`;
    const row = this.statement(
        `INSERT INTO password_failures (userid, failures, window_start, banned_until)
         VALUES (@userid, 1, @now, CASE WHEN 1 >= @limit THEN @now + @ban ELSE 0 END)
         ON CONFLICT (userid) DO UPDATE SET
           failures = ${failures},
           window_start = CASE WHEN ${fresh} THEN @now ELSE password_failures.window_start END,
           banned_until = CASE WHEN password_failures.banned_until > @now THEN password_failures.banned_until
                               WHEN ${failures} >= @limit THEN @now + @ban ELSE 0 END
         RETURNING failures, banned_until`,
      )
      .get({ userid, now, limit: limits.failures, window: limits.windowSeconds, ban: limits.banSeconds }) as { failures: number; banned_until: number };
    return { failures: row.failures, bannedUntil: row.banned_until };
  }

  clearPasswordFailures(userid: string) {
    return this.run(() => {
      this.statement('DELETE FROM password_failures WHERE userid = ?').run(userid);
    });
  }

  insertChallenge(c: ChallengeRecord, now: number) {
    return this.run(() => {
      this.statement('INSERT INTO challenges (id, userid, purpose, created, expires, data) VALUES (@id, @userid, @purpose, @created, @expires, @data)').run(c);
      // Unanswered challenges are dropped a few at a time: the table never grows past what is live.
      this.statement('DELETE FROM challenges WHERE rowid IN (SELECT rowid FROM challenges WHERE expires <= ? LIMIT 20)').run(now);
    });
  }

  takeChallenge(id: string, userid: string, purpose: ChallengePurpose, now: number) {
    return this.run(
      () =>
        this.statement(
          `DELETE FROM challenges WHERE id = @id AND userid = @userid AND purpose = @purpose AND expires > @now
           RETURNING id, userid, purpose, created, expires, data`,
        ).get({ id, userid, purpose, now }) as ChallengeRecord | undefined,
    );
  }

  liveChallenges(userid: string, purpose: ChallengePurpose, now: number) {
    return this.run(
      () =>
        this.statement(
          `SELECT id, userid, purpose, created, expires, data FROM challenges
           WHERE userid = @userid AND purpose = @purpose AND expires > @now ORDER BY created DESC, rowid DESC`,
        ).all({ userid, purpose, now }) as ChallengeRecord[],
    );
  }

  insertCredentialFactor(f: NewCredentialFactor) {
    return this.run(
      () =>
        this.statement(
          `INSERT INTO factors (id, userid, type, description, enabled, verified, created, data, credential_id, public_key, algorithm_id, rp_id, last_counter, transports)
           VALUES (@id, @userid, @type, @description, @enabled, 1, @created, @data, @credentialId, @publicKey, @algorithm, @rpId, @counter, @transports)
           ON CONFLICT DO NOTHING`,
        ).run({ ...f, enabled: f.enabled ? 1 : 0, transports: JSON.stringify(f.transports) }).changes === 1,
    );
  }

  getCredentials(userid: string) {
    return this.run(() =>
      (
        this.statement(
          `SELECT id, type, credential_id, public_key, algorithm_id, rp_id, last_counter, transports FROM factors
           WHERE userid = ? AND type IN ('webauthn', 'u2f') AND enabled = 1 AND credential_id IS NOT NULL AND public_key IS NOT NULL
           ORDER BY created, rowid`,
        ).all(userid) as {
          id: string;
          type: 'webauthn' | 'u2f';
          credential_id: string;
          public_key: Buffer;
          algorithm_id: number | null;
          rp_id: string | null;
          last_counter: number | null;
          transports: string | null;
        }[]
      ).map(
        (r): CredentialRecord => ({
          id: r.id,
          type: r.type,
          credentialId: r.credential_id,
          publicKey: r.public_key,
          algorithm: r.algorithm_id,
          rpId: r.rp_id,
          counter: r.last_counter ?? 0,
          transports: r.transports ? (JSON.parse(r.transports) as string[]) : [],
        }),
      ),
    );
  }

  advanceCredentialCounter(factorId: string, counter: number, now: number) {
    return this.run(
      () =>
        this.statement(
          `UPDATE factors SET last_counter = @counter, last_used = @now
           WHERE id = @id AND type IN ('webauthn', 'u2f')
             AND (last_counter IS NULL OR last_counter < @counter OR (last_counter = 0 AND @counter = 0))`,
        ).run({ id: factorId, counter, now }).changes === 1,
    );
  }

  insertApiToken(t: ApiTokenRecord) {
    return this.run(
      () =>
        this.statement(
          `INSERT INTO api_tokens (userid, name, secret_hash, privileges, expires, comment, created, last_used)
           VALUES (@userid, @name, @secretHash, @privileges, @expires, @comment, @created, @lastUsed) ON CONFLICT DO NOTHING`,
        ).run(t).changes === 1,
    );
  }

  getApiToken(userid: string, name: string) {
    return this.run(() => {
      const row = this.statement('SELECT * FROM api_tokens WHERE userid = ? AND name = ?').get(userid, name) as ApiTokenRow | undefined;
      return row && apiTokenFromRow(row);
    });
  }

  listApiTokens(userid?: string) {
    return this.run(() =>
      (userid === undefined
        ? (this.statement('SELECT * FROM api_tokens ORDER BY userid, name').all() as ApiTokenRow[])
        : (this.statement('SELECT * FROM api_tokens WHERE userid = ? ORDER BY name').all(userid) as ApiTokenRow[])
      ).map(apiTokenFromRow),
    );
  }

  deleteApiToken(userid: string, name: string) {
    return this.run(() => this.statement('DELETE FROM api_tokens WHERE userid = ? AND name = ?').run(userid, name).changes === 1);
  }

  touchApiToken(userid: string, name: string, now: number) {
    return this.run(() => {
      this.statement('UPDATE api_tokens SET last_used = ? WHERE userid = ? AND name = ?').run(now, userid, name);
    });
  }

  insertSession(s: SessionRecord) {
    return this.run(() => {
      this.statement('INSERT INTO sessions (id, userid, state, created, expires, last_used) VALUES (@id, @userid, @state, @created, @expires, NULL)').run(s);
      // Expired sessions are dropped a few at a time: the table never grows past what is live.
      this.statement('DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE expires <= ? LIMIT 20)').run(s.created);
    });
  }

  getSession(id: string) {
    return this.run(() => {
      const row = this.statement('SELECT id, userid, state, created, expires FROM sessions WHERE id = ?').get(id) as SessionRecord | undefined;
      return row;
    });
  }

  touchSession(id: string, now: number) {
    return this.run(() => {
      this.statement('UPDATE sessions SET last_used = ? WHERE id = ?').run(now, id);
    });
  }

  deleteSession(id: string) {
    return this.run(() => this.statement('DELETE FROM sessions WHERE id = ?').run(id).changes === 1);
  }

  deleteSessions(userid: string) {
    return this.run(() => this.statement('DELETE FROM sessions WHERE userid = ?').run(userid).changes);
  }

  countCredentials(type: 'webauthn' | 'u2f', rpId: string | null) {
    return this.run(() => this.statement('SELECT count(*) FROM factors WHERE type = @type AND rp_id IS @rpId').pluck().get({ type, rpId }) as number);
  }

  pinCredentialRpIds(type: 'webauthn' | 'u2f', rpId: string) {
    return this.run(() => {
      this.statement('UPDATE factors SET rp_id = @rpId WHERE type = @type AND rp_id IS NULL').run({ type, rpId });
    });
  }

  setLockState(userid: string, totpLocked: boolean, lockedUntil: number) {
    return this.run(() => {
      this.statement('UPDATE users SET totp_locked = ?, tfa_locked_until = ? WHERE userid = ?').run(totpLocked ? 1 : 0, lockedUntil, userid);
    });
  }

  unlock(userid: string) {
    return this.run(() =>
      this.db.transaction(() => {
        this.statement('DELETE FROM password_failures WHERE userid = ?').run(userid);
        return (
          this.statement('UPDATE users SET tfa_failures = 0, totp_failures = 0, totp_locked = 0, tfa_locked_until = 0 WHERE userid = ?').run(userid)
            .changes === 1
        );
      })(),
    );
  }

  appendAudit(e: AuditEntry) {
    return this.run(() => {
      this.statement('INSERT INTO audit (ts, actor, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)')
        .run(e.ts, e.actor, e.action, e.target, e.outcome, e.detail ? JSON.stringify(e.detail) : null);
    });
  }

  async *auditEntries(filter: AuditFilter) {
    const { sql, params } = listingQueries.audit(filter);
    for (const r of this.iterate<AuditRow>(sql, params)) {
      yield {
        id: r.id,
        ts: r.ts,
        actor: r.actor,
        action: r.action,
        target: r.target,
        outcome: r.outcome,
        ...(r.detail ? { detail: JSON.parse(r.detail) as Record<string, unknown> } : {}),
      } satisfies AuditRecord;
    }
  }

  async backupTo(path: string) {
    try {
      await this.db.backup(path);
    } catch (e) {
      throw storeError(e, path);
    }
  }

  async readBackup(image: Buffer, path: string): Promise<BackupCopy> {
    let db: Database | null = null;
    try {
      db = imageDatabase(image);
      return new MemoryBackup(path, db, inspectDatabase(db));
    } catch (e) {
      db?.close();
      return new MemoryBackup(path, null, unreadable(e));
    }
  }

  async restoreFrom(copy: BackupCopy, now: number) {
    // The copy is in memory (never a second copy of the secrets on disk, not even for a moment) and
    // is brought up to this tfactl's schema there. Then one IMMEDIATE transaction on this
    // connection replaces the contents: no other process writes in between, so a code or key used
    // a moment before stays used, and others see the old store or the restored one.
    if (!(copy instanceof MemoryBackup) || copy.db === null || !copy.inspection.ok) throw new Error('restoreFrom: not an accepted backup copy');
    const staged = copy.db;
    try {
      migrate(staged, now, await loadMigrations(), await migrationContext(staged, this.options));
    } catch (e) {
      if (e instanceof StoreError) throw new StoreError(`refusing to restore ${copy.path}: ${e.message}`, 'backup_invalid');
      throw e;
    }
    const unlike = this.shapeProblem(staged);
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
    const broken = staged.pragma('foreign_key_check') as { table: string }[];
    if (broken.length > 0) {
      throw new StoreError(`refusing to restore ${copy.path}: ${broken.length} row(s) in ${broken[0]?.table} refer to rows it does not have`, 'backup_invalid');
    }
    await this.run(() => this.db.transaction(() => this.replaceWith(staged)).immediate());
  }

  /**
   * What `staged` (brought up to date) lacks of the tables and columns a restore reads from it, or
   * null. A file that claims this schema but lacks them was not written by tfactl.
   */
  private shapeProblem(staged: Database): string | null {
    for (const table of [...RESTORED_TABLES, 'replay_ledger', 'audit']) {
      const has = new Set((staged.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name));
      if (has.size === 0) return `it has no table ${table}`;
      const missing = (this.db.pragma(`table_info(${table})`) as { name: string }[]).find((c) => !has.has(c.name));
      if (missing) return `its table ${table} has no column ${missing.name}`;
    }
    return null;
  }

  /**
   * Inside restoreFrom's transaction: `staged`'s rows replace this store's, except what must
   * outlive a restore. Whatever was spent stays spent: the backup's replay ledger is merged into
   * this one (migration 8), which holds every TOTP step, YubiKey counter and recovery key used
   * here, of factors deleted or replaced since the backup too, and the merged ledger is then
   * applied to the restored factors. Lockouts stay (a restore never lifts one), and the audit
   * trail stays, with any entries only the backup has added after it.
   */
  private replaceWith(staged: Database): void {
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
    const lock = this.statement(
      `UPDATE users SET tfa_failures = max(tfa_failures, @tfa_failures), tfa_locked_until = max(tfa_locked_until, @tfa_locked_until),
         totp_failures = max(totp_failures, @totp_failures), totp_locked = max(totp_locked, @totp_locked)
       WHERE userid = @userid`,
    );
    for (const l of locks) lock.run(l);
    const known = this.statement(
      'SELECT 1 FROM audit WHERE id = @id AND ts = @ts AND action = @action AND actor IS @actor AND target IS @target AND outcome = @outcome',
    );
    const append = this.statement('INSERT INTO audit (ts, actor, action, target, outcome, detail) VALUES (@ts, @actor, @action, @target, @outcome, @detail)');
    for (const a of staged.prepare('SELECT * FROM audit ORDER BY id').iterate() as IterableIterator<AuditRow>) if (!known.get(a)) append.run(a);
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
    this.db.exec(`
      UPDATE factors SET last_step = l.spent
      FROM replay_ledger l
      WHERE l.factor_id = factors.id AND l.guard = 'totp-step' AND l.slot = 0
        AND factors.type = 'totp' AND (factors.last_step IS NULL OR factors.last_step < l.spent);

      UPDATE factors SET last_counter = l.spent
      FROM (
        SELECT f.id, max(l.spent) AS spent FROM factors f
        JOIN replay_ledger l ON l.guard = 'yubico-counter' AND (l.factor_id = f.id OR (l.userid = f.userid AND l.device = f.public_id))
        WHERE f.type = 'yubico' GROUP BY f.id
      ) l
      WHERE l.id = factors.id AND (factors.last_counter IS NULL OR factors.last_counter < l.spent);

      UPDATE factors SET last_counter = l.spent
      FROM (
        SELECT f.id, max(l.spent) AS spent FROM factors f
        JOIN replay_ledger l ON l.guard = 'webauthn-counter' AND (l.factor_id = f.id OR (l.userid = f.userid AND l.device = f.credential_id))
        WHERE f.type IN ('webauthn', 'u2f') GROUP BY f.id
      ) l
      WHERE l.id = factors.id AND (factors.last_counter IS NULL OR factors.last_counter < l.spent);

      UPDATE recovery_slots SET hash = NULL
      WHERE hash IS NOT NULL AND EXISTS (
        SELECT 1 FROM replay_ledger l WHERE l.factor_id = recovery_slots.factor_id AND l.guard = 'recovery-key' AND l.slot = recovery_slots.slot
      );
    `);
  }

  close() {
    this.db.close();
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

  close(): void {
    this.db?.close();
  }
}

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
    if (integrity !== 'ok') return badBackup(`it is damaged (integrity check: ${String(integrity)})`);
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

interface ApiTokenRow {
  userid: string;
  name: string;
  secret_hash: Buffer;
  privileges: 'inherit' | 'read-only';
  expires: string | null;
  comment: string | null;
  created: number;
  last_used: number | null;
}

function apiTokenFromRow(r: ApiTokenRow): ApiTokenRecord {
  return {
    userid: r.userid,
    name: r.name,
    secretHash: r.secret_hash,
    privileges: r.privileges,
    expires: r.expires,
    comment: r.comment,
    created: r.created,
    lastUsed: r.last_used,
  };
}
