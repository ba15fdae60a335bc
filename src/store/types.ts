/** What the store keeps, as the rest of tfactl sees it. No SQL types leak past this file. */

import type { RestoreEffect } from '../domain/restore-revival.js';
import type { TotpParams } from '../domain/totp-params.js';

import type { EnabledFactors, EnforceType, FactorType, PasswordFailureRecord } from '../domain/sign-in.js';

export type { EnforceType, FactorType };

/** What every factor has, whatever its kind. */
interface FactorBase {
  readonly id: string;
  readonly userid: string;
  readonly description: string;
  readonly enabled: boolean;
  readonly created: number;
  readonly lastUsed: number | null;
}

export interface TotpFactorRecord extends FactorBase {
  readonly type: 'totp';
  /** False when it was added with --no-verify and no code has confirmed it yet. */
  readonly verified: boolean;
  readonly params: TotpParams;
  /** The issuer it was enrolled with (in the URI the user scanned); null when not known (before tfactl kept it). */
  readonly issuer: string | null;
}

export interface RecoveryFactorRecord extends FactorBase {
  readonly type: 'recovery';
  /** Unused keys left. */
  readonly keysLeft: number;
}

export interface YubikeyFactorRecord extends FactorBase {
  readonly type: 'yubico';
  /** The key's public id (modhex). */
  readonly publicId: string;
}

/** A WebAuthn credential or a legacy U2F registration. */
export interface CredentialFactorRecord extends FactorBase {
  readonly type: 'webauthn' | 'u2f';
  /** The credential id (U2F: the key handle), base64url; null for a registration that could not be read. */
  readonly credentialId: string | null;
  /** The RP id it was made under (U2F: the appid); null when not known: the store's setting then applies. */
  readonly rpId: string | null;
  /** The signature counter last seen. */
  readonly counter: number | null;
}

/** A factor as listed: never its secret. One shape per kind. */
export type FactorRecord = TotpFactorRecord | RecoveryFactorRecord | YubikeyFactorRecord | CredentialFactorRecord;

/** What verifying a TOTP code needs: the sealed secret and the replay guard. */
export interface TotpSecretRecord {
  readonly id: string;
  readonly sealedSecret: Buffer;
  readonly params: TotpParams;
  readonly lastStep: number | null;
}

/** What checking a YubiKey OTP needs: the key's secret (offline) and the replay guard. */
export interface YubikeyRecord {
  readonly id: string;
  readonly publicId: string;
  /** Sealed AES key and private id, for keys validated offline; null for keys validated online. */
  readonly sealedSecret: Buffer | null;
  readonly lastCounter: number | null;
}

export interface NewYubicoFactor {
  readonly id: string;
  readonly userid: string;
  readonly description: string;
  readonly created: number;
  readonly publicId: string;
  readonly sealedSecret: Buffer | null;
  readonly lastCounter: number | null;
}

export interface NewTotpFactor {
  readonly id: string;
  readonly userid: string;
  readonly description: string;
  readonly created: number;
  readonly sealedSecret: Buffer;
  readonly params: TotpParams;
  /** The issuer in the URI the user was given; null when not known (an import that named none). */
  readonly issuer: string | null;
  /**
   * The step of the code that confirmed enrolment, so that code cannot sign in; null if unverified.
   * The store raises it to what the replay ledger holds for the same user and secretMark.
   */
  readonly lastStep: number | null;
  readonly verified: boolean;
  /** totpSecretMark of the secret: what the replay ledger knows it by once the factor is gone. */
  readonly secretMark: string | null;
}

export interface RecoverySetRecord {
  readonly id: string;
  readonly sealedSecret: Buffer;
  /** Stored hashes by slot; null for used keys. */
  readonly slots: readonly (string | null)[];
}

export interface NewRecoverySet {
  readonly id: string;
  readonly userid: string;
  readonly description: string;
  readonly created: number;
  readonly sealedSecret: Buffer;
  /** One hash a slot; null for a key already used (imported sets keep their slot numbers). */
  readonly hashes: readonly (string | null)[];
}

/** A factor kept as its JSON entry until tfactl can check it (WebAuthn, U2F). */
/** A WebAuthn credential or U2F registration to store. */
/** What checking a WebAuthn or U2F answer needs: the public key and the replay guard. */
export interface CredentialRecord {
  readonly id: string;
  readonly type: 'webauthn' | 'u2f';
  /** The credential id (U2F: key handle), base64url. */
  readonly credentialId: string;
  /** WebAuthn: the COSE_Key; U2F: the 65-byte P-256 point. */
  readonly publicKey: Buffer;
  /** WebAuthn: the COSE algorithm; U2F: null. */
  readonly algorithm: number | null;
  /** The RP id (U2F: appid) it was made under; null: the store's setting (webauthn.rp-id, u2f.appid) at each sign-in. */
  readonly rpId: string | null;
  readonly counter: number;
  readonly transports: readonly string[];
}

/** A WebAuthn credential or U2F registration to store. */
export interface NewCredentialFactor extends CredentialRecord {
  readonly userid: string;
  readonly description: string;
  readonly enabled: boolean;
  readonly created: number;
  /** The entry as another system kept it (Proxmox's tfa.cfg), for the record; null when enrolled here. */
  readonly data: string | null;
}

/** An API token: a user's named credential for automation; the secret is kept only as its hash. */
export interface ApiTokenRecord {
  readonly userid: string;
  readonly name: string;
  /** SHA-256 of the secret. */
  readonly secretHash: Buffer;
  readonly privileges: 'inherit' | 'read-only';
  /** The last day (YYYY-MM-DD, UTC) it works; null: no end. */
  readonly expires: string | null;
  readonly comment: string | null;
  readonly created: number;
  readonly lastUsed: number | null;
}

/** A kept sign-in (login --session): the ticket's hash, whose it is, and what it relied on. */
export interface SessionRecord {
  /** SHA-256 (hex) of the ticket's secret. */
  readonly id: string;
  readonly userid: string;
  /** SHA-256 of the user's sign-in state when it began (services/sessions.ts). */
  readonly state: Buffer;
  readonly created: number;
  readonly expires: number;
}

/** Consecutive second-factor failures and the locks they caused. */
export interface LockState {
  readonly totpFailures: number;
  readonly totpLocked: boolean;
  readonly failures: number;
  /** Epoch seconds until which every factor is refused (0: not locked). */
  readonly lockedUntil: number;
}

export interface LockoutLimits {
  /** Consecutive TOTP failures that lock TOTP. */
  readonly totpFailures: number;
  /** Consecutive failures of any kind that lock every factor... */
  readonly failures: number;
  /** ...for this many seconds. */
  readonly lockSeconds: number;
}

/** The password-failure regulation: this many failed password sign-ins within the window ban the user id. */
export interface PasswordLimits {
  readonly failures: number;
  readonly windowSeconds: number;
  readonly banSeconds: number;
}

/** Whether a password check may start now (Store.beginPasswordCheck). */
export type PasswordCheckStart =
  | { readonly status: 'allowed' }
  /** Too many failures: nothing may be checked until `until`. */
  | { readonly status: 'banned'; readonly until: number }
  /** Failures and checks in flight together reach the limit: try again once those are done. */
  | { readonly status: 'busy' };

/** Failures in the current window after one more, and the ban it caused (0: none). */
export interface PasswordFailureCount {
  readonly failures: number;
  readonly bannedUntil: number;
}

/** What a challenge is for: a sign-in, or a registration (a WebAuthn credential being enrolled). */
export type ChallengePurpose = 'sign-in' | 'registration';

/** A pending challenge (Store.insertChallenge, Store.takeChallenge). */
export interface ChallengeRecord {
  /** Unguessable: whoever knows it may answer it. */
  readonly id: string;
  readonly userid: string;
  readonly purpose: ChallengePurpose;
  readonly created: number;
  readonly expires: number;
  /** JSON: what it offered and what its answer is checked against; the service's own. */
  readonly data: string;
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

/** A user with what admins see at a glance: their realm's rule, enabled factors and every lock. */
export interface UserOverview extends UserRecord {
  /** What the user's realm enforces. */
  readonly enforce: EnforceType;
  readonly factors: EnabledFactors;
  /** Consecutive failed TOTP codes (LockState.totpFailures): TOTP locks at lockout.totp-failures. */
  readonly totpFailures: number;
  readonly totpLocked: boolean;
  /** Consecutive failed second factors of any kind (LockState.failures): all lock at lockout.failures. */
  readonly secondFactorFailures: number;
  /** Epoch seconds until which every second factor is locked (0: not; may be past). */
  readonly lockedUntil: number;
  /** Epoch seconds until which password sign-ins are banned (0: not; may be past). */
  readonly passwordBannedUntil: number;
  /** The failed password sign-ins counted against the user id (all zero when none are). */
  readonly passwordFailures: PasswordFailureRecord;
  /**
   * Enabled YubiKeys validated online (registered without an AES key) in a realm with no
   * validation service: nothing can check their OTPs.
   */
  readonly yubicoUnchecked: number;
}

/** Which users a listing covers: all, a realm's, or one. */
export interface UserFilter {
  readonly realm?: string | undefined;
  readonly userid?: string | undefined;
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

/** How a realm that enforces YubiKey OTP validates: offline (keys' AES secrets) or a validation service. */
export type YubicoRealmConfig =
  | { readonly mode: 'offline' }
  | { readonly mode: 'online'; readonly apiId: string; readonly urls: readonly string[] };

export interface RealmRecord {
  readonly name: string;
  readonly comment: string | null;
  readonly builtin: boolean;
  readonly enforce: EnforceType;
  /** Present when `enforce` is `totp`. */
  readonly totp: TotpParams | null;
  /** How the realm validates YubiKeys, whether or not it enforces them; null when not configured. */
  readonly yubico: YubicoRealmConfig | null;
  readonly created: number;
}

/** A realm with how many users it has (counting costs a scan of the realm's users). */
export interface RealmSummary extends RealmRecord {
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
  /** Entries at this time (epoch seconds) or later... */
  readonly since?: number;
  /** ...and before this one. */
  readonly until?: number;
  readonly limit?: number;
  /** Entries of this action, or of the actions under it (`tfa` is tfa.add, tfa.delete, ...). */
  readonly action?: string;
  readonly outcome?: 'ok' | 'refused' | 'failed';
}

/** Users and their passwords. */
export interface UserStore {
  getUser(userid: string): Promise<UserRecord | undefined>;
  /** The ids of users called `name` in any realm (`name@...`), in order, at most `limit`. */
  useridsNamed(name: string, limit: number): Promise<string[]>;
  /** The stored argon2 hash: undefined for no such user, null for a user without a password. */
  getPasswordHash(userid: string): Promise<string | null | undefined>;
  /** A user with their realm's rule, enabled factors and locks. */
  getUserOverview(userid: string): Promise<UserOverview | undefined>;
  /**
   * Users by realm and then name (`bob` before `bob.x` and `bob2`), read as they are consumed, a page at a time (bounded
   * memory at any size; no read stays open while they are written out, so what changes meanwhile
   * may show in later pages: sql-store.ts LISTING_PAGE).
   */
  users(filter: UserFilter): AsyncIterable<UserOverview>;
  /** The user ids that start with `prefix` (every one for ''), in order: what completion offers. One read. */
  userIdsStartingWith(prefix: string): Promise<string[]>;
  /** Users in the order of users(), each with all their factors; read as consumed, like users(). */
  usersWithFactors(filter: UserFilter): AsyncIterable<{ readonly user: UserOverview; readonly factors: readonly FactorRecord[] }>;
  /** How many users of `realm` have no enabled factor of `type`, and the first `sample` of them. */
  usersWithout(realm: string, type: FactorType, sample: number): Promise<{ readonly count: number; readonly first: readonly string[] }>;
  /**
   * Users of `realm` with an enabled YubiKey registered with its own AES key (`offline`: checked
   * offline) or without one (checked by a validation service): how many, and the first `sample`
   * by user id.
   */
  usersWithYubikeys(realm: string, offline: boolean, sample: number): Promise<{ readonly count: number; readonly first: readonly string[] }>;
  /**
   * Inserts a user; false when the user id is taken. The new account starts with no password
   * failures: those counted against its id before it existed (sign-ins of an unknown user) are
   * dropped, or anyone could ban a user before the user was made. Precondition: inside a unit of
   * work, so the two are one change.
   */
  insertUser(user: NewUser): Promise<boolean>;
  /** Changes the given fields; false when there is no such user. */
  updateUser(userid: string, patch: UserPatch, modified: number): Promise<boolean>;
  /** Replaces a password hash only if it is still `oldHash` (rehash without losing a concurrent change). */
  replacePasswordHash(userid: string, oldHash: string, newHash: string): Promise<boolean>;
  /** Deletes the user, with their factors, tokens and sessions, and their pending challenges (call it in a unit of work). */
  deleteUser(userid: string): Promise<boolean>;
}

/** Realms, what they enforce and how they validate YubiKeys. */
export interface RealmStore {
  getRealm(name: string): Promise<RealmRecord | undefined>;
  /** A realm with its user count. */
  getRealmSummary(name: string): Promise<RealmSummary | undefined>;
  listRealms(): Promise<RealmSummary[]>;
  /** Inserts a realm; false when the name is taken. */
  insertRealm(realm: NewRealm): Promise<boolean>;
  /** Sets what a realm enforces (and TOTP parameters); its YubiKey validation stays as it is. */
  setRealmEnforcement(name: string, enforce: EnforceType, totp: TotpParams | null): Promise<boolean>;
  /** Sets how a realm validates YubiKeys (null: not at all), with the sealed API key when online. */
  setRealmYubico(name: string, yubico: { readonly config: YubicoRealmConfig; readonly sealedApiKey: Buffer | null } | null): Promise<boolean>;
  /** The sealed API key of a realm's validation service, if it has one. */
  getRealmYubicoApiKey(name: string): Promise<Buffer | null>;
  /** Deletes a realm and returns how many users were deleted with it. */
  deleteRealm(name: string): Promise<number>;
}

/** Store-wide settings. */
export interface SettingStore {
  getSettings(): Promise<ReadonlyMap<string, string>>;
  setSetting(key: string, value: string): Promise<void>;
  /** Sets a setting that is not set yet, in one conditional statement: of racing callers one gets true. */
  addSetting(key: string, value: string): Promise<boolean>;
  /** Forgets a setting's stored value: its default applies again. */
  deleteSetting(key: string): Promise<void>;
}

/** Second factors: their records, secrets and replay guards, each guard advanced by one conditional write. */
export interface FactorStore {
  /** Factors of one user, or of everyone, ordered by user and creation. */
  listFactors(userid: string): Promise<FactorRecord[]>;
  /**
   * Every TOTP factor with its sealed secret, in order of user id (all users, or all but
   * `exceptUserid`); read as consumed, like users().
   */
  totpFactors(exceptUserid?: string): AsyncIterable<{ readonly factor: TotpFactorRecord; readonly secret: TotpSecretRecord }>;
  /** The TOTP factors of a user with their sealed secrets: enabled ones, or all with `includeDisabled`. */
  getTotpSecrets(userid: string, includeDisabled?: boolean): Promise<TotpSecretRecord[]>;
  /**
   * Stores a TOTP factor at least as spent as the replay ledger says the same secret was for the
   * user (a factor deleted and added again with its secret does not take its spent codes again).
   */
  insertTotpFactor(factor: NewTotpFactor): Promise<void>;
  /**
   * Accepts TOTP step `step` for a factor only if it is newer than the last accepted one, in one
   * conditional statement: of two racing sign-ins with the same code exactly one gets true. A
   * factor from before marks were kept takes `secretMark` with it.
   */
  advanceTotpStep(factorId: string, step: number, now: number, secretMark: string | null): Promise<boolean>;
  /** The enabled YubiKey factors of a user. */
  getYubicoFactors(userid: string): Promise<YubikeyRecord[]>;
  /** Adds a YubiKey; false when the user already has this key. */
  insertYubicoFactor(factor: NewYubicoFactor): Promise<boolean>;
  /**
   * The highest counter of the YubiKey `publicId` ever accepted for `userid` (the replay ledger,
   * which outlives deleted factors); null when none was.
   */
  yubicoCounterSpent(userid: string, publicId: string): Promise<number | null>;
  /** Other users' YubiKey factors of this public id checked offline (with a sealed AES key). */
  offlineYubikeysOfOthers(userid: string, publicId: string): Promise<{ readonly id: string; readonly userid: string; readonly sealedSecret: Buffer }[]>;
  /**
   * Accepts counter value `counter` for a YubiKey only if it is newer than the last accepted one, in
   * one conditional statement: of two racing sign-ins with one OTP exactly one gets true.
   */
  advanceYubicoCounter(factorId: string, counter: number, now: number): Promise<boolean>;
  /** Records a use of a key validated online (the service guards against replay). */
  touchFactor(factorId: string, now: number): Promise<void>;
  /** The user's recovery set (enabled or not), with its slots. */
  getRecoverySet(userid: string): Promise<(RecoverySetRecord & { readonly enabled: boolean }) | undefined>;
  /** Adds a recovery set, replacing an existing one when `replace`; false if one exists and not `replace`. */
  putRecoverySet(set: NewRecoverySet, replace: boolean): Promise<boolean>;
  /**
   * Marks a recovery key used only if its slot still holds `hash`, in one conditional statement:
   * a key works once however many sign-ins race with it.
   */
  consumeRecoverySlot(factorId: string, slot: number, hash: string, now: number): Promise<boolean>;
  setFactorEnabled(userid: string, factorId: string, enabled: boolean): Promise<boolean>;
  setFactorDescription(userid: string, factorId: string, description: string): Promise<boolean>;
  deleteFactor(userid: string, factorId: string): Promise<boolean>;
  /** Deletes every factor of a user; returns how many. */
  deleteFactors(userid: string): Promise<number>;
  /** Stores a WebAuthn credential or U2F registration; false when the user already has this credential. */
  insertCredentialFactor(factor: NewCredentialFactor): Promise<boolean>;
  /** The user's enabled WebAuthn credentials and U2F registrations that can be checked. */
  getCredentials(userid: string): Promise<CredentialRecord[]>;
  /** Whether any user other than `userid` holds credential id (U2F key handle) `credentialId`, enabled or not. */
  credentialHeldByOther(userid: string, credentialId: string): Promise<boolean>;
  /**
   * Accepts signature counter `counter` for a credential only if it is newer than the last one (or
   * both are 0: an authenticator without a counter), in one conditional statement: a counter that
   * does not grow (a cloned key, or a racing replay) gets false.
   */
  advanceCredentialCounter(factorId: string, counter: number, now: number): Promise<boolean>;
  /** How many credentials of `type` were made under `rpId` (U2F: appid), or under the store's setting (null). */
  countCredentials(type: 'webauthn' | 'u2f', rpId: string | null): Promise<number>;
  /** Writes `rpId` into the credentials of `type` made under the store's setting, before that setting changes. */
  pinCredentialRpIds(type: 'webauthn' | 'u2f', rpId: string): Promise<void>;
}

/** Second-factor lockout and the password-failure regulation, counted before anything is checked. */
export interface LockoutStore {
  getLockState(userid: string): Promise<LockState | undefined>;
  /**
   * Counts one second-factor attempt before it is checked, in one conditional statement, and
   * returns the new state; null when the user is locked (every factor, or TOTP for a TOTP attempt),
   * in which case nothing is counted. Counting first means racing attempts can never check more
   * codes than the limits allow. An expired all-factor lock starts the count afresh.
   */
  reserveAttempt(userid: string, totp: boolean, limits: LockoutLimits, now: number): Promise<LockState | null>;
  /**
   * Takes back one reserved attempt that could not be checked at all (the validation service was
   * down): not the person's failure. Never below zero; a lock goes only if the count no longer
   * reaches its limit (one this very reservation set: an attempt not counted locks nobody).
   */
  releaseAttempt(userid: string, totp: boolean, limits: LockoutLimits): Promise<void>;
  /** Resets the counters after a successful attempt; `resetTotp` also lifts the TOTP lock and count. */
  recordSuccess(userid: string, resetTotp: boolean): Promise<void>;
  /** Sets the lock state carried over from another system. */
  setLockState(userid: string, totpLocked: boolean, lockedUntil: number): Promise<void>;
  /** Ends the lock of every factor at `latest` if it ends later; nothing else of the lock state changes (a tfa unlock meanwhile stays). */
  cutLock(userid: string, latest: number): Promise<void>;
  /** Lifts every lock (the password ban too) and resets the counters. */
  unlock(userid: string): Promise<boolean>;
  /** Epoch seconds until which password sign-ins of `userid` are banned; 0 when they are not. Reads only. */
  getPasswordBan(userid: string, now: number): Promise<number>;
  /**
   * Starts checking a password of `userid` (known or not), as check `token`, only while the
   * failures of the current window plus the checks in flight stay under the limit: racing guesses
   * can never check more passwords than `limits` allow, and right passwords checked at the same
   * time wait their turn instead of being counted. A passed window or an ended ban starts afresh.
   * Checks older than a minute are taken to have died with their process.
   */
  beginPasswordCheck(userid: string, token: string, limits: PasswordLimits, now: number): Promise<PasswordCheckStart>;
  /**
   * Ends check `token`: a wrong password (`failed`) is counted, in the same transaction, so no
   * other check can start in between on the old count. Returns the count when it failed.
   */
  finishPasswordCheck(userid: string, token: string, failed: boolean, limits: PasswordLimits, now: number): Promise<PasswordFailureCount | null>;
  /** Counts a failed sign-in that checked no password (the right one came without its second factor). */
  recordPasswordFailure(userid: string, limits: PasswordLimits, now: number): Promise<PasswordFailureCount>;
  /** Forgets the password failures of `userid` (a sign-in succeeded, or an admin unlocked them). */
  clearPasswordFailures(userid: string): Promise<void>;
}

/** Pending challenges, each taken once. */
export interface ChallengeStore {
  /** Keeps a new challenge (and forgets a few that have expired). */
  insertChallenge(challenge: ChallengeRecord, now: number): Promise<void>;
  /**
   * Takes challenge `id` of `userid` for `purpose` if it has not expired (nor was made more than
   * CLOCK_SKEW_SECONDS in what is still the future: a clock set back): reads and deletes it in one
   * statement, so of any number of racing answers exactly one gets it, and none gets it twice.
   */
  takeChallenge(id: string, userid: string, purpose: ChallengePurpose, now: number): Promise<ChallengeRecord | undefined>;
  /** The challenges of `userid` for `purpose` that have not expired, newest first; read, not taken. */
  liveChallenges(userid: string, purpose: ChallengePurpose, now: number): Promise<ChallengeRecord[]>;
}

/** API tokens (their secrets only as hashes) and kept sign-in sessions. */
export interface TokenStore {
  /** Stores a new API token; false when the user already has one of that name. */
  insertApiToken(token: ApiTokenRecord): Promise<boolean>;
  getApiToken(userid: string, name: string): Promise<ApiTokenRecord | undefined>;
  /** The tokens of `userid`, or of every user, by user id and name. */
  listApiTokens(userid?: string): Promise<ApiTokenRecord[]>;
  /** Deletes a token; false when there was none. */
  deleteApiToken(userid: string, name: string): Promise<boolean>;
  /** Records a use of a token. */
  touchApiToken(userid: string, name: string, now: number): Promise<void>;
  /** Keeps a session (and drops a few expired ones). */
  insertSession(session: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  touchSession(id: string, now: number): Promise<void>;
  /** Ends a session; false when there was none. */
  deleteSession(id: string): Promise<boolean>;
  /** Ends every session of a user; how many there were. */
  deleteSessions(userid: string): Promise<number>;
  /** The sessions kept for a user (live or not: services/sessions.ts says which hold), oldest first, with when each was last used. */
  listSessions(userid: string): Promise<(SessionRecord & { readonly lastUsed: number | null })[]>;
}

/** The audit trail. */
export interface AuditStore {
  appendAudit(entry: AuditEntry): Promise<void>;
  /** Audit entries, oldest first: all that match, or the newest `limit`, as the trail was when the listing began; read as consumed, like users(). */
  auditEntries(filter: AuditFilter): AsyncIterable<AuditRecord>;
  /** The actions of the trail's entries (those `user` did or that were done to them, from `since` on), each once, in order. */
  auditActions(filter: Pick<AuditFilter, 'user' | 'since'>): Promise<string[]>;
  /** How many entries are from before `before` (epoch seconds: ts < before). */
  countAuditBefore(before: number): Promise<number>;
  /**
   * Deletes the oldest `limit` (at most) of the entries from before `before`, in one statement;
   * how many it deleted. A trail is pruned in such batches, each its own unit of work, so that
   * sign-ins wait for one batch at a time, not for the whole of it.
   */
  pruneAudit(before: number, limit: number): Promise<number>;
}

/** Backups in the portable format (a tfactl store file) and restores from them. */
export interface BackupStore {
  /**
   * A consistent snapshot, in the portable format (the bytes of a tfactl SQLite store file), taken
   * while other processes keep reading and writing. It is made in memory, never under a name in
   * the directory it is bound for: the caller writes it through a file it created itself (where
   * another user may write, a name opened again could by then be their symlink).
   */
  backupImage(): Promise<Buffer>;
  /**
   * Makes a private in-memory database of `image`, the bytes of the backup file `path` (read once
   * by the caller), and inspects it: what restoreFrom restores is exactly what was inspected, and
   * SQLite never opens the file itself. The caller closes it.
   */
  readBackup(image: Buffer, path: string): Promise<BackupCopy>;
  /**
   * Replaces the whole store with `copy` (the caller has accepted its inspection), brought up to
   * date. Refuses (backup_invalid) a copy whose rows refer to rows it does not have. Whatever was
   * spent here or in the copy (TOTP steps, YubiKey counters, recovery keys: the replay ledger)
   * stays spent, whatever happened to its factor since the backup. Returns what the copy grants
   * that this store no longer did (users, passwords, factors, tokens revoked since), read in the
   * same unit of work as the replacement, and how many of its audit entries the store's trail
   * lacked and was given.
   */
  restoreFrom(copy: BackupCopy, now: number): Promise<RestoreOutcome>;
  /**
   * What restoreFrom would say the copy brings back, were it restored now; nothing is written (a
   * restore's dry run, and what its prompt shows). Refuses a copy as restoreFrom would.
   */
  previewRestore(copy: BackupCopy, now: number): Promise<RestoreOutcome>;
}

/**
 * What a restore brings back and takes away (RestoreEffect), and `auditEntries`: the backup's audit
 * entries this store's trail lacks (pruned since, or another store's), which the restore adds to it.
 */
export interface RestoreOutcome extends RestoreEffect {
  readonly auditEntries: number;
}

/**
 * The store: the narrow interfaces above (a service that needs one part asks for that part), and
 * units of work over them. Every method is asynchronous so that a networked implementation
 * (PostgreSQL) can stand in for SQLite. Each method is atomic on its own; `transaction` groups several into one unit that
 * holds the write lock from its start, so a check and the write that depends on it cannot be split
 * by another process.
 */
export interface Store extends UserStore, RealmStore, SettingStore, FactorStore, LockoutStore, ChallengeStore, TokenStore, AuditStore, BackupStore {
  readonly path: string;
  /**
   * Runs `fn` as one unit of work: everything it writes through the store it is given (`tx`), audit
   * entries included, commits when it resolves and rolls back when it throws.
   *
   * Isolation: a unit holds the store's write lock from its start, so units run one after another,
   * as if alone: what `fn` read is still so when it writes (SQLite: BEGIN IMMEDIATE; a backend
   * without a database-wide lock must take an equivalent one first). Single statements outside a
   * unit are atomic on their own; the single-use guarantees (a challenge, a TOTP step, a recovery
   * key) are each one conditional statement and need no unit.
   *
   * `fn` must only use `tx`: the store it was called on waits for the unit to end, as another
   * connection would (inside `fn` that is a deadlock, reported after the lock timeout). It must not
   * wait on anything slow (hashing, prompts, network): other processes wait for the lock meanwhile.
   * Concurrent calls from one process run one after another.
   */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  /**
   * Whether the store's connection is gone for good (a server restarted, a backend terminated): a
   * long-lived holder (tfactl serve's pool) opens another. Always false for a file.
   */
  readonly connectionLost: boolean;
  close(): void;
}

/** A backup read into memory by Store.readBackup. */
export interface BackupCopy {
  readonly path: string;
  readonly inspection: BackupInspection;
  /** Every sealed secret the backup holds, with what it is sealed to (nothing when it could not be read). */
  sealedSecrets(): Iterable<SealedSecretRow>;
  close(): void;
}

/** A sealed secret of a backup: a factor's (sealed to user, factor id and type) or a realm's YubiKey API key. */
export type SealedSecretRow =
  | { readonly kind: 'factor'; readonly userid: string; readonly id: string; readonly type: string; readonly sealed: Buffer }
  | { readonly kind: 'realm'; readonly realm: string; readonly sealed: Buffer };

/** What a backup file holds, as far as restoring it goes. */
export interface BackupInspection {
  readonly ok: boolean;
  /** Why it cannot be restored, when not ok. */
  readonly problem?: string;
  readonly version: number;
  /** The fingerprint of the key that sealed its secrets; null when it has none (refused). */
  readonly keyFingerprint: string | null;
  readonly users: number;
}
