import { tfactlLine } from '../domain/command-line.js';
import { factorIdShowable, factorIdUnshown, MIN_FACTOR_ID_PREFIX } from '../domain/account.js';
import { isoTime } from '../domain/dates.js';
import { isRoot } from '../domain/permissions.js';
import { NotFoundError, RefusedError, UsageError } from '../errors.js';
import type { FactorRecord, FactorType, RealmRecord, Store, UserOverview, UserRecord } from '../store/types.js';
import { authorize, refuse } from './authz.js';
import type { Session } from './session.js';
import { requireUser, userMissing } from './lookup.js';

/**
 * What every factor kind shares: factor ids, the realm rule on which kinds may be added, and the
 * operations on factors of any kind (delete, enable or disable, unlock). Each kind's enrolment is
 * in kinds/ beside its sign-in.
 */

export function newFactorId(session: Session): string {
  const b = session.random.bytes(16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Whether `type` may be added for `userid` by this session, refused as the enrolment itself would
 * refuse it: for a command to ask before anything else (a description on a terminal), not after.
 */
export async function checkFactorAddable(session: Session, userid: string, type: FactorType): Promise<void> {
  await authorize(session, 'tfa.manage', 'tfa.add', userid);
  const user = await requireUser(session.store, userid);
  await checkRealmAllows(session, await session.store.getRealm(user.realm), userid, type);
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


const startingWith = (factors: readonly FactorRecord[], prefix: string) => factors.filter((f) => f.id.startsWith(prefix.toLowerCase()));

/**
 * The factor of `userid` whose id is `idOrPrefix`, or starts with it (at least MIN_FACTOR_ID_PREFIX
 * characters, as git takes commit ids):
 * unknown is exit 3, a prefix of several is exit 2 naming them.
 */
async function requireFactor(store: Store, userid: string, idOrPrefix: string): Promise<FactorRecord> {
  const factors = await store.listFactors(userid);
  const exact = factors.find((f) => f.id === idOrPrefix);
  if (exact) return exact;
  if (idOrPrefix.length < MIN_FACTOR_ID_PREFIX) {
    throw new UsageError(`factor id ${idOrPrefix} is too short: give at least ${MIN_FACTOR_ID_PREFIX} characters of it (see ${tfactlLine('tfa list', [userid])})`, 'ambiguous_id');
  }
  const matches = startingWith(factors, idOrPrefix);
  if (matches.length === 1) return matches[0] as FactorRecord;
  if (matches.length === 0) throw new NotFoundError(
      factorIdShowable(idOrPrefix)
        ? `${userid} has no factor ${idOrPrefix} (see ${tfactlLine('tfa list', [userid])})`
        : `${userid} has no factor of the id given; ${factorIdUnshown(idOrPrefix)} (see ${tfactlLine('tfa list', [userid])})`,
    );
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
  const factors = await store.listFactors(user.userid);
  if (!realm || realm.enforce === 'none') {
    // Nothing enforced: allowed, but the account is then a password's alone, which its owner (or admin) should hear.
    const removesEnabled = removed.some((r) => factors.some((f) => f.id === r.id && f.enabled));
    const left = factors.filter((f) => f.enabled && !removed.some((r) => r.id === f.id));
    return { refusal: null, warnings: removesEnabled && left.length === 0 ? [`${user.userid} has no enabled second factor left: signing in now takes the password alone`] : [] };
  }
  const enforced = realm.enforce;
  const remaining = factors.filter((f) => f.enabled && f.type === enforced && !removed.some((r) => r.id === f.id));
  const removesEnforced = removed.some((r) => factors.some((f) => f.id === r.id && f.enabled && f.type === enforced));
  const keysOf = (list: readonly FactorRecord[]) => list.filter((f) => f.enabled && f.type === 'recovery').reduce((n, f) => n + ('keysLeft' in f ? f.keysLeft : 0), 0);
  // Without a factor of the enforced type, recovery keys were the way in: taking them leaves none.
  if (!removesEnforced && remaining.length === 0 && keysOf(removed.filter((r) => factors.some((f) => f.id === r.id))) > 0) {
    const keysLeft = keysOf(factors.filter((f) => !removed.some((r) => r.id === f.id)));
    if (keysLeft === 0) {
      if (!actorIsAdmin) {
        return { refusal: `realm ${realm.name} enforces ${enforced} and you have no enabled ${enforced} factor: your recovery keys are your last way to sign in (add a ${enforced} factor first)`, warnings: [] };
      }
      return { refusal: null, warnings: [`${user.userid} has no enabled ${enforced} factor and no recovery key left, and cannot sign in until a ${enforced} factor is added (realm ${realm.name} enforces ${enforced})`] };
    }
  }
  if (!removesEnforced || remaining.length > 0) return { refusal: null, warnings: [] };
  if (!actorIsAdmin) {
    return {
      refusal: `realm ${realm.name} enforces ${enforced}: you cannot remove or disable your last enabled ${enforced} factor (add another first)`,
      warnings: [],
    };
  }
  // Recovery keys still count where a type is enforced: until they run out, they are the way in.
  const keysLeft = keysOf(factors.filter((f) => !removed.some((r) => r.id === f.id)));
  return {
    refusal: null,
    warnings: [
      keysLeft > 0
        ? `${user.userid} has no enabled ${enforced} factor left: only its ${keysLeft} recovery key${keysLeft === 1 ? '' : 's'} sign it in until one is added (realm ${realm.name} enforces ${enforced})`
        : `${user.userid} has no enabled ${enforced} factor left and cannot sign in until one is added (realm ${realm.name} enforces ${enforced})`,
    ],
  };
}

const isAdmin = (session: Session) => session.actor.admin || isRoot(session.actor);

/**
 * Whether deleteFactors (or disabling the factor `which` names) would refuse `actor` for taking
 * the last factor their realm enforces, found without changing anything, and thrown as they throw
 * it (not audited: the caller audits a refusal). For the command's Intent.precheck, so such a
 * refusal spends none of the actor's factors. Says nothing else before the actor's second factor:
 * a user or factor that does not exist passes here (the command says so once signed in), and the
 * change checks again in its unit of work.
 */
export async function factorRemovalRefusal(store: Store, actor: { readonly userid: string; readonly admin: boolean }, userid: string, which: FactorSelection): Promise<void> {
  const user = await store.getUser(userid);
  if (!user) return;
  const factors = await store.listFactors(userid);
  let targets: FactorRecord[];
  if (which === 'all') targets = factors;
  else if ('type' in which) targets = factors.filter((f) => f.type === which.type);
  else {
    // As requireFactor finds it: one factor by its id or a unique start of it.
    const named = factors.filter((f) => f.id === which.id);
    const started = which.id.length < MIN_FACTOR_ID_PREFIX ? [] : startingWith(factors, which.id);
    targets = named.length === 1 ? named : started.length === 1 ? started : [];
  }
  const check = await enforcementCheck(store, actor.admin || isRoot(actor), user, targets);
  if (check.refusal !== null) throw new RefusedError(check.refusal, 'realm_policy');
}

/** Deletes one factor, or all of a user's factors. Returns warnings for the caller to show. */
export async function deleteFactors(session: Session, userid: string, which: FactorSelection, confirmed: () => Promise<void> = async () => undefined): Promise<{ deleted: string[]; warnings: string[] }> {
  await authorize(session, 'tfa.manage', 'tfa.delete', userid);
  const user = await requireUser(session.store, userid);
  const factorId = typeof which === 'object' && 'id' in which ? (await requireFactor(session.store, userid, which.id)).id : null;
  // Asked only of a user (and factor) that is there.
  await confirmed();
  const selected = (f: FactorRecord) => (which === 'all' ? true : factorId !== null ? f.id === factorId : 'type' in which && f.type === which.type);
  const outcome = await session.store.transaction(async (tx) => {
    // Deleted since it was read (while the question waited): there is nothing of theirs to delete.
    await requireUser(tx, userid);
    const targets = (await tx.listFactors(userid)).filter(selected);
    if (factorId !== null && targets.length === 0) throw new NotFoundError(`${userid} has no factor ${factorId}`);
    const check = await enforcementCheck(tx, isAdmin(session), user, targets);
    if (check.refusal !== null) return { refused: true as const, reason: check.refusal };
    for (const f of targets) await tx.deleteFactor(userid, f.id);
    await session.audit({ action: 'tfa.delete', target: userid, outcome: 'ok', detail: { ids: targets.map((f) => f.id) } }, tx);
    return { refused: false as const, deleted: targets.map((f) => f.id), warnings: check.warnings };
  });
  if (outcome.refused) return refuse(session, 'tfa.delete', userid, outcome.reason, 'realm_policy');
  return { deleted: outcome.deleted, warnings: outcome.warnings };
}

/** Enables or disables one factor. Returns warnings for the caller to show. */
export async function setFactorEnabled(session: Session, userid: string, idOrPrefix: string, enabled: boolean): Promise<{ factor: FactorRecord; warnings: string[]; changed: boolean }> {
  const action = enabled ? 'tfa.enable' : 'tfa.disable';
  await authorize(session, 'tfa.manage', action, userid);
  const user = await requireUser(session.store, userid);
  const factorId = (await requireFactor(session.store, userid, idOrPrefix)).id;
  const outcome = await session.store.transaction(async (tx) => {
    const factor = await requireFactor(tx, userid, factorId);
    // Already so: nothing to check or write; the entry says nothing changed.
    if (factor.enabled === enabled) {
      await session.audit({ action, target: userid, outcome: 'ok', detail: { id: factorId, changed: false } }, tx);
      return { refused: false as const, warnings: [], changed: false };
    }
    const check: { refusal: string | null; warnings: string[] } = enabled ? { refusal: null, warnings: [] } : await enforcementCheck(tx, isAdmin(session), user, [factor]);
    if (check.refusal !== null) return { refused: true as const, reason: check.refusal };
    await tx.setFactorEnabled(userid, factorId, enabled);
    await session.audit({ action, target: userid, outcome: 'ok', detail: { id: factorId } }, tx);
    return { refused: false as const, warnings: check.warnings, changed: true };
  });
  if (outcome.refused) return refuse(session, action, userid, outcome.reason, 'realm_policy');
  return { factor: await requireFactor(session.store, userid, factorId), warnings: outcome.warnings, changed: outcome.changed };
}

/** Renames a factor (its description: which device or app it is). As enabling one, it takes what managing factors takes. */
export async function describeFactor(session: Session, userid: string, idOrPrefix: string, description: string): Promise<FactorRecord> {
  await authorize(session, 'tfa.manage', 'tfa.modify', userid);
  await requireUser(session.store, userid);
  const factorId = (await requireFactor(session.store, userid, idOrPrefix)).id;
  await session.store.transaction(async (tx) => {
    const before = await requireFactor(tx, userid, factorId);
    await tx.setFactorDescription(userid, factorId, description);
    await session.audit({ action: 'tfa.modify', target: userid, outcome: 'ok', detail: { id: factorId, description: { from: before.description, to: description } } }, tx);
  });
  return requireFactor(session.store, userid, factorId);
}

/** Lifts TOTP and all-factor locks and the password ban, and resets failure counters. Admins only. Returns the user as they were. */
export async function unlockUser(session: Session, userid: string): Promise<UserOverview> {
  await authorize(session, 'tfa.unlock', 'tfa.unlock', userid);
  const before = await session.store.getUserOverview(userid);
  if (!before) throw await userMissing(session.store, userid);
  await session.store.transaction(async (tx) => {
    await tx.unlock(userid);
    // Times as every other time the audit trail shows: ISO 8601, null for none.
    const when = (t: number) => (t > 0 ? isoTime(t) : null);
    const detail = { totpLocked: before.totpLocked, lockedUntil: when(before.lockedUntil), passwordBannedUntil: when(before.passwordBannedUntil) };
    await session.audit({ action: 'tfa.unlock', target: userid, outcome: 'ok', detail }, tx);
  });
  return before;
}
