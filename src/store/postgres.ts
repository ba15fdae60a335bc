import { auditEntriesToAppend, type AuditContent, restoredAuditId, sizeOf } from './audit-merge.js';
import type { Socket } from 'node:net';
import type { Client, QueryResult } from 'pg';
import { type AccessRows, type RestoreEffect, restoreEffect } from '../domain/restore-revival.js';
import { displayStoreLocation as redactUrl } from '../domain/store-location.js';
import { NotFoundError, StoreError, TfaError, UsageError, VANISHED } from '../errors.js';
import { MARKER_TABLE, PG_LATEST_VERSION, PG_MIGRATIONS } from './postgres-schema.js';
import { APPLY_REPLAY_LEDGER, DROP_ORPHAN_CHALLENGES, SqlStore, type SqlStatement, storeMissing, storeTooNew } from './sql-store.js';
import type { accessRowsOf, StagedBackup } from './sqlite.js';
import type { BackupCopy, RestoreOutcome, Store } from './types.js';

/**
 * The store on PostgreSQL (issue 13), for sites with several hosts: node-postgres (`pg`), loaded
 * only on this path, one connection per store opened, the statements of SqlStore.
 *
 * Isolation (Store.transaction's contract): a unit of work is a transaction that first takes one
 * transaction-scoped advisory lock, the store's write lock, so units run one after another across
 * every host, as SQLite's BEGIN IMMEDIATE does on one. A write outside a unit takes the same lock
 * for itself, so no write slips between a unit's read and the write that depends on it. Reads run
 * at READ COMMITTED. Single-use guarantees stay single conditional statements.
 */

/**
 * How long a statement waits for a lock (the write lock, or a table another session has locked)
 * before the command gives up with exit 6 store_busy: SQLite's busy timeout. Without it a session
 * left holding a lock (a psql in a transaction) would hang every sign-in on every host.
 */
const LOCK_TIMEOUT = 'SET lock_timeout = 30000';

/**
 * How long the server lets a session sit in a transaction with nothing asked (the write lock held):
 * a host that lost the network mid-command would otherwise hold every host's sign-ins until TCP
 * gave up on it (hours). tfactl never waits for a person or the network inside a transaction.
 */
const STALLED_TRANSACTION = 'SET idle_in_transaction_session_timeout = 60000';

/** How long the client waits for any one answer of the server before it gives up (exit 6). */
const QUERY_TIMEOUT_MS = 120_000;

/** The advisory lock that is the store's write lock ("tfactl" in ASCII). */
const WRITE_LOCK = '127978286708844';

export interface PgOpenOptions {
  readonly now: number;
  /** The key file and randomness, for restoring a backup whose migration re-seals secrets (as SQLite's OpenOptions). */
  readonly keyPath?: string;
  readonly randomBytes?: (n: number) => Buffer;
  /**
   * Only read (as SQLite's OpenOptions.readOnly): the store must be there and up to date; nothing
   * is created or migrated, and the connection's transactions are read-only.
   */
  readonly readOnly?: boolean;
  /** The store must be there already (as SQLite's OpenOptions.existing): a database without one is exit 6, and left as it is. */
  readonly existing?: boolean;
  /** How messages name the store, instead of its location without the password (a service's, to its clients). */
  readonly shownAs?: string;
}

/** Tables, views and the like in the connection's schema: where tfactl would make its own. */
const OTHER_RELATIONS = `SELECT count(*) AS n FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`;

/** node-postgres's error for a query the server did not answer within query_timeout. */
const isQueryTimeout = (e: unknown): boolean => e instanceof Error && /^Query read timeout$/.test(e.message);

/** A driver or server error as a StoreError (exit 6), without the connection string's password. */
export function pgError(e: unknown, where: string): Error {
  if (e instanceof TfaError) return e;
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  // foreign_key_violation: as SQLite's says it.
  if (code === '23503') return new NotFoundError(VANISHED, 'not_found');
  // lock_timeout (LOCK_TIMEOUT_MS) ran out: as SQLite's busy timeout says it.
  if (code === '55P03') return new StoreError(`the store at ${where} stayed locked by another process for too long`, 'store_busy');
  // disk_full, out of memory: as SQLite's SQLITE_FULL says it (the unit of work was rolled back).
  if (code === '53100' || code === '53200') {
    return new StoreError(`the PostgreSQL server of the store at ${where} is out of ${code === '53100' ? 'disk space' : 'memory'} (${code}): what was being written was not; free some and run the command again`, 'store_full');
  }
  const message = err.message ?? '';
  const why =
    code === 'ECONNREFUSED' || (code === 'ENOENT' && /\.s\.PGSQL\./.test(message))
      ? 'nothing answers there (is PostgreSQL running?)'
      : /^SASL: .*password must be a string/.test(message)
        ? 'the server asks for a password, and the connection string has none (postgres://USER:PASSWORD@HOST/DB)'
      : /^timeout expired$|Connection terminated due to connection timeout/.test(message)
        ? 'no answer from the server within 10 s'
      : isQueryTimeout(e)
        ? `no answer from the server within ${QUERY_TIMEOUT_MS / 1000} s (is the network to it down?): nothing of the command was kept; run it again`
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'its host name is not known'
      : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
        ? 'this host has no route to it (the network or the address is wrong)'
      : /^The server does not support SSL connections/.test(message)
        ? 'the server offers no TLS, which the connection string asks for (sslmode)'
        : code === '28P01'
          ? 'the server refused the user name or password'
        : code === '28000'
          ? // pg_hba.conf: no rule lets this user in from here, or this way (without TLS, say); the server's words say which.
            `the server lets no such connection in (${message.split('\n')[0]!.slice(0, 200)}): see its pg_hba.conf`
          : code === '3D000'
            ? // The server's words name the database it looked for.
              /^database ".*" does not exist$/.test(err.message ?? '') ? String(err.message) : 'the database does not exist'
            : code === '57P01' || code === 'ECONNRESET' || /terminat|not queryable|connection error/i.test(err.message ?? '')
              ? 'the server closed the connection (a restart?): nothing of the command was half-written; run it again'
              : (err.message ?? String(e)).split('\n')[0];
  return new StoreError(`PostgreSQL store ${where}: ${why}`, 'store_unavailable');
}

/** `?` and `@name` parameters as PostgreSQL's `$n`, with the order the values go in (quoted text left alone). */
export function translate(text: string): { readonly sql: string; readonly names: readonly string[] | null; readonly count: number } {
  const names: string[] = [];
  let positional = 0;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      out += text.slice(i, end + 1);
      i = end + 1;
    } else if (c === '?') {
      out += `$${++positional}`;
      i++;
    } else if (c === '@' && /[A-Za-z_]/.test(text[i + 1] ?? '')) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))![0];
      let n = names.indexOf(name);
      if (n < 0) n = names.push(name) - 1;
      out += `$${n + 1}`;
      i += 1 + name.length;
    } else {
      out += c;
      i++;
    }
  }
  return { sql: out, names: names.length > 0 ? names : null, count: positional };
}

const WRITES = /^\s*(?:INSERT|UPDATE|DELETE)\b/i;

class PgStore extends SqlStore {
  readonly path: string;
  /** Set on a unit of work: the store it belongs to. */
  private root: PgStore | null = null;
  /**
   * The connection's turn: a unit of work holds it from BEGIN to COMMIT; each query of the store
   * outside a unit takes it for itself. So the store's own calls wait for a unit, as another
   * connection's would, and never land inside it.
   */
  private turn: Promise<unknown> = Promise.resolve();
  private readonly translated = new Map<string, ReturnType<typeof translate>>();

  constructor(
    private readonly client: Client,
    private readonly socket: Socket | undefined,
    location: string,
    private readonly options: PgOpenOptions,
  ) {
    super();
    this.path = options.shownAs ?? redactUrl(location);
    // A connection the server ended (a restart, pg_terminate_backend) stays ended: said, so that
    // a holder that keeps stores open (tfactl serve's pool) opens another.
    client.on('error', () => (this.lost = true));
    client.on('end', () => (this.lost = true));
  }

  private lost = false;

  get connectionLost(): boolean {
    return this.owner.lost;
  }

  private get owner(): PgStore {
    return this.root ?? this;
  }

  /** Runs `fn` in the connection's turn, after what came before. */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** Runs one query on this store's connection: a unit's at once, the store's in its turn. */
  private async query(sql: string, values: unknown[], rowMode?: 'array'): Promise<QueryResult> {
    const q = () => this.client.query({ text: sql, values, ...(rowMode && { rowMode }) });
    try {
      if (this.root !== null) return await q();
      // A write outside a unit takes the store's write lock for itself.
      return await this.inTurn(() => (WRITES.test(sql) ? this.inTransaction(q) : q()));
    } catch (e) {
      // Given up, not waited on again (a read's close would wait behind it).
      if (isQueryTimeout(e)) this.socket?.destroy();
      throw pgError(e, this.path);
    }
  }

  private values(text: string, params: unknown[]): { sql: string; values: unknown[] } {
    let t = this.owner.translated.get(text);
    if (!t) this.owner.translated.set(text, (t = translate(text)));
    if (t.names === null) return { sql: t.sql, values: params.length === 1 && isPlainObject(params[0]) ? [] : params.map(toPg) };
    const named = (params[0] ?? {}) as Record<string, unknown>;
    return { sql: t.sql, values: t.names.map((n) => toPg(named[n])) };
  }

  protected sql(text: string): SqlStatement {
    const exec = async (params: unknown[], rowMode?: 'array') => {
      const { sql, values } = this.values(text, params);
      return this.query(sql, values, rowMode);
    };
    return {
      get: async <T>(...p: unknown[]) => (await exec(p)).rows[0] as T | undefined,
      all: async <T>(...p: unknown[]) => (await exec(p)).rows as T[],
      run: async (...p: unknown[]) => ({ changes: (await exec(p)).rowCount ?? 0 }),
      pluck: () => ({
        get: async <T>(...p: unknown[]) => ((await exec(p, 'array')).rows[0] as unknown[] | undefined)?.[0] as T | undefined,
        all: async <T>(...p: unknown[]) => (await exec(p, 'array')).rows.map((r) => (r as unknown[])[0]) as T[],
      }),
    };
  }

  /** A user's audit entries by one condition, which PostgreSQL plans (sql-store.ts auditMatching). */
  protected readonly auditByUnion = false;

  /** A page of a listing (sql-store.ts LISTING_PAGE): one query, its rows at once. */
  protected async page<T>(sql: string, params: Record<string, unknown>): Promise<T[]> {
    return (await this.sql(sql).all(params)) as T[];
  }

  /** BEGIN, the write lock, `fn`, COMMIT (ROLLBACK when it throws); on this connection. */
  private async inTransaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.client.query('BEGIN');
    let committing = false;
    try {
      await this.client.query(`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`);
      const result = await fn();
      committing = true;
      await this.client.query('COMMIT');
      return result;
    } catch (e) {
      if (!isQueryTimeout(e)) {
        await this.client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
      // No answer in time: a ROLLBACK would wait behind the unanswered query as long again. The
      // connection is given up (the server rolls back what it has not committed: within a minute,
      // STALLED_TRANSACTION); whether a COMMIT it never answered was kept cannot be told.
      this.socket?.destroy();
      if (!committing) throw e;
      throw new StoreError(
        `PostgreSQL store ${this.path}: no answer from the server to the commit within ${QUERY_TIMEOUT_MS / 1000} s (is the network to it down?): whether the command's change was kept cannot be told; look before running it again`,
        'store_unavailable',
      );
    }
  }

  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.root !== null) return this.savepoint(fn);
    const unit = Object.create(this) as PgStore;
    unit.root = this;
    return this.inTurn(async () => {
      try {
        return await this.inTransaction(() => fn(unit));
      } catch (e) {
        throw pgError(e, this.path);
      }
    });
  }

  private serial = 0;

  /** A transaction inside a unit: a savepoint, undone alone when it throws. */
  private async savepoint<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    const name = `nested_${++this.owner.serial}`;
    await this.client.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      await this.client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (e) {
      await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      throw e;
    }
  }

  /**
   * A backup in the portable format, a tfactl store file (SQLite): every table read in one
   * REPEATABLE READ transaction (a consistent snapshot, taken in this connection's turn), then
   * made into a store file in memory. It restores into any store with the same key, either backend's,
   * and opens as a SQLite store as it is.
   */
  backupImage(): Promise<Buffer> {
    return this.inTurn(async () => {
      const { storeImage } = await import('./sqlite.js');
      const now = Math.floor(Date.now() / 1000);
      await this.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        const image = await storeImage(now, async (table, columns) => (await this.client.query(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM ${table}`)).rows);
        await this.client.query('COMMIT');
        return image;
      } catch (e) {
        await this.client.query('ROLLBACK').catch(() => undefined);
        throw pgError(e, this.path);
      }
    });
  }

  async readBackup(image: Buffer, path: string): Promise<BackupCopy> {
    return (await import('./sqlite.js')).readBackupImage(image, path);
  }

  /**
   * Restores a backup (the portable format: a tfactl store file, from either backend) as SQLite's
   * restoreFrom does, in one unit of work: the backup brought up to date and checked in memory,
   * its replay ledger merged into this one, its rows in place of this store's (in batches), the
   * merged ledger applied (what was spent stays spent), lockouts kept, and the audit entries only
   * the backup has appended.
   */
  async restoreFrom(copy: BackupCopy, now: number): Promise<RestoreOutcome> {
    const { RESTORED_TABLES, stageBackup } = await import('./sqlite.js');
    const staged = await stageBackup(copy, now, this.options);
    const q = (text: string, values: unknown[] = []) => this.client.query(text, values);
    const insertRows = async (table: string, columns: readonly string[], rows: Iterable<Record<string, unknown>>, tail = '') => {
      const perStatement = Math.max(1, Math.floor(30_000 / columns.length));
      let batch: unknown[][] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const values = batch.map((_, r) => `(${columns.map((__, c) => `$${r * columns.length + c + 1}`).join(', ')})`).join(', ');
        await q(`INSERT INTO ${table} (${columns.map((c) => `"${c}"`).join(', ')}) VALUES ${values}${tail}`, batch.flat());
        batch = [];
      };
      for (const row of rows) {
        batch.push(columns.map((c) => toPg(row[c])));
        if (batch.length >= perStatement) await flush();
      }
      await flush();
    };
    return this.inTurn(async () => {
      try {
        return await this.inTransaction(async () => {
          const effect = await this.effectOf(staged, now);
          await insertRows('replay_ledger', staged.columns('replay_ledger'), staged.rows('replay_ledger'), ' ON CONFLICT (factor_id, guard, slot) DO UPDATE SET spent = greatest(replay_ledger.spent, EXCLUDED.spent)');
          const locks = (
            await q(`SELECT userid, tfa_failures, tfa_locked_until, totp_failures, totp_locked FROM users
                     WHERE tfa_failures > 0 OR tfa_locked_until > 0 OR totp_failures > 0 OR totp_locked > 0`)
          ).rows as { userid: string; tfa_failures: number; tfa_locked_until: number; totp_failures: number; totp_locked: number }[];
          for (const t of [...RESTORED_TABLES].reverse()) await q(`DELETE FROM ${t}`);
          for (const t of RESTORED_TABLES) await insertRows(t, staged.columns(t), staged.rows(t));
          for (const statement of APPLY_REPLAY_LEDGER) await q(statement);
          await q(DROP_ORPHAN_CHALLENGES);
          for (const l of locks) {
            await q(
              `UPDATE users SET tfa_failures = greatest(tfa_failures, $2), tfa_locked_until = greatest(tfa_locked_until, $3),
                 totp_failures = greatest(totp_failures, $4), totp_locked = greatest(totp_locked, $5) WHERE userid = $1`,
              [l.userid, l.tfa_failures, l.tfa_locked_until, l.totp_failures, l.totp_locked],
            );
          }
          // The audit trail stays; entries only the backup has are appended (in batches), with
          // their own ids where those are below the trail's oldest (restoredAuditId). Two passes over the backup's
          // trail (the same entries each time: the store's trail is read before either), as an
          // INSERT that names the id column gives NULL to a row without one: those with an id of
          // their own, then the rest.
          const trail = await this.auditToAppend(staged);
          let auditEntries = 0;
          const appending = function* (withId: boolean) {
            for (const a of trail.entries()) {
              const id = restoredAuditId(a.id, trail.oldest);
              if (withId && id !== null) yield { ...a, id };
              else if (!withId && id === null) yield a;
              else continue;
              auditEntries++;
            }
          };
          await insertRows('audit', ['id', 'ts', 'actor', 'action', 'target', 'outcome', 'detail'], appending(true));
          await insertRows('audit', ['ts', 'actor', 'action', 'target', 'outcome', 'detail'], appending(false));
          return { ...effect, auditEntries };
        });
      } catch (e) {
        throw pgError(e, this.path);
      }
    });
  }

  async previewRestore(copy: BackupCopy, now: number): Promise<RestoreOutcome> {
    const { stageBackup } = await import('./sqlite.js');
    const staged = await stageBackup(copy, now, this.options);
    return this.inTurn(async () => {
      try {
        // One snapshot: the store's rows as of one moment.
        await this.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        try {
          const effect = await this.effectOf(staged, now);
          return { ...effect, auditEntries: sizeOf((await this.auditToAppend(staged)).entries()) };
        } finally {
          await this.client.query('COMMIT').catch(() => undefined);
        }
      } catch (e) {
        throw pgError(e, this.path);
      }
    });
  }

  /**
   * The staged backup's audit entries this store's trail lacks (audit-merge.ts; `entries` reads
   * them afresh at each call), and the trail's oldest id (null: none). What this store has is read
   * once, whole, into memory: one query, not a round trip per second of the backup's.
   */
  private async auditToAppend(staged: StagedBackup) {
    const bySecond = new Map<number, AuditContent[]>();
    let oldest: number | null = null;
    for (const e of (await this.client.query('SELECT id, ts, actor, action, target, outcome, detail FROM audit')).rows as (AuditContent & { id: string })[]) {
      const id = Number(e.id);
      oldest = oldest === null ? id : Math.min(oldest, id);
      const ts = Number(e.ts);
      const held = bySecond.get(ts);
      if (held) held.push(e);
      else bySecond.set(ts, [e]);
    }
    // staged.rows gives the audit trail in time order.
    const entries = () => auditEntriesToAppend(staged.rows('audit') as Iterable<Record<string, unknown> & AuditContent>, (ts) => bySecond.get(ts) ?? []);
    return { entries, oldest };
  }

  /**
   * What restoring the staged backup brings back and takes away (domain/restore-revival.ts), on
   * this connection, in whatever transaction it is in. The store's rows that grant access are read
   * all at once (the driver's results are not iterated), for any backup: what goes is told of every
   * one, what comes back of one of the store's own history.
   */
  private async effectOf(staged: Parameters<typeof accessRowsOf>[0] & StagedBackup, now: number): Promise<RestoreEffect> {
    const sqlite = await import('./sqlite.js');
    const { ACCESS_QUERIES } = sqlite;
    const q = (text: string) => this.client.query(text);
    const backup = sqlite.accessRowsOf(staged);
    // The rows as the driver gives them: the same columns, types and values as SQLite's (int8
    // and integers as numbers, bytea as a Buffer).
    const all = async (sql: string) => {
      const { rows } = await q(sql);
      return () => rows;
    };
    const current: AccessRows = {
      rootCreated: (await q(ACCESS_QUERIES.root)).rows[0]?.created as number | undefined,
      users: await all(ACCESS_QUERIES.users),
      factors: await all(ACCESS_QUERIES.factors),
      tokens: await all(ACCESS_QUERIES.tokens),
      realms: await all(ACCESS_QUERIES.realms),
      settings: await all(ACCESS_QUERIES.settings),
    };
    return restoreEffect(current, backup, now, staged.held);
  }

  close(): void {
    if (this.root !== null) return;
    void this.client.end().catch(() => undefined);
    // Everything is committed: the goodbye is written (a pending write keeps the process alive),
    // but a command does not wait for the server to close its end (about 5 ms of every command).
    this.socket?.unref();
  }
}

const isPlainObject = (v: unknown): boolean => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/** JavaScript values as the driver sends them: booleans as the 0 and 1 the schema keeps. */
function toPg(v: unknown): unknown {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v === undefined ? null : v;
}

/**
 * Opens the PostgreSQL store `location` names (postgres://USER:PASSWORD@HOST:PORT/DATABASE),
 * bringing its schema up to date under the write lock, creating it in an empty database. Refused,
 * exit 6: a server that cannot be reached or refuses the login, a database with tables that is not
 * a tfactl store, a store from a newer tfactl.
 */
export async function openPostgresStore(location: string, options: PgOpenOptions): Promise<{ store: Store; created: boolean }> {
  const { default: pg } = await import('pg');
  // Counts and epoch seconds are BIGINT: as numbers (they stay far below 2^53).
  pg.types.setTypeParser(20, (v) => Number(v));
  pg.types.setTypeParser(1700, (v) => Number(v));
  const where = options.shownAs ?? redactUrl(location);
  const { Socket } = await import('node:net');
  let socket: Socket | undefined;
  let client: InstanceType<typeof pg.Client>;
  // pg reads the connection string here, and for sslmode=require (or prefer, verify-ca) prints a
  // nine-line notice that it checks the server's certificate as verify-full does (stricter than
  // libpq: a server it cannot verify fails to connect, in one line). Not shown: a command's
  // failures are one line, and this is no failure.
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (String(warning).startsWith("SECURITY WARNING: The SSL modes 'prefer', 'require', and 'verify-ca'")) return;
    (emitWarning as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    client = new pg.Client({
      connectionString: location,
      connectionTimeoutMillis: 10_000,
      query_timeout: QUERY_TIMEOUT_MS,
      // TCP keepalives: a server gone from the network is found out in the end (the query timeout comes first).
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: 'tfactl',
      stream: () => (socket = new Socket()),
    });
  } catch (e) {
    // pg reads the connection string here; what it cannot read is the caller's mistake, said
    // without the string itself (it holds a password).
    throw new UsageError(`the PostgreSQL connection string cannot be read (${e instanceof Error ? e.message : String(e)}): expected postgres://USER:PASSWORD@HOST:PORT/DATABASE, with any of : / @ ? # % in the user or password percent-encoded (%2F for /)`, 'invalid_store');
  } finally {
    process.emitWarning = emitWarning;
  }
  client.on('error', () => undefined); // A connection lost between queries fails the next query instead.
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw pgError(e, where);
  }
  let created = false;
  try {
    // Read-only for the whole session (not a startup parameter: a URL's own `options` would
    // replace it, and PgBouncer refuses it).
    if (options.readOnly) await client.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
    // Up to date, as nearly always: one query, and no lock.
    let failure: unknown = null;
    // With the lock timeout, in the same round trip (a failing query undoes the SET: set below).
    const current = await client
      .query(`${LOCK_TIMEOUT}; ${STALLED_TRANSACTION}; SELECT version FROM ${MARKER_TABLE} WHERE application = 'tfactl'`)
      // The SETs' results, then the SELECT's.
      .then((results) => (results as unknown as QueryResult[])[2] ?? null)
      .catch((e: unknown) => {
        failure = e;
        return null;
      });
    const found = Number(current?.rows[0]?.version ?? 0);
    if (found === PG_LATEST_VERSION) return { store: new PgStore(client, socket, location, options), created: false };
    // 42P01: no marker table, so no store (an empty database, or another program's).
    const missing = current === null && (failure as { code?: string } | null)?.code === '42P01';
    if (options.existing && missing) {
      // Another program's database is said to be one, not taken for a store that is not there yet.
      const tables = await client.query(OTHER_RELATIONS);
      if (Number(tables.rows[0].n) > 0) throw new StoreError(`${where} holds tables but is not a tfactl store`, 'not_a_store');
      throw storeMissing(where);
    }
    if (options.readOnly) {
      if (failure !== null && !missing) throw failure;
      throw missing
        ? storeMissing(where)
        : found > PG_LATEST_VERSION
          ? storeTooNew(where, found, PG_LATEST_VERSION)
          : new StoreError(`the store at ${where} must be brought up to date first (any tfactl command that writes does it)`, 'store_outdated');
    }
    if (failure !== null) await client.query(`${LOCK_TIMEOUT}; ${STALLED_TRANSACTION}`);
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`);
    const marked = await client.query(`SELECT to_regclass('${MARKER_TABLE}') IS NOT NULL AS marked`);
    let version = 0;
    if (marked.rows[0].marked) {
      const row = (await client.query(`SELECT version FROM ${MARKER_TABLE} WHERE application = 'tfactl'`)).rows[0];
      // A marker table without its row: not a store tfactl left (it writes both in one transaction).
      if (row === undefined) throw new StoreError(`${where} has a ${MARKER_TABLE} table without its row: it is not a tfactl store, or it was damaged`, 'not_a_store');
      version = Number(row.version);
    } else {
      const tables = await client.query(OTHER_RELATIONS);
      if (Number(tables.rows[0].n) > 0) throw new StoreError(`${where} holds tables but is not a tfactl store`, 'not_a_store');
    }
    if (version > PG_LATEST_VERSION) {
      throw storeTooNew(where, version, PG_LATEST_VERSION);
    }
    for (const m of PG_MIGRATIONS) {
      if (m.version <= version) continue;
      for (const statement of m.statements(options.now)) await client.query(statement);
      if (version > 0) await client.query(`UPDATE ${MARKER_TABLE} SET version = $1`, [m.version]);
      created ||= version === 0;
      version = m.version;
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
    throw pgError(e, where);
  }
  return { store: new PgStore(client, socket, location, options), created };
}
