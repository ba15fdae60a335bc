import { isExpired } from './dates.js';
import { ROOT_USERID } from './userid.js';

/**
 * What a restore brings back: the access the backup grants that the store being replaced no longer
 * did. A backup is older than the store it replaces, so anything revoked in between (a user
 * deleted, disabled or demoted, a password changed, a lost key deleted, a leaked token deleted)
 * works again once it is restored. A restore keeps what was spent (the replay ledger) and lockouts,
 * but revocations are changes to the very rows it replaces; it cannot tell a revocation from any
 * other change, so it says what comes back and the admin decides.
 *
 * Only what the store itself took away counts, so only a backup of this store's own past is
 * compared: one whose root@local is the store's, created at the same time (a restore brings the
 * backup's root@local, so a store restored once carries on the history of the one it came from). A
 * site moved to a new store (`init`, then `restore` of the old one's backup) gets the whole backup,
 * none of it revoked there. Within one history, a user's password, rights, factors and tokens are
 * compared only between the same account, with the same creation time: a user deleted and added
 * again since is another account, and the backup's comes back whole.
 */

/** A user's row as far as access goes. */
export interface UserAccessRow {
  readonly userid: string;
  /** Epoch seconds: with the user id, which account this is. */
  readonly created: number | string;
  readonly admin: number | boolean;
  readonly enabled: number | boolean;
  readonly expire: string | null;
  readonly password_hash: string | null;
}

/** A second factor's row as far as access goes. */
export interface FactorAccessRow {
  readonly id: string;
  readonly userid: string;
  readonly type: string;
  readonly enabled: number | boolean;
}

/** An API token's row as far as access goes. */
export interface TokenAccessRow {
  readonly userid: string;
  readonly name: string;
  readonly secret_hash: Uint8Array;
  readonly privileges: string;
  readonly expires: string | null;
}

/** The rows of one store (or backup) that grant access. */
export interface AccessRows {
  readonly users: Iterable<UserAccessRow>;
  readonly factors: Iterable<FactorAccessRow>;
  readonly tokens: Iterable<TokenAccessRow>;
}

/** What the backup grants that the store did not, each list in bytewise order. */
export interface RevivedAccess {
  /** Users deleted (or deleted and added again) since the backup: they come back whole. */
  readonly users: readonly string[];
  /** Users disabled or expired since, enabled and current in the backup. */
  readonly enabled: readonly string[];
  /** Users made ordinary since, admins in the backup. */
  readonly admins: readonly string[];
  /** Users whose password was changed or removed since: the backup's password works again. */
  readonly passwords: readonly string[];
  /** Enabled factors of the backup deleted or disabled since (of users the store still has). */
  readonly factors: readonly { readonly userid: string; readonly id: string; readonly type: string }[];
  /** Tokens of the backup deleted, replaced, expired or made read-only since (`USERID!NAME`). */
  readonly tokens: readonly string[];
}

/** Whether nothing comes back. */
export function nothingRevived(r: RevivedAccess): boolean {
  return r.users.length + r.enabled.length + r.admins.length + r.passwords.length + r.factors.length + r.tokens.length === 0;
}

const yes = (flag: number | boolean): boolean => flag === true || flag === 1;
const bytewise = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
// Two stores' stored hashes, compared once by root's own restore: no one can time it to learn a secret.
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Compares the store about to be replaced (`current`) with the backup replacing it, at `now`
 * (epoch seconds, for expiry dates). Only what the backup grants counts: what it takes away (a
 * user it does not have, a password it lacks) is no revocation anyone relied on. Nothing, for a
 * backup of another store's history.
 */
export function revivedAccess(current: AccessRows, backup: AccessRows, now: number): RevivedAccess {
  const users = new Map<string, UserAccessRow>();
  for (const u of current.users) users.set(u.userid, u);
  // PostgreSQL's BIGINT arrives as text.
  const createdOf = (u: UserAccessRow) => Number(u.created);
  // The backup's users' creation times, as its users are read (before its factors and tokens).
  const backupCreated = new Map<string, number>();
  /** The store's account of the backup's user `b`: the same user id, created at the same time. */
  const sameAccount = (b: { userid: string }) => {
    const c = users.get(b.userid);
    return c !== undefined && backupCreated.get(b.userid) === createdOf(c) ? c : undefined;
  };
  const factors = new Map<string, FactorAccessRow>();
  for (const f of current.factors) factors.set(f.id, f);
  const tokens = new Map<string, TokenAccessRow>();
  for (const t of current.tokens) tokens.set(`${t.userid}!${t.name}`, t);

  const deleted: string[] = [];
  const enabled: string[] = [];
  const admins: string[] = [];
  const passwords: string[] = [];
  const usable = (u: UserAccessRow) => yes(u.enabled) && !isExpired(u.expire, now);
  for (const b of backup.users) {
    backupCreated.set(b.userid, createdOf(b));
    const c = sameAccount(b);
    if (c === undefined) {
      deleted.push(b.userid);
      continue;
    }
    if (usable(b) && !usable(c)) enabled.push(b.userid);
    if (yes(b.admin) && !yes(c.admin)) admins.push(b.userid);
    // Hashes, not passwords: a password set again to the same text has a new salt, so it counts.
    if (b.password_hash !== null && b.password_hash !== c.password_hash) passwords.push(b.userid);
  }

  const revivedFactors: { userid: string; id: string; type: string }[] = [];
  for (const b of backup.factors) {
    if (!yes(b.enabled) || sameAccount(b) === undefined) continue;
    const c = factors.get(b.id);
    if (c === undefined || !yes(c.enabled)) revivedFactors.push({ userid: b.userid, id: b.id, type: b.type });
  }

  const revivedTokens: string[] = [];
  for (const b of backup.tokens) {
    if (sameAccount(b) === undefined || isExpired(b.expires, now)) continue;
    const key = `${b.userid}!${b.name}`;
    const c = tokens.get(key);
    const revokedSince =
      c === undefined || !sameBytes(c.secret_hash, b.secret_hash) || isExpired(c.expires, now) || (c.privileges === 'read-only' && b.privileges !== 'read-only');
    if (revokedSince) revivedTokens.push(key);
  }

  const root = users.get(ROOT_USERID);
  if (root === undefined || backupCreated.get(ROOT_USERID) !== createdOf(root)) return { users: [], enabled: [], admins: [], passwords: [], factors: [], tokens: [] };
  return {
    users: deleted.sort(bytewise),
    enabled: enabled.sort(bytewise),
    admins: admins.sort(bytewise),
    passwords: passwords.sort(bytewise),
    factors: revivedFactors.sort((a, b) => bytewise(a.userid, b.userid) || bytewise(a.id, b.id)),
    tokens: revivedTokens.sort(bytewise),
  };
}
