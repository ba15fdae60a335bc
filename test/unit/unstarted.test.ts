import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { connectionToDrop } from '../../src/commands/serve/unstarted.js';

type Conn = { readonly n: number; readonly address: string };
const conns = (...addresses: string[]): Conn[] => addresses.map((address, n) => ({ n, address }));
const addressOf = (c: Conn) => c.address;

describe('the waiting connection dropped to make room', () => {
  it('is the oldest when every one has the same address (the Unix socket)', () => {
    expect(connectionToDrop(conns('', '', ''), addressOf)?.n).toBe(0);
  });

  it('is the oldest of the address holding the most, not an older one of another address', () => {
    expect(connectionToDrop(conns('10.0.0.9', '10.0.0.66', '10.0.0.66', '10.0.0.66'), addressOf)?.n).toBe(1);
  });

  it('on a tie, is the oldest of the address whose oldest waited longest', () => {
    expect(connectionToDrop(conns('b', 'a', 'a', 'b'), addressOf)?.n).toBe(0);
  });

  it('is none when none waits', () => {
    expect(connectionToDrop([], addressOf)).toBeUndefined();
  });

  it('never belongs to an address holding fewer than another, and is that address\'s oldest', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom<string>('a', 'b', 'c', '::1', ''), { minLength: 1, maxLength: 80 }), (addresses) => {
        const waiting = conns(...addresses);
        const dropped = connectionToDrop(waiting, addressOf)!;
        const count = (a: string) => addresses.filter((x) => x === a).length;
        for (const a of addresses) expect(count(dropped.address)).toBeGreaterThanOrEqual(count(a));
        expect(dropped.n).toBe(addresses.indexOf(dropped.address));
      }),
    );
  });
});
