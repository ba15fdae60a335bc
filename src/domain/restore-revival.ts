import { ROOT_USERID as ROOT } from './userid.js';

/**
 * What a restore brings back: the access the backup grants that the store being replaced no longer
 * did. A backup is older than the store it replaces, so anything revoked in between (a user
 * deleted, disabled or demoted, a password changed, a lost key deleted, a leaked token deleted, a
 * realm made to require a second factor) works again once it is restored. A restore keeps what was
 * spent (the replay ledger) and lockouts, but revocations are changes to the very rows it replaces;
 * it cannot tell a revocation from any other change, so it says what comes back and the admin
 * decides (before, with `restore --dry-run` or at its prompt, and after, in its result).
 *
 * Only what the store itself took away counts, so only a backup of this store's own past is
 * compared: one whose root@local is the store's, created in the same second (a restore brings the
 * backup's root@local, so a store restored once carries on the history of the one it came from). A
 * site moved to a new store (`init`, then `restore` of the old one's backup) gets the whole backup,
 * none of it revoked there. Within one history, a user's password, rights, factors and tokens are
 * compared only between the same account, created in the same second: a user deleted and added
 * again since is another account, and the backup's comes back whole.
 */

/** A user's row as far as access goes. */
export interface UserAccessRow {
  readonly userid: string;
  /** Epoch seconds: with the user id, which account this is. */
  readonly created: number;
  /** Epoch seconds of the last change by an admin or the user (a password re-hashed at sign-in leaves it). */
  readonly modified: number;
  readonly admin: number;
  readonly enabled: number;
  /** The last day the account may be used (YYYY-MM-DD), or null. */
  readonly expire: string | null;
  readonly password_hash: string | null;
}

/** A second factor's row as far as access goes. */
export interface FactorAccessRow {
  readonly id: string;
  readonly userid: string;
  readonly type: string;
  readonly enabled: number;
}

/** An API token's row as far as access goes. */
export interface TokenAccessRow {
  readonly userid: string;
  readonly name: string;
  readonly secret_hash: Uint8Array;
  readonly privileges: string;
  readonly expires: string | null;
}

/** A realm's row as far as access goes: the second factor it requires of its users. */
export interface RealmAccessRow {
  readonly name: string;
  readonly enforce: string;
}

/** A store-wide setting (lockout limits, password rules, ...). */
export interface SettingRow {
  readonly key: string;
  readonly value: string;
}

/**
 * The rows of one store (or backup) that grant access, each read only when asked for: a backup of
 * another store's history is not compared, and its rows are never read.
 */
export interface AccessRows {
  /** When its root@local was created (epoch seconds); undefined when it has none. */
  readonly rootCreated: number | undefined;
  readonly users: () => Iterable<UserAccessRow>;
  readonly factors: () => Iterable<FactorAccessRow>;
  readonly tokens: () => Iterable<TokenAccessRow>;
  readonly realms: () => Iterable<RealmAccessRow>;
  readonly settings: () => Iterable<SettingRow>;
}

/** What the backup grants that the store did not, each list in bytewise order. */
export interface RevivedAccess {
  /** Users deleted (or deleted and added again) since the backup: they come back whole. */
  readonly users: readonly string[];
  /** Users disabled, expired or given an earlier expiry since. */
  readonly enabled: readonly string[];
  /** Users made ordinary since, admins in the backup. */
  readonly admins: readonly string[];
  /** Users whose password was changed or removed since: the backup's password works again. */
  readonly passwords: readonly string[];
  /** Enabled factors of the backup deleted or disabled since (of users the store still has). */
  readonly factors: readonly { readonly userid: string; readonly id: string; readonly type: string }[];
  /** Tokens deleted, replaced, expired, given an earlier expiry or made read-only since (`USERID!NAME`). */
  readonly tokens: readonly string[];
  /** Realms that require a second factor now that they did not, or another, in the backup. */
  readonly realms: readonly string[];
  /** Store-wide settings the backup sets back to other values or defaults (lockout limits, password rules...). */
  readonly settings: readonly string[];
}

const NOTHING: RevivedAccess = { users: [], enabled: [], admins: [], passwords: [], factors: [], tokens: [], realms: [], settings: [] };

/** Whether nothing comes back. */
export function nothingRevived(r: RevivedAccess): boolean {
  return Object.values(r).every((list: readonly unknown[]) => list.length === 0);
}

/** Whether the backup is of the store's own past: their root@local is the same account. */
export function sameHistory(current: AccessRows, backup: AccessRows): boolean {
  return current.rootCreated !== undefined && current.rootCreated === backup.rootCreated;
}

const bytewise = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
// Two stores' stored hashes, compared once by root's own restore: no one can time it to learn a secret.
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
/** The last day of an expiry date, or of none, comparable as text (YYYY-MM-DD). */
const lastDay = (expire: string | null): string => expire ?? '9999-12-31';
const today = (now: number): string => new Date(now * 1000).toISOString().slice(0, 10);

/**
 * Compares the store about to be replaced (`current`) with the backup replacing it, at `now`
 * (epoch seconds, for expiry dates). Only what the backup grants counts: what it takes away (a
 * user it does not have, a password it lacks) is no revocation anyone relied on. Nothing, for a
 * backup of another store's history (sameHistory): then no row of either is read.
 */
export function revivedAccess(current: AccessRows, backup: AccessRows, now: number): RevivedAccess {
  if (!sameHistory(current, backup)) return NOTHING;
  const users = new Map<string, UserAccessRow>();
  for (const u of current.users()) users.set(u.userid, u);
  const factors = new Map<string, FactorAccessRow>();
  for (const f of current.factors()) factors.set(f.id, f);
  const tokens = new Map<string, TokenAccessRow>();
  for (const t of current.tokens()) tokens.set(`${t.userid}!${t.name}`, t);
  const realms = new Map<string, string>();
  for (const r of current.realms()) realms.set(r.name, r.enforce);
  const settings = new Map<string, string>();
  for (const s of current.settings()) settings.set(s.key, s.value);

  // The backup's users' creation times, as its users are read (before its factors and tokens).
  const backupCreated = new Map<string, number>();
  /** The store's account of the backup's user `b`: the same user id, created at the same time. */
  const sameAccount = (b: { userid: string }) => {
    const c = users.get(b.userid);
    return c !== undefined && backupCreated.get(b.userid) === c.created ? c : undefined;
  };
  // An account or token usable until the end of `lastDay` (the store's own rule: dates.isExpired).
  const usableUntil = (enabled: boolean, expire: string | null) => (enabled ? lastDay(expire) : '');
  const expired = (expire: string | null) => lastDay(expire) < today(now);

  const deleted: string[] = [];
  const enabled: string[] = [];
  const admins: string[] = [];
  const passwords: string[] = [];
  for (const b of backup.users()) {
    backupCreated.set(b.userid, b.created);
    const c = sameAccount(b);
    if (c === undefined) {
      deleted.push(b.userid);
      continue;
    }
    const until = usableUntil(b.enabled === 1, b.expire);
    if (until >= today(now) && usableUntil(c.enabled === 1, c.expire) < until) enabled.push(b.userid);
    if (b.admin === 1 && c.admin !== 1) admins.push(b.userid);
    // Hashes, not passwords: the same password set again has a new salt. A hash that changed while
    // nobody changed the user (`modified`) is the same password re-hashed at sign-in.
    if (b.password_hash !== null && b.password_hash !== c.password_hash && b.modified !== c.modified) passwords.push(b.userid);
  }

  const revivedFactors: { userid: string; id: string; type: string }[] = [];
  for (const b of backup.factors()) {
    if (b.enabled !== 1 || sameAccount(b) === undefined) continue;
    const c = factors.get(b.id);
    if (c === undefined || c.enabled !== 1) revivedFactors.push({ userid: b.userid, id: b.id, type: b.type });
  }

  const revivedTokens: string[] = [];
  for (const b of backup.tokens()) {
    if (sameAccount(b) === undefined || expired(b.expires)) continue;
    const key = `${b.userid}!${b.name}`;
    const c = tokens.get(key);
    const revokedSince =
      c === undefined ||
      !sameBytes(c.secret_hash, b.secret_hash) ||
      lastDay(c.expires) < lastDay(b.expires) ||
      (c.privileges === 'read-only' && b.privileges !== 'read-only');
    if (revokedSince) revivedTokens.push(key);
  }

  const revivedRealms: string[] = [];
  for (const b of backup.realms()) {
    const c = realms.get(b.name);
    if (c !== undefined && c !== 'none' && c !== b.enforce) revivedRealms.push(b.name);
  }

  // A setting the backup lacks is set back to its default.
  const revivedSettings = new Set<string>();
  for (const b of backup.settings()) {
    if (settings.get(b.key) !== b.value) revivedSettings.add(b.key);
    settings.delete(b.key);
  }
  for (const key of settings.keys()) revivedSettings.add(key);

  return {
    users: deleted.sort(bytewise),
    enabled: enabled.sort(bytewise),
    admins: admins.sort(bytewise),
    passwords: passwords.sort(bytewise),
    factors: revivedFactors.sort((a, b) => bytewise(a.userid, b.userid) || bytewise(a.id, b.id)),
    tokens: revivedTokens.sort(bytewise),
    realms: revivedRealms.sort(bytewise),
    settings: [...revivedSettings].sort(bytewise),
  };
}

/**
 * What the store has that a restore takes away: made since the backup (or, for a backup of another
 * store's history, anything the backup does not have). Each list in bytewise order.
 */
export interface RemovedAccess {
  /** Accounts the backup does not have (a user id it has for another account counts: that account goes). */
  readonly users: readonly string[];
  /** Second factors of accounts the backup has, which it does not have. */
  readonly factors: readonly { readonly userid: string; readonly id: string; readonly type: string }[];
  /** API tokens of accounts the backup has whose secret stops working (`USERID!NAME`): absent from it, or another secret. */
  readonly tokens: readonly string[];
  /** Realms the backup does not have. */
  readonly realms: readonly string[];
}

/**
 * A TOTP step the backup says was spent at a time still to come (more than a day ahead of this
 * host's clock: written while a clock ran ahead), held to the step of now as it is restored.
 */
export interface HeldStep {
  readonly userid: string;
  /** The factor's id (of the factor, or of the replay ledger's row of one deleted since). */
  readonly factor: string;
  /** The step the backup has. */
  readonly step: number;
  /** The step it is restored as: now's. */
  readonly heldTo: number;
}

/** What a restore changes that someone may rely on: what it brings back, what it takes away, and the TOTP steps it holds to now. */
export interface RestoreEffect {
  readonly revived: RevivedAccess;
  readonly removed: RemovedAccess;
  readonly held: readonly HeldStep[];
}

/** Whether nothing is taken away. */
export function nothingRemoved(r: RemovedAccess): boolean {
  return Object.values(r).every((list: readonly unknown[]) => list.length === 0);
}

/**
 * Compares the store about to be replaced (`current`) with the backup replacing it: what goes. Unlike
 * revivedAccess, for any backup (a site moved to a store that was already in use loses what it held).
 * root@local, always in both, is never listed.
 */
export function removedAccess(current: AccessRows, backup: AccessRows): RemovedAccess {
  const accounts = new Map<string, number>();
  for (const u of backup.users()) accounts.set(u.userid, u.created);
  const kept = (userid: string, created: number | undefined) => accounts.get(userid) === created;
  const created = new Map<string, number>();
  const users: string[] = [];
  for (const u of current.users()) {
    created.set(u.userid, u.created);
    if (u.userid !== ROOT && !kept(u.userid, u.created)) users.push(u.userid);
  }
  const keptUser = (userid: string) => userid === ROOT || kept(userid, created.get(userid));

  const backupFactors = new Set<string>();
  for (const f of backup.factors()) backupFactors.add(f.id);
  const factors: { userid: string; id: string; type: string }[] = [];
  for (const f of current.factors()) if (keptUser(f.userid) && !backupFactors.has(f.id)) factors.push({ userid: f.userid, id: f.id, type: f.type });

  const backupTokens = new Map<string, Uint8Array>();
  for (const t of backup.tokens()) backupTokens.set(`${t.userid}!${t.name}`, t.secret_hash);
  const tokens: string[] = [];
  for (const t of current.tokens()) {
    const key = `${t.userid}!${t.name}`;
    const theirs = backupTokens.get(key);
    if (keptUser(t.userid) && (theirs === undefined || !sameBytes(theirs, t.secret_hash))) tokens.push(key);
  }

  const backupRealms = new Set<string>();
  for (const r of backup.realms()) backupRealms.add(r.name);
  const realms: string[] = [];
  for (const r of current.realms()) if (!backupRealms.has(r.name)) realms.push(r.name);

  return {
    users: users.sort(bytewise),
    factors: factors.sort((a, b) => bytewise(a.userid, b.userid) || bytewise(a.id, b.id)),
    tokens: tokens.sort(bytewise),
    realms: realms.sort(bytewise),
  };
}

/** revivedAccess and removedAccess of one comparison. */
export function restoreEffect(current: AccessRows, backup: AccessRows, now: number, held: readonly HeldStep[]): RestoreEffect {
  return { revived: revivedAccess(current, backup, now), removed: removedAccess(current, backup), held };
}
