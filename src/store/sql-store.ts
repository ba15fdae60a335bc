import { actionGroups } from '../domain/audit-filter.js';
import { StoreError } from '../errors.js';
import { CLOCK_SKEW_SECONDS, MAX_EPOCH_SECONDS } from '../domain/dates.js';
import { countedPasswordFailures, countEnabled, type EnabledFactors } from '../domain/sign-in.js';
import type { TotpAlgorithm, TotpParams } from '../domain/totp-params.js';
import type {
  ApiTokenRecord,
  AuditEntry,
  AuditFilter,
  AuditRecord,
  BackupCopy,
  ChallengePurpose,
  ChallengeRecord,
  CredentialRecord,
  EnforceType,
  FactorRecord,
  FactorType,
  LockoutLimits,
  LockState,
  NewCredentialFactor,
  NewRealm,
  NewRecoverySet,
  NewTotpFactor,
  NewUser,
  NewYubicoFactor,
  PasswordCheckStart,
  PasswordFailureCount,
  PasswordLimits,
  RealmRecord,
  RealmSummary,
  RecoverySetRecord,
  SessionRecord,
  Store,
  TotpSecretRecord,
  UserFilter,
  UserOverview,
  UserPatch,
  RestoreOutcome,
  UserRecord,
  YubicoRealmConfig,
  YubikeyRecord,
} from './types.js';

/**
 * The store in SQL, for every backend: each method is its statements, written once, in the SQL
 * SQLite and PostgreSQL both take (parameters as `?` or `@name`; a backend translates them). A
 * backend gives the statements (`sql`), row iteration (`rows`), units of work (`transaction`) and
 * what only it can do (backups, closing).
 */

/** A statement of the backend's, called as better-sqlite3's are: positional values, or one object of named ones. */
export interface SqlStatement {
  get<T = unknown>(...params: unknown[]): Promise<T | undefined>;
  all<T = unknown>(...params: unknown[]): Promise<T[]>;
  run(...params: unknown[]): Promise<{ readonly changes: number }>;
  /** The first column only. */
  pluck(): { get<T = unknown>(...params: unknown[]): Promise<T | undefined>; all<T = unknown>(...params: unknown[]): Promise<T[]> };
}

/** A password check takes well under a second; one older than this died with its process. */
export const PASSWORD_CHECK_LIFETIME = 60;

/** A store that was asked for and is not there (OpenOptions existing, readOnly): nothing is made in its place. */
/** A store whose schema is newer than this tfactl's, said alike on both backends (exit 6). */
export function storeTooNew(where: string, found: number, known: number): StoreError {
  return new StoreError(`the store at ${where} is from a newer tfactl (schema ${found}; this tfactl knows up to ${known}): upgrade tfactl`, 'store_too_new');
}

export function storeMissing(where: string): StoreError {
  return new StoreError(`there is no tfactl store at ${where} (its owner makes one with tfactl init)`, 'store_missing');
}

/** After a restore: the challenges of users it did not bring back go (one made again under the id could answer them). */
export const DROP_ORPHAN_CHALLENGES = 'DELETE FROM challenges WHERE userid NOT IN (SELECT userid FROM users)';

/**
 * Raises a factor column to the highest the ledger holds for the factor, or for its device (the
 * secret's mark, the key's public id or credential id) under the same user.
 */
const raiseToLedger = (column: string, guard: string, device: string, types: string) =>
  `UPDATE factors SET ${column} = l.spent
   FROM (
     SELECT f.id, max(l.spent) AS spent FROM factors f
     JOIN replay_ledger l ON l.guard = '${guard}' AND (l.factor_id = f.id OR (l.userid = f.userid AND l.device = f.${device}))
     WHERE f.type IN (${types}) GROUP BY f.id
   ) l
   WHERE l.id = factors.id AND (factors.${column} IS NULL OR factors.${column} < l.spent)`;

/**
 * After a restore: every factor at least as spent as the replay ledger says (see
 * SqliteStore.applyReplayLedger), in SQL both backends take.
 */
export const APPLY_REPLAY_LEDGER: readonly string[] = [
  raiseToLedger('last_step', 'totp-step', 'secret_mark', "'totp'"),
  raiseToLedger('last_counter', 'yubico-counter', 'public_id', "'yubico'"),
  raiseToLedger('last_counter', 'webauthn-counter', 'credential_id', "'webauthn', 'u2f'"),
  `UPDATE recovery_slots SET hash = NULL
   WHERE hash IS NOT NULL AND EXISTS (
     SELECT 1 FROM replay_ledger l WHERE l.factor_id = recovery_slots.factor_id AND l.guard = 'recovery-key' AND l.slot = recovery_slots.slot
   )`,
];

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

export interface AuditRow {
  id: number;
  ts: number;
  actor: string | null;
  action: string;
  target: string | null;
  outcome: AuditRecord['outcome'];
  detail: string | null;
}

/** A stored time (seconds) as read, or a StoreError naming where it is: only a store edited by hand holds one that no date can show. */
function storedTime(value: number, where: string): number {
  if (value <= MAX_EPOCH_SECONDS && value >= -MAX_EPOCH_SECONDS) return value;
  throw new StoreError(`${where} holds a time out of range: the store is damaged`, 'store_corrupt');
}
const storedTimeOrNull = (value: number | null, where: string): number | null => (value === null ? null : storedTime(value, where));

/** A factor's sealed secret as read, or a StoreError when a hand-edited store has none. */
function storedSecret(value: Buffer | null, where: string): Buffer {
  if (value instanceof Uint8Array) return value;
  throw new StoreError(`${where} has no secret: the store is damaged`, 'store_corrupt');
}

/** A stored JSON text, parsed, or a StoreError naming where it is. */
function storedJson<T>(text: string, where: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new StoreError(`${where} is not valid JSON: the store is damaged`, 'store_corrupt');
  }
}

// Flags are selected as 0 or 1 (CASE), never as a comparison: PostgreSQL would give a boolean.
const USER_COLUMNS = `userid, realm, admin, enabled, email, comment, expire, created, modified,
  CASE WHEN password_hash IS NOT NULL THEN 1 ELSE 0 END AS has_password`;

const toUser = (r: UserRow): UserRecord => ({
  userid: r.userid,
  realm: r.realm,
  admin: r.admin === 1,
  enabled: r.enabled === 1,
  email: r.email,
  comment: r.comment,
  expire: r.expire,
  created: storedTime(r.created, `user ${r.userid}`),
  modified: storedTime(r.modified, `user ${r.userid}`),
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
        : { mode: 'online', apiId: r.yubico_api_id ?? '', urls: storedJson<string[]>(r.yubico_urls ?? '[]', `realm ${r.name}`) },
  created: storedTime(r.created, `realm ${r.name}`),
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
  issuer: string | null;
  recovery_left: number | null;
  public_id: string | null;
  credential_id: string | null;
  rp_id: string | null;
  last_counter: number | null;
}

/** A factor row as the record of its kind; a row the schema's checks would not allow is damage. */
function toFactor(r: FactorRow): FactorRecord {
  const base = { id: r.id, userid: r.userid, description: r.description, enabled: r.enabled === 1, created: storedTime(r.created, `factor ${r.id}`), lastUsed: storedTimeOrNull(r.last_used, `factor ${r.id}`) };
  switch (r.type) {
    case 'totp':
      if (r.algorithm === null || r.digits === null || r.period === null) throw new StoreError(`TOTP factor ${r.id} has no parameters: the store is damaged`, 'store_corrupt');
      return { ...base, type: 'totp', verified: r.verified === 1, params: { algorithm: r.algorithm, digits: r.digits as TotpParams['digits'], period: r.period }, issuer: r.issuer };
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
  CASE WHEN u.password_hash IS NOT NULL THEN 1 ELSE 0 END AS has_password, u.totp_failures, u.totp_locked, u.tfa_failures, u.tfa_locked_until,
  (SELECT r.enforce FROM realms r WHERE r.name = u.realm) AS enforce,
  coalesce((SELECT p.banned_until FROM password_failures p WHERE p.userid = u.userid), 0) AS password_banned_until,
  coalesce((SELECT p.failures FROM password_failures p WHERE p.userid = u.userid), 0) AS password_failures,
  coalesce((SELECT p.window_start FROM password_failures p WHERE p.userid = u.userid), 0) AS password_window_start`;

const ENABLED_COUNT_COLUMNS = `
  (SELECT count(*) FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'totp') AS n_totp,
  (SELECT count(*) FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'yubico') AS n_yubico,
  (SELECT count(*) FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'webauthn') AS n_webauthn,
  (SELECT count(*) FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'u2f') AS n_u2f,
  (SELECT count(s.hash) FROM factors f JOIN recovery_slots s ON s.factor_id = f.id
     WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'recovery') AS recovery_left,
  CASE WHEN EXISTS (SELECT 1 FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'recovery') THEN 1 ELSE 0 END AS has_recovery,
  CASE WHEN (SELECT r.yubico_mode FROM realms r WHERE r.name = u.realm) = 'online' THEN 0
    ELSE (SELECT count(*) FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'yubico' AND f.secret IS NULL) END AS n_yubico_unchecked`;

interface OverviewRow extends UserRow {
  totp_failures: number;
  totp_locked: number;
  tfa_failures: number;
  tfa_locked_until: number;
  enforce: EnforceType | null;
  password_banned_until: number;
  password_failures: number;
  password_window_start: number;
}

interface CountsRow {
  n_totp: number;
  n_yubico: number;
  n_webauthn: number;
  n_u2f: number;
  recovery_left: number;
  has_recovery: number;
  n_yubico_unchecked: number;
}

// Spelled out, not {...toUser(r), ...}: on Node 20 a spread followed by more properties takes
// microseconds per object, seconds over a listing of 200,000 users.
const toOverview = (r: OverviewRow, factors: EnabledFactors, yubicoUnchecked: number): UserOverview => ({
  userid: r.userid,
  realm: r.realm,
  admin: r.admin === 1,
  enabled: r.enabled === 1,
  email: r.email,
  comment: r.comment,
  expire: r.expire,
  created: storedTime(r.created, `user ${r.userid}`),
  modified: storedTime(r.modified, `user ${r.userid}`),
  hasPassword: r.has_password === 1,
  enforce: r.enforce ?? 'none',
  factors,
  totpFailures: r.totp_failures,
  totpLocked: r.totp_locked === 1,
  secondFactorFailures: r.tfa_failures,
  lockedUntil: storedTime(r.tfa_locked_until, `user ${r.userid}`),
  passwordBannedUntil: storedTime(r.password_banned_until, `user ${r.userid}`),
  passwordFailures: {
    failures: r.password_failures,
    windowStart: storedTime(r.password_window_start, `user ${r.userid}`),
    bannedUntil: storedTime(r.password_banned_until, `user ${r.userid}`),
  },
  yubicoUnchecked,
});

const countsOf = (r: CountsRow): EnabledFactors => ({
  totp: r.n_totp,
  yubico: r.n_yubico,
  webauthn: r.n_webauthn,
  u2f: r.n_u2f,
  recoveryKeysLeft: r.has_recovery === 1 ? r.recovery_left : null,
});

/**
 * The order users are listed in: by realm, then by name, a name before the longer ones it begins
 * (`bob`, `bob.x`, `bob2`). The realm, a space, and the user id with its '@' made a space: no realm
 * or name holds a space or anything before it, so the key sorts as (realm, name) would. Indexed as
 * it is written here (users_listing, migration 16 on both backends): a listing reads that index in
 * order. Listings page on it (keyset paging) and read a realm's users as the one range of keys that
 * start with the realm and a space.
 */
const USER_LISTING_KEY = "u.realm || ' ' || replace(u.userid, '@', ' ')";

/**
 * The WHERE clause of a user listing by USER_LISTING_KEY, with only the conditions in use (so the
 * planner reads the index): one user, a realm (as its range of keys), the keys after a page's last.
 */
function userListingWhere(filter: UserFilter, afterKey: string | undefined): { sql: string; params: Record<string, string> } {
  const where: string[] = [];
  const params: Record<string, string> = {};
  if (afterKey !== undefined) {
    where.push(`${USER_LISTING_KEY} > @afterKey`);
    params.afterKey = afterKey;
  }
  if (filter.realm !== undefined) {
    // '!' comes right after the space: every key of the realm, and only those, lies between.
    where.push(`${USER_LISTING_KEY} > @realmFrom AND ${USER_LISTING_KEY} < @realmTo`);
    Object.assign(params, { realmFrom: `${filter.realm} `, realmTo: `${filter.realm}!` });
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
 * Rows a listing reads at a time. Each page is one statement read whole before its rows are handed
 * out, so no read stays open while they are written out, however slowly they are read (a pager, a
 * client of tfactl serve that stops reading): on SQLite an open read keeps the WAL from being reset
 * (it grows with every write meanwhile), on PostgreSQL it keeps a transaction open. A listing is
 * therefore not one snapshot: what changes while it is read may show in the pages after.
 */
export const LISTING_PAGE = 1000;

/**
 * The SQL of the listings read as they are written out (user list, tfa list, audit, the exports),
 * a page at a time (LISTING_PAGE), each after the last row of the one before (keyset paging), with
 * their parameters. Apart so that a test can check their query plans on a big store: each must
 * read through indexes in the order it lists, never sort all its rows first.
 */
export const listingQueries = {
  /** Users with their enabled factor counts, by realm and name (USER_LISTING_KEY). */
  users(filter: UserFilter, after?: { readonly listing_key: string }) {
    const { sql, params } = userListingWhere(filter, after?.listing_key);
    return {
      sql: `SELECT ${OVERVIEW_COLUMNS}, ${ENABLED_COUNT_COLUMNS}, ${USER_LISTING_KEY} AS listing_key FROM users u ${sql} ORDER BY listing_key LIMIT @page`,
      params: { ...params, page: LISTING_PAGE },
    };
  },
  /**
   * A page of users (LISTING_PAGE of them) joined with their factors (a row per factor, one for a
   * user without), by realm and name as `users` lists them.
   */
  usersWithFactors(filter: UserFilter, afterKey?: string) {
    const { sql, params } = userListingWhere(filter, afterKey);
    return {
      sql: `SELECT ${OVERVIEW_COLUMNS}, u.listing_key, f.id AS f_id, f.type AS f_type, f.description AS f_description, f.enabled AS f_enabled,
         f.verified AS f_verified, f.created AS f_created, f.last_used AS f_last_used, f.algorithm AS f_algorithm,
         f.digits AS f_digits, f.period AS f_period, f.issuer AS f_issuer, f.public_id AS f_public_id,
         f.credential_id AS f_credential_id, f.rp_id AS f_rp_id, f.last_counter AS f_last_counter,
         (SELECT count(*) FROM recovery_slots s WHERE s.factor_id = f.id AND s.hash IS NOT NULL) AS f_recovery_left,
         CASE WHEN f.type = 'yubico' AND f.enabled = 1 AND f.secret IS NULL
           AND coalesce((SELECT r.yubico_mode FROM realms r WHERE r.name = u.realm), '') <> 'online' THEN 1 ELSE 0 END AS f_unchecked
       FROM (SELECT u.*, ${USER_LISTING_KEY} AS listing_key FROM users u ${sql} ORDER BY listing_key LIMIT @page) u LEFT JOIN factors f ON f.userid = u.userid
       ORDER BY u.listing_key, f.created, f.rowid`,
      params: { ...params, page: LISTING_PAGE },
    };
  },
  /** TOTP factors with their sealed secrets, by user. */
  totpFactors(exceptUserid: string | undefined, after?: { readonly userid: string; readonly created: number; readonly rowid: number }) {
    const where = ["f.type = 'totp'"];
    if (exceptUserid !== undefined) where.push('f.userid <> @except');
    if (after !== undefined) where.push('(f.userid, f.created, f.rowid) > (@afterUserid, @afterCreated, @afterRowid)');
    return {
      sql: `SELECT f.*, f.rowid AS listing_rowid, 0 AS recovery_left FROM factors f WHERE ${where.join(' AND ')} ORDER BY f.userid, f.created, f.rowid LIMIT @page`,
      params: {
        page: LISTING_PAGE,
        ...(exceptUserid !== undefined && { except: exceptUserid }),
        ...(after && { afterUserid: after.userid, afterCreated: after.created, afterRowid: after.rowid }),
      },
    };
  },
  /**
   * Where an audit listing starts (`first`: an id at or before its first entry) and ends (`last`:
   * the newest entry now; what is written while the listing is read is not listed). With a limit,
   * `first` is the oldest of the newest `limit` that match (null: none do). Each is found through
   * an index, without reading the trail.
   */
  auditBounds(filter: AuditFilter, byUnion = true) {
    const newest = '(SELECT max(id) FROM audit)';
    if (filter.limit === undefined) return { sql: `SELECT 0 AS first, ${newest} AS last`, params: {} };
    const ids = auditMatching(filter, 'id', [], byUnion);
    return {
      sql: `SELECT (SELECT min(id) FROM (${ids.sql} ORDER BY id DESC LIMIT @limit) AS latest) AS first, ${newest} AS last`,
      params: { ...ids.params, limit: filter.limit },
    };
  },
  /** A page of audit entries, oldest first, from `afterId` (exclusive) to `lastId`. */
  audit(filter: AuditFilter, afterId: number, lastId: number, byUnion = true) {
    const { sql, params } = auditMatching(filter, '*', ['id > @afterId', 'id <= @lastId'], byUnion);
    return { sql: `${sql} ORDER BY id LIMIT @page`, params: { ...params, afterId, lastId, page: LISTING_PAGE } };
  },
};

/**
 * The audit entries that match `filter` (its user, days, action and outcome, not its limit), their `columns`, with
 * `more` conditions. A user's entries are those they did and those done to them: on SQLite
 * (`byUnion`) two indexes, each in id order (an index holds the rowid), merged (UNION) rather than
 * searched as one condition and sorted; PostgreSQL's indexes are not in id order, and it weighs
 * one condition against the primary key's order itself, where a UNION would read and sort all of a
 * user's entries for every page.
 */
function auditMatching(filter: AuditFilter, columns: string, more: readonly string[], byUnion: boolean) {
  const where = [...more];
  if (filter.since !== undefined) where.push('ts >= @since');
  if (filter.until !== undefined) where.push('ts < @until');
  // An action name is letters, digits, dots and dashes (the service checks): no LIKE wildcard in it.
  const groups = filter.action === undefined ? [] : actionGroups(filter.action);
  if (groups.length > 0) where.push(`(${groups.map((_, i) => `action = @action${i} OR action LIKE @actions${i}`).join(' OR ')})`);
  if (filter.outcome !== undefined) where.push('outcome = @outcome');
  const params = {
    ...(filter.user !== undefined && { user: filter.user }),
    ...(filter.since !== undefined && { since: filter.since }),
    ...(filter.until !== undefined && { until: filter.until }),
    ...Object.fromEntries(groups.flatMap((group, i) => [[`action${i}`, group], [`actions${i}`, `${group}.%`]])),
    ...(filter.outcome !== undefined && { outcome: filter.outcome }),
  };
  if (filter.user !== undefined && byUnion) {
    const and = where.map((w) => ` AND ${w}`).join('');
    return { sql: `SELECT ${columns} FROM audit WHERE actor = @user${and} UNION SELECT ${columns} FROM audit WHERE target = @user${and}`, params };
  }
  if (filter.user !== undefined) where.unshift('(actor = @user OR target = @user)');
  return { sql: `SELECT ${columns} FROM audit${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`, params };
}

export abstract class SqlStore implements Store {
  abstract readonly path: string;
  abstract transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  abstract backupImage(): Promise<Buffer>;
  abstract readBackup(image: Buffer, path: string): Promise<BackupCopy>;
  abstract restoreFrom(copy: BackupCopy, now: number): Promise<RestoreOutcome>;
  abstract previewRestore(copy: BackupCopy, now: number): Promise<RestoreOutcome>;
  abstract close(): void;
  abstract readonly connectionLost: boolean;
  /** The statement `text` on this connection (prepared once, where the backend can). */
  protected abstract sql(text: string): SqlStatement;
  /** How a user's audit entries are read (listingQueries.audit): SQLite's way, or PostgreSQL's. */
  protected abstract readonly auditByUnion: boolean;
  /** All the rows of `sql`, a page of a listing (at most LISTING_PAGE of them). */
  protected abstract page<T>(sql: string, params: Record<string, unknown>): Promise<T[]>;

  /**
   * A listing's rows, a page at a time (LISTING_PAGE): `query(last)` is the page after the row
   * `last` (undefined: the first page). A page shorter than that is the last.
   */
  private async *paged<T>(query: (last: T | undefined) => { sql: string; params: Record<string, unknown> }): AsyncGenerator<T> {
    let last: T | undefined;
    for (;;) {
      const { sql, params } = query(last);
      const rows = await this.page<T>(sql, params);
      yield* rows;
      if (rows.length < LISTING_PAGE) return;
      last = rows[rows.length - 1];
    }
  }

  /** Runs `fn` on a unit of work: the one this store is, or a new one. */
  protected atomically<T>(fn: (s: SqlStore) => Promise<T>): Promise<T> {
    return this.transaction((tx) => fn(tx as unknown as SqlStore));
  }

  async getUser(userid: string) {
    const row = (await this.sql(`SELECT ${USER_COLUMNS} FROM users WHERE userid = ?`).get(userid)) as UserRow | undefined;
    return row && toUser(row);
  }

  async useridsNamed(name: string, limit: number) {
    // Compared by prefix, not LIKE: a user name may hold _ or %.
    const prefix = `${name}@`;
    return (await this.sql('SELECT userid FROM users WHERE substr(userid, 1, length(?)) = ? ORDER BY userid LIMIT ?').pluck().all(prefix, prefix, limit)) as string[];
  }

  async getPasswordHash(userid: string) {
    const row = (await this.sql('SELECT password_hash FROM users WHERE userid = ?').get(userid)) as
      | { password_hash: string | null }
      | undefined;
    return row?.password_hash;
  }

  async getUserOverview(userid: string) {
    const row = (await this.sql(`SELECT ${OVERVIEW_COLUMNS}, ${ENABLED_COUNT_COLUMNS} FROM users u WHERE u.userid = ?`).get(userid)) as
      | (OverviewRow & CountsRow)
      | undefined;
    return row && toOverview(row, countsOf(row), row.n_yubico_unchecked);
  }

  async *users(filter: UserFilter) {
    for await (const row of this.paged<OverviewRow & CountsRow & { listing_key: string }>((last) => listingQueries.users(filter, last))) yield toOverview(row, countsOf(row), row.n_yubico_unchecked);
  }

  async userIdsStartingWith(prefix: string) {
    // A range of the user id's index (bytewise order on both backends): the ids from the prefix up
    // to it followed by the last code point. A big store's other users are never read.
    const where = prefix === '' ? '' : 'WHERE userid >= @from AND userid < @to';
    return (await this.sql(`SELECT userid FROM users ${where} ORDER BY userid`).pluck().all(prefix === '' ? {} : { from: prefix, to: `${prefix}\u{10FFFF}` })) as string[];
  }

  async *usersWithFactors(filter: UserFilter) {
    type Row = OverviewRow & { f_id: string | null; listing_key: string } & Record<string, unknown>;
    // Pages of users (each with all its factors' rows); a page of fewer users than LISTING_PAGE is the last.
    const page = (after: string | undefined) => {
      const { sql, params } = listingQueries.usersWithFactors(filter, after);
      return this.page<Row>(sql, params);
    };
    async function* rows(): AsyncGenerator<Row> {
      for (let after: string | undefined, more = true; more; ) {
        const rows = await page(after);
        yield* rows;
        more = new Set(rows.map((r) => r.userid)).size === LISTING_PAGE;
        after = rows[rows.length - 1]?.listing_key;
      }
    }
    // One pass over users joined with their factors, in user order: each user's rows come
    // together, so a user is complete when the next one starts.
    let current: { row: OverviewRow; factors: FactorRecord[]; unchecked: number } | undefined;
    const done = (c: { row: OverviewRow; factors: FactorRecord[]; unchecked: number }) => ({ user: toOverview(c.row, countEnabled(c.factors), c.unchecked), factors: c.factors });
    for await (const row of rows()) {
      if (current && current.row.userid !== row.userid) {
        yield done(current);
        current = undefined;
      }
      current ??= { row, factors: [], unchecked: 0 };
      if (row.f_id !== null) {
        current.unchecked += row.f_unchecked as number;
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
            issuer: row.f_issuer as string | null,
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

  async usersWithout(realm: string, type: FactorType, sample: number) {
    // Recovery keys count where a type is enforced (domain/sign-in.ts): a user with some left can sign in.
    const missing = `FROM users u WHERE u.realm = @realm
      AND NOT EXISTS (SELECT 1 FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = @type)
      AND NOT EXISTS (SELECT 1 FROM factors r JOIN recovery_slots s ON s.factor_id = r.id
        WHERE r.userid = u.userid AND r.enabled = 1 AND r.type = 'recovery' AND s.hash IS NOT NULL)`;
    const count = (await this.sql(`SELECT count(*) ${missing}`).pluck().get({ realm, type })) as number;
    const first = (await this.sql(`SELECT u.userid ${missing} ORDER BY u.userid LIMIT @sample`).pluck().all({ realm, type, sample })) as string[];
    return { count, first };
  }

  async usersWithYubikeys(realm: string, offline: boolean, sample: number) {
    const having = `FROM users u WHERE u.realm = @realm
      AND EXISTS (SELECT 1 FROM factors f WHERE f.userid = u.userid AND f.enabled = 1 AND f.type = 'yubico' AND (CASE WHEN f.secret IS NULL THEN 0 ELSE 1 END) = @offline)`;
    const params = { realm, offline: offline ? 1 : 0, sample };
    const count = (await this.sql(`SELECT count(*) ${having}`).pluck().get(params)) as number;
    const first = (await this.sql(`SELECT u.userid ${having} ORDER BY u.userid LIMIT @sample`).pluck().all(params)) as string[];
    return { count, first };
  }

  async insertUser(u: NewUser) {
    const inserted = (await this.sql(
            `INSERT INTO users (userid, realm, password_hash, admin, enabled, email, comment, expire, created, modified)
             VALUES (@userid, @realm, @passwordHash, @admin, @enabled, @email, @comment, @expire, @created, @created)
             ON CONFLICT (userid) DO NOTHING`,
          )
          .run({ ...u, admin: u.admin ? 1 : 0, enabled: u.enabled ? 1 : 0 })).changes === 1;
    if (inserted) await this.clearPasswordFailures(u.userid);
    return inserted;
  }

  async updateUser(userid: string, patch: UserPatch, modified: number) {
    const keys = (Object.keys(patch) as (keyof UserPatch)[]).filter((k) => patch[k] !== undefined);
    const sets = keys.map((k) => `${PATCH_COLUMNS[k]} = @${k}`);
    const values: Record<string, unknown> = { userid, modified };
    for (const k of keys) {
      const v = patch[k];
      values[k] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    }
    return (
      (await this.sql(`UPDATE users SET ${[...sets, 'modified = @modified'].join(', ')} WHERE userid = @userid`).run(values))
        .changes === 1
    );
  }

  async replacePasswordHash(userid: string, oldHash: string, newHash: string) {
    return (await this.sql('UPDATE users SET password_hash = ? WHERE userid = ? AND password_hash = ?')
          .run(newHash, userid, oldHash)).changes === 1;
  }

  async deleteUser(userid: string) {
    const deleted = (await this.sql('DELETE FROM users WHERE userid = ?').run(userid)).changes === 1;
    // Challenges name a user id, not a row: one pending for the deleted user would be answered
    // for a user made again under the id (a key enrolled on the new account).
    if (deleted) await this.sql('DELETE FROM challenges WHERE userid = ?').run(userid);
    return deleted;
  }

  async getRealm(name: string) {
    // No user count here: sign-in reads the realm, and counting would scan its users.
    const row = (await this.sql('SELECT r.* FROM realms r WHERE r.name = ?').get(name)) as RealmRow | undefined;
    if (!row) return undefined;
    const { userCount: _omitted, ...realm } = toRealm(row);
    return realm satisfies RealmRecord;
  }

  async getRealmSummary(name: string) {
    const row = (await this.sql(`${REALM_SUMMARY_SELECT} WHERE r.name = ?`).get(name)) as RealmRow | undefined;
    return row && toRealm(row);
  }

  async listRealms() {
    return ((await this.sql(`${REALM_SUMMARY_SELECT} ORDER BY r.name`).all()) as RealmRow[]).map(toRealm);
  }

  async insertRealm(r: NewRealm) {
    return (await this.sql('INSERT INTO realms (name, comment, created) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING')
          .run(r.name, r.comment, r.created)).changes === 1;
  }

  async setRealmEnforcement(name: string, enforce: EnforceType, totp: TotpParams | null) {
    return (await this.sql('UPDATE realms SET enforce = ?, totp_digits = ?, totp_step = ?, totp_algorithm = ? WHERE name = ?')
          .run(enforce, totp?.digits ?? null, totp?.period ?? null, totp?.algorithm ?? null, name)).changes === 1;
  }

  async setRealmYubico(name: string, yubico: { config: YubicoRealmConfig; sealedApiKey: Buffer | null } | null) {
    const online = yubico?.config.mode === 'online' ? yubico.config : null;
    return (await this.sql('UPDATE realms SET yubico_mode = ?, yubico_api_id = ?, yubico_api_key = ?, yubico_urls = ? WHERE name = ?')
          .run(
            yubico?.config.mode ?? null,
            online?.apiId ?? null,
            yubico?.sealedApiKey ?? null,
            online ? JSON.stringify(online.urls) : null,
            name,
          )).changes === 1;
  }

  async getRealmYubicoApiKey(name: string) {
    const row = (await this.sql('SELECT yubico_api_key FROM realms WHERE name = ?').get(name)) as { yubico_api_key: Buffer | null } | undefined;
    return row?.yubico_api_key ?? null;
  }

  async getYubicoFactors(userid: string) {
    return (
        (await this.sql(`SELECT id, public_id, secret, last_counter FROM factors WHERE userid = ? AND type = 'yubico' AND enabled = 1 ORDER BY created, rowid`)
          .all(userid)) as { id: string; public_id: string; secret: Buffer | null; last_counter: number | null }[]
      ).map((r): YubikeyRecord => ({ id: r.id, publicId: r.public_id, sealedSecret: r.secret, lastCounter: r.last_counter }));
  }

  async insertYubicoFactor(f: NewYubicoFactor) {
    return (await this.sql(
            `INSERT INTO factors (id, userid, type, description, enabled, verified, created, public_id, secret, last_counter)
             VALUES (?, ?, 'yubico', ?, 1, 1, ?, ?, ?, ?)
             ON CONFLICT DO NOTHING`,
          )
          .run(f.id, f.userid, f.description, f.created, f.publicId, f.sealedSecret, f.lastCounter)).changes === 1;
  }

  async yubicoCounterSpent(userid: string, publicId: string) {
    const spent = (await this.sql("SELECT max(spent) FROM replay_ledger WHERE guard = 'yubico-counter' AND userid = ? AND device = ?").pluck().get(userid, publicId)) as number | string | null | undefined;
    return spent === null || spent === undefined ? null : Number(spent);
  }

  async offlineYubikeysOfOthers(userid: string, publicId: string) {
    const rows = (await this.sql(`SELECT id, userid, secret FROM factors WHERE type = 'yubico' AND public_id = ? AND userid <> ? AND secret IS NOT NULL`)
      .all(publicId, userid)) as { id: string; userid: string; secret: Buffer }[];
    return rows.map((r) => ({ id: r.id, userid: r.userid, sealedSecret: storedSecret(r.secret, `YubiKey ${r.id}`) }));
  }

  async advanceYubicoCounter(factorId: string, counter: number, now: number) {
    return (await this.sql(
            `UPDATE factors SET last_counter = @counter, last_used = @now
             WHERE id = @id AND type = 'yubico' AND (last_counter IS NULL OR last_counter < @counter)`,
          )
          .run({ id: factorId, counter, now })).changes === 1;
  }

  async touchFactor(factorId: string, now: number) {
    await this.sql('UPDATE factors SET last_used = ? WHERE id = ?').run(now, factorId);
  }

  async deleteRealm(name: string) {
    return this.atomically(async (s) => {
      // A built-in realm stays, and so do its users (root@local among them). Their pending
      // challenges go with them (as in deleteUser).
      await s.sql('DELETE FROM challenges WHERE userid IN (SELECT userid FROM users WHERE realm = ? AND EXISTS (SELECT 1 FROM realms WHERE name = ? AND builtin = 0))').run(name, name);
      const users = (await s.sql('DELETE FROM users WHERE realm = ? AND EXISTS (SELECT 1 FROM realms WHERE name = ? AND builtin = 0)').run(name, name)).changes;
      await s.sql('DELETE FROM realms WHERE name = ? AND builtin = 0').run(name);
      return users;
    });
  }

  async getSettings() {
    const rows = (await this.sql('SELECT key, value FROM settings').all()) as { key: string; value: string }[];
    return new Map(rows.map((r) => [r.key, r.value]));
  }

  async setSetting(key: string, value: string) {
    (await this.sql('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      .run(key, value));
  }

  async addSetting(key: string, value: string) {
    return (await this.sql('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value)).changes === 1;
  }

  async deleteSetting(key: string) {
    await this.sql('DELETE FROM settings WHERE key = ?').run(key);
  }

  async listFactors(userid: string) {
    const rows = (await this.sql(
        `SELECT f.*, (SELECT count(*) FROM recovery_slots s WHERE s.factor_id = f.id AND s.hash IS NOT NULL) AS recovery_left
         FROM factors f WHERE f.userid = ? ORDER BY f.created, f.rowid`,
      )
      .all(userid)) as FactorRow[];
    return rows.map(toFactor);
  }

  async *totpFactors(exceptUserid?: string) {
    type Row = FactorRow & { secret: Buffer | null; last_step: number | null; listing_rowid: number };
    const rows = this.paged<Row>((last) => listingQueries.totpFactors(exceptUserid, last && { userid: last.userid, created: last.created, rowid: last.listing_rowid }));
    for await (const r of rows) {
      const factor = toFactor(r);
      if (factor.type !== 'totp') continue;
      yield { factor, secret: { id: r.id, sealedSecret: storedSecret(r.secret, `TOTP factor ${r.id}`), params: factor.params, lastStep: r.last_step } satisfies TotpSecretRecord };
    }
  }

  async getTotpSecrets(userid: string, includeDisabled = false) {
    const rows = (await this.sql(
        `SELECT id, secret, algorithm, digits, period, last_step FROM factors
         WHERE userid = ? AND type = 'totp' AND (enabled = 1 OR ? = 1) ORDER BY created, rowid`,
      )
      .all(userid, includeDisabled ? 1 : 0)) as { id: string; secret: Buffer | null; algorithm: TotpAlgorithm; digits: number; period: number; last_step: number | null }[];
    return rows.map(
      (r): TotpSecretRecord => ({
        id: r.id,
        sealedSecret: storedSecret(r.secret, `TOTP factor ${r.id}`),
        params: { algorithm: r.algorithm, digits: r.digits as TotpParams['digits'], period: r.period } satisfies TotpParams,
        lastStep: r.last_step,
      }),
    );
  }

  async insertTotpFactor(f: NewTotpFactor) {
    (await this.sql(
        `INSERT INTO factors (id, userid, type, description, enabled, verified, created, secret, algorithm, digits, period, issuer, secret_mark, last_step)
         VALUES (@id, @userid, 'totp', @description, 1, @verified, @created, @secret, @algorithm, @digits, @period, @issuer, @mark,
           (SELECT max(s.step) FROM (
              SELECT CAST(@step AS BIGINT) AS step
              UNION ALL SELECT spent FROM replay_ledger WHERE guard = 'totp-step' AND userid = @userid AND device = @mark
            ) s))`,
      )
      .run({
        id: f.id,
        userid: f.userid,
        description: f.description,
        verified: f.verified ? 1 : 0,
        created: f.created,
        secret: f.sealedSecret,
        algorithm: f.params.algorithm,
        digits: f.params.digits,
        period: f.params.period,
        issuer: f.issuer,
        mark: f.secretMark,
        step: f.lastStep,
      }));
  }

  async advanceTotpStep(factorId: string, step: number, now: number, secretMark: string | null) {
    return (await this.sql(
            `UPDATE factors SET last_step = @step, last_used = @now, verified = 1, secret_mark = coalesce(secret_mark, @mark)
             WHERE id = @id AND type = 'totp' AND (last_step IS NULL OR last_step < @step)`,
          )
          .run({ id: factorId, step, now, mark: secretMark })).changes === 1;
  }

  async getRecoverySet(userid: string) {
    const set = (await this.sql(`SELECT id, secret, enabled FROM factors WHERE userid = ? AND type = 'recovery'`)
      .get(userid)) as { id: string; secret: Buffer | null; enabled: number } | undefined;
    if (!set) return undefined;
    const slots = (await this.sql('SELECT slot, hash FROM recovery_slots WHERE factor_id = ? ORDER BY slot')
      .all(set.id)) as { slot: number; hash: string | null }[];
    const bySlot: (string | null)[] = [];
    for (const s of slots) bySlot[s.slot] = s.hash;
    return { id: set.id, sealedSecret: storedSecret(set.secret, `recovery keys ${set.id}`), enabled: set.enabled === 1, slots: Array.from(bySlot, (h) => h ?? null) } satisfies RecoverySetRecord & {
      enabled: boolean;
    };
  }

  async putRecoverySet(set: NewRecoverySet, replace: boolean) {
    return this.atomically(async (s) => {
      const existing = (await s.sql(`SELECT id FROM factors WHERE userid = ? AND type = 'recovery'`).get(set.userid));
      if (existing && !replace) return false;
      await s.sql(`DELETE FROM factors WHERE userid = ? AND type = 'recovery'`).run(set.userid);
      (await s.sql(
          `INSERT INTO factors (id, userid, type, description, enabled, verified, created, secret)
           VALUES (?, ?, 'recovery', ?, 1, 1, ?, ?)`,
        )
        .run(set.id, set.userid, set.description, set.created, set.sealedSecret));
      const insert = s.sql('INSERT INTO recovery_slots (factor_id, slot, hash) VALUES (?, ?, ?)');
      for (const [slot, hash] of set.hashes.entries()) await insert.run(set.id, slot, hash);
      return true;
    });
  }

  async consumeRecoverySlot(factorId: string, slot: number, hash: string, now: number) {
    return this.atomically(async (s) => {
      const used =
        (await s.sql('UPDATE recovery_slots SET hash = NULL WHERE factor_id = ? AND slot = ? AND hash = ?').run(factorId, slot, hash))
          .changes === 1;
      if (used) (await s.sql('UPDATE factors SET last_used = ? WHERE id = ?').run(now, factorId));
      return used;
    });
  }

  async setFactorEnabled(userid: string, factorId: string, enabled: boolean) {
    return (await this.sql('UPDATE factors SET enabled = ? WHERE userid = ? AND id = ?').run(enabled ? 1 : 0, userid, factorId)).changes === 1;
  }

  async setFactorDescription(userid: string, factorId: string, description: string) {
    return (await this.sql('UPDATE factors SET description = ? WHERE userid = ? AND id = ?').run(description, userid, factorId)).changes === 1;
  }

  async deleteFactor(userid: string, factorId: string) {
    return (await this.sql('DELETE FROM factors WHERE userid = ? AND id = ?').run(userid, factorId)).changes === 1;
  }

  async deleteFactors(userid: string) {
    return (await this.sql('DELETE FROM factors WHERE userid = ?').run(userid)).changes;
  }

  async getLockState(userid: string) {
    const row = (await this.sql(`SELECT ${LOCK_COLUMNS} FROM users WHERE userid = ?`).get(userid)) as LockRow | undefined;
    return row && toLock(row);
  }

  async reserveAttempt(userid: string, totp: boolean, limits: LockoutLimits, now: number) {
    // One statement: right-hand sides see the old row, and the WHERE clause refuses locked users,
    // so concurrent attempts are each counted once and none slips past a lock.
    const previous = 'CASE WHEN tfa_locked_until > 0 THEN 0 ELSE tfa_failures END';
    const row = (await this.sql(
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
      })) as LockRow | undefined;
    return row ? toLock(row) : null;
  }

  async releaseAttempt(userid: string, totp: boolean, limits: LockoutLimits) {
    // Right-hand sides see the row before: a lock whose count falls below its limit is lifted.
    (await this.sql(
        `UPDATE users SET tfa_failures = CASE WHEN tfa_failures > 0 THEN tfa_failures - 1 ELSE 0 END,
           tfa_locked_until = CASE WHEN tfa_failures - 1 < @failures THEN 0 ELSE tfa_locked_until END,
           totp_failures = CASE WHEN @totp = 1 AND totp_failures > 0 THEN totp_failures - 1 WHEN @totp = 1 THEN 0 ELSE totp_failures END,
           totp_locked = CASE WHEN @totp = 1 AND totp_failures - 1 < @totpFailures THEN 0 ELSE totp_locked END
         WHERE userid = @userid`,
      )
      .run({ userid, totp: totp ? 1 : 0, failures: limits.failures, totpFailures: limits.totpFailures }));
  }

  async recordSuccess(userid: string, resetTotp: boolean) {
    (await this.sql(
        `UPDATE users SET tfa_failures = 0, tfa_locked_until = 0,
           totp_failures = CASE WHEN @reset = 1 THEN 0 ELSE totp_failures END,
           totp_locked = CASE WHEN @reset = 1 THEN 0 ELSE totp_locked END
         WHERE userid = @userid`,
      )
      .run({ userid, reset: resetTotp ? 1 : 0 }));
  }

  async getPasswordBan(userid: string, now: number) {
    const until = (await this.sql('SELECT banned_until FROM password_failures WHERE userid = ?').pluck().get(userid)) as number | undefined;
    return until !== undefined && until > now ? until : 0;
  }

  async beginPasswordCheck(userid: string, token: string, limits: PasswordLimits, now: number) {
    // One unit of work: the count and the insert that depends on it cannot be split by another process.
    return this.atomically(async (s): Promise<PasswordCheckStart> => {
      let row = (await s.sql('SELECT failures, window_start, banned_until FROM password_failures WHERE userid = ?').get(userid)) as
        | { failures: number; window_start: number; banned_until: number }
        | undefined;
      // A ban ending later than the ban's length from now, or a window begun later than now, was
      // made while the clock ran ahead (set back, it would last that much longer) or before the
      // ban's length was lowered: cut to now.
      if (row && (row.banned_until > now + limits.banSeconds || row.window_start > now)) {
        row = { ...row, banned_until: Math.min(row.banned_until, now + limits.banSeconds), window_start: Math.min(row.window_start, now) };
        await s.sql('UPDATE password_failures SET banned_until = ?, window_start = ? WHERE userid = ?').run(row.banned_until, row.window_start, userid);
      }
      if (row && row.banned_until > now) return { status: 'banned', until: row.banned_until };
      const failures = row ? countedPasswordFailures({ failures: row.failures, windowStart: row.window_start, bannedUntil: row.banned_until }, limits.windowSeconds, now) : 0;
      // The limit was lowered below the failures counted in this window: they reach it now, as the
      // failure that crossed it would have (never a wait for checks in flight that cannot end it).
      if (failures >= limits.failures) {
        const until = now + limits.banSeconds;
        await s.sql('UPDATE password_failures SET banned_until = ? WHERE userid = ?').run(until, userid);
        return { status: 'banned', until };
      }
      const inFlight = (await s.sql('SELECT count(*) FROM password_checks WHERE userid = ? AND started > ?')
        .pluck()
        .get(userid, now - PASSWORD_CHECK_LIFETIME)) as number;
      if (failures + inFlight >= limits.failures) return { status: 'busy' };
      if (row && failures === 0 && row.failures > 0) {
        await s.sql('UPDATE password_failures SET failures = 0, window_start = ?, banned_until = 0 WHERE userid = ?').run(now, userid);
      }
      await s.sql('INSERT INTO password_checks (token, userid, started) VALUES (?, ?, ?)').run(token, userid, now);
      // Checks that died with their process are cleared now and then, a few at a time.
      await s.sql('DELETE FROM password_checks WHERE rowid IN (SELECT rowid FROM password_checks WHERE started <= ? LIMIT 20)').run(now - PASSWORD_CHECK_LIFETIME);
      return { status: 'allowed' };
    });
  }

  async finishPasswordCheck(userid: string, token: string, failed: boolean, limits: PasswordLimits, now: number) {
    return this.atomically(async (s) => {
      await s.sql('DELETE FROM password_checks WHERE token = ?').run(token);
      return failed ? (s as SqlStore).countPasswordFailure(userid, limits, now) : null;
    });
  }

  async recordPasswordFailure(userid: string, limits: PasswordLimits, now: number) {
    return this.countPasswordFailure(userid, limits, now);
  }

  /** One more failure in the current window (a passed window starts afresh), banning at the limit. */
  private async countPasswordFailure(userid: string, limits: PasswordLimits, now: number): Promise<PasswordFailureCount> {
    // The right-hand sides see the old row. A ban in force stays; one that has ended, or a window
    // that has passed, starts the count afresh.
    const fresh = `password_failures.window_start + @window <= @now OR (password_failures.banned_until > 0 AND password_failures.banned_until <= @now)`;
    const failures = `CASE WHEN ${fresh} THEN 1 ELSE password_failures.failures + 1 END`;
    const row = (await this.sql(
        `INSERT INTO password_failures (userid, failures, window_start, banned_until)
         VALUES (@userid, 1, @now, CASE WHEN 1 >= @limit THEN @bannedUntil ELSE 0 END)
         ON CONFLICT (userid) DO UPDATE SET
           failures = ${failures},
           window_start = CASE WHEN ${fresh} THEN @now ELSE password_failures.window_start END,
           banned_until = CASE WHEN password_failures.banned_until > @now THEN password_failures.banned_until
                               WHEN ${failures} >= @limit THEN @bannedUntil ELSE 0 END
         RETURNING failures, banned_until`,
      )
      .get({ userid, now, limit: limits.failures, window: limits.windowSeconds, bannedUntil: now + limits.banSeconds })) as { failures: number; banned_until: number };
    return { failures: row.failures, bannedUntil: row.banned_until };
  }

  async clearPasswordFailures(userid: string) {
    await this.sql('DELETE FROM password_failures WHERE userid = ?').run(userid);
  }

  async insertChallenge(c: ChallengeRecord, now: number) {
    await this.sql('INSERT INTO challenges (id, userid, purpose, created, expires, data) VALUES (@id, @userid, @purpose, @created, @expires, @data)').run(c);
    // Unanswered challenges are dropped a few at a time: the table never grows past what is live.
    await this.sql('DELETE FROM challenges WHERE rowid IN (SELECT rowid FROM challenges WHERE expires <= ? LIMIT 20)').run(now);
  }

  async takeChallenge(id: string, userid: string, purpose: ChallengePurpose, now: number) {
    return (await this.sql(
          `DELETE FROM challenges WHERE id = @id AND userid = @userid AND purpose = @purpose AND expires > @now AND created <= @latest
           RETURNING id, userid, purpose, created, expires, data`,
        ).get({ id, userid, purpose, now, latest: now + CLOCK_SKEW_SECONDS })) as ChallengeRecord | undefined;
  }

  async liveChallenges(userid: string, purpose: ChallengePurpose, now: number) {
    return (await this.sql(
          `SELECT id, userid, purpose, created, expires, data FROM challenges
           WHERE userid = @userid AND purpose = @purpose AND expires > @now AND created <= @latest ORDER BY created DESC, rowid DESC`,
        ).all({ userid, purpose, now, latest: now + CLOCK_SKEW_SECONDS })) as ChallengeRecord[];
  }

  async insertCredentialFactor(f: NewCredentialFactor) {
    return (await this.sql(
          `INSERT INTO factors (id, userid, type, description, enabled, verified, created, data, credential_id, public_key, algorithm_id, rp_id, last_counter, transports)
           VALUES (@id, @userid, @type, @description, @enabled, 1, @created, @data, @credentialId, @publicKey, @algorithm, @rpId, @counter, @transports)
           ON CONFLICT DO NOTHING`,
        ).run({ ...f, enabled: f.enabled ? 1 : 0, transports: JSON.stringify(f.transports) })).changes === 1;
  }

  async credentialHeldByOther(userid: string, credentialId: string) {
    return (await this.sql('SELECT 1 AS held FROM factors WHERE credential_id = ? AND userid <> ? LIMIT 1').get(credentialId, userid)) !== undefined;
  }

  async getCredentials(userid: string) {
    return (
        (await this.sql(
          `SELECT id, type, credential_id, public_key, algorithm_id, rp_id, last_counter, transports FROM factors
           WHERE userid = ? AND type IN ('webauthn', 'u2f') AND enabled = 1 AND credential_id IS NOT NULL AND public_key IS NOT NULL
           ORDER BY created, rowid`,
        ).all(userid)) as {
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
          transports: r.transports ? storedJson<string[]>(r.transports, `factor ${r.id}`) : [],
        }),
      );
  }

  async advanceCredentialCounter(factorId: string, counter: number, now: number) {
    return (await this.sql(
          `UPDATE factors SET last_counter = @counter, last_used = @now
           WHERE id = @id AND type IN ('webauthn', 'u2f')
             AND (last_counter IS NULL OR last_counter < @counter OR (last_counter = 0 AND @counter = 0))`,
        ).run({ id: factorId, counter, now })).changes === 1;
  }

  async insertApiToken(t: ApiTokenRecord) {
    return (await this.sql(
          `INSERT INTO api_tokens (userid, name, secret_hash, privileges, expires, comment, created, last_used)
           VALUES (@userid, @name, @secretHash, @privileges, @expires, @comment, @created, @lastUsed) ON CONFLICT DO NOTHING`,
        ).run(t)).changes === 1;
  }

  async getApiToken(userid: string, name: string) {
    const row = (await this.sql('SELECT * FROM api_tokens WHERE userid = ? AND name = ?').get(userid, name)) as ApiTokenRow | undefined;
    return row && apiTokenFromRow(row);
  }

  async listApiTokens(userid?: string) {
    return (userid === undefined
        ? ((await this.sql('SELECT * FROM api_tokens ORDER BY userid, name').all()) as ApiTokenRow[])
        : ((await this.sql('SELECT * FROM api_tokens WHERE userid = ? ORDER BY name').all(userid)) as ApiTokenRow[])
      ).map(apiTokenFromRow);
  }

  async deleteApiToken(userid: string, name: string) {
    return (await this.sql('DELETE FROM api_tokens WHERE userid = ? AND name = ?').run(userid, name)).changes === 1;
  }

  async touchApiToken(userid: string, name: string, now: number) {
    await this.sql('UPDATE api_tokens SET last_used = ? WHERE userid = ? AND name = ?').run(now, userid, name);
  }

  async insertSession(s: SessionRecord) {
    await this.sql('INSERT INTO sessions (id, userid, state, created, expires, last_used) VALUES (@id, @userid, @state, @created, @expires, NULL)').run(s);
    // Expired sessions are dropped a few at a time: the table never grows past what is live.
    await this.sql('DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE expires <= ? LIMIT 20)').run(s.created);
  }

  async getSession(id: string) {
    const row = (await this.sql('SELECT id, userid, state, created, expires FROM sessions WHERE id = ?').get(id)) as SessionRecord | undefined;
    return row;
  }

  async touchSession(id: string, now: number) {
    await this.sql('UPDATE sessions SET last_used = ? WHERE id = ?').run(now, id);
  }

  async deleteSession(id: string) {
    return (await this.sql('DELETE FROM sessions WHERE id = ?').run(id)).changes === 1;
  }

  async deleteSessions(userid: string) {
    return (await this.sql('DELETE FROM sessions WHERE userid = ?').run(userid)).changes;
  }

  async listSessions(userid: string) {
    return (await this.sql('SELECT id, userid, state, created, expires, last_used AS "lastUsed" FROM sessions WHERE userid = ? ORDER BY created, id').all(userid)) as (SessionRecord & {
      readonly lastUsed: number | null;
    })[];
  }

  async countCredentials(type: 'webauthn' | 'u2f', rpId: string | null) {
    return (await this.sql('SELECT count(*) FROM factors WHERE type = @type AND rp_id IS NOT DISTINCT FROM @rpId').pluck().get({ type, rpId })) as number;
  }

  async pinCredentialRpIds(type: 'webauthn' | 'u2f', rpId: string) {
    await this.sql('UPDATE factors SET rp_id = @rpId WHERE type = @type AND rp_id IS NULL').run({ type, rpId });
  }

  async cutLock(userid: string, latest: number) {
    await this.sql('UPDATE users SET tfa_locked_until = ? WHERE userid = ? AND tfa_locked_until > ?').run(latest, userid, latest);
  }

  async setLockState(userid: string, totpLocked: boolean, lockedUntil: number) {
    await this.sql('UPDATE users SET totp_locked = ?, tfa_locked_until = ? WHERE userid = ?').run(totpLocked ? 1 : 0, lockedUntil, userid);
  }

  async unlock(userid: string) {
    return this.atomically(async (s) => {
      await s.sql('DELETE FROM password_failures WHERE userid = ?').run(userid);
      return (
        (await s.sql('UPDATE users SET tfa_failures = 0, totp_failures = 0, totp_locked = 0, tfa_locked_until = 0 WHERE userid = ?').run(userid))
          .changes === 1
      );
    });
  }

  async appendAudit(e: AuditEntry) {
    (await this.sql('INSERT INTO audit (ts, actor, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)')
      .run(e.ts, e.actor, e.action, e.target, e.outcome, e.detail ? JSON.stringify(e.detail) : null));
  }

  async auditActions(filter: Pick<AuditFilter, 'user' | 'since'>) {
    const { sql, params } = auditMatching(filter, 'DISTINCT action', [], true);
    const actions = (await this.sql(sql).pluck().all(params)) as string[];
    // In code point order, whatever the database's collation.
    return actions.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async countAuditBefore(before: number) {
    return Number(await this.sql('SELECT count(*) FROM audit WHERE ts < ?').pluck().get(before));
  }

  async pruneAudit(before: number, limit: number) {
    // Found through the index on ts, oldest first; deleted by their primary key.
    return (await this.sql('DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE ts < @before ORDER BY ts, id LIMIT @limit)').run({ before, limit })).changes;
  }

  async *auditEntries(filter: AuditFilter) {
    const bounds = listingQueries.auditBounds(filter, this.auditByUnion);
    const range = (await this.sql(bounds.sql).get(bounds.params)) as { first: number | null; last: number | null } | undefined;
    if (range === undefined || range.first === null || range.last === null) return;
    const first = Number(range.first);
    const last = Number(range.last);
    for await (const r of this.paged<AuditRow>((row) => listingQueries.audit(filter, row === undefined ? first - 1 : Number(row.id), last, this.auditByUnion))) {
      yield {
        id: r.id,
        ts: storedTime(r.ts, `audit entry ${r.id}`),
        actor: r.actor,
        action: r.action,
        target: r.target,
        outcome: r.outcome,
        ...(r.detail ? { detail: storedJson<Record<string, unknown>>(r.detail, `audit entry ${r.id}`) } : {}),
      } satisfies AuditRecord;
    }
  }
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
    created: storedTime(r.created, `API token ${r.userid}!${r.name}`),
    lastUsed: storedTimeOrNull(r.last_used, `API token ${r.userid}!${r.name}`),
  };
}

