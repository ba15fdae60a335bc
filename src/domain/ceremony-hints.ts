/**
 * What to tell the user when a WebAuthn ceremony waits on a loopback page: the URL, the SSH
 * tunnel that brings it to their laptop, and whether to open a browser here. Pure decisions from
 * the environment; commands/webauthn/hints.ts prints them and starts the browser.
 */

/** The `ssh -L` line the user runs on the computer that has the browser and the security key. */
export interface SshTunnelHint {
  /** `ssh -L PORT:127.0.0.1:PORT [-p N] [USER@]HOST`, HOST being `HOST` when it is not known. */
  readonly command: string;
  /** False when HOST is a placeholder the user replaces with the name they reach this machine by. */
  readonly hostKnown: boolean;
}

/** A program that opens a URL in the desktop's browser. */
export interface BrowserLaunch {
  readonly program: 'xdg-open' | 'open';
  readonly args: readonly string[];
}

export interface CeremonyHints {
  readonly url: string;
  /** Set inside an SSH session. */
  readonly sshTunnel: SshTunnelHint | null;
  /** Set when a browser should be opened here. */
  readonly browser: BrowserLaunch | null;
}

export interface CeremonyHintsInput {
  readonly url: string;
  readonly port: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** process.platform */
  readonly platform: string;
  /** False with --no-open: never start a browser. */
  readonly open: boolean;
}

/** The placeholder in the ssh line when this machine's address is not known. */
export const UNKNOWN_SSH_HOST = 'HOST';

/**
 * Inside an SSH session (SSH_CONNECTION or SSH_CLIENT set) the browser and the security key are on
 * the user's own computer, so: the tunnel line, and no browser here, even with a DISPLAY (a
 * forwarded X display would run the browser on this host, far from the key; on macOS `open` would
 * show it on this Mac's screen). Otherwise a browser is opened when there is a desktop: DISPLAY or
 * WAYLAND_DISPLAY set, or macOS.
 */
export function ceremonyHints(input: CeremonyHintsInput): CeremonyHints {
  const { env, port } = input;
  const inSsh = nonEmpty(env.SSH_CONNECTION) || nonEmpty(env.SSH_CLIENT);
  const sshTunnel = inSsh ? sshTunnelHint(port, env) : null;
  const desktop = input.platform === 'darwin' || nonEmpty(env.DISPLAY) || nonEmpty(env.WAYLAND_DISPLAY);
  const browser: BrowserLaunch | null =
    input.open && desktop && !inSsh ? { program: input.platform === 'darwin' ? 'open' : 'xdg-open', args: [input.url] } : null;
  return { url: input.url, sshTunnel, browser };
}

function sshTunnelHint(port: number, env: Readonly<Record<string, string | undefined>>): SshTunnelHint {
  // SSH_CONNECTION is "client-address client-port server-address server-port": the server address is
  // the one the user's ssh reached. SSH_CLIENT (older) has no server address, only its port.
  const connection = (env.SSH_CONNECTION ?? '').trim().split(/\s+/);
  const client = (env.SSH_CLIENT ?? '').trim().split(/\s+/);
  const address = connection.length === 4 ? reachableAddress(connection[2]!) : null;
  const sshPort = connection.length === 4 ? connection[3] : client.length === 3 ? client[2] : undefined;
  const portFlag = sshPort !== undefined && /^\d{1,5}$/.test(sshPort) && sshPort !== '22' ? ` -p ${sshPort}` : '';
  const user = env.USER ?? env.LOGNAME;
  // Only a plain login name is put in front of the host: anything else would need quoting.
  const userPart = address !== null && user !== undefined && /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(user) ? `${user}@` : '';
  return { command: `ssh -L ${port}:127.0.0.1:${port}${portFlag} ${userPart}${address ?? UNKNOWN_SSH_HOST}`, hostKnown: address !== null };
}

/**
 * The server address from SSH_CONNECTION when the user's computer can use it: an IPv4 or IPv6
 * address, not a loopback one (the session came through a tunnel or a jump whose far end we
 * cannot see) and not a link-local IPv6 one (its zone is this host's, not the laptop's).
 */
function reachableAddress(text: string): string | null {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(text);
  const address = mapped ? mapped[1]! : text;
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(address)) {
    const octets = address.split('.').map(Number);
    if (octets.some((o) => o > 255)) return null;
    return octets[0] === 127 || octets[0] === 0 ? null : address;
  }
  if (!/^[0-9a-f:]+$/i.test(address) || !address.includes(':')) return null;
  const lower = address.toLowerCase();
  if (lower === '::1' || lower === '::' || /^fe[89ab][0-9a-f]?:/.test(lower)) return null;
  return lower;
}

function nonEmpty(v: string | undefined): boolean {
  return v !== undefined && v.trim() !== '';
}
