import { LOCAL_REALM, ROOT_USERID } from './userid.js';

/** Who is acting, as far as permissions go. */
export interface Principal {
  readonly userid: string;
  readonly admin: boolean;
  /** Set when an API token acts for the user: its name and what it may do. */
  readonly token?: { readonly name: string; readonly privileges: 'inherit' | 'read-only'; /** The SHA-256 of its secret: one made again under its name is another token. */ readonly secretHash?: Uint8Array } | undefined;
  /**
   * Set when the user signed in by a session kept from an earlier sign-in (`login --session`), so
   * no password was given for this run: see NEEDS_PASSWORD.
   */
  readonly resumed?: boolean | undefined;
}

/**
 * Everything an actor may try. `*.read` operations look, the others change something.
 * `user.modify-self` covers the fields a user may change on their own account (email, comment);
 * `user.modify` covers the rest (admin flag, expiry, enabled state). The target of `realm.*` is a
 * realm name, of the others a user id.
 */
export type Operation =
  | 'user.read'
  | 'user.create'
  | 'user.modify'
  | 'user.modify-self'
  | 'user.passwd'
  | 'user.delete'
  | 'realm.read'
  | 'realm.manage'
  | 'audit.read-all'
  /** Removing old audit entries: the trail is the record of what admins did. */
  | 'audit.prune'
  | 'tfa.read'
  | 'tfa.manage'
  | 'tfa.unlock'
  /** Looking at API tokens (names, expiry, last use: never a secret). */
  | 'token.read'
  /** Adding and deleting API tokens. */
  | 'token.manage'
  /** Making a user an admin (user add --admin, user modify --admin, an import row), or enabling an admin or moving their expiry: `user.modify`, and never by an API token. */
  | 'user.grant-admin'
  /** Setting the password of a user who is an admin: `user.passwd`, and never by an API token. */
  | 'user.passwd-admin'
  /** Checking a user's password and second factor for another program (tfactl serve's /api/v1/login). */
  | 'auth.verify'
  | 'store.manage'
  /** Reading what admins read of the whole store, no secret in it (settings, `export users`). */
  | 'store.read'
  /** Changing a store-wide setting: every one of them applies to root@local too. */
  | 'settings.change'
  /** Backing up or restoring the whole store: it holds root@local's account and secrets. */
  | 'store.whole';

export type Decision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

const SELF_SERVICE: ReadonlySet<Operation> = new Set<Operation>([
  'user.read',
  'user.modify-self',
  'user.passwd',
  'tfa.read',
  'tfa.manage',
  'token.read',
  'token.manage',
]);

const READS: ReadonlySet<Operation> = new Set<Operation>(['user.read', 'realm.read', 'tfa.read', 'audit.read-all', 'token.read', 'auth.verify', 'store.read']);

/**
 * What no API token does, whatever its privileges: change second factors (the seed asks for the
 * user's password for that) or tokens (a token could otherwise outlive its revocation by making
 * another); nor its own user's password (below).
 */
const NEVER_BY_TOKEN: ReadonlySet<Operation> = new Set<Operation>(['tfa.manage', 'token.manage']);

/**
 * Nor, for the same reason, does a token make an admin or set an admin's password: the account it
 * made or took over would make tokens of its own, and sign in, long after the token was deleted.
 */
const NO_ADMIN_BY_TOKEN: ReadonlySet<Operation> = new Set<Operation>(['user.grant-admin', 'user.passwd-admin']);

/** What the two operations above are for everyone else. */
const AS_FOR_OTHERS: Partial<Record<Operation, Operation>> = { 'user.grant-admin': 'user.modify', 'user.passwd-admin': 'user.passwd' };

/** The operation `op` is for anyone but an API token (the command it is part of). */
export const asForOthers = (op: Operation): Operation => AS_FOR_OTHERS[op] ?? op;

/**
 * What changing one's own account this way needs the password for, even inside a kept session
 * (the seed: "verify the current user password, unless logged in as root"): second factors, the
 * password itself, API tokens. A command that names such a change asks for the password up front
 * (commands/session.ts); one that finds it on the way (a `user import --update` row for the user
 * themself) is refused here.
 */
export const NEEDS_PASSWORD: ReadonlySet<Operation> = new Set<Operation>(['tfa.manage', 'user.passwd', 'token.manage']);

export function isRoot(p: Principal): boolean {
  return p.userid === ROOT_USERID;
}

/**
 * The permission matrix, in one place:
 * - root@local may do everything; whatever decides how root@local is checked is root@local's
 *   alone: the whole store (backup, restore), every store-wide setting (password policy, lockout
 *   limits), the built-in realm `local` (what it enforces, how it validates YubiKeys) and the
 *   audit trail's oldest entries (pruning them);
 * - only root@local may change root@local's account or factors (admins may look at it);
 * - admins may do everything else;
 * - ordinary users may only look at and manage themselves (email, comment, password, factors,
 *   API tokens, their own audit entries);
 * - an API token acts as its user, or only looks (read-only), and never changes second factors,
 *   tokens or its own user's password, makes an admin or sets an admin's password;
 * - a user signed in by a kept session does not change their own factors, password or tokens
 *   (NEEDS_PASSWORD), nor make tokens, or admins, or set an admin's password, as a token does not.
 * `target` is the user id (or, for realm operations, the realm) acted on, when there is one.
 */
export function decide(actor: Principal, op: Operation, target?: string): Decision {
  if (actor.token) {
    const id = `${actor.userid}!${actor.token.name}`;
    if (NEVER_BY_TOKEN.has(op) || (op === 'user.passwd' && target === actor.userid)) {
      return { allowed: false, reason: `API token ${id} may not change second factors, tokens or its own user's password: sign in as ${actor.userid}` };
    }
    if (NO_ADMIN_BY_TOKEN.has(op)) {
      return { allowed: false, reason: `API token ${id} may not make admins, enable them, change their expiry or set their password (what it made would outlive the token): sign in as ${actor.userid}` };
    }
    if (actor.token.privileges === 'read-only' && !READS.has(op)) return { allowed: false, reason: `API token ${id} is read-only` };
    return decide({ userid: actor.userid, admin: actor.admin }, op, target);
  }
  // What a token may not make (credentials that would outlive it), a kept session makes only with
  // the password: its ticket may be a stolen one, or a laptop left open.
  if (actor.resumed && (op === 'token.manage' || NO_ADMIN_BY_TOKEN.has(op))) {
    return { allowed: false, reason: "making API tokens, making admins, enabling them, changing their expiry or setting an admin's password needs your password, which a kept session does not ask for: end the session (logout) and sign in again" };
  }
  if (AS_FOR_OTHERS[op] !== undefined) return decide(actor, asForOthers(op), target);
  if (actor.resumed && NEEDS_PASSWORD.has(op) && target === actor.userid) {
    return { allowed: false, reason: 'changing your own second factors, password or API tokens needs your password, which a kept session does not ask for: end the session (logout) and sign in again' };
  }
  if (isRoot(actor)) return { allowed: true };
  if (op === 'store.whole') {
    return { allowed: false, reason: `only ${ROOT_USERID} may back up or restore the whole store (it holds ${ROOT_USERID}'s secrets)` };
  }
  if (op === 'settings.change') {
    return { allowed: false, reason: `only ${ROOT_USERID} may change store-wide settings: they apply to ${ROOT_USERID} too` };
  }
  if (op === 'audit.prune') {
    return { allowed: false, reason: `only ${ROOT_USERID} may remove audit entries: the trail is the record of what admins did` };
  }
  if (op === 'realm.manage' && target === LOCAL_REALM) {
    return { allowed: false, reason: `only ${ROOT_USERID} may change the built-in realm ${LOCAL_REALM}: it decides how ${ROOT_USERID} signs in` };
  }
  if (op === 'audit.read-all' && target === actor.userid) return { allowed: true };
  if (op === 'auth.verify' && target === ROOT_USERID) {
    return { allowed: false, reason: `only ${ROOT_USERID} may have ${ROOT_USERID}'s password checked for another program` };
  }
  if (target === ROOT_USERID && !READS.has(op)) {
    return { allowed: false, reason: `only ${ROOT_USERID} may change ${ROOT_USERID} or its factors` };
  }
  if (actor.admin) return { allowed: true };
  if (target !== undefined && target === actor.userid && SELF_SERVICE.has(op)) return { allowed: true };
  if (op === 'user.modify' && target === actor.userid) {
    return { allowed: false, reason: 'only an admin may change admin rights, expiry or enabled state' };
  }
  // A realm's name is no user's: not "only admins manage other users".
  if (op.startsWith('realm.')) return { allowed: false, reason: `${actor.userid} may not ${op === 'realm.read' ? 'look at' : 'manage'} realms: admins only` };
  return {
    allowed: false,
    reason:
      target !== undefined && target !== actor.userid
        ? `${actor.userid} may not act on ${target}: only admins manage other users`
        : `${actor.userid} may not do this: admins only`,
  };
}
