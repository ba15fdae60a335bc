import { isRoot } from '../domain/permissions.js';
import { newRecoverySet, hashRecoveryKey } from '../domain/recovery.js';
import { open, seal, secretContext } from '../domain/secret-box.js';
import { describeTotpParams, parseTotpParams, sameTotpParams, type TotpParams, type TotpParamsInput } from '../domain/totp-params.js';
import { AuthError, NotFoundError, UsageError } from '../errors.js';
import type { FactorRecord, FactorType, NewTotpFactor, RealmRecord, Store, UserOverview, UserRecord } from '../store/types.js';
import { authorize, refuse } from './authz.js';
import type { Session } from './session.js';
import { totpIssuer } from './settings.js';
import { requireUser } from './lookup.js';

/** A TOTP factor about to be enrolled: nothing is stored until it is confirmed. */
export interface PreparedTotp {
  readonly factorId: string;
  readonly userid: string;
  readonly description: string;
  readonly issuer: string;
  readonly secret: string;
  readonly uri: string;
  readonly params: TotpParams;
}

export interface TotpRequest {
  readonly description: string;
  readonly issuer?: string | undefined;
  /** A base32 secret already parsed, or undefined to generate 160 random bits. */
  readonly secret?: string | undefined;
  readonly params: TotpParamsInput;
}

/** A new factor id: a random (version 4) UUID from the session's randomness. */
export function newFactorId(session: Session): string {
  const b = session.random.bytes(16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Refuses factor types the user's realm rules out: where a realm enforces YubiKey OTP only YubiKeys
 * and recovery keys may be added.
 */
export async function checkRealmAllows(session: Session, realm: RealmRecord | undefined, userid: string, type: FactorType): Promise<void> {
  if (realm?.enforce === 'yubico' && type !== 'yubico' && type !== 'recovery') {
    await refuse(session, 'tfa.add', userid, `realm ${realm.name} enforces YubiKey OTP: ${type} factors cannot be added there`, 'realm_policy');
  }
}

/**
 * Works out secret, parameters, issuer and URI for a new TOTP factor. In a realm that enforces TOTP
 * the realm's parameters apply, and asking for others is a usage error.
 */
export async function prepareTotp(session: Session, userid: string, realm: RealmRecord | undefined, req: TotpRequest): Promise<PreparedTotp> {
  const { encodeSecret, GENERATED_SECRET_BYTES, otpauthUri } = await import('../domain/totp.js');
  const realmParams = realm?.enforce === 'totp' ? realm.totp : null;
  const params = parseTotpParams(req.params, realmParams ?? undefined);
  if (realmParams && !sameTotpParams(params, realmParams)) {
    throw new UsageError(`realm ${realm?.name} enforces TOTP with ${describeTotpParams(realmParams)}: leave out --digits, --period and --algorithm`);
  }
  const secret = req.secret ?? encodeSecret(session.random.bytes(GENERATED_SECRET_BYTES));
  const issuer = req.issuer ?? (await totpIssuer(session.store, session.hostname));
  return {
    factorId: newFactorId(session),
    userid,
    description: req.description,
    issuer,
    secret,
    uri: otpauthUri({ issuer, account: userid, secret, ...params }),
    params,
  };
}

/**
 * Reads the code a person reads off their authenticator and checks it (one step either side);
 * returns its step, to be stored so the same code cannot sign in later. Each wrong code is audited;
 * the person may try `io.tries` times with the same secret (what they scanned stays valid), then
 * it fails with exit 5.
 */
export async function confirmTotp(session: Session, prepared: PreparedTotp, io: TotpEnrolmentIo, action: string): Promise<number> {
  const { matchTotp } = await import('../domain/totp.js');
  for (let attempt = 1; ; attempt++) {
    const code = await io.readCode(prepared);
    const match = matchTotp(prepared.secret, code.trim(), prepared.params, session.now());
    if (match.valid) return match.step;
    await session.audit({ action, target: prepared.userid, outcome: 'failed', detail: { type: 'totp', reason: 'wrong verification code', attempt } });
    const message = 'the verification code does not match: check the clock of the device';
    if (attempt >= io.tries) throw new AuthError(`${message} and try again`);
    io.retry(`${message}; try again with the next code`);
  }
}

/** The row for a prepared factor, its secret sealed to this user and factor. */
export async function totpFactorRow(session: Session, prepared: PreparedTotp, step: number | null): Promise<NewTotpFactor> {
  const key = await session.secretKey();
  return {
    id: prepared.factorId,
    userid: prepared.userid,
    description: prepared.description,
    created: session.now(),
    sealedSecret: seal(key, session.random.bytes(12), prepared.secret, secretContext(prepared.userid, prepared.factorId, 'totp')),
    params: prepared.params,
    lastStep: step,
    verified: step !== null,
  };
}

/**
 * Refuses a secret the user already has on another TOTP factor: replay protection is per factor, so
 * two factors with one secret would accept each code twice.
 */
async function refuseKnownSecret(session: Session, prepared: PreparedTotp): Promise<void> {
  const key = await session.secretKey();
  for (const f of await session.store.getTotpSecrets(prepared.userid, true)) {
    if (open(key, f.sealedSecret, secretContext(prepared.userid, f.id, 'totp')) === prepared.secret) {
      await refuse(session, 'tfa.add', prepared.userid, `${prepared.userid} already has a TOTP factor with this secret (${f.id})`, 'exists');
    }
  }
}

/** Only root and admins may skip verification (provisioning for someone else). */
export async function authorizeNoVerify(session: Session, action: string, userid: string): Promise<void> {
  if (!session.actor.admin && !isRoot(session.actor)) {
    await refuse(session, action, userid, '--no-verify is for admins provisioning accounts', 'permission_denied');
  }
}

export interface TotpEnrolmentIo {
  /** Shows the QR code, secret and URI (or nothing, with --json). */
  present(prepared: PreparedTotp): Promise<void>;
  /** Reads the verification code; not called with --no-verify. */
  readCode(prepared: PreparedTotp): Promise<string>;
  /** How many codes the person may try (a terminal asks again; a flag gives one). */
  readonly tries: number;
  /** Says why the code is asked for again. */
  retry(message: string): void;
}

export interface EnrolledTotp {
  readonly id: string;
  readonly userid: string;
  readonly description: string;
  readonly issuer: string;
  readonly secret: string;
  readonly uri: string;
  readonly algorithm: TotpParams['algorithm'];
  readonly digits: TotpParams['digits'];
  readonly period: number;
  readonly verified: boolean;
}

export function enrolled(prepared: PreparedTotp, verified: boolean): EnrolledTotp {
  return {
    id: prepared.factorId,
    userid: prepared.userid,
    description: prepared.description,
    issuer: prepared.issuer,
    secret: prepared.secret,
    uri: prepared.uri,
    ...prepared.params,
    verified,
  };
}

/**
 * Enrols a TOTP factor for an existing user: shown, then confirmed with a code (unless an admin
 * skips it with `verify: false`), then stored with that code's step as used. The acting user's
 * password (and second factor) was checked when the session opened.
 */
export async function enrolTotp(
  session: Session,
  userid: string,
  req: TotpRequest & { verify: boolean },
  io: TotpEnrolmentIo,
): Promise<EnrolledTotp & { readonly hasRecoveryKeys: boolean }> {
  await authorize(session, 'tfa.manage', 'tfa.add', userid);
  const user = await requireUser(session.store, userid);
  const realm = await session.store.getRealm(user.realm);
  await checkRealmAllows(session, realm, userid, 'totp');
  if (!req.verify) await authorizeNoVerify(session, 'tfa.add', userid);
  const prepared = await prepareTotp(session, userid, realm, req);
  await refuseKnownSecret(session, prepared);
  await io.present(prepared);
  const step = req.verify ? await confirmTotp(session, prepared, io, 'tfa.add') : null;
  const row = await totpFactorRow(session, prepared, step);
  await session.store.transaction(async (tx) => {
    if (!(await tx.getUser(userid))) throw new NotFoundError(`user ${userid} does not exist`);
    await tx.insertTotpFactor(row);
    await session.audit({ action: 'tfa.add', target: userid, outcome: 'ok', detail: { type: 'totp', id: row.id, verified: step !== null } });
  });
  // Recovery keys are what gets a user in when the phone is lost: worth suggesting if missing.
  const recovery = await session.store.getRecoverySet(userid);
  return { ...enrolled(prepared, step !== null), hasRecoveryKeys: recovery !== undefined };
}

export interface RecoveryKeys {
  readonly id: string;
  readonly userid: string;
  readonly keys: readonly string[];
  readonly regenerated: boolean;
}

/**
 * Creates the user's recovery key set (one per user), or replaces it with `regenerate`. The keys
 * are returned once and stored only as keyed hashes. Allowed whatever the realm enforces.
 */
export async function addRecoveryKeys(session: Session, userid: string, regenerate: boolean): Promise<RecoveryKeys> {
  await authorize(session, 'tfa.manage', 'tfa.add', userid);
  await requireUser(session.store, userid);
  const existing = await session.store.getRecoverySet(userid);
  if (existing && !regenerate) {
    await refuse(session, 'tfa.add', userid, `${userid} already has recovery keys: use --regenerate to replace them`, 'exists');
  }
  const set = newRecoverySet((n) => session.random.bytes(n));
  const id = newFactorId(session);
  const key = await session.secretKey();
  const stored = await session.store.transaction(async (tx) => {
    const ok = await tx.putRecoverySet(
      {
        id,
        userid,
        description: 'recovery keys',
        created: session.now(),
        sealedSecret: seal(key, session.random.bytes(12), set.secret, secretContext(userid, id, 'recovery')),
        hashes: set.keys.map((k) => hashRecoveryKey(set.secret, k)),
      },
      regenerate,
    );
    if (ok) await session.audit({ action: 'tfa.add', target: userid, outcome: 'ok', detail: { type: 'recovery', id, regenerated: existing !== undefined } });
    return ok;
  });
  if (!stored) await refuse(session, 'tfa.add', userid, `${userid} already has recovery keys: use --regenerate to replace them`, 'exists');
  return { id, userid, keys: set.keys, regenerated: existing !== undefined };
}

/**
 * The factor of `userid` whose id is `idOrPrefix`, or starts with it (as git takes commit ids):
 * unknown is exit 3, a prefix of several is exit 2 naming them.
 */
async function requireFactor(store: Store, userid: string, idOrPrefix: string): Promise<FactorRecord> {
  const factors = await store.listFactors(userid);
  const exact = factors.find((f) => f.id === idOrPrefix);
  if (exact) return exact;
  const prefix = idOrPrefix.toLowerCase();
  const matches = prefix === '' ? [] : factors.filter((f) => f.id.startsWith(prefix));
  if (matches.length === 1) return matches[0] as FactorRecord;
  if (matches.length === 0) throw new NotFoundError(`${userid} has no factor ${idOrPrefix} (see 'tfactl tfa list ${userid}')`);
  throw new UsageError(`factor id ${idOrPrefix} is ambiguous for ${userid}: it starts ${matches.map((f) => f.id).join(', ')}; give more of it`, 'ambiguous_id');
}

/** Which factors of a user a deletion takes: one (by id or unique prefix), every one of a kind, or all. */
export type FactorSelection = { readonly id: string } | { readonly type: FactorType } | 'all';

/**
 * Whether taking `removed` away leaves the user without an enabled factor of the type their realm
 * enforces: a user may not do that to themselves (a refusal reason), an admin may (a warning).
 * Precondition: `store` is a transaction, so the check and the change cannot be split.
 */
async function enforcementCheck(
  store: Store,
  actorIsAdmin: boolean,
  user: UserRecord,
  removed: readonly FactorRecord[],
): Promise<{ refusal: string | null; warnings: string[] }> {
  const realm = await store.getRealm(user.realm);
  if (!realm || realm.enforce === 'none') return { refusal: null, warnings: [] };
  const enforced = realm.enforce;
  const factors = await store.listFactors(user.userid);
  const remaining = factors.filter((f) => f.enabled && f.type === enforced && !removed.some((r) => r.id === f.id));
  const removesEnforced = removed.some((r) => factors.some((f) => f.id === r.id && f.enabled && f.type === enforced));
  if (!removesEnforced || remaining.length > 0) return { refusal: null, warnings: [] };
  if (!actorIsAdmin) {
    return {
      refusal: `realm ${realm.name} enforces ${enforced}: you cannot remove or disable your last enabled ${enforced} factor (add another first)`,
      warnings: [],
    };
  }
  return {
    refusal: null,
    warnings: [`${user.userid} has no enabled ${enforced} factor left and cannot sign in until one is added (realm ${realm.name} enforces ${enforced})`],
  };
}

const isAdmin = (session: Session) => session.actor.admin || isRoot(session.actor);

/** Deletes one factor, or all of a user's factors. Returns warnings for the caller to show. */
export async function deleteFactors(session: Session, userid: string, which: FactorSelection): Promise<{ deleted: string[]; warnings: string[] }> {
  await authorize(session, 'tfa.manage', 'tfa.delete', userid);
  const user = await requireUser(session.store, userid);
  const factorId = typeof which === 'object' && 'id' in which ? (await requireFactor(session.store, userid, which.id)).id : null;
  const selected = (f: FactorRecord) => (which === 'all' ? true : factorId !== null ? f.id === factorId : 'type' in which && f.type === which.type);
  const outcome = await session.store.transaction(async (tx) => {
    const targets = (await tx.listFactors(userid)).filter(selected);
    if (factorId !== null && targets.length === 0) throw new NotFoundError(`${userid} has no factor ${factorId}`);
    const check = await enforcementCheck(tx, isAdmin(session), user, targets);
    if (check.refusal !== null) return { refused: true as const, reason: check.refusal };
    for (const f of targets) await tx.deleteFactor(userid, f.id);
    await session.audit({ action: 'tfa.delete', target: userid, outcome: 'ok', detail: { ids: targets.map((f) => f.id) } });
    return { refused: false as const, deleted: targets.map((f) => f.id), warnings: check.warnings };
  });
  if (outcome.refused) return refuse(session, 'tfa.delete', userid, outcome.reason, 'realm_policy');
  return { deleted: outcome.deleted, warnings: outcome.warnings };
}

/** Enables or disables one factor. Returns warnings for the caller to show. */
export async function setFactorEnabled(session: Session, userid: string, idOrPrefix: string, enabled: boolean): Promise<{ factor: FactorRecord; warnings: string[] }> {
  const action = enabled ? 'tfa.enable' : 'tfa.disable';
  await authorize(session, 'tfa.manage', action, userid);
  const user = await requireUser(session.store, userid);
  const factorId = (await requireFactor(session.store, userid, idOrPrefix)).id;
  const outcome = await session.store.transaction(async (tx) => {
    const factor = await requireFactor(tx, userid, factorId);
    const check: { refusal: string | null; warnings: string[] } = enabled ? { refusal: null, warnings: [] } : await enforcementCheck(tx, isAdmin(session), user, [factor]);
    if (check.refusal !== null) return { refused: true as const, reason: check.refusal };
    await tx.setFactorEnabled(userid, factorId, enabled);
    await session.audit({ action, target: userid, outcome: 'ok', detail: { id: factorId } });
    return { refused: false as const, warnings: check.warnings };
  });
  if (outcome.refused) return refuse(session, action, userid, outcome.reason, 'realm_policy');
  return { factor: await requireFactor(session.store, userid, factorId), warnings: outcome.warnings };
}

/** Lifts TOTP and all-factor locks and the password ban, and resets failure counters. Admins only. Returns the user as they were. */
export async function unlockUser(session: Session, userid: string): Promise<UserOverview> {
  await authorize(session, 'tfa.unlock', 'tfa.unlock', userid);
  const before = await session.store.getUserOverview(userid);
  if (!before) throw new NotFoundError(`user ${userid} does not exist`);
  await session.store.transaction(async (tx) => {
    await tx.unlock(userid);
    const detail = { totpLocked: before.totpLocked, lockedUntil: before.lockedUntil, passwordBannedUntil: before.passwordBannedUntil };
    await session.audit({ action: 'tfa.unlock', target: userid, outcome: 'ok', detail });
  });
  return before;
}

export interface YubicoRequest {
  readonly otp: string;
  readonly description: string;
  /** For offline validation: the key's AES key (32 hex digits) and private id (12 hex digits). */
  readonly offline: { readonly aesKey: Buffer; readonly privateId: Buffer } | null;
}

export interface AddedYubico {
  readonly id: string;
  readonly userid: string;
  readonly publicId: string;
  readonly description: string;
  readonly mode: 'online' | 'offline';
}

/**
 * Prepares a YubiKey factor from one touch: the OTP must validate (offline with the key's AES key
 * and private id, or online with the realm's validation service) before anything is stored. Its
 * counter is kept, so the registering OTP cannot sign in.
 */
export async function prepareYubico(session: Session, userid: string, realm: RealmRecord | undefined, req: YubicoRequest) {
  const { parseYubicoOtp, counterValue, decryptToken } = await import('../domain/yubico.js');
  const yubico = await import('./yubico.js');
  const otp = parseYubicoOtp(req.otp);
  if (otp.publicId.length === 0) throw new UsageError('this OTP has no public id: the key must be configured to send one');
  const id = newFactorId(session);
  const fail = async (reason: string, message: string): Promise<never> => {
    await session.audit({ action: 'tfa.add', target: userid, outcome: 'failed', detail: { type: 'yubico', reason } });
    throw new AuthError(message);
  };
  if (req.offline && realm?.yubico?.mode === 'online') {
    // Otherwise anyone could register a software key and sidestep the service (and revocations there).
    throw new UsageError(`realm ${realm.name} validates YubiKeys with its validation service: leave out --aes-key and --private-id`);
  }
  if (req.offline) {
    const token = decryptToken(req.offline.aesKey, otp.token);
    if (!token || token.privateId !== req.offline.privateId.toString('hex')) {
      return fail('otp does not match the key material', 'the OTP does not match --aes-key and --private-id');
    }
    const sealed = seal(
      await session.secretKey(),
      session.random.bytes(12),
      JSON.stringify({ aesKey: req.offline.aesKey.toString('hex'), privateId: req.offline.privateId.toString('hex') }),
      yubico.yubicoKeyContext(userid, id),
    );
    return { id, publicId: otp.publicId, sealedSecret: sealed, lastCounter: counterValue(token), mode: 'offline' as const };
  }
  if (realm?.yubico?.mode === 'offline') {
    throw new UsageError(`realm ${realm.name} validates YubiKeys offline: give --aes-key and --private-id`);
  }
  const config = await yubico.onlineConfig(session.store, realm?.name ?? '', realm?.yubico ?? null, () => session.secretKey());
  if (!config) {
    throw new UsageError(
      `no YubiKey validation service for realm ${realm?.name}: give --aes-key and --private-id to validate offline, or configure one with 'tfactl realm set-yubico'`,
    );
  }
  const { yubicoTimeoutSeconds } = await import('./settings.js');
  const result = await yubico.validateOnline({
    ...config,
    otp: otp.otp,
    nonce: session.random.bytes(16).toString('hex'),
    timeoutMs: (await yubicoTimeoutSeconds(session.store)) * 1000,
  });
  if (!result.ok) {
    return result.rejected
      ? fail(`validation service: ${result.status}`, `the validation service refused the OTP (${result.status})`)
      : fail(result.reason, `YubiKey validation service unavailable (${result.reason})`);
  }
  return { id, publicId: otp.publicId, sealedSecret: null, lastCounter: null, mode: 'online' as const };
}

/** Registers a YubiKey for an existing user (opt-in, or required where the realm enforces YubiKey OTP). */
export async function addYubicoKey(session: Session, userid: string, req: YubicoRequest): Promise<AddedYubico> {
  await authorize(session, 'tfa.manage', 'tfa.add', userid);
  const user = await requireUser(session.store, userid);
  const realm = await session.store.getRealm(user.realm);
  const prepared = await prepareYubico(session, userid, realm, req);
  const added = await session.store.transaction(async (tx) => {
    const ok = await tx.insertYubicoFactor({ ...prepared, userid, description: req.description, created: session.now() });
    if (ok) await session.audit({ action: 'tfa.add', target: userid, outcome: 'ok', detail: { type: 'yubico', id: prepared.id, publicId: prepared.publicId, mode: prepared.mode } });
    return ok;
  });
  if (!added) await refuse(session, 'tfa.add', userid, `${userid} already has the YubiKey ${prepared.publicId}`, 'exists');
  return { id: prepared.id, userid, publicId: prepared.publicId, description: req.description, mode: prepared.mode };
}
