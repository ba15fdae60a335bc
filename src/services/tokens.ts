import { formatTokenValue, newTokenSecret, type PresentedToken, tokenId, tokenSecretHash, tokenSecretMatches, type TokenPrivileges } from '../domain/api-token.js';
import { tfactlLine } from '../domain/command-line.js';
import { isExpired } from '../domain/dates.js';
import { AuthError, NotFoundError } from '../errors.js';
import type { ApiTokenRecord, Store, UserRecord } from '../store/types.js';

export type { ApiTokenRecord };
import { authorize, refuse } from './authz.js';
import { requireUser } from './lookup.js';
import type { Session } from './session.js';

/**
 * API tokens (Proxmox's `pveum user token`): a user's named credentials for automation. The secret
 * is shown once and kept only as its hash; a token acts as its user (or only looks), can be
 * revoked alone, and dies with its user.
 */

export interface TokenRequest {
  readonly privileges: TokenPrivileges;
  /** The last day it works (YYYY-MM-DD), or null. */
  readonly expires: string | null;
  readonly comment: string | null;
}

export interface AddedToken {
  readonly token: ApiTokenRecord;
  /** `USERID!NAME=SECRET`: shown once, never stored. */
  readonly value: string;
  /** Why the token does not work yet (its user disabled or expired): made all the same, as a password can be set for them. */
  readonly warnings: readonly string[];
}

export async function addToken(
  session: Session,
  userid: string,
  name: string,
  req: TokenRequest,
  /** Handed the result inside the transaction that stores the token, before it commits: its value is shown, or nothing is stored. */
  beforeCommit?: (added: AddedToken) => void | Promise<void>,
): Promise<AddedToken> {
  await authorize(session, 'token.manage', 'token.add', userid);
  const user = await requireUser(session.store, userid);
  if (req.expires !== null && isExpired(req.expires, session.now())) {
    await refuse(session, 'token.add', userid, `the expiry date ${req.expires} has passed: the token would never work`, 'date_passed');
  }
  const secret = newTokenSecret(session.random.bytes(32));
  const token: ApiTokenRecord = {
    userid,
    name,
    secretHash: tokenSecretHash(secret),
    privileges: req.privileges,
    expires: req.expires,
    comment: req.comment,
    created: session.now(),
    lastUsed: null,
  };
  const warnings = [
    ...(user.enabled ? [] : [`${userid} is disabled: the token works once the account is enabled again (${tfactlLine('user modify', [userid], '--enable')})`]),
    ...(isExpired(user.expire, session.now()) ? [`${userid} expired on ${user.expire}: the token works only if the account's expiry is moved (${tfactlLine('user modify', [userid], '--expire DATE')})`] : []),
  ];
  const result: AddedToken = { token, value: formatTokenValue(userid, name, secret), warnings };
  const added = await session.store.transaction(async (tx) => {
    if (!(await tx.insertApiToken(token))) return false;
    await session.audit({ action: 'token.add', target: userid, outcome: 'ok', detail: { name, privileges: req.privileges, expires: req.expires } }, tx);
    await beforeCommit?.(result);
    return true;
  });
  if (!added) return refuse(session, 'token.add', userid, `${userid} already has a token named ${name}: delete it first, or choose another name`, 'exists');
  return result;
}

/** The tokens of `userid`, or of every user (admins). */
export async function listTokens(session: Session, userid?: string): Promise<ApiTokenRecord[]> {
  if (userid === undefined) {
    // Everyone's: what an admin may see; a user sees their own.
    if (!session.actor.admin) return listTokens(session, session.actor.userid);
    await authorize(session, 'token.read', 'token.list');
    return session.store.listApiTokens();
  }
  await authorize(session, 'token.read', 'token.list', userid);
  await requireUser(session.store, userid);
  return session.store.listApiTokens(userid);
}

export async function deleteToken(session: Session, userid: string, name: string): Promise<void> {
  await authorize(session, 'token.manage', 'token.delete', userid);
  const deleted = await session.store.transaction(async (tx) => {
    if (!(await tx.deleteApiToken(userid, name))) return false;
    await session.audit({ action: 'token.delete', target: userid, outcome: 'ok', detail: { name } }, tx);
    return true;
  });
  if (!deleted) throw new NotFoundError(`${userid} has no token named ${name}`);
}

/** Why a presented token may not act now (null: it may), with what was found of it; reads only. */
export async function tokenRefusal(
  store: Store,
  presented: PresentedToken,
  now: number,
): Promise<{ readonly reason: string | null; readonly token: ApiTokenRecord | undefined; readonly user: UserRecord | undefined }> {
  const token = await store.getApiToken(presented.userid, presented.name);
  const user = token && (await store.getUser(presented.userid));
  const reason = !token
    ? 'unknown token'
    : !tokenSecretMatches(presented.secret, token.secretHash)
      ? 'wrong secret'
      : isExpired(token.expires, now)
        ? 'token expired'
        : !user
          ? 'unknown user'
          : !user.enabled
            ? 'account disabled'
            : isExpired(user.expire, now)
              ? 'account expired'
              : null;
  return { reason, token, user };
}

/**
 * The user a presented token acts for, and the token: refused (exit 5, audited, the same message
 * whatever was wrong) when it is unknown, its secret is wrong, it has expired, or its user is
 * disabled or expired. A token is not a sign-in: it counts toward no lockout.
 */
export async function authenticateToken(
  deps: { readonly store: Store; now(): number },
  presented: PresentedToken,
): Promise<{ readonly user: UserRecord; readonly token: ApiTokenRecord }> {
  const now = deps.now();
  const id = tokenId(presented.userid, presented.name);
  const { reason, token, user } = await tokenRefusal(deps.store, presented, now);
  if (reason !== null || !token || !user) {
    await deps.store.appendAudit({ ts: now, actor: null, action: 'auth.token', target: presented.userid, outcome: 'failed', detail: { token: presented.name, reason } });
    throw new AuthError(`authentication failed: API token ${id} is unknown, wrong, expired, or its user may not sign in`);
  }
  // Last use to the minute: a busy service token is not a write on every request.
  if (token.lastUsed === null || now - token.lastUsed >= 60) await deps.store.touchApiToken(token.userid, token.name, now);
  return { user, token };
}
