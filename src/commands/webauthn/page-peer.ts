import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { endianness } from 'node:os';
import { pageUsers, tcpSocketOwner } from '../../domain/socket-owner.js';

/**
 * The IO behind domain/socket-owner.ts: who this process was started by, and who owns the socket
 * at the other end of a connection to the loopback page (Linux only: elsewhere nothing tells it,
 * and the page's secret is all there is).
 */

/** The users whose connections the page answers, for this process and its environment. */
export function pageUsersOfThisProcess(env: Readonly<Record<string, string | undefined>>): ReadonlySet<number> {
  const uid = process.getuid?.() ?? 0;
  return pageUsers({ uid, euid: process.geteuid?.() ?? uid, loginUid: loginUid(), env });
}

function loginUid(): number | undefined {
  try {
    const text = readFileSync('/proc/self/loginuid', 'utf8').trim();
    return /^\d{1,10}$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Who owns the client's end of `socket`, a connection accepted on 127.0.0.1: a uid, `unknown`
 * when the kernel's tables have no such connection (or cannot be read: the caller refuses), or
 * `unchecked` off Linux.
 */
export function connectionOwner(socket: Socket): number | 'unknown' | 'unchecked' {
  if (process.platform !== 'linux') return 'unchecked';
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (remoteAddress === undefined || remotePort === undefined || localAddress === undefined || localPort === undefined) return 'unknown';
  let table = '';
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      table += readFileSync(file, 'utf8');
    } catch {
      // tcp6 is absent where IPv6 is off; tcp unreadable leaves nothing to match: refused.
    }
  }
  // The client's socket: its local end is our remote one, and the other way round.
  const owner = tcpSocketOwner(table, { address: remoteAddress, port: remotePort }, { address: localAddress, port: localPort }, endianness() === 'LE');
  return owner ?? 'unknown';
}
