import type { StoreConfig } from '../domain/store-config.js';
import { resolveStorePath } from '../domain/store-location.js';
import { UsageError } from '../errors.js';

/** Where tfactl serve listens unless told otherwise, and where a CLI looks for it. */
export const DEFAULT_SOCKET = '/run/tfactl/tfactl.sock';

/** How a run reaches the store: directly, or through a tfactl service. */
export type Route =
  | { readonly kind: 'store'; readonly path: string | undefined }
  | { readonly kind: 'service'; readonly address: string; readonly why: string };

export interface RouteInput {
  /** The command's path (`tfa add totp`). */
  readonly command: string;
  readonly db: string | undefined;
  readonly server: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly uid: number;
  readonly home: string;
  /** This host's store config (/etc/tfactl/config), when this user may read it. */
  readonly config?: StoreConfig | null;
}

/** What the file system says, asked only as far as the decision needs. */
export interface RouteProbe {
  /** Whether this process may read and write the store file there. */
  store(path: string): 'usable' | 'missing' | 'denied';
  isSocket(path: string): boolean;
}

/** Never through a service: they need no store, or work on this host's files (`pam config` prints lines that name --server). */
export const HERE_ONLY = new Set(['completion', '__complete', 'pam config']);
/** A store of one's own (`init` makes it): never sent to a service unless one is named. */
const OWN_STORE = new Set(['init', 'serve', 'backup', 'restore']);

/**
 * Where a run goes: the service --server names; the store --db names; the service TFACTL_SERVER
 * names; else the store directly when root runs it, or when this user can open the store file; else the default
 * socket when a service listens there (an ordinary user of a host whose store is root's); else the
 * store directly, which then says what is wrong with it.
 */
export function chooseRoute(input: RouteInput, probe: RouteProbe): Route {
  if (HERE_ONLY.has(input.command)) return { kind: 'store', path: undefined };
  // The command line first: --server, then --db, then TFACTL_SERVER.
  if (input.server !== undefined) return { kind: 'service', address: checkServiceAddress(input.server, '--server'), why: '--server' };
  if (input.db === undefined && input.env.TFACTL_SERVER === '') {
    throw new UsageError("TFACTL_SERVER is set but empty: name the service (its socket, or https://HOST:PORT), or unset it", 'invalid_server');
  }
  const named = input.db === undefined ? input.env.TFACTL_SERVER : undefined;
  if (named !== undefined) return { kind: 'service', address: checkServiceAddress(named, 'TFACTL_SERVER'), why: 'TFACTL_SERVER' };
  const path = resolveStorePath({ flag: input.db, env: input.env, uid: input.uid, home: input.home, config: input.config });
  if (input.db !== undefined || input.uid === 0 || OWN_STORE.has(input.command)) return { kind: 'store', path };
  const state = probe.store(path);
  if (state === 'usable' || !probe.isSocket(DEFAULT_SOCKET)) return { kind: 'store', path };
  return { kind: 'service', address: DEFAULT_SOCKET, why: state === 'missing' ? `there is no store at ${path}` : `the store ${path} is not yours to open` };
}

/** A socket path as --server takes one: absolute, or relative with ./ or ../ (a bare word is no path). */
export const isSocketPath = (address: string) => address.startsWith('/') || address.startsWith('./') || address.startsWith('../');

/**
 * A service's address as --server or TFACTL_SERVER give it (`flag` names it), refused where it is
 * neither a socket path nor a URL, or where it is a URL with a user name or password: the service
 * takes an API token (--token @FILE), and the address is shown in notes, errors and PAM lines.
 * Neither is repeated unless it has the shape of a host or a path (a password pasted there).
 */
export function checkServiceAddress(address: string, flag: string): string {
  if (isSocketPath(address)) return address;
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    const shown = address.trim() === '' ? 'an empty value' : /^[A-Za-z0-9._/-]+$/.test(address) ? address : `a value of ${[...address].length} characters`;
    throw new UsageError(`${flag} takes a socket path (${DEFAULT_SOCKET}) or https://HOST:PORT, not ${shown}`, 'invalid_server');
  }
  if (url.username !== '' || url.password !== '') {
    throw new UsageError(`${flag} holds a user name or password (https://USER:PASSWORD@HOST), not repeated: the service takes none there, only an API token (--token @FILE)`, 'invalid_server');
  }
  return address;
}
