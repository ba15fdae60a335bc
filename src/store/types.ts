/** What the store keeps, as the rest of tfactl sees it. No SQL types leak past this file. */

export type EnforceType = 'none' | 'totp' | 'yubico';
export type TotpAlgorithm = 'SHA1' | 'SHA256' | 'SHA512';

export interface TotpOptions {
  readonly digits: 6 | 8;
  readonly step: number;
  readonly algorithm: TotpAlgorithm;
}

export interface UserRecord {
  readonly userid: string;
  readonly realm: string;
  readonly admin: boolean;
  readonly enabled: boolean;
  readonly email: string | null;
  readonly comment: string | null;
  /** Last day (UTC, `YYYY-MM-DD`) the account may be used, or null for never expiring. */
  readonly expire: string | null;
  readonly created: number;
  readonly modified: number;
  readonly hasPassword: boolean;
}

export interface NewUser {
  readonly userid: string;
  readonly realm: string;
  readonly admin: boolean;
  readonly enabled: boolean;
  readonly email: string | null;
  readonly comment: string | null;
  readonly expire: string | null;
  readonly passwordHash: string | null;
  readonly created: number;
}

export interface UserPatch {
  readonly admin?: boolean;
  readonly enabled?: boolean;
  readonly email?: string | null;
  readonly comment?: string | null;
  readonly expire?: string | null;
  readonly passwordHash?: string | null;
}

export interface RealmRecord {
  readonly name: string;
  readonly comment: string | null;
  readonly builtin: boolean;
  readonly enforce: EnforceType;
  /** Present when `enforce` is `totp`. */
  readonly totp: TotpOptions | null;
  readonly created: number;
  readonly userCount: number;
}

export interface NewRealm {
  readonly name: string;
  readonly comment: string | null;
  readonly created: number;
}

export type AuditOutcome = 'ok' | 'refused' | 'failed';

export interface AuditEntry {
  readonly ts: number;
  /** The acting user id, or null when nobody could be identified. */
  readonly actor: string | null;
  readonly action: string;
  readonly target: string | null;
  readonly outcome: AuditOutcome;
  /** Never holds a secret. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface AuditRecord extends AuditEntry {
  readonly id: number;
}

export interface AuditFilter {
  /** Entries whose actor or target is this user id. */
  readonly user?: string;
  readonly since?: number;
  readonly limit?: number;
}

/**
 * The store. Every method is asynchronous so that a networked implementation (PostgreSQL) can stand
 * in for SQLite. Each method is atomic on its own; `transaction` groups several into one unit that
 * holds the write lock from its start, so a check and the write that depends on it cannot be split
 * by another process.
 */
export interface Store {
  readonly path: string;

  /**
   * Runs `fn` in a write transaction and commits when it resolves; rolls back when it throws.
   * `fn` must only use the store it is given and must not wait on anything slow (hashing, prompts,
   * network): other processes wait for the lock meanwhile. Not re-entrant.
   */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;

  getUser(userid: string): Promise<UserRecord | undefined>;
  /** The stored argon2 hash: undefined for no such user, null for a user without a password. */
  getPasswordHash(userid: string): Promise<string | null | undefined>;
  listUsers(filter?: { readonly realm?: string; readonly userid?: string }): Promise<UserRecord[]>;
  /** Inserts a user; false when the user id is taken. */
  insertUser(user: NewUser): Promise<boolean>;
  /** Changes the given fields; false when there is no such user. */
  updateUser(userid: string, patch: UserPatch, modified: number): Promise<boolean>;
  /** Replaces a password hash only if it is still `oldHash` (rehash without losing a concurrent change). */
  replacePasswordHash(userid: string, oldHash: string, newHash: string): Promise<boolean>;
  deleteUser(userid: string): Promise<boolean>;

  getRealm(name: string): Promise<RealmRecord | undefined>;
  listRealms(): Promise<RealmRecord[]>;
  /** Inserts a realm; false when the name is taken. */
  insertRealm(realm: NewRealm): Promise<boolean>;
  setRealmEnforcement(name: string, enforce: EnforceType, totp: TotpOptions | null): Promise<boolean>;
  /** Deletes a realm and returns the user ids deleted with it. */
  deleteRealm(name: string): Promise<string[]>;

  getSettings(): Promise<ReadonlyMap<string, string>>;
  setSetting(key: string, value: string): Promise<void>;

  appendAudit(entry: AuditEntry): Promise<void>;
  listAudit(filter: AuditFilter): Promise<AuditRecord[]>;

  close(): void;
}
