import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { endianness } from 'node:os';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pageUsers, tcpSocketOwner } from '../../src/domain/socket-owner.js';

// Lines as Linux 6.x writes them (trailing columns cut): a listener, both ends of a loopback
// connection owned by uids 0 and 1000, and, in tcp6, an IPv4-mapped and an IPv6 connection.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9A3B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41213 1 0000000000000000 100 0 0 10 0
   1: 0100007F:9A3B 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 41214 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D431 0100007F:9A3B 01 00000000:00000000 00:00000000 00000000  1000        0 41215 1 0000000000000000 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:D432 0000000000000000FFFF00000100007F:9A3B 01 00000000:00000000 00:00000000 00000000 65534        0 5 1
   1: 00000000000000000000000001000000:D433 00000000000000000000000001000000:9A3B 01 00000000:00000000 00:00000000 00000000  1001        0 6 1
`;
const LO = '127.0.0.1';
const end = (address: string, port: number) => ({ address, port });

describe('tcpSocketOwner', () => {
  it('finds the owner of the client end of a loopback connection, not the server end', () => {
    expect(tcpSocketOwner(TCP, end(LO, 0xd431), end(LO, 0x9a3b), true)).toBe(1000);
    expect(tcpSocketOwner(TCP, end(LO, 0x9a3b), end(LO, 0xd431), true)).toBe(0);
  });

  it('reads IPv4-mapped and IPv6 ends from tcp6', () => {
    expect(tcpSocketOwner(TCP + TCP6, end('::ffff:127.0.0.1', 0xd432), end(LO, 0x9a3b), true)).toBe(65534);
    expect(tcpSocketOwner(TCP + TCP6, end(LO, 0xd432), end('::ffff:127.0.0.1', 0x9a3b), true)).toBe(65534);
    expect(tcpSocketOwner(TCP + TCP6, end('::1', 0xd433), end('0:0:0:0:0:0:0:1', 0x9a3b), true)).toBe(1001);
  });

  it('names no owner for a socket no process holds any more (listed as root\'s, inode 0)', () => {
    const orphan = `${TCP.split('\n')[0]}\n   3: 0100007F:D434 0100007F:9A3B 05 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 20 4 30 10 -1\n`;
    expect(tcpSocketOwner(orphan, end(LO, 0xd434), end(LO, 0x9a3b), true)).toBeUndefined();
  });

  it('matches nothing for another port or address, or the wrong byte order', () => {
    expect(tcpSocketOwner(TCP, end(LO, 0xd431), end(LO, 0x9a3c), true)).toBeUndefined();
    expect(tcpSocketOwner(TCP, end('127.0.0.2', 0xd431), end(LO, 0x9a3b), true)).toBeUndefined();
    expect(tcpSocketOwner(TCP, end(LO, 0xd431), end(LO, 0x9a3b), false)).toBeUndefined();
    expect(tcpSocketOwner(TCP.replaceAll('0100007F', '7F000001'), end(LO, 0xd431), end(LO, 0x9a3b), false)).toBe(1000);
  });

  it('never throws on any text, and finds nothing in text without table lines (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(65_535), fc.nat(65_535), (text, a, b) => {
        const owner = tcpSocketOwner(text, end(LO, a), end(LO, b), true);
        if (!/\d+:/.test(text)) expect(owner).toBeUndefined();
      }),
    );
  });

  it("finds this process's own loopback connection in the kernel's table", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, LO, r));
    const accepted = new Promise<import('node:net').Socket>((r) => server.once('connection', r));
    const client = connect((server.address() as { port: number }).port, LO);
    await new Promise((r) => client.once('connect', r));
    const socket = await accepted;
    const table = readFileSync('/proc/net/tcp', 'utf8') + readFileSync('/proc/net/tcp6', 'utf8');
    const owner = tcpSocketOwner(table, end(socket.remoteAddress!, socket.remotePort!), end(socket.localAddress!, socket.localPort!), endianness() === 'LE');
    expect(owner).toBe(process.getuid!());
    client.destroy();
    socket.destroy();
    server.close();
  });
});

describe('pageUsers', () => {
  const facts = { uid: 1000, euid: 1000, loginUid: undefined, env: {} };
  it('is root and the user running tfactl', () => {
    expect([...pageUsers(facts)].sort()).toEqual([0, 1000]);
  });

  it("adds the session's login user and sudo's or pkexec's invoker", () => {
    expect([...pageUsers({ uid: 0, euid: 0, loginUid: 1000, env: { SUDO_UID: '1001', PKEXEC_UID: '1002' } })].sort()).toEqual([0, 1000, 1001, 1002]);
  });

  it('ignores an unset login uid and invoker ids that are not numbers', () => {
    expect([...pageUsers({ ...facts, loginUid: 4_294_967_295, env: { SUDO_UID: '1001x', PKEXEC_UID: '' } })].sort()).toEqual([0, 1000]);
  });
});
