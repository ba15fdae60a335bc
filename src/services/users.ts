import { isExpired } from '../domain/dates.js';
import { decide, isRoot, type Operation } from '../domain/permissions.js';
import { checkPassword as checkPasswordPolicy } from '../domain/password-policy.js';
import { ROOT_USERID, type UserId } from '../domain/userid.js';
import { NotFoundError, UsageError, UserNotFoundError } from '../errors.js';
import type { NewTotpFactor, UserOverview, UserPatch } from '../store/types.js';

export type { UserOverview, UserPatch };
import { authorize, refuse } from './authz.js';
import { checkRealmAllows } from './factors.js';
import { confirmTotp, type EnrolledTotp, enrolled, type PreparedTotp, prepareTotp, type TotpEnrolmentIo, totpFactorRow, type TotpRequest } from './kinds/totp-enrolment.js';
import { prepareRecoverySet } from './kinds/recovery-enrolment.js';
import { type AddedYubico, prepareYubico, type YubicoRequest, yubikeyProblem } from './kinds/yubico-enrolment.js';
import { realmMissing, requireRealm, requireUser, userMissing } from './lookup.js';
import { lookalikeReason } from './new-names.js';
import { hashPassword } from './passwords.js';
import { passwordPolicy } from './settings.js';
import type { Listing, Session } from './session.js';
import { liveSessions, type LiveSession } from './sessions.js';

/** Reads a new password, passing it to `check` (the policy), which throws UsageError to refuse it. */
export type NewPasswordReader = (check: (password: string) => void) => Promise<string>;

export interface NewUserRequest {
  readonly userid: UserId;
  /**
   * Reads the new password (after permission checks) and has `check` judge it against the policy
   * (a terminal may ask again), or null for an account without one.
   */
  readonly password: NewPasswordReader | null;
  readonly admin: boolean;
  readonly enabled: boolean;
  readonly email: string | null;
  readonly comment: string | null;
  readonly expire: string | null;
}

/** Second factor to set up with a new user. `auto`: TOTP when the realm enforces it, else none. */
export type NewUserTfa =
  | {
    readonly type: 'auto' | 'totp';
    readonly totp: TotpRequest;
    readonly verify: boolean;
    readonly io: TotpEnrolmentIo;
    /** Whether the factor was given a name (`--description`): with `auto`, only a realm that enforces TOTP has a factor to give it to. */
    readonly named?: boolean;
  }
  | { readonly type: 'yubico'; readonly yubico: YubicoRequest }
  | { readonly type: 'none' };

export interface AddedUser {
  readonly user: UserOverview;
  readonly totp: EnrolledTotp | null;
  readonly yubico: AddedYubico | null;
  /** The recovery keys made with the user (`NewUserRecovery`), shown only now. */
  readonly recovery: { readonly id: string; readonly keys: readonly string[] } | null;
  readonly warnings: readonly string[];
}

/**
 * What else goes with a new user. `recoveryKeys`: recovery keys made as `tfa add recovery` makes
 * them, `beforeStoring` handed the keys before anything is stored (a file of them; nothing is
 * stored if it throws). `beforeCommit` is handed the whole result inside the transaction that
 * stores it, before it commits: a result that holds secrets shown only now (recovery keys, the
 * TOTP secret with --json) is shown, and nothing is stored if that throws.
 */
export interface NewUserExtras {
  readonly recoveryKeys?: { readonly beforeStoring?: (keys: readonly string[]) => void };
  readonly beforeCommit?: (added: AddedUser) => void | Promise<void>;
}

/**
 * Creates a user, with a TOTP factor when asked or when the realm enforces TOTP, so that a user in
 * an enforcing realm can sign in from the start. Checks permission, realm and password policy
 * first; the TOTP code (if verified) is checked before anything is stored; user, factor and audit
 * entry commit together. A taken user id is refused (exit 4), and so is a name that could pass for
 * another (mixed scripts, characters that look like ASCII) unless names.allow-confusable allows it.
 */
export async function addUser(session: Session, req: NewUserRequest, tfa: NewUserTfa, extras: NewUserExtras = {}): Promise<AddedUser> {
  const id = req.userid.id;
  await authorize(session, 'user.create', 'user.add', id);
  if (req.admin) await authorize(session, 'user.grant-admin', 'user.add', id);
  const realm = await requireRealm(session.store, req.userid.realm, { adding: true });
  if (await session.store.getUser(id)) await refuse(session, 'user.add', id, `user ${id} already exists`, 'exists');
  const lookalike = await lookalikeReason(session.store, id);
  if (lookalike !== null) await refuse(session, 'user.add', id, lookalike, 'confusable_name');
  // As for an API token: an account made already expired could never be used (an import, which
  // moves accounts as they are, keeps such dates; user modify shows the account as expired).
  if (req.expire !== null && isExpired(req.expire, session.now())) {
    await refuse(session, 'user.add', id, `the expiry date ${req.expire} has passed: ${id} could never sign in`, 'date_passed');
  }
  const warnings: string[] = [];
  const wantTotp = tfa.type === 'totp' || (tfa.type === 'auto' && realm.enforce === 'totp');
  if (tfa.type === 'totp') await checkRealmAllows(session, realm, id, 'totp');
  if (tfa.type === 'auto' && tfa.named === true && realm.enforce === 'none') {
    throw new UsageError(`--description names the factor enrolled with the user, and realm ${realm.name} enforces none: give --tfa totp or --tfa yubico`);
  }
  if (!wantTotp && tfa.type !== 'yubico' && realm.enforce !== 'none') {
    if (tfa.type !== 'none') {
      throw new UsageError(`realm ${realm.name} enforces ${realm.enforce}: give the user's key now, or --tfa none to add them without one`);
    }
    warnings.push(`${id} cannot sign in until a ${realm.enforce} factor is added (realm ${realm.name} enforces ${realm.enforce})`);
  }
  let passwordHash: string | null = null;
  if (req.password !== null) {
    const policy = await passwordPolicy(session.store);
    passwordHash = await hashPassword(await req.password((p) => checkPasswordPolicy(p, policy)));
  }
  let totp: { prepared: PreparedTotp; row: NewTotpFactor } | null = null;
  if (wantTotp) {
    const prepared = await prepareTotp(session, id, realm, tfa.totp);
    // The key that will seal it is read first: a missing or damaged key file fails before a
    // secret is shown that nobody could then store (someone would scan it for nothing).
    await session.secretKey();
    await tfa.io.present(prepared);
    const step = tfa.verify ? await confirmTotp(session, prepared, tfa.io, 'user.add') : null;
    await tfa.io.confirmed?.(prepared);
    totp = { prepared, row: await totpFactorRow(session, prepared, step) };
  }
  const yubico = tfa.type === 'yubico' ? await prepareYubico(session, id, realm, tfa.yubico) : null;
  const problem = yubico && tfa.type === 'yubico' && (await yubikeyProblem(session, session.store, id, yubico, tfa.yubico.offline));
  if (problem) await refuse(session, 'user.add', id, problem.message, problem.code);
  const recovery = extras.recoveryKeys ? await prepareRecoverySet(session, id) : null;
  if (recovery) extras.recoveryKeys?.beforeStoring?.(recovery.keys);
  const now = session.now();
  const yubicoAdded = (): AddedYubico | null =>
    yubico && tfa.type === 'yubico' ? { id: yubico.id, userid: id, publicId: yubico.publicId, description: tfa.yubico.description, mode: yubico.mode } : null;
  const created = await session.store.transaction(async (tx) => {
    if (!(await tx.getRealm(req.userid.realm))) throw new NotFoundError(`realm ${req.userid.realm} does not exist`);
    // Asked again in the unit that adds the key: no other registration of it slips in between.
    const raced = yubico && tfa.type === 'yubico' ? await yubikeyProblem(session, tx, id, yubico, tfa.yubico.offline) : null;
    if (raced) return { refused: raced, user: undefined };
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
    if (totp) await tx.insertTotpFactor(totp.row);
    if (yubico && tfa.type === 'yubico') await tx.insertYubicoFactor({ ...yubico, userid: id, description: tfa.yubico.description, created: now });
    if (recovery) await tx.putRecoverySet(recovery.set, false);
    await session.audit({
      action: 'user.add',
      target: id,
      outcome: 'ok',
      detail: {
        admin: req.admin,
        enabled: req.enabled,
        password: req.password !== null,
        expire: req.expire,
        ...(totp && { totp: totp.row.id, verified: totp.row.verified }),
        ...(yubico && { yubico: yubico.id, publicId: yubico.publicId }),
        ...(recovery && { recovery: recovery.set.id }),
      },
    }, tx);
    const user = await tx.getUserOverview(id);
    if (user) {
      await extras.beforeCommit?.({ user, totp: totp && enrolled(totp.prepared, totp.row.verified), yubico: yubicoAdded(), recovery: recovery && { id: recovery.set.id, keys: recovery.keys }, warnings });
    }
    return { refused: null, user };
  });
  // Refused outside the transaction, so that its rollback does not take the audit entry with it.
  if (created?.refused) await refuse(session, 'user.add', id, created.refused.message, created.refused.code);
  const user = created?.user ?? (await refuse(session, 'user.add', id, `user ${id} already exists`, 'exists'));
  return {
    user,
    totp: totp && enrolled(totp.prepared, totp.row.verified),
    yubico: yubicoAdded(),
    recovery: recovery && { id: recovery.set.id, keys: recovery.keys },
    warnings,
  };
}

/**
 * Users the actor may see: everyone for admins, only themselves otherwise. Read as consumed. An
 * unknown realm is exit 3 for admins; others, who may not list realms, are not told which exist
 * (their listing of it is empty, as of any realm but their own).
 */
export async function listUsers(session: Session, filter: { realm?: string }): Promise<Listing<UserOverview>> {
  const admin = session.actor.admin || isRoot(session.actor);
  if (admin && filter.realm !== undefined && !(await session.store.getRealm(filter.realm))) throw await realmMissing(session.store, filter.realm);
  const own = admin ? {} : { userid: session.actor.userid };
  return () => session.store.users({ ...filter, ...own });
}

/** One user, if the actor may see them, with the sessions kept for them that still hold. Unknown users exit 3. */
export async function showUser(session: Session, userid: string): Promise<{ readonly user: UserOverview; readonly sessions: readonly LiveSession[] }> {
  await authorize(session, 'user.read', 'user.show', userid);
  const user = await session.store.getUserOverview(userid);
  const record = user && (await session.store.getUser(userid));
  if (!user || !record) throw await userMissing(session.store, userid);
  return { user, sessions: await liveSessions(session.store, record, session.now()) };
}

/** What changing these fields takes: an admin for admin rights, expiry and enabled state. */
export function modifyOperation(patch: UserPatch): Operation {
  return patch.admin !== undefined || patch.enabled !== undefined || patch.expire !== undefined ? 'user.modify' : 'user.modify-self';
}

/**
 * Changes account fields. Admin rights, expiry and enabled state need an admin; a user may change
 * their own email and comment. root@local can never be disabled, expired or demoted.
 */
export async function modifyUser(session: Session, userid: string, patch: UserPatch): Promise<{ user: UserOverview; changed: readonly string[] }> {
  await authorize(session, modifyOperation(patch), 'user.modify', userid);
  if (patch.admin === true) await authorize(session, 'user.grant-admin', 'user.modify', userid);
  const target = await requireUser(session.store, userid);
  // Enabling an admin, or moving their expiry, gives an admin account back as making one would.
  if (target.admin && (patch.enabled === true || patch.expire !== undefined)) await authorize(session, 'user.grant-admin', 'user.modify', userid);
  if (userid === ROOT_USERID && (patch.admin === false || patch.enabled === false || (patch.expire ?? null) !== null)) {
    await refuse(session, 'user.modify', userid, `${ROOT_USERID} cannot be disabled, expired or demoted`, 'root_protected');
  }
  return session.store.transaction(async (tx) => {
    const current = await tx.getUser(userid);
    if (!current) throw new UserNotFoundError(userid);
    // Only what differs is written, and said in the trail with its new value (a grant and a
    // revocation of admin rights read differently); what the user had already is not a change:
    // `--expire never` again ends no sessions.
    const changes = Object.fromEntries(Object.entries(patch).filter(([key, value]) => current[key as keyof UserPatch & keyof typeof current] !== value)) as UserPatch;
    const changed = Object.keys(changes);
    const unchanged = Object.keys(patch).filter((key) => !changed.includes(key));
    if (changed.length > 0 && !(await tx.updateUser(userid, changes, session.now()))) throw new UserNotFoundError(userid);
    // Disabling an account, or changing when it expires, ends its sessions: enabled again, or
    // given a later date, it signs in afresh rather than finding them alive again.
    const ended = changes.enabled === false || changes.expire !== undefined ? await tx.deleteSessions(userid) : 0;
    const detail = { changed, ...changes, ...(unchanged.length > 0 && { unchanged }), ...(ended > 0 && { sessionsEnded: ended }) };
    await session.audit({ action: 'user.modify', target: userid, outcome: 'ok', detail }, tx);
    return { user: (await tx.getUserOverview(userid)) as UserOverview, changed };
  });
}

/**
 * Sets a user's password. The actor's own password was verified when the session opened (unless
 * root by ownership); the new one must pass the policy.
 */
export async function setPassword(session: Session, userid: string, readPassword: NewPasswordReader): Promise<void> {
  await authorize(session, 'user.passwd', 'user.passwd', userid);
  const target = await requireUser(session.store, userid);
  if (target.admin) await authorize(session, 'user.passwd-admin', 'user.passwd', userid);
  const policy = await passwordPolicy(session.store);
  const passwordHash = await hashPassword(await readPassword((p) => checkPasswordPolicy(p, policy)));
  // Checked again with the change: while the new password was being typed, the user may have been
  // made an admin (whose password this actor may not set), or deleted and made anew.
  const changed = await session.store.transaction(async (tx) => {
    const now = await tx.getUser(userid);
    if (!now || now.created !== target.created) return 'gone' as const;
    if (now.admin && !decide(session.actor, 'user.passwd-admin', userid).allowed) return 'admin' as const;
    if (!(await tx.updateUser(userid, { passwordHash }, session.now()))) return 'gone' as const;
    // Failures counted against the old password (a ban included) say nothing of the new one: an
    // admin setting it for a user locked out needs no tfa unlock as well.
    await tx.clearPasswordFailures(userid);
    await session.audit({ action: 'user.passwd', target: userid, outcome: 'ok' }, tx);
    return null;
  });
  if (changed === 'gone') throw new NotFoundError(`user ${userid} was deleted while this command ran: no password was set`);
  if (changed === 'admin') {
    // Refused (audited) as it would have been had the user been an admin when the command began.
    await authorize(session, 'user.passwd-admin', 'user.passwd', userid);
  }
}

/** Deletes a user. root@local can never be deleted. */
export async function deleteUser(session: Session, userid: string, confirmed: () => Promise<void> = async () => undefined): Promise<void> {
  await authorize(session, 'user.delete', 'user.delete', userid);
  if (userid === ROOT_USERID) await refuse(session, 'user.delete', userid, `${ROOT_USERID} cannot be deleted`, 'root_protected');
  // Asked only of a user that is there (and whom this actor may delete).
  await requireUser(session.store, userid);
  await confirmed();
  await session.store.transaction(async (tx) => {
    if (!(await tx.deleteUser(userid))) throw new UserNotFoundError(userid);
    await session.audit({ action: 'user.delete', target: userid, outcome: 'ok' }, tx);
  });
}
