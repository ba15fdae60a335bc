import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { StoreConfig } from './store-config.js';

export interface StoreLocationInput {
  readonly flag: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly uid: number;
  readonly home: string;
  /** This host's store config (/etc/tfactl/config), when there is one this user may read. */
  readonly config?: StoreConfig | null | undefined;
}

export const SYSTEM_STORE = '/var/lib/tfactl/tfactl.db';

/**
 * Where the store lives: `--db`, else `TFACTL_DB`, else this host's config (`db`), else the system store for uid 0, else
 * `$XDG_DATA_HOME/tfactl/tfactl.db` (`~/.local/share` when unset or not absolute, as the XDG spec says).
 */
export function resolveStorePath(input: StoreLocationInput): string {
  if (input.flag !== undefined) {
    if (input.flag === '') throw new UsageError('--db needs a store: a file path, or postgres://USER:PASSWORD@HOST:PORT/DATABASE', 'invalid_store');
    return checkedLocation(input.flag, '--db');
  }
  if (input.env.TFACTL_DB !== undefined) {
    // Set but empty is most often a variable that was not (TFACTL_DB=$STORE): not the system store.
    if (input.env.TFACTL_DB === '') throw new UsageError('TFACTL_DB is set but empty: name a store, or unset it for the default one', 'invalid_store');
    return checkedLocation(input.env.TFACTL_DB, 'TFACTL_DB');
  }
  if (input.config?.db) return checkedLocation(input.config.db, 'the db of /etc/tfactl/config');
  if (input.uid === 0) return SYSTEM_STORE;
  const xdg = input.env.XDG_DATA_HOME;
  const base = xdg && xdg.startsWith('/') ? xdg : join(input.home, '.local', 'share');
  return join(base, 'tfactl', 'tfactl.db');
}

/**
 * A location given as a URL of another kind (`mysql://…`, `file://…`) is a mistake, not a file
 * path: refused rather than made into a SQLite file of that name. So are a PostgreSQL connection
 * string in another shape (libpq's `host=… password=…`, `postgres:` without `//`) and a location
 * with blanks around it (` postgres://…`, pasted): made into files, they would name a store of their
 * own on this host, and put a password into a file name. Only the scheme is ever shown.
 */
function checkedLocation(location: string, from: string): string {
  const fix = 'a file path (SQLite), or postgres://USER:PASSWORD@HOST:PORT/DATABASE';
  if (location.trim() !== location) throw new UsageError(`${from} begins or ends with a blank: ${fix}`, 'invalid_store');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(location)?.[1];
  if (scheme !== undefined && !isPostgresUrl(location)) {
    throw new UsageError(`${from} names a ${scheme}:// store, which tfactl does not have: ${fix}`, 'invalid_store');
  }
  if (scheme === undefined && /^postgres(?:ql)?(?::|\/\/)/i.test(location)) {
    throw new UsageError(`${from} is not a connection string tfactl reads (it needs :// after postgres): ${fix}`, 'invalid_store');
  }
  // A connection string with something around it (quotes, <...>, db=...): a file of that name
  // would be a store of its own on this host, and the password part of its path.
  if (scheme === undefined && /postgres(?:ql)?:\/\//i.test(location)) {
    throw new UsageError(`${from} holds postgres:// but does not begin with it (quotes or other text around a connection string?): ${fix}`, 'invalid_store');
  }
  if (scheme === undefined && isKeywordConnectionString(location)) {
    throw new UsageError(`${from} is a keyword=value connection string, which tfactl does not read: give it as postgres://USER:PASSWORD@HOST:PORT/DATABASE`, 'invalid_store');
  }
  if (isPostgresUrl(location)) checkPostgresUrl(location, from);
  refuseUnexpandedTilde(location, from, 'invalid_store');
  return location;
}

/**
 * A path that begins with `~` as its own component (`~/x`, `~bob/x`): the shell did not expand
 * it (`--db=~/x`, a quoted variable), and taken as it is it names a directory called `~` here,
 * not the home the user meant, and an `rm -rf ~` waiting to happen when they clean it up.
 */
export function refuseUnexpandedTilde(path: string, from: string, problem: string): void {
  if (!/^~[^/]*(?:\/|$)/.test(path)) return;
  const fix = from.startsWith('--') ? `write ${from} ~/... (a space, not =) or $HOME/...` : 'write $HOME/... (unquoted ~ only)';
  throw new UsageError(`${from} begins with ~, which the shell did not expand into a home directory: ${fix}`, problem);
}

/** What node-postgres does with each sslmode (it is not always what libpq does). */
const SSL_MODES = ['disable', 'no-verify', 'require', 'verify-ca', 'verify-full'];

/**
 * A PostgreSQL URL names its database (without one, the user's name would be taken quietly) and,
 * if it gives an sslmode, one that means here what it says: node-postgres checks the certificate
 * for require and verify-ca as verify-full does, and has no fallback to an unencrypted connection,
 * so libpq's prefer and allow would fail against a server without TLS. Never echoes the URL.
 */
function checkPostgresUrl(location: string, from: string): void {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return; // Said, without the string, where pg reads it.
  }
  // postgres://USER:12345/PW@HOST/DB reads as the host USER, port 12345, and a path holding the
  // password and the rest: a / in a password must be percent-encoded. (An @ in a database name,
  // or in ?user=, is no such thing: the path has no further / after it.)
  if (url.username === '' && /^\/[^/]*@[^/]*\/./.test(url.pathname)) {
    throw new UsageError(`${from} cannot be read: a / in its user name or password must be percent-encoded (%2F): postgres://USER:PASSWORD@HOST:PORT/DATABASE`, 'invalid_store');
  }
  const database = decodeURIComponentSafe(url.pathname.replace(/^\//, ''));
  if (database === '' && !url.searchParams.has('database')) {
    throw new UsageError(`${from} names no database: postgres://USER:PASSWORD@HOST:PORT/DATABASE`, 'invalid_store');
  }
  const mode = url.searchParams.get('sslmode');
  if (mode !== null && !SSL_MODES.includes(mode)) {
    const why = mode === 'prefer' || mode === 'allow' ? 'tfactl never falls back to an unencrypted connection' : 'that is no sslmode tfactl knows';
    throw new UsageError(`${from} asks for sslmode=${mode}: ${why}; use disable (loopback, a network you trust), no-verify (encrypted, the certificate not checked), or verify-full (require and verify-ca check it as verify-full does)`, 'invalid_store');
  }
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * libpq's keyword=value form (`host=db user=x password=PW dbname=y`): the whole of it pairs, one of
 * them a connection keyword. A path that only holds `user=` somewhere (`./a b/user=x.db`) is a path.
 */
function isKeywordConnectionString(location: string): boolean {
  const pair = String.raw`[A-Za-z_]+\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S*)`;
  if (!new RegExp(String.raw`^\s*${pair}(?:\s+${pair})*\s*$`).test(location)) return false;
  return /(?:^|\s)(?:host|hostaddr|port|dbname|user|password|passfile|sslmode|service)\s*=/i.test(location);
}

/** Where a PostgreSQL store's key file is, unless TFACTL_KEY_FILE says otherwise. */
export const POSTGRES_KEY_FILE = '/etc/tfactl/tfactl.key';

/** Whether a store location names a PostgreSQL database (postgres:// or postgresql://) rather than a SQLite file. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(location);
}

/**
 * The key file that encrypts the store's secrets: `TFACTL_KEY_FILE`, else beside a SQLite store,
 * else (PostgreSQL) /etc/tfactl/tfactl.key: every host of a site keeps a copy of the same key.
 */
export function resolveKeyPath(storePath: string, env: Readonly<Record<string, string | undefined>>, config?: StoreConfig | null): string {
  if (env.TFACTL_KEY_FILE !== undefined) {
    const given = env.TFACTL_KEY_FILE;
    // As TFACTL_DB: set but empty is a variable that was not, and blanks around a path are pasted
    // ones; either would make (or look for) a key file where no one would find it again.
    if (given === '') throw new UsageError('TFACTL_KEY_FILE is set but empty: name the key file, or unset it for the one beside the store', 'invalid_key_file');
    if (given.trim() !== given) throw new UsageError(`TFACTL_KEY_FILE begins or ends with a blank: name the key file's path as it is`, 'invalid_key_file');
    refuseUnexpandedTilde(given, 'TFACTL_KEY_FILE', 'invalid_key_file');
    return given;
  }
  // The config's key file goes with the config's store, not with another one named on the command line.
  if (config?.keyFile && config.db === storePath) return config.keyFile;
  return isPostgresUrl(storePath) ? POSTGRES_KEY_FILE : `${storePath}.key`;
}

/** A store location as it may be shown: a file's path as it is; a connection string never with its password (nor its options). */
export function displayStoreLocation(location: string): string {
  if (!isPostgresUrl(location)) return location;
  try {
    const url = new URL(location);
    if (url.password) url.password = '***';
    url.search = '';
    return url.toString();
  } catch {
    return 'postgres://(unreadable connection string)';
  }
}
