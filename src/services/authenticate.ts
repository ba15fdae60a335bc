import { tfactlLine } from '../domain/command-line.js';
import { formatTime, isExpired, isoTime, spanText } from '../domain/dates.js';
import type { Decision } from '../domain/permissions.js';
import { RECOVERY_LOW_WATER } from '../domain/recovery.js';
import { type CodeKind, describeOffer, inferCodeKind, type SecondFactorOffer } from '../domain/second-factor.js';
import { challengeId, countEnabled, requirement } from '../domain/sign-in.js';
import { isLoopbackOrigin } from '../domain/loopback-ceremony.js';
import type { TypedFactors } from '../domain/typed-answer.js';
import { ceremonyOrigins, tightenedCeremony } from '../domain/webauthn-settings.js';
import { basisHolds, passwordFingerprint, type SignInBasis } from './sign-in-basis.js';
import { AuthError, RefusedError, StoreError, TfaError, UsageError } from '../errors.js';
import type { ChallengeStore, FactorStore, LockoutStore, LockState, PasswordFailureCount, PasswordLimits, RealmRecord, RealmStore, Store, UserRecord, UserStore } from '../store/types.js';
import type { AuthDeps, SignInKind, Spent, Verification } from './kinds/kind.js';
import { signInKind } from './kinds/registry.js';
import { checkPassword, type PasswordCheck } from './passwords.js';
import type { KeyChallenge } from './kinds/credential.js';
import { lockoutLimits, passwordLimits, u2fSettings, webauthnSettings } from './settings.js';

export type { AuthDeps };

/** Where the credentials come from: stdin lines, flags or prompts, decided by the caller. */
export interface Credentials {
  password(): Promise<string>;
  /** The answer to the challenge the password earned. */
  secondFactor(offer: SignInChallenge): Promise<SecondFactorAnswer>;
  /** Told how the answer fared (an error: why not), once it has been checked: a page shows it. */
  settled?(error?: unknown): Promise<void>;
  /**
   * After an answer that was simply wrong (no lock came of it): whether to be asked again, with a
   * new challenge that the password already checked earns (not asked for, nor checked, again).
   * Each answer is counted toward the lockout as any is. Absent: the sign-in fails.
   */
  again?(error: WrongAnswerError): boolean;
}

/** A second factor's answer refused as wrong (or used), with no lock in force after it: another may be tried. */
export class WrongAnswerError extends AuthError {
  override name = 'WrongAnswerError';
}

/** An answer to a sign-in challenge: a code (TOTP, recovery key, YubiKey OTP) and what it is, if said. */
export interface SecondFactorAnswer {
  readonly code: string;
  readonly kind?: CodeKind | undefined;
  /** The loopback page's own origin, when this process served the page the answer came from. */
  readonly loopbackOrigin?: string | undefined;
}

export type SignInMethod = 'password' | CodeKind;

export interface SignedIn {
  readonly user: UserRecord;
  readonly basis: SignInBasis;
  readonly method: SignInMethod;
  /** Recovery keys left after this sign-in, when the user has a set. */
  readonly recoveryLeft: number | null;
  readonly warnings: readonly string[];
}

/** How long a sign-in challenge may be answered (as in Proxmox). */
export const CHALLENGE_SECONDS = 120;

/** A challenge issued after the password: what the user may answer with, and until when. */
export interface SignInChallenge extends SecondFactorOffer {
  /** Unguessable; whoever holds it may answer once. */
  readonly id: string;
  readonly expires: number;
  /**
   * For a browser: WebAuthn request options (PublicKeyCredentialRequestOptionsJSON) for the
   * credentials made for the RP id asked for (and U2F key handles with the appid extension); null
   * when none fits.
   */
  readonly publicKey: RequestOptionsJSON | null;
  /** For a terminal: what `fido2-assert` reads, a credential at a time (any RP id, U2F too). */
  readonly fido2: readonly { readonly factorId: string; readonly kind: 'webauthn' | 'u2f'; readonly input: string; readonly options: readonly string[] }[];
}

/** PublicKeyCredentialRequestOptionsJSON, as --begin gives it and a browser's page takes it. */
export interface RequestOptionsJSON {
  readonly challenge: string;
  readonly rpId: string;
  readonly allowCredentials: readonly { readonly id: string; readonly type: 'public-key'; readonly transports?: readonly string[] }[];
  readonly userVerification: 'preferred' | 'required';
  readonly timeout: number;
  readonly extensions?: { readonly appid: string };
}

/** What the challenge keeps in the store (Store.takeChallenge hands it back to the answer). */
interface ChallengeData {
  readonly kinds: readonly CodeKind[];
  readonly recoveryLeft: number | null;
  readonly key: KeyChallenge | null;
  /** Set when `pam prompt` issued it: see SignInContext.channel. */
  readonly channel?: 'pam';
  /** What the sign-in checked (absent in challenges issued before it was kept: then the user's id alone). */
  readonly basis?: SignInBasis;
}

/** The audit trail's names for a sign-in, and what the user signs in for. */
export interface SignInContext {
  readonly userid: string;
  /** The audit trail's name for the sign-in (`login`, `auth`). */
  readonly action: string;
  /**
   * Whether the user, once known to hold the password, may do what they signed in for: checked
   * before a second factor is asked for, so a refused command never spends one (a recovery key
   * is gone once used). Refusals are audited under `intent.action` and thrown (exit 4).
   */
  readonly intent?:
    | {
        readonly action: string;
        readonly target: string | null;
        permits(user: UserRecord): Decision;
        /**
         * What the command itself would refuse, found without changing anything (a user's last
         * factor in a realm that enforces it, a user that already exists): thrown as the command
         * would throw it, so it too spends no second factor. A refusal (exit 4) is audited here.
         */
        precheck?(user: UserRecord): Promise<void>;
      }
    | undefined;
  /**
   * For a security key's answer: the RP id the browser's request is for and the origins its answer
   * may come from (the loopback page's own, a web app's: see ceremonyOrigins); default the
   * store's settings.
   */
  readonly keys?:
    | {
        readonly rpId?: string | undefined;
        readonly origins?: readonly string[] | undefined;
        /** The answer may come from a loopback page this process serves (RP id localhost). */
        readonly loopback?: boolean | undefined;
      }
    | undefined;
  /**
   * 'pam': the challenge is issued by `pam prompt` and answered by `pam check`, another process that
   * is not handed its id: it finds it by the security key's answer (findKeyChallenge).
   */
  readonly channel?: PamChannel | undefined;
}

/** The sign-in context of `tfactl pam`: see SignInContext.channel. */
export type PamChannel = 'pam';

export interface SignInRequest extends SignInContext {
  readonly credentials: Credentials;
}

type Audit = AuthDeps['audit'];

/**
 * Signs a user in on the command line: the password, then, when the user or realm requires one, a
 * second factor answering the challenge the password earned (beginSignIn, then finishSignIn, in
 * one process). Every attempt is audited under `action`, including one that cannot be checked (a
 * missing key file, a store error). Failures throw AuthError (exit 5) with a message that does not
 * tell an unknown user from a wrong password.
 *
 * Guesses are bounded twice, each counted before it is checked so racing attempts cannot check
 * more than the limits allow: password attempts per user id (known or not: the same answer and the
 * same cost either way), and second-factor attempts per user (lockout). Single use holds under
 * concurrent callers: a challenge, a TOTP step and a recovery key are each taken by one
 * conditional write, so of several racing answers exactly one succeeds.
 */
export function authenticate(deps: AuthDeps, request: SignInRequest): Promise<SignedIn> {
  return audited(deps, request, async (audit) => {
    const { userid, credentials } = request;
    if (await banInForce(deps, userid)) return banned(audit, request, await deps.store.getPasswordBan(userid, deps.now()));
    const begun = await passwordStep(deps, request, await beforeAnyCheck(credentials.password()), audit);
    if ('signedIn' in begun) return begun.signedIn;
    let { challenge } = begun;
    for (;;) {
      let answer: SecondFactorAnswer;
      try {
        answer = await credentials.secondFactor(challenge);
      } catch (e) {
        // The password was right but no second factor came (none given, an empty, missing or
        // over-long line after it): a failed sign-in all the same, counted against the password's
        // limit, audited, exit 5; as a usage error (exit 2) it would tell a right password from a
        // wrong one. (A --code @FILE is read before the password: what is wrong with it says nothing.)
        await deps.store.takeChallenge(challenge.id, userid, 'sign-in', deps.now());
        if (e instanceof UsageError) return notSignedIn(deps, request, audit, 'no second factor given', e.message);
        throw e;
      }
      try {
        const signedIn = await answerStep(deps, request, challenge.id, answer, audit);
        await credentials.settled?.();
        return signedIn;
      } catch (e) {
        await credentials.settled?.(e);
        // A mistyped code at a terminal: asked again, with a new challenge earned by the same
        // password (the wrong answer counted as any); the account as it is now.
        if (!(e instanceof WrongAnswerError && credentials.again?.(e) === true)) throw e;
        const next = await nextChallenge(deps, request, audit, begun.basis);
        if (next === null) throw e;
        challenge = next;
      }
    }
  });
}

/**
 * The first half of a sign-in on its own (`login --begin`, for web apps): checks the password as
 * authenticate does and, when a second factor is required, issues a challenge (120 s, single use)
 * instead of asking for it. Signs in at once when the password alone is enough.
 */
export async function beginSignIn(deps: AuthDeps, context: SignInContext, password: string): Promise<{ signedIn: SignedIn } | { challenge: SignInChallenge }> {
  // Origins asked for are checked before anything else: bad input changes nothing, not even the audit trail.
  if (context.keys?.origins) {
    const settings = await webauthnSettings(deps.store, '');
    ceremonyOrigins(context.keys.rpId ?? settings.rpId, context.keys.origins, settings.origins);
  }
  return audited(deps, context, async (audit) => {
    if (await banInForce(deps, context.userid)) return banned(audit, context, await deps.store.getPasswordBan(context.userid, deps.now()));
    const begun = await passwordStep(deps, context, password, audit);
    return 'signedIn' in begun ? begun : { challenge: begun.challenge };
  });
}

/**
 * The second half (`login --finish`): answers challenge `challengeId` of the user. The challenge is
 * taken in the same statement that reads it, before the answer is checked: an unknown, used,
 * expired or another user's challenge is refused and audited (not counted: nothing was checked),
 * and no answer gets a second try.
 */
export function finishSignIn(deps: AuthDeps, context: SignInContext, challengeId: string, answer: SecondFactorAnswer): Promise<SignedIn> {
  return audited(deps, context, (audit) => answerStep(deps, context, challengeId, answer, audit));
}

/**
 * A sign-in that stopped before anything was checked, for a usage error (no terminal to ask for
 * the password, an empty one): no attempt, so not audited as a failed sign-in (`--action sign-in
 * --outcome failed` is the attempts); exit 2 as the error says. Only `audited` catches it.
 */
class NothingChecked extends Error {
  constructor(readonly error: UsageError) {
    super(error.message);
  }
}

/** `answer`, its usage error (asking was not possible) as NothingChecked. */
async function beforeAnyCheck<T>(answer: Promise<T>): Promise<T> {
  try {
    return await answer;
  } catch (e) {
    throw e instanceof UsageError ? new NothingChecked(e) : e;
  }
}

/** Runs a sign-in step so that it is audited whatever happens, also when it fails unexpectedly. */
async function audited<T>(deps: AuthDeps, context: SignInContext, step: (audit: Audit) => Promise<T>): Promise<T> {
  let done = false;
  const audit: Audit = async (entry, tx) => {
    done = true;
    await deps.audit(entry, tx);
  };
  try {
    return await step(audit);
  } catch (e) {
    if (e instanceof NothingChecked) throw e.error;
    // A store that is locked, gone or full takes no audit entry either: a locked one would keep the
    // sign-in waiting a second lock timeout (PAM, the service) for an entry it then cannot write.
    const storeDown = e instanceof StoreError && ['store_busy', 'store_unavailable', 'store_full'].includes(e.code);
    if (!done && !storeDown) {
      // Nothing recorded yet (the key file failed, the prompt was cancelled): the attempt is still
      // audited, then the error goes on as it was.
      const reason = e instanceof TfaError ? `${e.code}: ${e.message}` : 'internal error';
      await deps.audit({ action: context.action, target: context.userid, outcome: 'failed', detail: { reason } }).catch(() => undefined);
    }
    throw e;
  }
}

/** What a refused answer was, by its kind: a person who typed a code used a moment ago learns to wait for the next. */
const INVALID_ANSWER: Readonly<Record<string, string>> = {
  totp: 'invalid or already used TOTP code (each code works once: wait for the next one)',
  recovery: 'invalid or already used recovery key',
  yubico: 'invalid or already used YubiKey OTP',
  webauthn: "the security key's answer was refused (not for this challenge or key, or its signature counter did not grow)",
  u2f: "the security key's answer was refused (not for this challenge or key, or its signature counter did not grow)",
};

/** What a user lacks who answered with a kind they have none of. */
const LACKED: Readonly<Record<string, string>> = { totp: 'TOTP factor', recovery: 'recovery keys', yubico: 'YubiKey', webauthn: 'security key', u2f: 'U2F security key' };

/**
 * TOTP locked: what is left to the user is a recovery key, when they have one (the challenge offers
 * it), else an admin's unlock. `now`: this very answer locked it.
 */
function totpLocked(userid: string, recovery: boolean, now = false): string {
  const way = `${recovery ? 'use a recovery key, or ' : ''}ask an admin to unlock it (${tfactlLine('tfa unlock', [userid])})`;
  return `authentication failed: ${now ? 'too many failed TOTP codes; TOTP is now locked' : 'TOTP is locked after too many failures'}: ${way}`;
}

async function fail(audit: Audit, context: SignInContext, reason: string, message?: string, detail: Record<string, unknown> = {}, wrong = false): Promise<never> {
  await audit({ action: context.action, target: context.userid, outcome: 'failed', detail: { reason, ...detail } });
  throw wrong ? new WrongAnswerError(message) : new AuthError(message);
}

/**
 * Whether password sign-ins of `userid` are banned now, said before the password is read. A ban
 * that ends later than the ban's length from now (made while the clock ran ahead, or before the
 * length was lowered) is left to the password check, which cuts it to that length and says so.
 */
async function banInForce(deps: AuthDeps, userid: string): Promise<boolean> {
  const now = deps.now();
  const until = await deps.store.getPasswordBan(userid, now);
  return until > 0 && until <= now + (await passwordLimits(deps.store)).banSeconds;
}

/** Until when a user's password sign-ins are banned, and the way out sooner: said by the failure that bans and by each one after. */
const banText = (userid: string, until: number) => `try again after ${formatTime(until)} (or ask an admin to run ${tfactlLine('tfa unlock', [userid])})`;

function banned(audit: Audit, context: SignInContext, until: number): Promise<never> {
  const message = `authentication failed: too many failed sign-ins for ${context.userid}; ${banText(context.userid, until)}`;
  return fail(audit, context, 'password sign-ins banned', message, { bannedUntil: isoTime(until) });
}

/**
 * The right password, and still no sign-in: counted as a failed one, so the password cannot be
 * tried freely. Whoever gave the right password is told so, and how many more such failures ban
 * the user's password sign-ins: a script that left out the second factor learns it before its
 * user is banned, not after.
 */
async function notSignedIn(deps: AuthDeps, context: SignInContext, audit: Audit, reason: string, message: string): Promise<never> {
  const limits = await passwordLimits(deps.store);
  const count = await deps.store.recordPasswordFailure(context.userid, limits, deps.now());
  // The failure that bans says so, as a wrong password's does: a script whose code came out empty
  // would else be told the same thing until its user could not sign in at all.
  // (A user gone since its password was checked is told nothing more than a wrong password is.)
  const banned =
    count.bannedUntil > 0
      ? `; that was too many failed sign-ins for ${context.userid}: ${banText(context.userid, count.bannedUntil)}`
      : reason === 'unknown user'
        ? ''
        : `; counted as a failed sign-in (${count.failures} of ${limits.failures} within ${spanText(limits.windowSeconds)} ban ${context.userid}'s password sign-ins for ${spanText(limits.banSeconds)})`;
  return fail(audit, context, reason, `${message}${banned}`, { passwordFailures: count.failures, ...(count.bannedUntil > 0 && { bannedUntil: isoTime(count.bannedUntil) }) });
}

/** Password, account, permission and what the realm and factors require; a challenge when a factor is. */
async function passwordStep(deps: AuthDeps, context: SignInContext, password: string, audit: Audit): Promise<{ signedIn: SignedIn } | { challenge: SignInChallenge; basis: SignInBasis }> {
  const { userid, action } = context;
  // An empty one is no password anyone has (the policy takes none shorter than 1 character): a
  // line a script left empty, or a form sent blank, not a guess to count toward a ban.
  if (password === '') throw new NothingChecked(new UsageError(`no password was given for ${userid} (an empty line or answer)`, 'missing_secret'));
  const regulation = await passwordLimits(deps.store);
  const hash = await deps.store.getPasswordHash(userid);
  const check = await checkRegulated(deps, userid, regulation, () => checkPassword(hash, password), (until) => banned(audit, context, until));
  if (!check.result.ok) {
    const reason = hash === undefined ? 'unknown user' : hash === null ? 'no password set' : 'wrong password';
    const detail = check.count ? { passwordFailures: check.count.failures, ...(check.count.bannedUntil > 0 && { bannedUntil: isoTime(check.count.bannedUntil) }) } : {};
    const until = check.count?.bannedUntil ?? 0;
    return fail(audit, context, reason, until > 0 ? `authentication failed: too many failed sign-ins for ${userid}; ${banText(userid, until)}` : undefined, detail);
  }
  const user = await deps.store.getUser(userid);
  if (!user) return notSignedIn(deps, context, audit, 'unknown user', 'authentication failed');
  if (!user.enabled) return notSignedIn(deps, context, audit, 'account disabled', `authentication failed: ${userid} is disabled`);
  if (isExpired(user.expire, deps.now())) return notSignedIn(deps, context, audit, 'account expired', `authentication failed: ${userid} has expired`);
  // What the sign-in checked, as the store now holds it: its own rehash, or, where another sign-in
  // rehashed it first, that one's (the same password).
  const rehashed = check.result.rehash && hash ? await deps.store.replacePasswordHash(userid, hash, check.result.rehash) : false;
  const stored = check.result.rehash && hash && !rehashed ? await deps.store.getPasswordHash(userid) : rehashed ? check.result.rehash : hash;
  const basis: SignInBasis = { created: user.created, password: passwordFingerprint(stored) };

  if (context.intent) {
    const decision = context.intent.permits(user);
    if (!decision.allowed) {
      await audit({ action: context.intent.action, target: context.intent.target, outcome: 'refused', detail: { reason: decision.reason } });
      throw new RefusedError(decision.reason, 'permission_denied');
    }
    try {
      await context.intent.precheck?.(user);
    } catch (e) {
      // The command's refusal, or what it read refused (a new password the policy does not take,
      // Ctrl-C at its prompt): audited as the command's, not as a failed sign-in (the password was right).
      if (e instanceof TfaError) {
        await audit({ action: context.intent.action, target: context.intent.target, outcome: 'refused', detail: { reason: e instanceof RefusedError ? e.message : `${e.code}: ${e.message}` } });
      }
      throw e;
    }
  }

  const [realm, factors] = await Promise.all([deps.store.getRealm(user.realm), deps.store.listFactors(userid)]);
  const need = requirement(realm?.enforce ?? 'none', countEnabled(factors));
  if (!need.required) {
    await deps.store.clearPasswordFailures(userid);
    await audit({ action, target: userid, outcome: 'ok', detail: { method: 'password' } });
    return { signedIn: { user, basis, method: 'password', recoveryLeft: null, warnings: [] } };
  }
  if (need.usable.length === 0) {
    return notSignedIn(deps, context, audit, 'no usable second factor', `authentication failed: no second factor configured for ${userid}; ask an admin`);
  }
  return { challenge: await challengeStep(deps, context, need, audit, basis), basis };
}

/**
 * Another challenge for a sign-in whose password was right (`basis`) and whose answer was wrong:
 * the account checked again as it is now; null when it no longer asks for a second factor it has.
 */
async function nextChallenge(deps: AuthDeps, context: SignInContext, audit: Audit, basis: SignInBasis): Promise<SignInChallenge | null> {
  const { need } = await usableAccount(deps, context, audit);
  if (!need.required || need.usable.length === 0) return null;
  return challengeStep(deps, context, need, audit, basis);
}

/** The user of `context`, refused (audited) when unknown, disabled or expired, and what their realm and factors ask of a sign-in. */
async function usableAccount(deps: AuthDeps, context: SignInContext, audit: Audit): Promise<{ user: UserRecord; need: ReturnType<typeof requirement> }> {
  const { userid } = context;
  const user = await deps.store.getUser(userid);
  if (!user) return fail(audit, context, 'unknown user');
  if (!user.enabled) return fail(audit, context, 'account disabled', `authentication failed: ${userid} is disabled`);
  if (isExpired(user.expire, deps.now())) return fail(audit, context, 'account expired', `authentication failed: ${userid} has expired`);
  const [realm, factors] = await Promise.all([deps.store.getRealm(user.realm), deps.store.listFactors(userid)]);
  return { user, need: requirement(realm?.enforce ?? 'none', countEnabled(factors)) };
}

/**
 * A second factor alone, for a user whose first factor another part of the system checked (an SSH
 * key, before tfactl's PAM check): the account must be usable, and the challenge is the one a
 * password would have earned. A user whose realm and factors ask for no second factor gets
 * `{ none }`: the caller decides (`--nullok`). Failures are audited and throw AuthError; none is a
 * failed password (there was none).
 */
export function beginSecondFactor(deps: AuthDeps, context: SignInContext): Promise<{ challenge: SignInChallenge } | { none: UserRecord }> {
  return audited(deps, context, async (audit) => {
    const { userid } = context;
    const { user, need } = await usableAccount(deps, context, audit);
    if (!need.required) return { none: user };
    if (need.usable.length === 0) return fail(audit, context, 'no usable second factor', `authentication failed: no second factor configured for ${userid}; ask an admin`);
    return { challenge: await challengeStep(deps, context, need, audit, { created: user.created }) };
  });
}

/**
 * What `userid` could answer a second-factor challenge with now, without making one (what PAM shows
 * before it asks): null for an unknown, disabled or expired user; 'none' for one whose realm and
 * factors ask for no second factor.
 */
export async function secondFactorOffer(store: UserStore & RealmStore & FactorStore & LockoutStore, userid: string, now: number): Promise<SecondFactorOffer | 'none' | null> {
  const user = await store.getUser(userid);
  if (!user?.enabled || isExpired(user.expire, now)) return null;
  const [realm, factors, lock] = await Promise.all([store.getRealm(user.realm), store.listFactors(userid), store.getLockState(userid)]);
  const need = requirement(realm?.enforce ?? 'none', countEnabled(factors));
  if (!need.required) return 'none';
  const kinds = need.usable.filter((k) => !(k === 'totp' && lock?.totpLocked === true));
  const blocked = kinds.length > 0 ? undefined : need.usable.length > 0 ? ('totp locked' as const) : (realm?.enforce ?? 'none') !== 'none' ? ('enforced kind missing' as const) : undefined;
  const lockedTotp = kinds.length < need.usable.length;
  return { userid, kinds, recoveryLeft: need.recoveryLeft, ...(lockedTotp && { totpLocked: true as const }), ...(lock && lock.lockedUntil > now && { lockedUntil: lock.lockedUntil }), ...(blocked && { blocked }) };
}

/**
 * The live challenge of `userid`, issued on `channel`, that a security key's answer pasted from
 * fido2-assert was made for: its first line is the hash of the client data tfactl wrote for one
 * challenge and RP id (domain/fido2-assert.ts), so the answer names its challenge without its id.
 * Null when the text is no such answer or answers none (it is then checked, and refused, as any
 * answer would be). Reads only: the caller answers it with finishSignIn, which takes it.
 */
export async function findKeyChallenge(store: ChallengeStore, userid: string, channel: PamChannel, text: string, now: number): Promise<string | null> {
  const { parseFido2AssertOutput, terminalClientDataHash } = await import('../domain/fido2-assert.js');
  const { sameBytes } = await import('../domain/fido.js');
  let pasted;
  try {
    pasted = parseFido2AssertOutput(text);
  } catch (e) {
    if (e instanceof TfaError) return null;
    throw e;
  }
  for (const c of await store.liveChallenges(userid, 'sign-in', now)) {
    const data = JSON.parse(c.data) as ChallengeData;
    if (data.channel !== channel || !data.key) continue;
    const made = terminalClientDataHash(Buffer.from(data.key.challenge, 'base64url'), pasted.rpId);
    if (sameBytes(made, pasted.clientDataHash)) return c.id;
  }
  return null;
}

/** What ends a password typed together with a code, for this user (see domain/typed-answer.ts). */
export async function typedFactorsOf(store: FactorStore, userid: string): Promise<TypedFactors> {
  const factors = (await store.listFactors(userid)).filter((f) => f.enabled);
  return {
    totpDigits: factors.flatMap((f) => (f.type === 'totp' ? [f.params.digits] : [])),
    yubicoLengths: factors.flatMap((f) => (f.type === 'yubico' ? [f.publicId.length + 32] : [])),
    recovery: factors.some((f) => f.type === 'recovery'),
  };
}

/**
 * A user's lock state at `now`, a lock of every factor cut to `lockout.seconds` from now: one that
 * ends later was set while the clock ran ahead (set back, it would last that much longer), or
 * before the setting was lowered. Cut in the store, so the lock ends for everyone then.
 */
export async function lockStateNow(store: Store, userid: string, now: number): Promise<LockState | undefined> {
  const lock = await store.getLockState(userid);
  if (!lock || lock.lockedUntil <= now) return lock;
  const latest = now + (await lockoutLimits(store)).lockSeconds;
  if (lock.lockedUntil <= latest) return lock;
  await store.cutLock(userid, latest);
  return { ...lock, lockedUntil: latest };
}

/** The challenge a second factor answers, unless second factors are locked (audited, AuthError). */
async function challengeStep(
  deps: AuthDeps,
  context: SignInContext,
  need: { readonly usable: readonly CodeKind[]; readonly recoveryLeft: number | null },
  audit: Audit,
  basis: SignInBasis,
): Promise<SignInChallenge> {
  const { userid } = context;
  const now = deps.now();
  const lock = await lockStateNow(deps.store, userid, now);
  if (lock && lock.lockedUntil > now) {
    const message = `authentication failed: too many failed attempts; second factors are locked until ${formatTime(lock.lockedUntil)} (an admin can run ${tfactlLine('tfa unlock', [userid])})`;
    return fail(audit, context, 'locked', message);
  }
  const kinds = need.usable.filter((k) => !(k === 'totp' && lock?.totpLocked === true));
  // Nothing left to answer with (no recovery key either): only an admin can help.
  if (kinds.length === 0) return fail(audit, context, 'totp locked', totpLocked(userid, false));

  const id = challengeId(deps.randomBytes(32));
  const keys = kinds.includes('webauthn') || kinds.includes('u2f') ? await keyChallenge(deps, context, userid) : null;
  const data: ChallengeData = { kinds, recoveryLeft: need.recoveryLeft, key: keys?.key ?? null, ...(context.channel && { channel: context.channel }), basis };
  const expires = now + CHALLENGE_SECONDS;
  await deps.store.insertChallenge({ id, userid, purpose: 'sign-in', created: now, expires, data: JSON.stringify(data) }, now);
  const lockedTotp = kinds.length < need.usable.length;
  return { id, userid, kinds, recoveryLeft: need.recoveryLeft, ...(lockedTotp && { totpLocked: true as const }), expires, publicKey: keys?.publicKey ?? null, fido2: keys?.fido2 ?? [] };
}

/** The security-key half of a challenge: what it holds, what a browser gets, what fido2-assert reads. */
async function keyChallenge(deps: AuthDeps, context: SignInContext, userid: string) {
  const { credentialRpId } = await import('./kinds/credential.js');
  const { fido2AssertGetOptions, fido2AssertInput } = await import('../domain/fido2-assert.js');
  const settings = await webauthnSettings(deps.store, '');
  const credentials = await deps.store.getCredentials(userid);
  const u2f = credentials.some((c) => c.type === 'u2f') ? await u2fSettings(deps.store) : null;
  const challengeBytes = deps.randomBytes(32);
  const loopback = context.keys?.loopback === true;
  const rpId = loopback ? 'localhost' : (context.keys?.rpId ?? settings.rpId);
  const key: KeyChallenge = {
    challenge: challengeBytes.toString('base64url'),
    rpId,
    origins: ceremonyOrigins(rpId, loopback ? [] : (context.keys?.origins ?? []), settings.origins),
    userVerification: settings.userVerification,
    u2f: u2f && { appId: u2f.appId, origin: u2f.origin },
    loopback,
  };
  // A browser can answer for a WebAuthn credential made for the RP id asked for, when there is an
  // origin to accept its answer from (or the loopback page's); a U2F registration made under the
  // appid answers through the appid extension (not from the loopback page: a browser takes an
  // appid only from a page of its origin), or raw (what Proxmox's API takes), to the same challenge.
  const browsable = (c: (typeof credentials)[number]) =>
    c.type === 'webauthn' ? (key.origins.length > 0 || key.loopback) && credentialRpId(c, key) === key.rpId : !key.loopback && key.u2f !== null && credentialRpId(c, key) === key.u2f.appId;
  const allow = credentials
    .filter(browsable)
    .map((c) => ({ id: c.credentialId, type: 'public-key' as const, ...(c.transports.length > 0 && { transports: c.transports }) }));
  const publicKey: RequestOptionsJSON | null =
    allow.length === 0
      ? null
      : {
          challenge: key.challenge,
          rpId: key.rpId,
          allowCredentials: allow,
          userVerification: key.userVerification,
          timeout: CHALLENGE_SECONDS * 1000,
          ...(key.u2f && credentials.some((c) => c.type === 'u2f' && browsable(c)) && { extensions: { appid: key.u2f.appId } }),
        };
  const fido2 = credentials.flatMap((c) => {
    const rpId = credentialRpId(c, key);
    if (rpId === null) return [];
    const input = fido2AssertInput({ challenge: challengeBytes, rpId, credentialId: Buffer.from(c.credentialId, 'base64url') });
    return [{ factorId: c.id, kind: c.type, input, options: fido2AssertGetOptions(c.type) }];
  });
  return { key, publicKey, fido2 };
}

/**
 * Takes the challenge, then checks the answer with its kind's module, counted before it is checked.
 * One unit of work from the challenge to the sign-in: the challenge taken, the attempt counted, the
 * answer checked and spent (its factor's conditional write), the counters reset and the audit entry
 * written, or none of it. A kind whose check waits on a network service (YubiKey validation) is
 * checked between two: the challenge taken with the attempt counted, then the answer spent with the
 * success, so that no wait holds the store's write lock and no crash in between loses a count.
 */
async function answerStep(deps: AuthDeps, context: SignInContext, challengeId: string, answer: SecondFactorAnswer, audit: Audit): Promise<SignedIn> {
  const { userid, action } = context;
  const now = deps.now();
  const limits = await lockoutLimits(deps.store);
  /**
   * The answer spent, the counters reset and the success audited, on the unit of work given. The
   * password failures only where this sign-in checked the password: a second factor alone (PAM
   * after sshd's own password check) says nothing of them, and would give a guesser of the
   * password a fresh count at each of the user's own sign-ins.
   */
  const succeed = async (tx: Store, module: SignInKind, verified: Verified, challenge: ChallengeData): Promise<Spent> => {
    const result = await verified.spend(tx);
    if (!result.spent) return result;
    await tx.recordSuccess(userid, module.liftsTotpLock);
    if (challenge.basis?.password !== undefined) await tx.clearPasswordFailures(userid);
    await audit({ action, target: userid, outcome: 'ok', detail: { method: module.kind, factor: result.factorId } }, tx);
    return result;
  };
  const opened = await deps.store.transaction(async (tx): Promise<Opened> => {
    const taken = await tx.takeChallenge(challengeId, userid, 'sign-in', now);
    // Unknown, used, expired or another user's: refused and audited, but not counted. No answer is
    // checked without a challenge the password earned, and counting these would let anyone who can
    // reach the service (a token or a password of their own not needed) lock any user out with
    // made-up challenge ids.
    if (!taken) return { refused: 'challenge' };
    const issued = JSON.parse(taken.data) as ChallengeData;
    let challenge = issued;
    const user = await tx.getUser(userid);
    if (!user) return { refused: 'user' };
    // As when the challenge was issued: an account disabled or expired since answers nothing.
    if (!user.enabled) return { refused: 'disabled' };
    if (isExpired(user.expire, now)) return { refused: 'expired' };
    // The account made anew under the id, or given a new password (a reset after a leak), since
    // the password earned this challenge: it answers nothing.
    if (issued.basis && !(await basisHolds(tx, userid, issued.basis, user))) return { refused: 'changed' };
    const realm = await tx.getRealm(user.realm);
    let kind = answer.kind ?? inferCodeKind(answer.code);
    if (kind === null && challenge.key) {
      const { classifyKeyAnswer } = await import('./kinds/credential.js');
      kind = classifyKeyAnswer(answer.code, await tx.getCredentials(userid), challenge.key);
    }
    // A security key's answer is held to the settings as they are now (tightened, not widened);
    // read only for one (a code's answer reads no settings here).
    if (challenge.key && (kind === 'webauthn' || kind === 'u2f')) challenge = { ...issued, key: tightenedCeremony(challenge.key, challenge.key.rpId, await webauthnSettings(tx, '')) };
    const offered = kind !== null && challenge.kinds.includes(kind);
    const module = offered && kind !== null ? await signInKind(kind) : null;
    if (kind === 'totp' && !offered && (await tx.getLockState(userid))?.totpLocked) return { refused: 'totp locked', recovery: challenge.kinds.includes('recovery') };
    // A missing or foreign key file is found before the attempt is counted: not the person's failure
    // (and the challenge stays: this unit of work is not committed).
    if (module) await deps.secretKey(tx);
    // Counted before it is checked: see Store.reserveAttempt.
    const state = await tx.reserveAttempt(userid, module?.countsOnTotpLock ?? false, limits, now);
    const found = { challenge, user, realm, kind, module, state };
    if (!state || !module || module.waitsOnNetwork) return found;
    const inUnit: AuthDeps = { ...deps, store: tx, secretKey: () => deps.secretKey(tx), audit: (entry) => deps.audit(entry, tx) };
    const verified = await module.verify({ deps: inUnit, user, realm, key: answeredKey(challenge.key, answer) }, answer.code);
    return { ...found, verified, spent: verified.ok ? await succeed(tx, module, verified, challenge) : undefined };
  });
  if ('refused' in opened) {
    if (opened.refused === 'user') return fail(audit, context, 'unknown user');
    if (opened.refused === 'disabled') return fail(audit, context, 'account disabled', `authentication failed: ${userid} is disabled`);
    if (opened.refused === 'expired') return fail(audit, context, 'account expired', `authentication failed: ${userid} has expired`);
    if (opened.refused === 'changed') return fail(audit, context, 'account changed', `authentication failed: ${userid} was made anew or given a new password since this challenge: sign in again`);
    if (opened.refused === 'totp locked') return fail(audit, context, 'totp locked', totpLocked(userid, opened.recovery));
    return fail(audit, context, 'unknown, used or expired challenge', 'authentication failed: the challenge is unknown, used or expired: sign in again');
  }
  const { challenge, user, realm, kind, module, state } = opened;
  if (!state) {
    return module?.countsOnTotpLock
      ? fail(audit, context, 'totp locked', totpLocked(userid, challenge.kinds.includes('recovery')))
      : fail(audit, context, 'locked', `authentication failed: too many failed attempts; second factors are locked (an admin can run ${tfactlLine('tfa unlock', [userid])})`);
  }
  const verified =
    opened.verified ??
    (module
      ? await module.verify({ deps, user, realm, key: answeredKey(challenge.key, answer) }, answer.code)
      : { ok: false as const, reason: kind === null ? 'unrecognised code' : `no usable ${kind} factor` });

  if (!verified.ok && verified.unavailable) {
    // Nothing was checked: audited and refused, but it does not count toward lockout.
    await deps.store.releaseAttempt(userid, module?.countsOnTotpLock ?? false, limits);
    return fail(audit, context, verified.reason, `authentication failed: YubiKey validation service unavailable (${verified.reason})`, { method: kind });
  }
  const refusal = (reason: string) => {
    const locked = state.lockedUntil > now;
    const totpNowLocked = state.totpLocked && module?.countsOnTotpLock === true;
    const message = locked
      ? `authentication failed: too many failed attempts; second factors are now locked until ${formatTime(state.lockedUntil)} (an admin can run ${tfactlLine('tfa unlock', [userid])})`
      : totpNowLocked
        ? totpLocked(userid, challenge.kinds.includes('recovery'), true)
        : !module && kind !== null
          ? // An answer of a kind the user has none of (login --type recovery without recovery keys): said after their password, as the offer is.
            `authentication failed: ${userid} has no ${LACKED[kind] ?? `${kind} factor`} to sign in with; give a ${describeOffer({ userid, kinds: challenge.kinds, recoveryLeft: challenge.recoveryLeft })}`
          : `authentication failed: ${INVALID_ANSWER[kind ?? ''] ?? 'invalid or already used code'}`;
    return fail(audit, context, reason, message, { method: kind, failures: state.failures }, !locked && !totpNowLocked);
  };
  if (!verified.ok || !module) return refusal(verified.ok ? 'no module' : verified.reason);
  const spent = opened.spent ?? (await deps.store.transaction((tx) => succeed(tx, module, verified, challenge)));
  if (!spent.spent) return refusal(spent.reason);
  const warnings: string[] = [];
  const left = kind === 'recovery' ? verified.recoveryLeft : challenge.recoveryLeft;
  if (left !== null && left !== undefined && left < RECOVERY_LOW_WATER) {
    warnings.push(
      left === 0
        ? `no recovery keys left for ${userid}: generate new ones with 'tfactl tfa add recovery ${userid} --regenerate'`
        : `only ${left} recovery key${left === 1 ? '' : 's'} left for ${userid}: consider 'tfactl tfa add recovery ${userid} --regenerate'`,
    );
  }
  return { user, basis: challenge.basis ?? { created: user.created }, method: kind as CodeKind, recoveryLeft: left ?? null, warnings };
}

/** The first unit of work's outcome: refused before anything was checked, or what the check needs. */
type Opened =
  | { readonly refused: 'challenge' }
  | { readonly refused: 'user' | 'disabled' | 'expired' | 'changed' }
  | { readonly refused: 'totp locked'; readonly recovery: boolean }
  | {
      readonly challenge: ChallengeData;
      readonly user: UserRecord;
      readonly realm: RealmRecord | undefined;
      readonly kind: CodeKind | null;
      readonly module: SignInKind | null;
      readonly state: LockState | null;
      /** Checked (and, when it checked out, spent) inside the unit of work: see answerStep. */
      readonly verified?: Verification;
      readonly spent?: Spent;
    };

type Verified = Extract<Verification, { ok: true }>;

/** The key challenge as the answer is checked against it: a loopback page's origin added when this process served it. */
function answeredKey(key: KeyChallenge | null, answer: SecondFactorAnswer): KeyChallenge | null {
  if (!key?.loopback || answer.loopbackOrigin === undefined || !isLoopbackOrigin(answer.loopbackOrigin)) return key;
  return { ...key, origins: [...key.origins, answer.loopbackOrigin] };
}

/** How long a password check waits for the checks in flight before it gives up (seconds). */
const PASSWORD_CHECK_WAIT = 30;

/**
 * Checks a password under the regulation: the check starts only while failures plus checks in
 * flight stay under the limit (waiting its turn behind concurrent ones, which may well be right),
 * and a wrong password is counted as the check ends.
 */
async function checkRegulated<T extends PasswordCheck>(
  deps: AuthDeps,
  userid: string,
  limits: PasswordLimits,
  checkPassword: () => Promise<T>,
  banned: (until: number) => Promise<never>,
): Promise<{ result: T; count: PasswordFailureCount | null }> {
  const token = deps.randomBytes(16).toString('hex');
  const give = deps.now() + PASSWORD_CHECK_WAIT;
  for (;;) {
    const start = await deps.store.beginPasswordCheck(userid, token, limits, deps.now());
    if (start.status === 'allowed') break;
    if (start.status === 'banned') return banned(start.until);
    if (deps.now() >= give) throw new AuthError(`authentication failed: too many sign-ins of ${userid} at once; try again`);
    await deps.sleep(20 + Math.floor(deps.randomBytes(1)[0]! / 8));
  }
  let result: T;
  try {
    result = await checkPassword();
  } catch (e) {
    await deps.store.finishPasswordCheck(userid, token, false, limits, deps.now());
    throw e;
  }
  const count = await deps.store.finishPasswordCheck(userid, token, !result.ok, limits, deps.now());
  return { result, count };
}

