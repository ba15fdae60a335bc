import { tfactlLine } from './command-line.js';
import { formatTime, isExpired } from './dates.js';
import type { CodeKind } from './second-factor.js';
import { ROOT_USERID } from './userid.js';

/** What a realm may require after the password. */
export type EnforceType = 'none' | 'totp' | 'yubico';

/** Every kind of second factor tfactl keeps. */
export type FactorType = 'totp' | 'recovery' | 'yubico' | 'webauthn' | 'u2f';

/** A user's enabled second factors, by kind. */
export interface EnabledFactors {
  readonly totp: number;
  readonly yubico: number;
  readonly webauthn: number;
  readonly u2f: number;
  /** Unused keys of the enabled recovery set; null without one. */
  readonly recoveryKeysLeft: number | null;
}

/** What the user must present after the password, by the realm's rule and their factors. */
export interface Requirement {
  /** False: the password alone signs in. */
  readonly required: boolean;
  /** Kinds the user can use now (enabled, of an accepted type, keys left). */
  readonly usable: readonly CodeKind[];
  readonly recoveryLeft: number | null;
}

/** Counts a user's enabled factors by kind. */
export function countEnabled(
  factors: readonly (
    | { readonly type: 'totp' | 'yubico'; readonly enabled: boolean }
    | { readonly type: 'webauthn' | 'u2f'; readonly enabled: boolean; readonly credentialId: string | null }
    | { readonly type: 'recovery'; readonly enabled: boolean; readonly keysLeft: number }
  )[],
): EnabledFactors {
  // A security key whose registration could not be read cannot answer: it does not count.
  const enabled = factors.filter((f) => f.enabled && !((f.type === 'webauthn' || f.type === 'u2f') && f.credentialId === null));
  const count = (type: FactorType) => enabled.filter((f) => f.type === type).length;
  let recoveryKeysLeft: number | null = null;
  for (const f of enabled) if (f.type === 'recovery') recoveryKeysLeft = f.keysLeft;
  return { totp: count('totp'), yubico: count('yubico'), webauthn: count('webauthn'), u2f: count('u2f'), recoveryKeysLeft };
}

/**
 * The sign-in rule: a user in a realm that enforces a type must present that type or a recovery
 * key; elsewhere a user with any enabled factor must present one. Disabled factors never count, so
 * disabling them cannot bypass enforcement.
 */
export function requirement(enforce: EnforceType, enabled: EnabledFactors): Requirement {
  const usable: CodeKind[] = [];
  if (enabled.totp > 0 && (enforce === 'none' || enforce === 'totp')) usable.push('totp');
  if (enabled.yubico > 0 && (enforce === 'none' || enforce === 'yubico')) usable.push('yubico');
  // Security keys answer where the realm enforces nothing: a realm that enforces TOTP or YubiKey
  // OTP takes only its own kind and recovery keys, as Proxmox does.
  if (enabled.webauthn > 0 && enforce === 'none') usable.push('webauthn');
  if (enabled.u2f > 0 && enforce === 'none') usable.push('u2f');
  const recoveryLeft = enabled.recoveryKeysLeft;
  if (recoveryLeft !== null && recoveryLeft > 0) usable.push('recovery');
  const any = enabled.totp + enabled.yubico + enabled.webauthn + enabled.u2f > 0 || recoveryLeft !== null;
  return { required: enforce !== 'none' || any, usable, recoveryLeft };
}

/** Everything that decides whether a user can sign in now. */
export interface SignInFacts {
  readonly userid: string;
  readonly realm: string;
  readonly enforce: EnforceType;
  readonly enabled: boolean;
  readonly expire: string | null;
  readonly hasPassword: boolean;
  readonly factors: EnabledFactors;
  readonly totpLocked: boolean;
  /** Epoch seconds until which every second factor is locked (0: not). */
  readonly lockedUntil: number;
  /** Epoch seconds until which password sign-ins are banned (0: not). */
  readonly passwordBannedUntil: number;
  /** Enabled YubiKeys validated online in a realm with no validation service (none can be checked). */
  readonly yubicoUnchecked: number;
}

/** What the store counts of one user id's failed password sign-ins (see PasswordLimits). */
export interface PasswordFailureRecord {
  readonly failures: number;
  /** Epoch seconds of the first failure of the window. */
  readonly windowStart: number;
  /** Epoch seconds until which password sign-ins are banned (0: never banned since the count began; may be past). */
  readonly bannedUntil: number;
}

/**
 * The failures that count toward a ban now: none once the window has passed, and none after a ban
 * (in force, it is what counts; ended, the count starts afresh).
 */
export function countedPasswordFailures(r: PasswordFailureRecord, windowSeconds: number, now: number): number {
  return r.windowStart + windowSeconds <= now || r.bannedUntil > 0 ? 0 : r.failures;
}

export type SignInStatus = { readonly ok: true } | { readonly ok: false; readonly problem: string; readonly fix: string };

/**
 * Whether a user can sign in right now, and if not why and which command fixes it: what `user
 * list` and `tfa list` show admins, and what the realm warning names. Follows `requirement`.
 */
export function signInStatus(f: SignInFacts, now: number): SignInStatus {
  const u = f.userid;
  if (!f.enabled) return { ok: false, problem: 'the account is disabled', fix: tfactlLine('user modify', [u], '--enable') };
  if (isExpired(f.expire, now)) return { ok: false, problem: `the account expired after ${f.expire}`, fix: tfactlLine('user modify', [u], '--expire never') };
  // root@local needs none: the store's owner acts as root@local without signing in.
  if (!f.hasPassword && u !== ROOT_USERID) return { ok: false, problem: 'no password is set', fix: tfactlLine('user passwd', [u]) };
  if (f.passwordBannedUntil > now) {
    return { ok: false, problem: `password sign-ins are banned until ${formatTime(f.passwordBannedUntil)}`, fix: tfactlLine('tfa unlock', [u]) };
  }
  const need = requirement(f.enforce, f.factors);
  if (!need.required) return { ok: true };
  // A YubiKey nothing can check is asked for and never accepted (sign-in says the realm has no
  // validation service): the user cannot sign in with it.
  const usable = f.factors.yubico > f.yubicoUnchecked ? need.usable : need.usable.filter((k) => k !== 'yubico');
  if (usable.length === 0 && need.usable.includes('yubico')) {
    return {
      ok: false,
      problem: `the YubiKey${f.factors.yubico === 1 ? ' is' : 's are'} validated online and realm ${f.realm} has no validation service`,
      fix: tfactlLine('realm set-yubico', [f.realm], '--api-id ID --api-key @FILE'),
    };
  }
  if (usable.length === 0) {
    return f.enforce === 'none'
      ? { ok: false, problem: 'none of the enabled second factors can be checked yet', fix: tfactlLine('tfa add totp', [u]) }
      : {
          ok: false,
          problem: `realm ${f.realm} enforces ${f.enforce} and there is no enabled ${f.enforce} factor`,
          fix: f.enforce === 'totp' ? tfactlLine('tfa add totp', [u]) : tfactlLine('tfa add yubico', [u], '--otp OTP'),
        };
  }
  if (f.lockedUntil > now) return { ok: false, problem: `second factors are locked until ${formatTime(f.lockedUntil)}`, fix: tfactlLine('tfa unlock', [u]) };
  if (f.totpLocked && usable.every((k) => k === 'totp')) return { ok: false, problem: 'TOTP is locked', fix: tfactlLine('tfa unlock', [u]) };
  return { ok: true };
}

/**
 * A challenge id from 32 random bytes: base64url (43 characters) that never starts with `-`, so
 * `--challenge ID` is never read as an option. The first byte's top bit is cleared, which makes the
 * first character a letter (A-Z, a-f) and leaves 255 random bits.
 */
export function challengeId(random: Uint8Array): string {
  if (random.length !== 32) throw new Error('a challenge id takes 32 random bytes');
  const bytes = Buffer.from(random);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString('base64url');
}
