import { sameSecretBytes, seal } from '../../domain/secret-box.js';
import { AuthError, UsageError } from '../../errors.js';
import type { RealmRecord, Store } from '../../store/types.js';
import { authorize, refuse } from '../authz.js';
import type { Session } from '../session.js';
import { requireUser } from '../lookup.js';
import { newFactorId } from '../factors.js';

/**
 * Enrolling a YubiKey (the yubico kind's enrolment; its sign-in is kinds/yubico.ts): one OTP
 * touched on the key, checked by the realm's validation (a service, or offline with the key's AES
 * key and private id), registers its public id.
 */

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
  const { parseYubicoOtp, counterValue, decryptToken, samePrivateId } = await import('../../domain/yubico.js');
  const yubico = await import('../yubico.js');
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
    if (!token || !samePrivateId(token.privateId, req.offline.privateId.toString('hex'))) {
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
  const { yubicoTimeoutSeconds } = await import('../settings.js');
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

/**
 * Why a YubiKey checked offline may not be registered for `userid` as prepared, or null: a
 * registering OTP no newer than one the user's key spent before (under a factor since deleted:
 * the replay ledger keeps it) would make spent OTPs work again. The user's own ledger only: a
 * public id is no secret, and another user's factor made with it must not block anyone.
 */
export async function reusedKeyProblem(store: Store, userid: string, prepared: { readonly publicId: string; readonly lastCounter: number | null; readonly mode: 'online' | 'offline' }): Promise<string | null> {
  if (prepared.mode !== 'offline' || prepared.lastCounter === null) return null;
  const spent = await store.yubicoCounterSpent(userid, prepared.publicId);
  return spent !== null && prepared.lastCounter <= spent ? `this OTP of the YubiKey ${prepared.publicId} was used before: touch the key again for a new one` : null;
}

/**
 * Why a YubiKey as prepared may not be registered for `userid`, or null: a reused OTP
 * (reusedKeyProblem), or an offline key whose AES key another user's factor of the same public id
 * holds: each factor counts its own OTPs, so one OTP of it would sign in as either user (the
 * validation service counts a key's OTPs once for all). Asking proves nothing new: whoever asks
 * holds the AES key.
 */
export async function yubikeyProblem(
  session: Session,
  store: Store,
  userid: string,
  prepared: { readonly publicId: string; readonly lastCounter: number | null; readonly mode: 'online' | 'offline' },
  offline: YubicoRequest['offline'],
): Promise<{ readonly message: string; readonly code: string } | null> {
  const reused = await reusedKeyProblem(store, userid, prepared);
  if (reused !== null) return { message: reused, code: 'yubikey_reused' };
  if (prepared.mode !== 'offline' || offline === null) return null;
  const others = await store.offlineYubikeysOfOthers(userid, prepared.publicId);
  if (others.length === 0) return null;
  const { openOfflineKey } = await import('../yubico.js');
  const key = await session.secretKey();
  for (const other of others) {
    let theirs: Buffer;
    try {
      theirs = Buffer.from(openOfflineKey(other.sealedSecret, key, other.userid, other.id).aesKey, 'hex');
    } catch {
      // Another user's damaged row is theirs to mend: it stops no one else's enrolment.
      continue;
    }
    if (sameSecretBytes(theirs, offline.aesKey)) {
      return { message: `the YubiKey ${prepared.publicId} is registered for another user: one OTP of it would sign in as either; give ${userid} a key (or a slot of this one) of its own`, code: 'exists' };
    }
  }
  return null;
}

/** Registers a YubiKey for an existing user (opt-in, or required where the realm enforces YubiKey OTP). */
export async function addYubicoKey(session: Session, userid: string, req: YubicoRequest): Promise<AddedYubico> {
  await authorize(session, 'tfa.manage', 'tfa.add', userid);
  const user = await requireUser(session.store, userid);
  const realm = await session.store.getRealm(user.realm);
  const prepared = await prepareYubico(session, userid, realm, req);
  const added = await session.store.transaction(async (tx) => {
    // Checked in the unit that adds it: no other registration of the key slips in between.
    const problem = await yubikeyProblem(session, tx, userid, prepared, req.offline);
    if (problem !== null) return problem;
    const ok = await tx.insertYubicoFactor({ ...prepared, userid, description: req.description, created: session.now() });
    if (ok) await session.audit({ action: 'tfa.add', target: userid, outcome: 'ok', detail: { type: 'yubico', id: prepared.id, publicId: prepared.publicId, mode: prepared.mode } }, tx);
    return ok;
  });
  if (typeof added === 'object') await refuse(session, 'tfa.add', userid, added.message, added.code);
  if (!added) await refuse(session, 'tfa.add', userid, `${userid} already has the YubiKey ${prepared.publicId}`, 'exists');
  return { id: prepared.id, userid, publicId: prepared.publicId, description: req.description, mode: prepared.mode };
}
