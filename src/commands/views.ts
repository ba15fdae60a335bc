import { isoTime } from '../domain/dates.js';
import { countedPasswordFailures, signInStatus, type EnabledFactors, type EnforceType, type FactorType } from '../domain/sign-in.js';
import type { TotpParams } from '../domain/totp-params.js';
import type { AuditRecord } from '../services/audit.js';
import type { FactorRecord, UserOverview } from '../services/factor-list.js';
import type { AddedYubico } from '../services/kinds/yubico-enrolment.js';
import type { EnrolledTotp } from '../services/kinds/totp-enrolment.js';
import type { RealmSummary } from '../services/realms.js';
import type { EffectiveSetting } from '../services/settings.js';
import type { ApiTokenRecord } from '../services/tokens.js';
import type { LiveSession } from '../services/sessions.js';
import type { SignedIn, SignInChallenge } from '../services/authenticate.js';

/**
 * What commands show, designed here rather than inherited from the store's rows: the JSON shapes of
 * `--json` (schemas/*.json describe each) and what the human tables are made from. One shape per
 * thing wherever it appears; times are ISO 8601 UTC strings; absent values are null, never missing.
 */

export type TotpParamsView = TotpParams;

/** A TOTP factor just enrolled, with what an authenticator app needs: the same from user add, tfa add totp and user import. */
export interface TotpEnrolmentView extends TotpParamsView {
  readonly id: string;
  readonly userid: string;
  readonly description: string;
  readonly issuer: string;
  readonly secret: string;
  readonly uri: string;
  readonly verified: boolean;
}

export function totpEnrolmentView(t: EnrolledTotp): TotpEnrolmentView {
  return {
    id: t.id,
    userid: t.userid,
    description: t.description,
    issuer: t.issuer,
    secret: t.secret,
    uri: t.uri,
    algorithm: t.algorithm,
    digits: t.digits,
    period: t.period,
    verified: t.verified,
  };
}

/** A YubiKey just registered: the same from user add and tfa add yubico. */
export interface YubikeyView {
  readonly id: string;
  readonly userid: string;
  readonly publicId: string;
  readonly description: string;
  /** Validated offline (with its AES key) or online (by the realm's service). */
  readonly mode: 'online' | 'offline';
}

export function yubikeyView(y: AddedYubico): YubikeyView {
  return { id: y.id, userid: y.userid, publicId: y.publicId, description: y.description, mode: y.mode };
}

export interface LockView {
  /** TOTP locked after too many failures (until a recovery key or `tfa unlock`). */
  readonly totp: boolean;
  /** Wrong TOTP codes in a row (TOTP locks at the setting lockout.totp-failures). */
  readonly totpFailures: number;
  /** Wrong second factors of any kind in a row (all lock at lockout.failures). */
  readonly secondFactorFailures: number;
  /** Every second factor locked until then, or null. */
  readonly secondFactorsUntil: string | null;
  /** Password sign-ins banned until then, or null. */
  readonly passwordUntil: string | null;
  /** Failed password sign-ins counted toward a ban (lockout.password-failures within lockout.password-window-seconds). */
  readonly passwordFailures: number;
  /** When the first of them was, or null when none are counted. */
  readonly passwordFailuresSince: string | null;
}

/** When a view is made, and what reading a user's locks needs besides: how long password failures count. */
export interface ViewTime {
  readonly now: number;
  readonly passwordWindowSeconds: number;
}

export interface SignInView {
  readonly possible: boolean;
  /** Why not, and the command that fixes it; null when possible. */
  readonly problem: string | null;
  readonly fix: string | null;
}

export interface UserView {
  readonly userid: string;
  readonly realm: string;
  readonly admin: boolean;
  readonly enabled: boolean;
  readonly password: boolean;
  readonly email: string | null;
  readonly comment: string | null;
  /** The last day the account may be used (YYYY-MM-DD, UTC), or null. */
  readonly expire: string | null;
  readonly created: string;
  readonly modified: string;
  /** Enabled second factors by kind. */
  readonly factors: EnabledFactors;
  readonly lock: LockView;
  readonly signIn: SignInView;
  /** `user show` only: the sessions kept for the user (login --session) that still hold, oldest first. */
  readonly sessions?: readonly SessionView[];
}

export interface SessionView {
  readonly created: string;
  readonly expires: string;
  readonly lastUsed: string | null;
}

export function sessionView(s: LiveSession): SessionView {
  return { created: isoTime(s.created), expires: isoTime(s.expires), lastUsed: s.lastUsed === null ? null : isoTime(s.lastUsed) };
}

const timeOrNull = (epoch: number, now: number) => (epoch > now ? isoTime(epoch) : null);

export function lockView(u: UserOverview, at: ViewTime): LockView {
  const passwordFailures = countedPasswordFailures(u.passwordFailures, at.passwordWindowSeconds, at.now);
  return {
    totp: u.totpLocked,
    totpFailures: u.totpFailures,
    secondFactorFailures: u.secondFactorFailures,
    secondFactorsUntil: timeOrNull(u.lockedUntil, at.now),
    passwordUntil: timeOrNull(u.passwordBannedUntil, at.now),
    passwordFailures,
    passwordFailuresSince: passwordFailures > 0 ? isoTime(u.passwordFailures.windowStart) : null,
  };
}

export function signInView(u: UserOverview, now: number): SignInView {
  const status = signInStatus(
    {
      userid: u.userid,
      realm: u.realm,
      enforce: u.enforce,
      enabled: u.enabled,
      expire: u.expire,
      hasPassword: u.hasPassword,
      factors: u.factors,
      totpLocked: u.totpLocked,
      lockedUntil: u.lockedUntil,
      passwordBannedUntil: u.passwordBannedUntil,
      yubicoUnchecked: u.yubicoUnchecked,
    },
    now,
  );
  return status.ok ? { possible: true, problem: null, fix: null } : { possible: false, problem: status.problem, fix: status.fix };
}

export function userView(u: UserOverview, at: ViewTime): UserView {
  return {
    userid: u.userid,
    realm: u.realm,
    admin: u.admin,
    enabled: u.enabled,
    password: u.hasPassword,
    email: u.email,
    comment: u.comment,
    expire: u.expire,
    created: isoTime(u.created),
    modified: isoTime(u.modified),
    factors: u.factors,
    lock: lockView(u, at),
    signIn: signInView(u, at.now),
  };
}

export interface FactorView {
  readonly id: string;
  readonly userid: string;
  readonly type: FactorType;
  readonly description: string;
  readonly enabled: boolean;
  /** False for a TOTP factor stored with --no-verify that no code has confirmed yet. */
  readonly verified: boolean;
  readonly created: string;
  readonly lastUsed: string | null;
  /** TOTP parameters and issuer, for TOTP factors. */
  readonly totp: TotpFactorView | null;
  /** Unused keys, for a recovery set. */
  readonly recoveryKeysLeft: number | null;
  /** The key's public id, for YubiKeys. */
  readonly publicId: string | null;
  /** For WebAuthn credentials and U2F registrations: what identifies them publicly, never a key. */
  readonly credential: CredentialView | null;
}

export interface TotpFactorView extends TotpParamsView {
  /** The issuer it was enrolled with; null for factors from before tfactl kept it (the setting stands in). */
  readonly issuer: string | null;
}

export interface CredentialView {
  /** The credential id (U2F: the key handle), base64url; null for a registration that could not be read (it cannot sign in). */
  readonly id: string | null;
  /** The RP id it was made under (U2F: the appid); null when the store's setting applies. */
  readonly rpId: string | null;
  /** The signature counter last seen (0 for keys that do not count). */
  readonly counter: number | null;
}

export function factorView(f: FactorRecord): FactorView {
  return {
    id: f.id,
    userid: f.userid,
    type: f.type,
    description: f.description,
    enabled: f.enabled,
    // Every kind but TOTP is verified when it is added (TOTP may be stored with --no-verify).
    verified: f.type === 'totp' ? f.verified : true,
    created: isoTime(f.created),
    lastUsed: f.lastUsed === null ? null : isoTime(f.lastUsed),
    totp: f.type === 'totp' ? { algorithm: f.params.algorithm, digits: f.params.digits, period: f.params.period, issuer: f.issuer } : null,
    recoveryKeysLeft: f.type === 'recovery' ? f.keysLeft : null,
    publicId: f.type === 'yubico' ? f.publicId : null,
    credential: f.type === 'webauthn' || f.type === 'u2f' ? { id: f.credentialId, rpId: f.rpId, counter: f.counter } : null,
  };
}

/** One user's entry in `tfa list`: whether they can sign in, their locks, and every factor. */
export interface UserFactorsView {
  readonly userid: string;
  readonly realm: string;
  readonly lock: LockView;
  readonly signIn: SignInView;
  readonly factors: readonly FactorView[];
}

export function userFactorsView(item: { readonly user: UserOverview; readonly factors: readonly FactorRecord[] }, at: ViewTime): UserFactorsView {
  return {
    userid: item.user.userid,
    realm: item.user.realm,
    lock: lockView(item.user, at),
    signIn: signInView(item.user, at.now),
    factors: item.factors.map(factorView),
  };
}

export interface RealmView {
  readonly name: string;
  readonly comment: string | null;
  readonly builtin: boolean;
  readonly enforce: EnforceType;
  /** The TOTP parameters it enforces, when it enforces TOTP. */
  readonly totp: TotpParamsView | null;
  /** How it validates YubiKeys, whether or not it enforces them; null when not configured. */
  readonly yubico: { readonly mode: 'online' | 'offline'; readonly apiId: string | null; readonly urls: readonly string[] } | null;
  readonly users: number;
  readonly created: string;
}

export function realmView(r: RealmSummary): RealmView {
  return {
    name: r.name,
    comment: r.comment,
    builtin: r.builtin,
    enforce: r.enforce,
    totp: r.totp && { algorithm: r.totp.algorithm, digits: r.totp.digits, period: r.totp.period },
    yubico: r.yubico && (r.yubico.mode === 'offline' ? { mode: 'offline', apiId: null, urls: [] } : { mode: 'online', apiId: r.yubico.apiId, urls: r.yubico.urls }),
    users: r.userCount,
    created: isoTime(r.created),
  };
}

export interface AuditView {
  readonly id: number;
  readonly time: string;
  readonly actor: string | null;
  readonly action: string;
  readonly target: string | null;
  readonly outcome: 'ok' | 'refused' | 'failed';
  readonly detail: Readonly<Record<string, unknown>> | null;
}

export function auditView(a: AuditRecord): AuditView {
  return { id: a.id, time: isoTime(a.ts), actor: a.actor, action: a.action, target: a.target, outcome: a.outcome, detail: a.detail ?? null };
}

export interface SettingView {
  readonly key: string;
  readonly value: string;
  readonly default: boolean;
  readonly description: string;
}

export function settingView(s: EffectiveSetting): SettingView {
  return { key: s.key, value: s.value, default: s.isDefault, description: s.description };
}

/** An API token as shown: never its secret, nor the secret's hash. */
export interface TokenView {
  readonly tokenid: string;
  readonly userid: string;
  readonly name: string;
  readonly privileges: 'inherit' | 'read-only';
  readonly expires: string | null;
  readonly comment: string | null;
  readonly created: string;
  readonly lastUsed: string | null;
}

export function tokenView(t: ApiTokenRecord): TokenView {
  return {
    tokenid: `${t.userid}!${t.name}`,
    userid: t.userid,
    name: t.name,
    privileges: t.privileges,
    expires: t.expires,
    comment: t.comment,
    created: isoTime(t.created),
    lastUsed: t.lastUsed === null ? null : isoTime(t.lastUsed),
  };
}

/** A sign-in as `login --json` shows it (and `tfactl serve`'s /api/v1/login). */
export function signedInView(signedIn: SignedIn) {
  return { userid: signedIn.user.userid, method: signedIn.method, recoveryKeysLeft: signedIn.recoveryLeft };
}

/** A challenge as `login --begin --json` shows it (and `tfactl serve`'s /api/v1/login). */
export function challengeView(c: SignInChallenge) {
  return {
    userid: c.userid,
    challenge: c.id,
    kinds: c.kinds,
    recoveryKeysLeft: c.recoveryLeft,
    totpLocked: c.totpLocked === true,
    expires: isoTime(c.expires),
    publicKey: c.publicKey,
    fido2: c.fido2.map((f) => ({ factor: f.factorId, kind: f.kind, input: f.input, options: f.options })),
  };
}
