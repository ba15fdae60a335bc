import { isRoot } from '../domain/permissions.js';
import { checkPassword as checkPasswordPolicy, DEFAULT_PASSWORD_POLICY, type PasswordPolicy } from '../domain/password-policy.js';
import { ROOT_USERID, type UserId } from '../domain/userid.js';
import { NotFoundError } from '../errors.js';
import type { Store, UserPatch, UserRecord } from '../store/types.js';
import { authorize, refuse } from './authz.js';
import { hashPassword } from './passwords.js';
import type { Session } from './session.js';

export interface NewUserRequest {
  readonly userid: UserId;
  /** Reads the new password (after permission checks), or null for an account without one. */
  readonly password: (() => Promise<string>) | null;
  readonly admin: boolean;
  readonly enabled: boolean;
  readonly email: string | null;
  readonly comment: string | null;
  readonly expire: string | null;
}

/** The password policy from the store's settings, falling back to the defaults. */
export async function passwordPolicy(store: Store): Promise<PasswordPolicy> {
  const settings = await store.getSettings();
  const num = (key: string, fallback: number) => {
    const v = Number(settings.get(key));
    return Number.isInteger(v) && v > 0 ? v : fallback;
  };
  return {
    minLength: num('password.min-length', DEFAULT_PASSWORD_POLICY.minLength),
    maxLength: num('password.max-length', DEFAULT_PASSWORD_POLICY.maxLength),
  };
}

/**
 * Creates a user. Caller: a session. Checks permission, realm and password policy before hashing;
 * the insert and its audit entry commit together. A taken user id is refused (exit 4).
 */
export async function addUser(session: Session, req: NewUserRequest): Promise<UserRecord> {
  const id = req.userid.id;
  await authorize(session, 'user.create', 'user.add', id);
  if (!(await session.store.getRealm(req.userid.realm))) {
    throw new NotFoundError(`realm ${req.userid.realm} does not exist: add it with 'tfactl realm add ${req.userid.realm}'`);
  }
  if (await session.store.getUser(id)) await refuse(session, 'user.add', id, `user ${id} already exists`, 'exists');
  let passwordHash: string | null = null;
  if (req.password !== null) {
    const password = await req.password();
    checkPasswordPolicy(password, await passwordPolicy(session.store));
    passwordHash = await hashPassword(password);
  }
  const now = session.now();
  const created = await session.store.transaction(async (tx) => {
    if (!(await tx.getRealm(req.userid.realm))) throw new NotFoundError(`realm ${req.userid.realm} does not exist`);
    const inserted = await tx.insertUser({
      userid: id,
      realm: req.userid.realm,
      admin: req.admin,
      enabled: req.enabled,
      email: req.email,
      comment: req.comment,
      expire: req.expire,
      passwordHash,
      created: now,
    });
    if (!inserted) return undefined;
    await session.audit({
      action: 'user.add',
      target: id,
      outcome: 'ok',
      detail: { admin: req.admin, enabled: req.enabled, password: req.password !== null, expire: req.expire },
    });
    return tx.getUser(id);
  });
  // Refused outside the transaction, so that its rollback does not take the audit entry with it.
  return created ?? refuse(session, 'user.add', id, `user ${id} already exists`, 'exists');
}

/** Users the actor may see: everyone for admins, only themselves otherwise. */
export async function listUsers(session: Session, filter: { realm?: string }): Promise<UserRecord[]> {
  if (filter.realm !== undefined && !(await session.store.getRealm(filter.realm))) {
    throw new NotFoundError(`realm ${filter.realm} does not exist`);
  }
  const own = session.actor.admin || isRoot(session.actor) ? {} : { userid: session.actor.userid };
  return session.store.listUsers({ ...filter, ...own });
}

/** One user, if the actor may see them. Unknown users exit 3. */
export async function showUser(session: Session, userid: string): Promise<UserRecord> {
  await authorize(session, 'user.read', 'user.show', userid);
  return requireUser(session.store, userid);
}

export async function requireUser(store: Store, userid: string): Promise<UserRecord> {
  const user = await store.getUser(userid);
  if (!user) throw new NotFoundError(`user ${userid} does not exist`);
  return user;
}

/**
 * Changes account fields. Admin rights, expiry and enabled state need an admin; a user may change
 * their own email and comment. root@local can never be disabled, expired or demoted.
 */
export async function modifyUser(session: Session, userid: string, patch: UserPatch): Promise<UserRecord> {
  const privileged = patch.admin !== undefined || patch.enabled !== undefined || patch.expire !== undefined;
  await authorize(session, privileged ? 'user.modify' : 'user.modify-self', 'user.modify', userid);
  await requireUser(session.store, userid);
  if (userid === ROOT_USERID && (patch.admin === false || patch.enabled === false || (patch.expire ?? null) !== null)) {
    await refuse(session, 'user.modify', userid, `${ROOT_USERID} cannot be disabled, expired or demoted`, 'root_protected');
  }
  return session.store.transaction(async (tx) => {
    if (!(await tx.updateUser(userid, patch, session.now()))) throw new NotFoundError(`user ${userid} does not exist`);
    await session.audit({ action: 'user.modify', target: userid, outcome: 'ok', detail: { changed: Object.keys(patch) } });
    return (await tx.getUser(userid)) as UserRecord;
  });
}

/**
 * Sets a user's password. The actor's own password was verified when the session opened (unless
 * root by ownership); the new one must pass the policy.
 */
export async function setPassword(session: Session, userid: string, readPassword: () => Promise<string>): Promise<void> {
  await authorize(session, 'user.passwd', 'user.passwd', userid);
  await requireUser(session.store, userid);
  const password = await readPassword();
  checkPasswordPolicy(password, await passwordPolicy(session.store));
  const passwordHash = await hashPassword(password);
  await session.store.transaction(async (tx) => {
    if (!(await tx.updateUser(userid, { passwordHash }, session.now()))) throw new NotFoundError(`user ${userid} does not exist`);
    await session.audit({ action: 'user.passwd', target: userid, outcome: 'ok' });
  });
}

/** Deletes a user. root@local can never be deleted. */
export async function deleteUser(session: Session, userid: string): Promise<void> {
  await authorize(session, 'user.delete', 'user.delete', userid);
  if (userid === ROOT_USERID) await refuse(session, 'user.delete', userid, `${ROOT_USERID} cannot be deleted`, 'root_protected');
  await session.store.transaction(async (tx) => {
    if (!(await tx.deleteUser(userid))) throw new NotFoundError(`user ${userid} does not exist`);
    await session.audit({ action: 'user.delete', target: userid, outcome: 'ok' });
  });
}
