import { existsSync, lstatSync, statSync, type Stats } from 'node:fs';
import { refuseHandedOver, refuseOpenToOthers, refuseReplaceable } from '../files.js';
import { decide, NEEDS_PASSWORD, type Operation } from '../domain/permissions.js';
import { parseSignInUserId, ROOT_USERID } from '../domain/userid.js';
import { RefusedError, StoreError, UsageError } from '../errors.js';
import { parseTokenValue, type PresentedToken } from '../domain/api-token.js';
import { inputFiles, secretValue } from './options.js';
import type { GlobalOptions, Invocation } from '../invocation.js';
import type { AuthDeps } from '../services/authenticate.js';
import { createSession, ensureKeyFile, secretKeyLoader, type Session, type Store } from '../services/session.js';
import { displayStoreLocation, isPostgresUrl, resolveKeyPath, resolveStorePath } from '../domain/store-location.js';
import type { StoreConfig } from '../domain/store-config.js';
import { loadStoreConfig } from '../config-file.js';
import { commandCredentials, refuseEmptySecondFactor } from './credentials.js';
import { ticketBox } from './tickets.js';
import { passwordLimits } from '../services/settings.js';
import type { ViewTime } from './views.js';

export interface OpenedStore {
  readonly store: Store;
  readonly path: string;
  readonly keyPath: string;
  readonly created: boolean;
  /** Whether its key file was made now, with the store (a store made for a key file kept from another, as when a site moves, uses it). */
  readonly keyCreated: boolean;
  /** The key as the connection already loaded it (ctx's OpenedStore): else read from keyPath. */
  readonly secretKey?: (tx?: Store) => Promise<Buffer>;
}

/**
 * Opens the store named by --db / TFACTL_DB / the default location; a command that adds something
 * (OpenMode.creates) makes it and its key file on first use. The store is closed when the command
 * ends.
 */
export async function openStore(inv: Invocation, { readOnly = false, creates = false, trusted = false }: OpenMode = {}): Promise<OpenedStore> {
  const existing = !creates;
  const { ctx } = inv;
  const path = storePath(inv);
  const keyPath = keyPathOf(inv, path);
  if (trusted && !ctx.remote) {
    if (!isPostgresUrl(path)) refuseReplaceable(path, ctx.uid, 'the store');
    refuseReplaceable(keyPath, ctx.uid, 'the key file');
  }
  // A key file put in the way is refused before the store is opened (or made, by init), not once
  // a secret is first sealed with it. Where a new store and key would be made, both places are
  // checked first, so that nothing is made (and left) where another user could swap them.
  if (!ctx.remote) {
    if (creates && !isPostgresUrl(path) && missing(path)) refuseHandedOver(path, 'the store', (message) => new StoreError(message, 'store_permissions'));
    if (creates || existsSync(keyPath)) refuseHandedOver(keyPath, 'the key file', (message) => new StoreError(message, 'key_permissions'));
    // A key file others may read is refused by every command, not only by those that read a
    // secret: an admin who only lists would never hear that the key is exposed.
    let key: Stats | undefined;
    try {
      key = statSync(keyPath, { throwIfNoEntry: false });
    } catch {
      // Not to be looked at (a path through a file, a directory not ours): said where it is opened.
    }
    if (key?.isFile()) refuseOpenToOthers(keyPath, 'the key file', key.mode, (message) => new StoreError(message, 'key_permissions'));
  }
  const { store, created, secretKey } = await ctx.openStore(path, { now: ctx.clock.nowSeconds(), keyPath, ...(readOnly && { readOnly }), ...(existing && { existing }) });
  inv.onExit(() => store.close());
  const keyCreated = created && (await ensureKeyFile(ctx.random, store, keyPath)).created;
  return { store, path, keyPath, created, keyCreated, ...(secretKey && { secretKey }) };
}

/** Whether nothing is at `path` yet (ENOENT): what cannot be looked at is left to the opening to report. */
function missing(path: string): boolean {
  try {
    lstatSync(path);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** The store this run uses (--db, TFACTL_DB, this host's config, or the default location). */
export function storePath(inv: Invocation): string {
  const { ctx } = inv;
  return resolveStorePath({ flag: (inv.opts as GlobalOptions).db, env: ctx.env, uid: ctx.uid, home: ctx.home, config: hostConfig(inv) });
}

/** This host's store config (/etc/tfactl/config); never for a run that came from a client of the service. */
export function hostConfig(inv: Invocation): StoreConfig | null {
  return inv.ctx.remote ? null : loadStoreConfig(inv.ctx.env, inv.ctx.uid);
}

/** The key file of the store at `path`. */
export function keyPathOf(inv: Invocation, path: string): string {
  return resolveKeyPath(path, inv.ctx.env, hostConfig(inv));
}

/** How a command opens the store. */
export interface OpenMode {
  /**
   * Only read: an existing, up-to-date store, nothing created, migrated or written (a dry run).
   * For the store's owner; a sign-in (--as, a token) writes (failure counters, the audit trail),
   * so with one the store is opened as for any command.
   */
  readonly readOnly?: boolean;
  /**
   * The store's owner may make the store with this command on first use: `init`, and what adds
   * the first things to one (a user, an import, a realm, a restore, the service). For
   * any other command the store must be there already: one that is not (a missing SQLite file, a
   * PostgreSQL database without a store) is exit 6, never made anew, so a mistyped --db is said
   * to be one, not taken for an empty store (`user show` would say the user does not exist, and
   * leave a store behind). Never with a sign-in (--as, a token, login) or for PAM: whoever signs
   * in must be in a store already, so an empty one could only refuse.
   */
  readonly creates?: boolean;
  /**
   * What it answers with is trusted (PAM): the store and key file, and the directories above them,
   * must be such that no other user could put something else in their place (files.ts
   * refuseReplaceable), exit 6 otherwise.
   */
  readonly trusted?: boolean;
  /** The command says itself that it made the store (serve, in its log): no warning then. */
  readonly saysCreated?: boolean;
}

/**
 * What a command means to do, as far as permissions go: checked as soon as the acting user is
 * known to hold their password, before a second factor is asked for (and spent). The service
 * checks again, with everything it knows, before it acts.
 */
export interface Intent {
  readonly op: Operation;
  /** The audit trail's name for the command (`user.show`). */
  readonly action: string;
  /** The user id acted on, when there is one. */
  readonly target?: string | undefined;
  /**
   * What the command would refuse once it runs, found without changing anything: for `--as`, run
   * after the password and before the second factor, so a refused command spends none (a
   * recovery key is gone once used). The command checks again in its unit of work.
   */
  readonly precheck?: (store: Store, actor: { readonly userid: string; readonly admin: boolean }) => Promise<void>;
}

/**
 * Opens the store and establishes who is acting, at the command boundary:
 * - `--as USERID` (or TFACTL_AS): that user, signed in exactly as `tfactl login` does (password,
 *   then a second factor from --auth-code or a prompt if they have one); failures are audited and
 *   exit 5, and a command `intent` does not permit exits 4 before any second factor is used;
 * - otherwise the OS user owning the store file, or uid 0, acts as root@local: whoever can write the
 *   file already holds everything in it;
 * - anyone else is refused (exit 4) before the store is touched.
 */
export async function openSession(inv: Invocation, intent?: Intent, mode: OpenMode = {}): Promise<Session> {
  const { ctx } = inv;
  const globals = inv.opts as GlobalOptions;
  const presented = presentedToken(inv);
  // Set but empty is a mistake (a script's variable that held nothing), not "the owner": acting
  // as root@local instead of the user it meant would be the quiet wrong answer.
  if (globals.as === undefined && !presented && ctx.env.TFACTL_AS === '') {
    throw new UsageError("TFACTL_AS is set but empty: name the acting user, or unset it to act as the store's owner", 'invalid_userid');
  }
  const asOption = globals.as ?? (ctx.env.TFACTL_AS || undefined);
  if (presented && globals.as !== undefined) throw new UsageError('give --as or an API token (--token, TFACTL_TOKEN), not both: a token acts as its own user', 'conflicting_options');
  // Both from the environment: neither is the one asked for here, so neither wins unsaid.
  if (presented && globals.token === undefined && (ctx.env.TFACTL_AS ?? '') !== '') {
    throw new UsageError('TFACTL_AS and TFACTL_TOKEN are both set: unset one of them (a token acts as its own user)', 'conflicting_options');
  }
  const asId = presented ? undefined : asOption === undefined ? undefined : parseSignInUserId(asOption).id;
  // An empty --auth-code is said before the store is looked for, as any usage error is.
  if (asId !== undefined) refuseEmptySecondFactor('--auth-code', globals.authCode, asId);
  // Without --as it would be dropped unsaid, and the standard input lines it stood for read as
  // something else (the acting user's password taken for a new user's, where --as was forgotten).
  else if (globals.authCode !== undefined) {
    throw new UsageError(
      presented
        ? "--auth-code is the --as user's second factor: an API token acts without one (leave --auth-code out)"
        : "--auth-code is the --as user's second factor, and no acting user is named: give --as USERID (or TFACTL_AS), or leave --auth-code out to act as the store's owner",
      'usage',
    );
  }
  const path = storePath(inv);
  if (asId === undefined && !presented) {
    // Through a service nobody is the store's owner, whatever becomes of the store file.
    if (ctx.remote) throw new RefusedError('through the tfactl service nobody owns the store: name the acting user with --as USERID (or TFACTL_AS), or use an API token', 'not_owner');
    // On PostgreSQL there is no store file to own: its owner is the key file's, which only its
    // owner may read (store/keyfile.ts); whoever has the connection string and not the key gets
    // no secret out of the store either.
    if (isPostgresUrl(path)) {
      const keyPath = keyPathOf(inv, path);
      const what = `the PostgreSQL store's key file ${keyPath}`;
      if (refuseNonOwner(keyPath, ctx.uid, what) === 'missing') await refuseIfStoreExists(inv, path, keyPath, what);
    } else refuseNonOwner(path, ctx.uid, `the store ${path}`);
  }

  const signsIn = asId !== undefined || presented !== undefined;
  const opened = await openStore(inv, { readOnly: mode.readOnly === true && !signsIn, creates: mode.creates === true && !signsIn, trusted: mode.trusted === true });
  const { store, keyPath } = opened;
  // A store made by the command that first adds to it (a mistyped --db makes one too): said, with
  // the key file to keep, as init says it.
  if (opened.created && mode.saysCreated !== true) {
    const where = `there was no store at ${displayStoreLocation(path)}: created it`;
    inv.out.warn(opened.keyCreated ? `${where}, and its key file ${keyPath} (keep the key file with every backup of the store)` : `${where}, with the key file ${keyPath}`);
  }
  const secretKey = opened.secretKey ?? secretKeyLoader(store, keyPath);
  // On PostgreSQL anyone may own a key file: only the store's own key makes its owner root@local.
  if (asId === undefined && !presented && ctx.uid !== 0 && isPostgresUrl(path)) {
    await secretKey().catch((e: unknown) => {
      if (!(e instanceof StoreError)) throw e;
      throw new RefusedError(`you do not own the PostgreSQL store (${e.message}): name the acting user with --as USERID (or TFACTL_AS)`, 'not_owner');
    });
  }
  const parts = { store, clock: ctx.clock, random: ctx.random, hostname: ctx.hostname, keyPath, secretKey, intent: intent && { action: intent.action, target: intent.target ?? null } };
  if (presented) {
    const { authenticateToken } = await import('../services/tokens.js');
    const { user, token } = await authenticateToken({ store, now: () => ctx.clock.nowSeconds() }, presented);
    const actor = { userid: user.userid, admin: user.admin, viaOwnership: false, token: { name: token.name, privileges: token.privileges, secretHash: token.secretHash } };
    const session = createSession({ ...parts, actor });
    // As with --as: a command the token may not run is refused before it starts.
    await checkIntent(session, intent);
    return session;
  }
  if (asId === undefined) return createSession({ ...parts, actor: { userid: ROOT_USERID, admin: true, viaOwnership: true } });

  const resumed = await resumeKeptSession(inv, store, path, asId, intent);
  if (resumed) {
    // Whom this run signs in, for a service's request log (a fresh sign-in says so in authDeps).
    ctx.remote?.signingIn?.(asId);
    const session = createSession({ ...parts, actor: { userid: resumed.user.userid, admin: resumed.user.admin, viaOwnership: false, resumed: true, sessionId: resumed.sessionId } });
    await checkIntent(session, intent);
    return session;
  }

  // Loaded only for --as: commands run by the store's owner never sign anyone in.
  const { authenticate } = await import('../services/authenticate.js');
  const signedIn = await authenticate(
    authDeps(inv, store, secretKey, asId),
    {
      userid: asId,
      action: 'auth',
      credentials: commandCredentials(inv, asId, { flag: '--auth-code', value: globals.authCode }),
      intent: intent && {
        action: intent.action,
        target: intent.target ?? null,
        permits: (user) => decide({ userid: user.userid, admin: user.admin }, intent.op, intent.target),
        ...(intent.precheck && { precheck: (user: { readonly userid: string; readonly admin: boolean }) => intent.precheck!(store, { userid: user.userid, admin: user.admin || user.userid === ROOT_USERID }) }),
      },
    },
  );
  // What login says of the sign-in (few recovery keys left), --as says too.
  for (const w of signedIn.warnings) inv.out.warn(w);
  return createSession({ ...parts, actor: { userid: asId, admin: signedIn.user.admin, viaOwnership: false, basis: signedIn.basis } });
}

/** Refuses (audited, exit 4) a command the session's actor may not run, before it starts. */
async function checkIntent(session: Session, intent: Intent | undefined): Promise<void> {
  if (!intent) return;
  const decision = decide(session.actor, intent.op, intent.target);
  if (decision.allowed) return;
  await session.audit({ action: intent.action, target: intent.target ?? null, outcome: 'refused', detail: { reason: decision.reason } });
  throw new RefusedError(decision.reason, 'permission_denied');
}

/**
 * The user a kept session (login --session) signs in for `--as asId` on this store, or null: then
 * the caller signs in afresh. A ticket that no longer works is removed.
 */
async function resumeKeptSession(inv: Invocation, store: Store, storePath: string, asId: string, intent: Intent | undefined) {
  // A command that needs the password anyway signs in afresh: its own factors, password or
  // tokens, and any API token (decide: a kept session makes none).
  if (intent && ((NEEDS_PASSWORD.has(intent.op) && intent.target === asId) || intent.op === 'token.manage')) return null;
  const tickets = ticketBox(inv, storePath);
  if (tickets === null) return null;
  let secret: string | null;
  try {
    secret = await tickets.read(asId);
  } catch (e) {
    // A ticket directory that is not this user's alone (XDG_RUNTIME_DIR after su without -): no
    // ticket is taken from it, and the command signs in as it would without one.
    if (!(e instanceof StoreError && e.code === 'session_unavailable')) throw e;
    inv.out.warn(`no kept session is used: ${e.message}`);
    return null;
  }
  if (secret === null) return null;
  const { resumeSession } = await import('../services/sessions.js');
  const resumed = await resumeSession({ store, now: () => inv.ctx.clock.nowSeconds() }, asId, secret);
  if (resumed === null) {
    await tickets.remove(asId);
    inv.out.warn(`the session of ${asId} has ended (expired, logged out, or the account changed): signing in again`);
  }
  return resumed;
}

/**
 * What signing `userid` in needs from this run: its store, clock, randomness, and an audit as them.
 * A run through tfactl serve tells the service whom it signs in, for its request log.
 */
export function authDeps(inv: Invocation, store: Store, secretKey: (tx?: Store) => Promise<Buffer>, userid: string): AuthDeps {
  const { clock, random } = inv.ctx;
  inv.ctx.remote?.signingIn?.(userid);
  return {
    store,
    now: () => clock.nowSeconds(),
    sleep: (ms) => clock.sleep(ms),
    secretKey,
    randomBytes: (n) => random.bytes(n),
    audit: (entry, tx) => (tx ?? store).appendAudit({ ...entry, ts: clock.nowSeconds(), actor: userid }),
  };
}

/**
 * The API token this run acts with: `--token @FILE` (the file's one line), else $TFACTL_TOKEN.
 * A token given on the command line itself is refused: it would show in `ps`. A value without a
 * token's shape is refused without repeating it (exit 2, invalid_token, as pam config's --token
 * file is): no token was presented, so there is none to audit or count.
 */
function presentedToken(inv: Invocation): PresentedToken | undefined {
  const flag = (inv.opts as GlobalOptions).token;
  if (flag !== undefined && !flag.startsWith('@')) {
    throw new UsageError('--token takes @FILE (a file holding the token): a token on the command line would show in ps; or set TFACTL_TOKEN', 'invalid_token');
  }
  // Only where it would be used: --as names who acts, as a token does (an empty TFACTL_AS beside a token is let be too).
  if (flag === undefined && inv.ctx.env.TFACTL_TOKEN === '' && (inv.opts as GlobalOptions).as === undefined) {
    // As TFACTL_AS: a token meant (read from a file that held nothing) is no leave to act without one.
    throw new UsageError('TFACTL_TOKEN is set but empty: give the token, or unset it to act without one', 'invalid_token');
  }
  const text = flag !== undefined ? secretValue(inv, flag, '--token') : inv.ctx.env.TFACTL_TOKEN || undefined;
  if (text === undefined) return undefined;
  // A token others may read is theirs too: said, as the key file's mode is (not refused: the
  // file is the user's, and a script would stop).
  // Through the service, the client said the file's mode.
  const mode = flag === undefined ? undefined : inputFiles(inv).mode(flag.slice(1));
  if (flag !== undefined && mode !== undefined) {
    try {
      refuseOpenToOthers(flag.slice(1), 'the --token file', mode);
    } catch (e) {
      if (e instanceof UsageError) inv.out.warn(e.message);
    }
  }
  const parsed = parseTokenValue(text);
  if (!parsed) throw new UsageError(`${flag !== undefined ? `the --token file ${flag.slice(1)}` : 'TFACTL_TOKEN'} does not hold an API token (USERID!NAME=SECRET)`, 'invalid_token');
  return parsed;
}

/** Refuses an OS user other than root and the owner of `path` (`what` names it in messages); a path not there yet is this user's to make. */
function refuseNonOwner(path: string, uid: number, what: string): 'owner' | 'missing' {
  if (uid === 0) return 'owner';
  let owner: number;
  try {
    owner = statSync(path).uid;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing'; // Not there yet: this user creates it and so owns it.
    // It may well exist: a directory of another user's keeps this one from knowing.
    throw new StoreError(
      `cannot reach ${what}: ${code === 'EACCES' ? 'permission denied: it or a directory above it belongs to another user' : (code ?? String(e))}; a store of your own: --db PATH (or TFACTL_DB)`,
      'store_permissions',
    );
  }
  if (owner !== uid) {
    throw new RefusedError(
      `you do not own ${what}: name the acting user with --as USERID (or TFACTL_AS)`,
      'not_owner',
    );
  }
  return 'owner';
}

/**
 * A PostgreSQL store's key file that is not where this user looks for it makes them its owner
 * only if there is no store yet (they are about to make both). A store that is there has a key
 * file elsewhere, and whoever has only the connection string is not root@local: looked at with
 * a read-only connection, before anything is written.
 */
async function refuseIfStoreExists(inv: Invocation, path: string, keyPath: string, what: string): Promise<void> {
  try {
    const { store } = await inv.ctx.openStore(path, { now: inv.ctx.clock.nowSeconds(), keyPath, readOnly: true });
    store.close();
  } catch (e) {
    if (e instanceof StoreError && e.code === 'store_missing') return;
    throw e;
  }
  throw new RefusedError(`you do not own ${what}: it is not there, and the store is (its owner has the key file): name the acting user with --as USERID (or TFACTL_AS)`, 'not_owner');
}

/** The time views are made at, with the setting that reading a user's locks needs. */
export async function viewTime(inv: Invocation, session: Session): Promise<ViewTime> {
  const { windowSeconds } = await passwordLimits(session.store);
  return { now: inv.ctx.clock.nowSeconds(), passwordWindowSeconds: windowSeconds };
}
