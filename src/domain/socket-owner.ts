/**
 * Who is at the other end of a loopback TCP connection, from Linux's socket tables
 * (/proc/net/tcp and /proc/net/tcp6, which the caller reads), and whether that user may use a page
 * served to the user who started tfactl. Pure: no IO.
 *
 * Why: the WebAuthn page's address holds its secret, and a browser started with it shows it in its
 * command line, which every local user can read (`ps`). The secret alone would let another user of
 * the machine answer the page first with a key of their own. Who owns the connecting socket is
 * what the kernel says, and no other user can change it.
 */

/** One end of a TCP connection: an IPv4 address (dotted) or an IPv6 one, and a port. */
export interface TcpEnd {
  readonly address: string;
  readonly port: number;
}

/**
 * The uid that owns the socket whose local end is `local` and whose remote end is `remote`, from
 * the text of /proc/net/tcp or /proc/net/tcp6 (both may be given, one after the other); undefined
 * when no line matches, or the socket is no process's any more (an orphan: inode 0). Addresses there are hex words in the host's byte order
 * (`littleEndian`), ports hex in network order; an IPv4-mapped IPv6 address counts as IPv4.
 */
export function tcpSocketOwner(table: string, local: TcpEnd, remote: TcpEnd, littleEndian: boolean): number | undefined {
  const want = (end: TcpEnd) => `${plainAddress(end.address)}:${end.port}`;
  const [wantLocal, wantRemote] = [want(local), want(remote)];
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
    if (fields.length < 10 || !/^\d+:$/.test(fields[0]!)) continue;
    const [entryLocal, entryRemote] = [decodeEnd(fields[1]!, littleEndian), decodeEnd(fields[2]!, littleEndian)];
    if (entryLocal !== wantLocal || entryRemote !== wantRemote) continue;
    // A socket no process holds any more (closed, waiting out its FIN) is listed as root's, inode
    // 0: it is no one's, and whoever sent from it is not known.
    const [uid, inode] = [fields[7]!, fields[9]!];
    return /^\d{1,10}$/.test(uid) && /^\d+$/.test(inode) && inode !== '0' ? Number(uid) : undefined;
  }
  return undefined;
}

/** `ADDR:PORT` as /proc/net/tcp writes it, decoded; null when it is not in that shape. */
function decodeEnd(text: string, littleEndian: boolean): string | null {
  const m = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(text);
  if (!m) return null;
  const words = m[1]!.match(/.{8}/g)!.map((word) => {
    const bytes = Buffer.from(word, 'hex');
    return littleEndian ? bytes.reverse() : bytes;
  });
  const bytes = Buffer.concat(words);
  return `${bytes.length === 4 ? bytes.join('.') : ipv6Text(bytes)}:${parseInt(m[2]!, 16)}`;
}

/** Sixteen bytes as text: dotted when they are an IPv4-mapped address, else eight hex groups. */
function ipv6Text(bytes: Buffer): string {
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return bytes.subarray(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

/** An address as Node gives it, in the form decodeEnd writes: IPv4-mapped as dotted, IPv6 in eight groups. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head, tail] = address.toLowerCase().split('::') as [string, string | undefined];
  const part = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16).toString(16)) : []);
  const [front, back] = [part(head), part(tail)];
  const middle = tail === undefined ? [] : Array<string>(8 - front.length - back.length).fill('0');
  return [...front, ...middle, ...back].join(':');
}

/** What the process knows about who started it. */
export interface PageOwnerFacts {
  readonly uid: number;
  readonly euid: number;
  /** /proc/self/loginuid: the user who logged in to the session, kept across su and sudo. */
  readonly loginUid: number | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The audit subsystem's "not set" login uid ((uid_t)-1). */
const NO_LOGIN_UID = 4_294_967_295;

/**
 * The users whose browser may use the page: the one running tfactl (real and effective uid), the
 * one who logged in to this session (who became root with su or sudo: their browser, or their
 * SSH tunnel's sshd, connects as them), sudo's and pkexec's invoking user, and root, who could
 * read the secret out of this process anyway.
 */
export function pageUsers(facts: PageOwnerFacts): ReadonlySet<number> {
  const users = new Set<number>([0, facts.uid, facts.euid]);
  if (facts.loginUid !== undefined && facts.loginUid !== NO_LOGIN_UID) users.add(facts.loginUid);
  for (const name of ['SUDO_UID', 'PKEXEC_UID'] as const) {
    const value = facts.env[name];
    if (value !== undefined && /^\d{1,10}$/.test(value)) users.add(Number(value));
  }
  return users;
}
