import { formatTime, isExpired } from '../domain/dates.js';
import { findRecoverySlot, hashRecoveryKey, parseRecoveryKey, RECOVERY_LOW_WATER } from '../domain/recovery.js';
import { type CodeKind, inferCodeKind, type SecondFactorOffer } from '../domain/second-factor.js';
import { open, secretContext } from '../domain/secret-box.js';
import type { Decision } from '../domain/permissions.js';
import { countEnabled, requirement } from '../domain/sign-in.js';
import { AuthError, RefusedError, StoreError, TfaError, UsageError } from '../errors.js';
import type { AuditEntry, PasswordFailureCount, PasswordLimits, RealmRecord, Store, UserRecord } from '../store/types.js';
import { checkPassword, type PasswordCheck } from './passwords.js';
import { lockoutLimits, passwordLimits } from './settings.js';

export interface AuthDeps {
  readonly store: Store;
  now(): number;
  /** The store's key, for opening sealed secrets. */
  secretKey(): Promise<Buffer>;
  /** Random bytes (nonces for YubiKey validation requests, tokens). */
  randomBytes(n: number): Buffer;
  /** Waits (for password checks in flight). */
  sleep(ms: number): Promise<void>;
  audit(entry: Omit<AuditEntry, 'ts' | 'actor'>): Promise<void>;
}

/** Where the credentials come from: stdin lines, flags or prompts, decided by the caller. */
export interface Credentials {
  password(): Promise<string>;
  secondFactor(offer: SecondFactorOffer): Promise<{ readonly code: string; readonly kind?: CodeKind | undefined }>;
}

export type SignInMethod = 'password' | CodeKind;

export interface SignedIn {
  readonly user: UserRecord;
  readonly method: SignInMethod;
  /** Recovery keys left after this sign-in, when the user has a set. */
  readonly recoveryLeft: number | null;
  readonly warnings: readonly string[];
}

/** What a sign-in is for: the audit action, and the operation the user means to do once signed in. */
export interface SignInRequest {
  readonly userid: string;
  readonly credentials: Credentials;
  /** The audit trail's name for the sign-in (`login`, `auth`). */
  readonly action: string;
  /**
   * Whether the user, once known to hold the password, may do what they signed in for: checked
   * before a second factor is asked for, so a refused command never spends one (a recovery key
   * is gone once used). Refusals are audited under `intent.action` and thrown (exit 4).
   */
  readonly intent?: { readonly action: string; readonly target: string | null; permits(user: UserRecord): Decision } | undefined;
}

/**
 * Signs a user in: password, then a second factor when the user or realm requires one. Every
 * attempt is audited under `action`, including one that cannot be checked (a missing key file, a
 * store error). Failures throw AuthError (exit 5) with a message that does not tell an unknown user
 * from a wrong password.
 *
 * Guesses are bounded twice, each counted before it is checked so racing attempts cannot check
 * more than the limits allow: password attempts per user id (known or not: the same answer and the
 * same cost either way), and second-factor attempts per user (lockout). Single use holds under
 * concurrent callers: a TOTP step and a recovery key are each accepted by one conditional write,
 * so of several racing sign-ins exactly one succeeds.
 */
export async function authenticate(deps: AuthDeps, request: SignInRequest): Promise<SignedIn> {
  let audited = false;
  const audit = async (entry: Omit<AuditEntry, 'ts' | 'actor'>) => {
    audited = true;
    await deps.audit(entry);
  };
  try {
    return await signIn(deps, request, audit);
  } catch (e) {
    if (!audited) {
      // Nothing recorded yet (the store or the key file failed, the prompt was cancelled): the
      // attempt is still audited, then the error goes on as it was.
      const reason = e instanceof TfaError ? `${e.code}: ${e.message}` : 'internal error';
      await deps.audit({ action: request.action, target: request.userid, outcome: 'failed', detail: { reason } }).catch(() => undefined);
    }
    throw e;
  }
}

const TOTP_LOCKED = 'authentication failed: TOTP is locked after too many failures; use a recovery key or ask an admin to unlock';

async function signIn(deps: AuthDeps, request: SignInRequest, audit: AuthDeps['audit']): Promise<SignedIn> {
  const { userid, action, credentials } = request;
  const fail = async (reason: string, message?: string, detail: Record<string, unknown> = {}): Promise<never> => {
    await audit({ action, target: userid, outcome: 'failed', detail: { reason, ...detail } });
    throw new AuthError(message);
  };
  const banned = (until: number): Promise<never> =>
    fail('password sign-ins banned', `authentication failed: too many failed sign-ins for ${userid}; try again after ${formatTime(until)} (or ask an admin to run 'tfactl tfa unlock ${userid}')`, {
      bannedUntil: until,
    });

  const regulation = await passwordLimits(deps.store);
  const banUntil = await deps.store.getPasswordBan(userid, deps.now());
  if (banUntil > 0) return banned(banUntil);
  const password = await credentials.password();
  const hash = await deps.store.getPasswordHash(userid);
  const check = await checkRegulated(deps, userid, regulation, () => checkPassword(hash, password), banned);
  const passwordDetail = check.count ? { passwordFailures: check.count.failures, ...(check.count.bannedUntil > 0 && { bannedUntil: check.count.bannedUntil }) } : {};
  if (!check.result.ok) {
    const reason = hash === undefined ? 'unknown user' : hash === null ? 'no password set' : 'wrong password';
    const until = check.count?.bannedUntil ?? 0;
    return until > 0 ? fail(reason, `authentication failed: too many failed sign-ins for ${userid}; try again after ${formatTime(until)}`, passwordDetail) : fail(reason, undefined, passwordDetail);
  }
  const notSignedIn = async (reason: string, message: string, detail: Record<string, unknown> = {}): Promise<never> => {
    // The right password, and still no sign-in: counted as a failed one, so the password cannot
    // be tried freely by never giving a second factor.
    const count = await deps.store.recordPasswordFailure(userid, regulation, deps.now());
    return fail(reason, message, { ...detail, passwordFailures: count.failures, ...(count.bannedUntil > 0 && { bannedUntil: count.bannedUntil }) });
  };
  const user = await deps.store.getUser(userid);
  if (!user) return notSignedIn('unknown user', 'authentication failed');
  if (!user.enabled) return notSignedIn('account disabled', `authentication failed: ${userid} is disabled`);
  if (isExpired(user.expire, deps.now())) return notSignedIn('account expired', `authentication failed: ${userid} has expired`);
  if (check.result.rehash && hash) await deps.store.replacePasswordHash(userid, hash, check.result.rehash);

  if (request.intent) {
    const decision = request.intent.permits(user);
    if (!decision.allowed) {
      await audit({ action: request.intent.action, target: request.intent.target, outcome: 'refused', detail: { reason: decision.reason } });
      throw new RefusedError(decision.reason, 'permission_denied');
    }
  }

  const [realm, factors] = await Promise.all([deps.store.getRealm(user.realm), deps.store.listFactors(userid)]);
  const need = requirement(realm?.enforce ?? 'none', countEnabled(factors));
  if (!need.required) {
    await deps.store.clearPasswordFailures(userid);
    await audit({ action, target: userid, outcome: 'ok', detail: { method: 'password' } });
    return { user, method: 'password', recoveryLeft: null, warnings: [] };
  }
  if (need.usable.length === 0) {
    return notSignedIn('no usable second factor', `authentication failed: no second factor configured for ${userid}; ask an admin`);
  }

  const lock = await deps.store.getLockState(userid);
  const now = deps.now();
  if (lock && lock.lockedUntil > now) {
    return fail(
      'locked',
      `authentication failed: too many failed attempts; second factors are locked until ${formatTime(lock.lockedUntil)} (an admin can run 'tfactl tfa unlock ${userid}')`,
    );
  }
  const totpLocked = lock?.totpLocked === true;
  const kinds = need.usable.filter((k) => !(k === 'totp' && totpLocked));
  if (kinds.length === 0) return fail('totp locked', TOTP_LOCKED);

  let answer: { readonly code: string; readonly kind?: CodeKind | undefined };
  try {
    answer = await credentials.secondFactor({ userid, kinds, recoveryLeft: need.recoveryLeft });
  } catch (e) {
    // The password was right but no second factor came: a failed sign-in all the same, counted
    // against the password's limit (else the password could be guessed freely), audited, exit 5.
    if (e instanceof UsageError && e.code === 'no_tty') return notSignedIn('no second factor given', e.message);
    throw e;
  }
  const kind = answer.kind ?? inferCodeKind(answer.code);
  if (kind === 'totp' && totpLocked) return fail('totp locked', TOTP_LOCKED);
  // A missing or foreign key file is found before the attempt is counted: not the person's failure.
  if (kind !== null) await deps.secretKey();

  // Counted before it is checked: see Store.reserveAttempt.
  const limits = await lockoutLimits(deps.store);
  const state = await deps.store.reserveAttempt(userid, kind === 'totp', limits, now);
  if (!state) {
    return kind === 'totp'
      ? fail('totp locked', TOTP_LOCKED)
      : fail('locked', `authentication failed: too many failed attempts; second factors are locked (an admin can run 'tfactl tfa unlock ${userid}')`);
  }

  const verified: Verification =
    kind === 'totp' && kinds.includes('totp')
      ? await verifyTotp(deps, userid, answer.code.trim())
      : kind === 'recovery' && kinds.includes('recovery')
        ? await verifyRecovery(deps, userid, answer.code)
        : kind === 'yubico' && kinds.includes('yubico')
          ? await verifyYubico(deps, user, realm, answer.code)
          : { ok: false as const, reason: kind === null ? 'unrecognised code' : `no usable ${kind} factor` };

  if (!verified.ok && verified.unavailable) {
    // Nothing was checked: audited and refused, but it does not count toward lockout.
    await deps.store.releaseAttempt(userid, kind === 'totp');
    return fail(verified.reason, `authentication failed: YubiKey validation service unavailable (${verified.reason})`, { method: kind });
  }
  if (!verified.ok) {
    const message =
      state.lockedUntil > now
        ? 'authentication failed: too many failed attempts; second factors are now locked for a while'
        : state.totpLocked && !totpLocked
          ? 'authentication failed: too many failed TOTP codes; TOTP is now locked (use a recovery key or ask an admin)'
          : 'authentication failed: invalid or already used code';
    return fail(verified.reason, message, { method: kind, failures: state.failures });
  }

  await deps.store.recordSuccess(userid, kind === 'recovery' || kind === 'totp');
  await deps.store.clearPasswordFailures(userid);
  await audit({ action, target: userid, outcome: 'ok', detail: { method: kind, factor: verified.factorId } });
  const warnings: string[] = [];
  const left = kind === 'recovery' ? verified.recoveryLeft : need.recoveryLeft;
  if (left !== null && left !== undefined && left < RECOVERY_LOW_WATER) {
    warnings.push(
      left === 0
        ? `no recovery keys left for ${userid}: generate new ones with 'tfactl tfa add recovery ${userid} --regenerate'`
        : `only ${left} recovery key${left === 1 ? '' : 's'} left for ${userid}: consider 'tfactl tfa add recovery ${userid} --regenerate'`,
    );
  }
  return { user, method: kind as CodeKind, recoveryLeft: left ?? null, warnings };
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

type Verification =
  | { readonly ok: true; readonly factorId: string; readonly recoveryLeft?: number }
  | { readonly ok: false; readonly reason: string; readonly unavailable?: boolean };

async function verifyYubico(deps: AuthDeps, user: UserRecord, realm: RealmRecord | undefined, code: string): Promise<Verification> {
  const { parseYubicoOtp } = await import('../domain/yubico.js');
  const yubico = await import('./yubico.js');
  let otp;
  try {
    otp = parseYubicoOtp(code);
  } catch {
    return { ok: false, reason: 'malformed yubikey otp' };
  }
  const factor = (await deps.store.getYubicoFactors(user.userid)).find((f) => f.publicId === otp.publicId);
  if (!factor) return { ok: false, reason: 'unknown yubikey' };
  const now = deps.now();
  if (factor.sealedSecret) {
    const key = yubico.openOfflineKey(factor.sealedSecret, await deps.secretKey(), user.userid, factor.id);
    const check = yubico.checkOffline(key, otp);
    if (!check.ok) return { ok: false, reason: check.reason };
    if (!(await deps.store.advanceYubicoCounter(factor.id, check.counter, now))) return { ok: false, reason: 'yubikey otp replayed or older' };
    return { ok: true, factorId: factor.id };
  }
  const config = await yubico.onlineConfig(deps.store, user.realm, realm?.yubico ?? null, deps.secretKey);
  if (!config) return { ok: false, unavailable: true, reason: `realm ${user.realm} has no YubiKey validation service configured` };
  const { yubicoTimeoutSeconds } = await import('./settings.js');
  const result = await yubico.validateOnline({
    ...config,
    otp: otp.otp,
    nonce: deps.randomBytes(16).toString('hex'),
    timeoutMs: (await yubicoTimeoutSeconds(deps.store)) * 1000,
  });
  if (result.ok) {
    await deps.store.touchFactor(factor.id, now);
    return { ok: true, factorId: factor.id };
  }
  return result.rejected ? { ok: false, reason: `validation service: ${result.status}` } : { ok: false, unavailable: true, reason: result.reason };
}

async function verifyTotp(deps: AuthDeps, userid: string, code: string): Promise<Verification> {
  const { matchTotp } = await import('../domain/totp.js');
  const key = await deps.secretKey();
  const now = deps.now();
  let replayed = false;
  for (const factor of await deps.store.getTotpSecrets(userid)) {
    const secret = open(key, factor.sealedSecret, secretContext(userid, factor.id, 'totp'));
    if (secret === null) throw new StoreError(`the TOTP secret of factor ${factor.id} cannot be decrypted: is this the store's key file?`, 'key_mismatch');
    const match = matchTotp(secret, code, factor.params, now);
    if (!match.valid) continue;
    if (factor.lastStep !== null && match.step <= factor.lastStep) {
      replayed = true;
      continue;
    }
    if (await deps.store.advanceTotpStep(factor.id, match.step, now)) return { ok: true, factorId: factor.id };
    replayed = true; // Another sign-in took this step first.
  }
  return { ok: false, reason: replayed ? 'totp code reused' : 'wrong totp code' };
}

async function verifyRecovery(deps: AuthDeps, userid: string, input: string): Promise<Verification> {
  let key: string;
  try {
    key = parseRecoveryKey(input);
  } catch {
    return { ok: false, reason: 'malformed recovery key' };
  }
  const set = await deps.store.getRecoverySet(userid);
  if (!set || !set.enabled) return { ok: false, reason: 'no recovery keys' };
  const secret = open(await deps.secretKey(), set.sealedSecret, secretContext(userid, set.id, 'recovery'));
  if (secret === null) throw new StoreError('the recovery key set cannot be decrypted: is this the store\'s key file?', 'key_mismatch');
  const slot = findRecoverySlot(secret, key, set.slots);
  if (slot === null) return { ok: false, reason: 'wrong or used recovery key' };
  if (!(await deps.store.consumeRecoverySlot(set.id, slot, hashRecoveryKey(secret, key), deps.now()))) {
    return { ok: false, reason: 'recovery key used concurrently' };
  }
  return { ok: true, factorId: set.id, recoveryLeft: set.slots.filter((h) => h !== null).length - 1 };
}
