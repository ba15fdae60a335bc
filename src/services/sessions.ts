import { createHash } from 'node:crypto';
import { CLOCK_SKEW_SECONDS, isExpired } from '../domain/dates.js';
import type { SessionRecord, Store, UserRecord } from '../store/types.js';
import { authorize } from './authz.js';
import { requireUser } from './lookup.js';
import type { Session } from './session.js';
import { sessionSeconds } from './settings.js';
import { passwordFingerprint, type SignInBasis } from './sign-in-basis.js';

/**
 * Kept sign-ins (Proxmox's tickets): `login --session` starts one, and the user's later `--as`
 * commands resume it instead of signing in again, until it expires (`session.minutes`), the user
 * logs out, or anything the sign-in relied on changes (see migration 13). The ticket's secret is
 * only in the user's ticket file; the store keeps its hash.
 */

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest();

/**
 * What a sign-in relies on: the password hash, enabled state, expiry and admin flag, the factors
 * with whether each is enabled, and the second factor the user's realm requires. Any change gives
 * another digest, and ends the session: a realm made to require TOTP signs its users in again.
 */
async function signInState(store: Store, user: UserRecord, basis?: SignInBasis): Promise<Buffer> {
  const factors = (await store.listFactors(user.userid)).map((f) => [f.id, f.enabled]).sort(([a], [b]) => String(a).localeCompare(String(b)));
  const enforce = (await store.getRealm(user.realm))?.enforce ?? null;
  // The password the sign-in verified, not the one there now: a new password set while it was being
  // checked ends the session it keeps, as one set later does.
  const password = basis?.password ?? passwordFingerprint(await store.getPasswordHash(user.userid));
  return sha256(JSON.stringify([password, user.created, user.enabled, user.expire, user.admin, factors, enforce]));
}

/**
 * Whether kept session `id` still holds for `user` at `now`: not ended (logout, user logout) nor
 * expired, and nothing its sign-in relied on changed since (a new password, factors, the realm's rule).
 */
export async function sessionStillHolds(store: Store, id: string, user: UserRecord, now: number): Promise<boolean> {
  const kept = await store.getSession(id);
  return kept !== undefined && kept.userid === user.userid && endOf(kept, await sessionSeconds(store)) > now && (await signInState(store, user)).equals(kept.state);
}

export interface KeptSession {
  /** The ticket's secret (base64url), for the ticket file only. */
  readonly secret: string;
  readonly expires: number;
}

/** Keeps a session for a user who has just signed in. */
export async function keepSession(deps: { readonly store: Store; now(): number; randomBytes(n: number): Buffer }, user: UserRecord, basis: SignInBasis): Promise<KeptSession> {
  const now = deps.now();
  const secret = deps.randomBytes(32).toString('base64url');
  const expires = now + (await sessionSeconds(deps.store));
  // The user as the sign-in found them (`user`, `basis`): one deleted and made again since keeps nothing.
  await deps.store.insertSession({ id: sha256(secret).toString('hex'), userid: user.userid, state: await signInState(deps.store, user, basis), created: now, expires });
  return { secret, expires };
}

/** A kept session that would still sign its user in: when it began, when it ends, when last used. */
export interface LiveSession {
  readonly created: number;
  readonly expires: number;
  readonly lastUsed: number | null;
}

/**
 * The sessions of `user` that would still sign them in at `now`, by the rules resumeSession goes
 * by (session.minutes as it is now, the user enabled and not expired, nothing the sign-in relied
 * on changed), with the end each has now. Precondition: the caller may read the user. Reads only:
 * one that no longer holds is ended when next presented, as before.
 */
export async function liveSessions(store: Store, user: UserRecord, now: number): Promise<LiveSession[]> {
  const kept = await store.listSessions(user.userid);
  if (kept.length === 0) return [];
  const seconds = await sessionSeconds(store);
  const state = await signInState(store, user);
  const live: LiveSession[] = [];
  for (const k of kept) if (await signsIn(k, user, seconds, now, async () => state)) live.push({ created: k.created, expires: endOf(k, seconds), lastUsed: k.lastUsed });
  return live;
}

/**
 * When kept session `kept` ends: session.minutes (`seconds`) as it is now, so that shortened (an
 * incident) it shortens the sessions kept already.
 */
const endOf = (kept: SessionRecord, seconds: number): number => Math.min(kept.expires, kept.created + seconds);

/**
 * Whether kept session `kept` signs `user` in at `now`: not ended, not made in what is still the
 * future (made while the clock ran ahead: set back, the clock would let it last that much longer,
 * CLOCK_SKEW_SECONDS), the user enabled and not expired, and nothing the sign-in relied on changed
 * (`state`, asked last: it reads the user's factors).
 */
async function signsIn(kept: SessionRecord, user: UserRecord, seconds: number, now: number, state: () => Promise<Buffer>): Promise<boolean> {
  return endOf(kept, seconds) > now && kept.created <= now + CLOCK_SKEW_SECONDS && user.enabled && !isExpired(user.expire, now) && (await state()).equals(kept.state);
}

/**
 * The user a ticket signs in, or null when it does not (unknown, another user's or store's,
 * expired, or the user's sign-in state changed, or the user may no longer sign in): the caller
 * then signs in afresh. A session that no longer works is ended.
 */
export async function resumeSession(deps: { readonly store: Store; now(): number }, userid: string, secret: string): Promise<{ readonly user: UserRecord; readonly sessionId: string } | null> {
  const id = sha256(secret).toString('hex');
  const kept = await deps.store.getSession(id);
  if (!kept || kept.userid !== userid) return null;
  const now = deps.now();
  const user = await deps.store.getUser(userid);
  const works = user !== undefined && (await signsIn(kept, user, await sessionSeconds(deps.store), now, () => signInState(deps.store, user)));
  if (!works) {
    await deps.store.deleteSession(id);
    return null;
  }
  await deps.store.touchSession(id, now);
  return { user, sessionId: id };
}

/** Ends the session a ticket holds (logout); false when it had ended already. */
export async function endSession(store: Store, secret: string): Promise<boolean> {
  return store.deleteSession(sha256(secret).toString('hex'));
}

/** Ends every session of a user, on every host (`user logout`): the user, or an admin. */
export async function endUserSessions(session: Session, userid: string): Promise<number> {
  await authorize(session, 'user.modify-self', 'user.logout', userid);
  await requireUser(session.store, userid);
  const ended = await session.store.deleteSessions(userid);
  await session.audit({ action: 'user.logout', target: userid, outcome: 'ok', detail: { sessions: ended } });
  return ended;
}
