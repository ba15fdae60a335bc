import { LOCAL_REALM, realmPassedFor } from '../domain/userid.js';
import { countOf, hasOrHave } from '../domain/text.js';
import { NotFoundError, UsageError } from '../errors.js';
import { DEFAULT_TOTP_PARAMS, parseTotpParams, type TotpParamsInput } from '../domain/totp-params.js';
import { seal } from '../domain/secret-box.js';
import type { EnforceType, RealmSummary, Store } from '../store/types.js';

export type { RealmSummary };
import { authorize, refuse } from './authz.js';
import { requireRealm } from './lookup.js';
import type { Session } from './session.js';

/** Adds a realm. Admins only; a taken name is refused (exit 4). */
export async function addRealm(session: Session, name: string, comment: string | null): Promise<RealmSummary> {
  await authorize(session, 'realm.manage', 'realm.add', name);
  // Checked in the unit of work that adds it: two look-alikes added at once do not both go in.
  const added = await session.store.transaction(async (tx) => {
    const like = realmPassedFor(name, (await tx.listRealms()).map((r) => r.name));
    if (like !== null) return { like };
    if (!(await tx.insertRealm({ name, comment, created: session.now() }))) return undefined;
    await session.audit({ action: 'realm.add', target: name, outcome: 'ok' }, tx);
    return { created: await tx.getRealmSummary(name) };
  });
  if (added && 'like' in added) {
    return refuse(session, 'realm.add', name, `realm ${name} would pass for realm ${added.like}: they differ only in '.', '-' or '_'`, 'confusable_name');
  }
  return added?.created ?? refuse(session, 'realm.add', name, `realm ${name} already exists`, 'exists');
}

export async function listRealms(session: Session): Promise<RealmSummary[]> {
  await authorize(session, 'realm.read', 'realm.list');
  return session.store.listRealms();
}

export async function showRealm(session: Session, name: string): Promise<RealmSummary> {
  await authorize(session, 'realm.read', 'realm.show');
  await requireRealm(session.store, name);
  return (await session.store.getRealmSummary(name)) as RealmSummary;
}


/**
 * Deletes a realm. Refused for the built-in realm, and while it has users unless `force`, which
 * deletes them with it (never root@local, who lives in the built-in realm). The check and the
 * deletion happen in one transaction, so a user added meanwhile is never orphaned.
 */
export async function deleteRealm(session: Session, name: string, force: boolean, confirmed: () => Promise<void> = async () => undefined): Promise<{ deletedUsers: number }> {
  await authorize(session, 'realm.manage', 'realm.delete', name);
  const realm = await requireRealm(session.store, name);
  if (realm.builtin) await refuse(session, 'realm.delete', name, `realm ${LOCAL_REALM} is built in and cannot be deleted`, 'builtin');
  const inUse = (n: number) =>
    refuse(session, 'realm.delete', name, `realm ${name} still has ${n} user${n === 1 ? '' : 's'}: delete them first, or use --force to delete them with it`, 'realm_in_use');
  // Asked only of a realm that is there and may go: not yes first, and then no.
  const users = force ? 0 : ((await session.store.getRealmSummary(name))?.userCount ?? 0);
  if (users > 0) return inUse(users);
  await confirmed();
  const outcome = await session.store.transaction(async (tx) => {
    const current = await tx.getRealmSummary(name);
    if (!current) throw new NotFoundError(`realm ${name} does not exist`);
    if (current.userCount > 0 && !force) return { refusedUsers: current.userCount, deletedUsers: undefined };
    const deletedUsers = await tx.deleteRealm(name);
    await session.audit({ action: 'realm.delete', target: name, outcome: 'ok', detail: { deletedUsers } }, tx);
    return { refusedUsers: undefined, deletedUsers };
  });
  // Users added while the question was asked.
  if (outcome.refusedUsers !== undefined) return inUse(outcome.refusedUsers);
  return { deletedUsers: outcome.deletedUsers ?? 0 };
}

/** YubiKey validation for a realm: offline, or a service with its API id and (base64) key. */
export type YubicoEnforcement = { readonly mode: 'offline' } | { readonly mode: 'online'; readonly apiId: string; readonly apiKey: string; readonly urls: readonly string[] };

/** The store row for a validation setting, the API key sealed with the store key. */
async function yubicoRow(session: Session, name: string, yubico: YubicoEnforcement): Promise<Parameters<Store['setRealmYubico']>[1]> {
  if (yubico.mode === 'offline') return { config: { mode: 'offline' }, sealedApiKey: null };
  const { realmKeyContext } = await import('./yubico.js');
  const sealedApiKey = seal(await session.secretKey(), session.random.bytes(12), yubico.apiKey, realmKeyContext(name));
  return { config: { mode: 'online', apiId: yubico.apiId, urls: yubico.urls }, sealedApiKey };
}

const yubicoDetail = (yubico: YubicoEnforcement | null) =>
  yubico && { mode: yubico.mode, ...(yubico.mode === 'online' && { apiId: yubico.apiId, urls: yubico.urls }) };

/**
 * Sets what second factor a realm requires. Admins only; in the built-in realm root@local only.
 * `yubico` (given with `yubico`) also sets how keys are validated; a realm's validation setting
 * survives later changes of enforcement, so keys registered under it keep working.
 */
export async function setRealmEnforcement(
  session: Session,
  name: string,
  enforce: EnforceType,
  totpInput: TotpParamsInput | null,
  yubico: YubicoEnforcement | null = null,
): Promise<{ realm: RealmSummary; warnings: string[] }> {
  await authorize(session, 'realm.manage', 'realm.set-enforce', name);
  const current = await requireRealm(session.store, name);
  if (enforce === 'yubico' && !yubico && !current.yubico) {
    throw new UsageError('yubico enforcement needs --api-id and --api-key of a validation service, or --offline');
  }
  const row = yubico && (await yubicoRow(session, name, yubico));
  const realm = await session.store.transaction(async (tx) => {
    // As the realm is now: its validation removed since it was read would leave it enforcing
    // YubiKey OTP with nothing to check them.
    const now = await tx.getRealm(name);
    if (!now) throw new NotFoundError(`realm ${name} does not exist`);
    if (enforce === 'yubico' && !row && !now.yubico) throw new UsageError('yubico enforcement needs --api-id and --api-key of a validation service, or --offline');
    // TOTP parameters not given keep what the realm enforces already (the same command run again
    // changes nothing), as a YubiKey validation not given is kept; else the defaults.
    const totp = totpInput && parseTotpParams(totpInput, now.enforce === 'totp' && now.totp ? now.totp : DEFAULT_TOTP_PARAMS);
    if (!(await tx.setRealmEnforcement(name, enforce, totp))) throw new NotFoundError(`realm ${name} does not exist`);
    if (row) await tx.setRealmYubico(name, row);
    const detail = { enforce, ...(totp ?? {}), ...yubicoDetail(yubico) };
    await session.audit({ action: 'realm.set-enforce', target: name, outcome: 'ok', detail }, tx);
    return (await tx.getRealmSummary(name)) as RealmSummary;
  });
  return { realm, warnings: [...(enforce === 'none' ? [] : await usersWithout(session, name, enforce)), ...(yubico ? await keysNotChecked(session, name, yubico) : [])] };
}

/**
 * Sets how a realm validates YubiKeys without enforcing them (opt-in keys), or clears it. Admins
 * only; in the built-in realm root@local only (a service that says yes to everything would let
 * anyone with root's password in).
 */
export async function setRealmYubico(session: Session, name: string, yubico: YubicoEnforcement | null): Promise<{ realm: RealmSummary; warnings: string[] }> {
  await authorize(session, 'realm.manage', 'realm.set-yubico', name);
  const current = await requireRealm(session.store, name);
  if (!yubico && current.enforce === 'yubico') {
    throw new UsageError(`realm ${name} enforces YubiKey OTP: change that with 'realm set-enforce' before removing its validation`);
  }
  const row = yubico && (await yubicoRow(session, name, yubico));
  const realm = await session.store.transaction(async (tx) => {
    // As it is now: deleted, or made to enforce YubiKey OTP, since it was read.
    const now = await tx.getRealm(name);
    if (!now) throw new NotFoundError(`realm ${name} does not exist`);
    if (!yubico && now.enforce === 'yubico') throw new UsageError(`realm ${name} enforces YubiKey OTP: change that with 'realm set-enforce' before removing its validation`);
    if (!(await tx.setRealmYubico(name, row))) throw new NotFoundError(`realm ${name} does not exist`);
    await session.audit({ action: 'realm.set-yubico', target: name, outcome: 'ok', detail: yubicoDetail(yubico) ?? { mode: 'none' } }, tx);
    return (await tx.getRealmSummary(name)) as RealmSummary;
  });
  return { realm, warnings: await keysNotChecked(session, name, yubico) };
}

/**
 * A warning naming the users of a realm whose YubiKeys its validation (`yubico`; null: none) no
 * longer checks as they were registered: keys with their own AES key go to a service (which knows
 * only keys Yubico programmed: "self-made key material is refused, so keys revoked at the service
 * stay revoked"), and keys registered for a service cannot be checked offline, or without one.
 */
async function keysNotChecked(session: Session, realm: string, yubico: YubicoEnforcement | null): Promise<string[]> {
  const online = yubico?.mode === 'online';
  const { count, first } = await session.store.usersWithYubikeys(realm, online, 10);
  if (count === 0) return [];
  const names = someNames(count, first);
  return [
    online
      ? `${countOf(count, 'user')} of realm ${realm} ${hasOrHave(count)} YubiKeys registered with their own AES key: the validation service checks them now, and refuses any it does not know (register such keys again without --aes-key): ${names}`
      : `${countOf(count, 'user')} of realm ${realm} ${hasOrHave(count)} YubiKeys registered for a validation service, which cannot be checked ${yubico ? 'offline' : 'without one'} (register them again with --aes-key and --private-id): ${names}`,
  ];
}

/** The first of `count` names, and how many more. */
const someNames = (count: number, first: readonly string[]) => (count > first.length ? `${first.join(', ')} and ${count - first.length} more` : first.join(', '));

/** A warning naming the users of a realm who have no enabled factor of the enforced type, and the fix. */
async function usersWithout(session: Session, realm: string, type: EnforceType): Promise<string[]> {
  if (type === 'none') return [];
  const { count, first } = await session.store.usersWithout(realm, type, 10);
  if (count === 0) return [];
  const names = someNames(count, first);
  const fix = type === 'totp' ? `tfactl tfa add totp USERID` : `tfactl tfa add yubico USERID --otp OTP`;
  return [`${countOf(count, 'user')} of realm ${realm} ${hasOrHave(count)} no enabled ${type} factor and cannot sign in until one is added (run '${fix}' for each; 'tfactl tfa list --realm ${realm}' marks them): ${names}`];
}
