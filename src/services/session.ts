import type { Principal } from '../domain/permissions.js';
import { isExpired } from '../domain/dates.js';
import { ROOT_USERID } from '../domain/userid.js';
import { RefusedError, StoreError } from '../errors.js';
import type { AuditEntry, Store } from '../store/types.js';
import { errnoText } from '../domain/errno.js';
import { basisHolds, passwordFingerprint, type SignInBasis } from './sign-in-basis.js';

export type { Store };

/** Time as services see it: epoch seconds, and waiting. */
export interface Clock {
  nowSeconds(): number;
  sleep(ms: number): Promise<void>;
}

/** Where services get random bytes (ids, secrets, nonces). */
export interface Random {
  bytes(n: number): Buffer;
}

/**
 * A listing read from the store as it is consumed, so it works in bounded memory at any size; each
 * call reads it afresh (a long table is read twice: once for its column widths, output.ts). While
 * one is being read, the store serves nothing else.
 */
export type Listing<T> = () => AsyncIterable<T>;

/** The user a command runs as. */
export interface Actor extends Principal {
  /** True when the actor is root@local because the OS user owns the store (no password asked). */
  readonly viaOwnership: boolean;
  /** The kept session (its id) that signed the actor in, when one did (Principal.resumed). */
  readonly sessionId?: string | undefined;
  /** What a password sign-in (--as) checked: the account made anew or given a new password since revokes the actor. */
  readonly basis?: SignInBasis | undefined;
}

/**
 * What every service acts with: an open store, the signed-in actor and the seams for time and
 * randomness. Built at the command boundary (commands/session.ts), so services never read the
 * command line, prompt or touch standard input: a service (`tfactl serve`) can build one too.
 */
export interface Session {
  readonly store: Store;
  readonly actor: Actor;
  readonly random: Random;
  /** This host's name (the default TOTP issuer). */
  readonly hostname: string;
  now(): number;
  /** The store's key for sealing and opening secrets; read from the key file on first use (inside a transaction: checked on its unit of work, `tx`). */
  secretKey(tx?: Store): Promise<Buffer>;
  /** Where that key file is. */
  readonly keyPath: string;
  /**
   * Appends to the audit trail as the acting user (naming the API token, when one acts): inside a
   * transaction, on the unit of work given (`tx`), so that the entry commits or rolls back with it.
   */
  audit(entry: Omit<AuditEntry, 'ts' | 'actor'>, tx?: Store): Promise<void>;
}

export interface SessionParts {
  readonly store: Store;
  readonly actor: Actor;
  readonly clock: Clock;
  readonly random: Random;
  readonly hostname: string;
  readonly keyPath: string;
  secretKey(tx?: Store): Promise<Buffer>;
  /** What the command is, for the audit entry of a refusal that finds its actor revoked (actorStillStands). */
  readonly intent?: { readonly action: string; readonly target: string | null } | undefined;
}

export function createSession(parts: SessionParts): Session {
  const { actor, clock } = parts;
  const store = guardedStore(parts.store, actor, clock, parts.intent);
  return {
    store,
    actor,
    random: parts.random,
    hostname: parts.hostname,
    keyPath: parts.keyPath,
    secretKey: parts.secretKey,
    now: () => clock.nowSeconds(),
    // What a token does is its user's doing, by that token: the user sees it, the detail says which.
    audit: (entry, tx) =>
      (tx ?? store).appendAudit({ ...entry, ts: clock.nowSeconds(), actor: actor.userid, ...(actor.token && { detail: { ...entry.detail, token: actor.token.name } }) }),
  };
}

/**
 * `store`, whose transactions first check that `actor` still stands (actorStillStands): two reads
 * by key in each unit of work. Only the store's owner, and root@local signed in by password, whom
 * nothing revokes, are not checked (root@local by a kept session is: the session may end).
 */
function guardedStore(store: Store, actor: Actor, clock: Clock, intent: SessionParts['intent']): Store {
  // root@local by its password is revoked by nothing; by a kept session, by that session ending.
  if (actor.viaOwnership || (actor.userid === ROOT_USERID && !actor.token && !actor.resumed && !actor.basis)) return store;
  // What the sign-in checked, as this command's own units leave it: an actor who sets their own
  // password is not revoked by it in the units after.
  let basis = actor.basis;
  const transaction: Store['transaction'] = async (fn) => {
    try {
      return await store.transaction(async (tx) => {
        await actorStillStands(tx, actor, basis, clock.nowSeconds());
        const result = await fn(tx);
        if (basis) basis = await basisNow(tx, actor.userid, basis);
        return result;
      });
    } catch (e) {
      // Audited as any refusal, once the unit that found it is rolled back.
      if (e instanceof RefusedError && e.code === 'actor_revoked') {
        await store.appendAudit({ ts: clock.nowSeconds(), actor: actor.userid, action: intent?.action ?? 'command', target: intent?.target ?? null, outcome: 'refused', detail: { reason: e.message, ...(actor.token && { token: actor.token.name }) } });
      }
      throw e;
    }
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'transaction') return transaction;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Refuses (exit 4) a change by an actor revoked since they signed in: deleted, disabled, expired,
 * made ordinary, (signed in by a password) made anew under the id or given a new password,
 * (acting by an API token) that token deleted, replaced, expired or made read-only, or (signed
 * in by a kept session) that session ended. A command may wait minutes at a prompt (its question, a new password) between its
 * sign-in and its change; whoever revoked the actor meanwhile must not see the change made anyway.
 * Checked first on each unit of work the session begins (guardedStore), so the check and the
 * change are one: nothing is changed. A unit that revokes its own actor (an admin deleting
 * themselves) is not stopped by what it does itself.
 */
async function actorStillStands(tx: Store, actor: Actor, basis: SignInBasis | undefined, now: number): Promise<void> {
  const user = await tx.getUser(actor.userid);
  // Signed in by a password: the account it checked, not one made anew under the id since, and
  // the password it checked, not one an admin reset meanwhile (after a leak, say).
  // (Times are to the second: a user made again within it is told by its password.)
  const changed = user && basis && !(await basisHolds(tx, actor.userid, basis, user)) ? 'given a new password or made anew' : undefined;
  const revoked = !user
    ? 'deleted'
    : (changed ??
      (!user.enabled ? 'disabled' : isExpired(user.expire, now) ? 'expired' : actor.admin && !user.admin ? 'made an ordinary user' : undefined));
  const token = actor.token && (await tx.getApiToken(actor.userid, actor.token.name));
  const tokenRevoked =
    actor.token === undefined
      ? undefined
      : !token
        ? 'deleted'
        : actor.token.secretHash !== undefined && !token.secretHash.equals(actor.token.secretHash)
          ? 'replaced'
          : isExpired(token.expires, now)
            ? 'expired'
            : token.privileges !== actor.token.privileges
              ? 'made read-only'
              : undefined;
  if (revoked !== undefined) throw new RefusedError(`${actor.userid} was ${revoked} while this command ran: nothing was changed`, 'actor_revoked');
  // A kept session ended meanwhile (logout, user logout for a lost laptop, a new password) ends
  // what was begun with it, as a token deleted does.
  if (actor.sessionId !== undefined && user !== undefined) {
    const { sessionStillHolds } = await import('./sessions.js');
    if (!(await sessionStillHolds(tx, actor.sessionId, user, now))) {
      throw new RefusedError(`the session of ${actor.userid} ended while this command ran: nothing was changed`, 'actor_revoked');
    }
  }
  if (tokenRevoked !== undefined) throw new RefusedError(`API token ${actor.userid}!${actor.token!.name} was ${tokenRevoked} while this command ran: nothing was changed`, 'actor_revoked');
}

/** The basis as the store now has it (after a unit of this command's own). */
async function basisNow(tx: Store, userid: string, basis: SignInBasis): Promise<SignInBasis> {
  const user = await tx.getUser(userid);
  if (!user) return basis;
  return { created: user.created, ...(basis.password !== undefined && { password: passwordFingerprint(await tx.getPasswordHash(userid)) }) };
}

const KEY_FINGERPRINT = 'key.fingerprint';

/**
 * Makes sure the store has its key file and remembers the key's fingerprint, so a key file from
 * another store is recognised. Refuses to make a new key for a store whose key is lost: that would
 * silently orphan every secret in it.
 */
export async function ensureKeyFile(random: Random, store: Store, keyPath: string): Promise<{ created: boolean }> {
  const { createKeyFile, discardKeyFile, fingerprintMatches, keyFingerprint, readKeyFile } = await import('../store/keyfile.js');
  const fingerprint = (await store.getSettings()).get(KEY_FINGERPRINT);
  if (fingerprint !== undefined) {
    const key = readKeyFile(keyPath);
    if (!fingerprintMatches(key, fingerprint)) {
      throw new StoreError(`key file ${keyPath} belongs to another store`, 'key_mismatch');
    }
    return { created: false };
  }
  let created: boolean;
  try {
    created = createKeyFile(keyPath, (n) => random.bytes(n));
  } catch (e) {
    throw new StoreError(`cannot create key file ${keyPath}: ${errnoText(e)}`, 'key_file');
  }
  const key = readKeyFile(keyPath);
  if (await store.addSetting(KEY_FINGERPRINT, keyFingerprint(key))) return { created };
  // Another process (another host's init, on PostgreSQL) made the store's key meanwhile: the one
  // made here belongs to nothing, and is not left to be kept with backups.
  const theirs = (await store.getSettings()).get(KEY_FINGERPRINT);
  if (theirs !== undefined && fingerprintMatches(key, theirs)) return { created };
  if (created) discardKeyFile(keyPath);
  throw new StoreError(
    `another tfactl made this store's key file at the same moment, elsewhere${created ? ` (the one made at ${keyPath} is removed)` : ` (${keyPath} is not it)`}: copy that key file to ${keyPath}`,
    'key_mismatch',
  );
}

/** Reads the key file once (until it could be read: a failure is tried again next time), checking it belongs to this store. */
export function secretKeyLoader(store: Store, keyPath: string): (tx?: Store) => Promise<Buffer> {
  let key: Promise<Buffer> | undefined;
  // Inside a transaction, the fingerprint is read on its unit of work (`tx`).
  return (tx) => {
    key ??= (async () => {
      const { fingerprintMatches, keyFileMissing, readKeyFile } = await import('../store/keyfile.js');
      const fingerprint = (await (tx ?? store).getSettings()).get(KEY_FINGERPRINT);
      // No fingerprint: no key was ever made for this store (its creation was cut short), so
      // nothing is sealed yet and init makes one; a missing key is no lost key here.
      if (fingerprint === undefined && keyFileMissing(keyPath)) {
        throw new StoreError(`this store has no key file yet (${keyPath}): its creation was cut short; run tfactl init to finish it`, 'key_file');
      }
      const loaded = readKeyFile(keyPath);
      if (fingerprint !== undefined && !fingerprintMatches(loaded, fingerprint)) {
        throw new StoreError(`key file ${keyPath} belongs to another store`, 'key_mismatch');
      }
      return loaded;
    })();
    key.catch(() => (key = undefined));
    return key;
  };
}
