import { statSync } from 'node:fs';
import type { Ctx } from '../context.js';
import { isExpired } from '../domain/dates.js';
import type { Principal } from '../domain/permissions.js';
import { parseUserId, ROOT_USERID } from '../domain/userid.js';
import { AuthError, RefusedError, StoreError } from '../errors.js';
import type { GlobalOptions, Invocation } from '../invocation.js';
import { createKeyFile, fingerprintMatches, keyFingerprint, readKeyFile } from '../store/keyfile.js';
import { resolveKeyPath, resolveStorePath } from '../store/location.js';
import type { AuditEntry, Store } from '../store/types.js';
import { checkPassword } from './passwords.js';
import { SecretSource } from './secrets.js';

/** The user a command runs as. */
export interface Actor extends Principal {
  /** True when the actor is root@local because the OS user owns the store (no password asked). */
  readonly viaOwnership: boolean;
}

/** An open store, the authenticated actor and where further secrets come from. */
export interface Session {
  readonly ctx: Ctx;
  readonly store: Store;
  readonly actor: Actor;
  readonly secrets: SecretSource;
  now(): number;
  /** Appends to the audit trail as the acting user. */
  audit(entry: Omit<AuditEntry, 'ts' | 'actor'>): Promise<void>;
}

const KEY_FINGERPRINT = 'key.fingerprint';

export interface OpenedStore {
  readonly store: Store;
  readonly path: string;
  readonly keyPath: string;
  readonly created: boolean;
}

/**
 * Opens the store named by --db / TFACTL_DB / the default location, creating it and its key file on
 * first use. The store is closed when the command ends.
 */
export async function openStore(inv: Invocation): Promise<OpenedStore> {
  const { ctx } = inv;
  const globals = inv.opts as GlobalOptions;
  const path = resolveStorePath({ flag: globals.db, env: ctx.env, uid: ctx.uid, home: ctx.home });
  const keyPath = resolveKeyPath(path, ctx.env);
  const { store, created } = await ctx.openStore(path, ctx.clock.nowSeconds());
  inv.onExit(() => store.close());
  if (created) await ensureKeyFile(ctx, store, keyPath);
  return { store, path, keyPath, created };
}

/**
 * Makes sure the store has its key file and remembers the key's fingerprint, so a key file from
 * another store is recognised. Refuses to make a new key for a store whose key is lost: that would
 * silently orphan every secret in it.
 */
export async function ensureKeyFile(ctx: Ctx, store: Store, keyPath: string): Promise<{ created: boolean }> {
  const fingerprint = (await store.getSettings()).get(KEY_FINGERPRINT);
  if (fingerprint !== undefined) {
    const key = readKeyFile(keyPath);
    if (!fingerprintMatches(key, fingerprint)) {
      throw new StoreError(`key file ${keyPath} belongs to another store`, 'key_mismatch');
    }
    return { created: false };
  }
  let created: boolean;
  try {
    created = createKeyFile(keyPath, (n) => ctx.random.bytes(n));
  } catch (e) {
    throw new StoreError(`cannot create key file ${keyPath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'key_file');
  }
  const key = readKeyFile(keyPath);
  await store.setSetting(KEY_FINGERPRINT, keyFingerprint(key));
  return { created };
}

/**
 * Opens the store and establishes who is acting:
 * - `--as USERID` (or TFACTL_AS): that user, after their password (and, once they have any, a
 *   second factor) checks out; failures are audited and exit 5;
 * - otherwise the OS user owning the store file, or uid 0, acts as root@local: whoever can write the
 *   file already holds everything in it;
 * - anyone else is refused (exit 4) before the store is touched.
 */
export async function openSession(inv: Invocation): Promise<Session> {
  const { ctx } = inv;
  const globals = inv.opts as GlobalOptions;
  const asOption = globals.as ?? (ctx.env.TFACTL_AS || undefined);
  const asId = asOption === undefined ? undefined : parseUserId(asOption).id;
  const path = resolveStorePath({ flag: globals.db, env: ctx.env, uid: ctx.uid, home: ctx.home });
  if (asId === undefined) refuseNonOwner(path, ctx.uid);

  const { store } = await openStore(inv);
  const secrets = new SecretSource(ctx, globals.passwordStdin === true);
  const now = () => ctx.clock.nowSeconds();
  const auditAs = (actor: string | null) => (entry: Omit<AuditEntry, 'ts' | 'actor'>) =>
    store.appendAudit({ ...entry, ts: now(), actor });

  const actor =
    asId === undefined
      ? { userid: ROOT_USERID, admin: true, viaOwnership: true }
      : await authenticateActor({ store, secrets, now, audit: auditAs(asId) }, asId);
  return { ctx, store, actor, secrets, now, audit: auditAs(actor.userid) };
}

function refuseNonOwner(path: string, uid: number): void {
  if (uid === 0) return;
  let owner: number;
  try {
    owner = statSync(path).uid;
  } catch {
    return; // No store yet: this user creates it and so owns it.
  }
  if (owner !== uid) {
    throw new RefusedError(
      `you do not own the store ${path}: name the acting user with --as USERID (or TFACTL_AS)`,
      'not_owner',
    );
  }
}

interface AuthDeps {
  readonly store: Store;
  readonly secrets: SecretSource;
  now(): number;
  audit(entry: Omit<AuditEntry, 'ts' | 'actor'>): Promise<void>;
}

/**
 * Verifies that the person at the keyboard is `userid`: password first. Says nothing about which
 * part failed; the audit trail records why.
 */
async function authenticateActor(deps: AuthDeps, userid: string): Promise<Actor> {
  const password = await deps.secrets.read(`the password of ${userid}`);
  const hash = await deps.store.getPasswordHash(userid);
  const check = await checkPassword(hash, password);
  const fail = async (reason: string, message?: string): Promise<never> => {
    await deps.audit({ action: 'auth', target: userid, outcome: 'failed', detail: { reason } });
    throw new AuthError(message);
  };
  if (!check.ok) return fail(hash === undefined ? 'unknown user' : hash === null ? 'no password set' : 'wrong password');
  const user = await deps.store.getUser(userid);
  if (!user) return fail('unknown user');
  if (!user.enabled) return fail('account disabled', `authentication failed: ${userid} is disabled`);
  if (isExpired(user.expire, deps.now())) return fail('account expired', `authentication failed: ${userid} has expired`);
  if (check.rehash && hash) await deps.store.replacePasswordHash(userid, hash, check.rehash);
  return { userid, admin: user.admin, viaOwnership: false };
}
