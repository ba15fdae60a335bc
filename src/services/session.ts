import { statSync } from 'node:fs';
import type { Ctx } from '../context.js';
import type { Principal } from '../domain/permissions.js';
import { parseUserId, ROOT_USERID } from '../domain/userid.js';
import { RefusedError, StoreError, UsageError } from '../errors.js';
import type { GlobalOptions, Invocation } from '../invocation.js';
import { resolveKeyPath, resolveStorePath } from '../store/location.js';
import type { AuditEntry, Store } from '../store/types.js';
import type { Credentials } from './authenticate.js';
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
  /** The store's key for sealing and opening secrets; read from the key file on first use. */
  secretKey(): Promise<Buffer>;
  /** Where that key file is. */
  readonly keyPath: string;
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
  const { createKeyFile, fingerprintMatches, keyFingerprint, readKeyFile } = await import('../store/keyfile.js');
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

/** Reads the key file once, checking it belongs to this store. */
export function secretKeyLoader(store: Store, keyPath: string): () => Promise<Buffer> {
  let key: Promise<Buffer> | undefined;
  return () => {
    key ??= (async () => {
      const { fingerprintMatches, readKeyFile } = await import('../store/keyfile.js');
      const fingerprint = (await store.getSettings()).get(KEY_FINGERPRINT);
      const loaded = readKeyFile(keyPath);
      if (fingerprint !== undefined && !fingerprintMatches(loaded, fingerprint)) {
        throw new StoreError(`key file ${keyPath} belongs to another store`, 'key_mismatch');
      }
      return loaded;
    })();
    return key;
  };
}

/**
 * Opens the store and establishes who is acting:
 * - `--as USERID` (or TFACTL_AS): that user, signed in exactly as `tfactl login` does (password,
 *   then a second factor if they have one); failures are audited and exit 5;
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

  const { store, keyPath } = await openStore(inv);
  const secrets = new SecretSource(ctx, globals.passwordStdin === true);
  const now = () => ctx.clock.nowSeconds();
  const auditAs = (actor: string | null) => (entry: Omit<AuditEntry, 'ts' | 'actor'>) =>
    store.appendAudit({ ...entry, ts: now(), actor });

  const secretKey = secretKeyLoader(store, keyPath);
  let actor: Actor = { userid: ROOT_USERID, admin: true, viaOwnership: true };
  if (asId !== undefined) {
    // Loaded only for --as: commands run by the store's owner never sign anyone in.
    const [{ authenticate }, { describeOffer }] = await Promise.all([import('./authenticate.js'), import('../domain/second-factor.js')]);
    const creds = actorCredentials(ctx, secrets, asId, globals.authCode, describeOffer);
    const signedIn = await authenticate({ store, now, secretKey, randomBytes: (n) => ctx.random.bytes(n), audit: auditAs(asId) }, asId, creds, 'auth');
    actor = { userid: asId, admin: signedIn.user.admin, viaOwnership: false };
  }
  return { ctx, store, actor, secrets, now, secretKey, keyPath, audit: auditAs(actor.userid) };
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

/**
 * Where an acting user's credentials come from: the password from --password-stdin or a prompt;
 * the second factor, once they have one, from --auth-code or a prompt.
 */
function actorCredentials(
  ctx: Ctx,
  secrets: SecretSource,
  userid: string,
  authCode: string | undefined,
  describeOffer: (offer: Parameters<Credentials['secondFactor']>[0]) => string,
): Credentials {
  return {
    password: () => secrets.read(`the password of ${userid}`),
    secondFactor: async (offer) => {
      if (authCode !== undefined) return { code: authCode };
      if (!ctx.io.stdinIsTTY) {
        throw new UsageError(`${userid} has second factors: give one with --auth-code (a ${describeOffer(offer)})`, 'no_tty');
      }
      return { code: await ctx.prompter.password(`Second factor for ${userid} (${describeOffer(offer)}):`) };
    },
  };
}
