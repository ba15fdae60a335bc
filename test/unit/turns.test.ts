import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oneStartPerTurn } from '../../src/commands/serve/turns.js';

/** A loop whose turns the test runs by hand. */
function manualTurns() {
  const pending: (() => void)[] = [];
  return {
    nextTurn: (callback: () => void) => void pending.push(callback),
    turn: () => pending.splice(0).forEach((callback) => callback()),
    scheduled: () => pending.length,
  };
}

describe('requests started one per turn', () => {
  it('starts the first at once and the rest one per turn, in the order they came', async () => {
    const loop = manualTurns();
    const inTurn = oneStartPerTurn(loop.nextTurn);
    const started: string[] = [];
    const results = ['a', 'b', 'c', 'd'].map((name) => inTurn(async () => (started.push(name), name.toUpperCase())));
    expect(started).toEqual(['a']);
    loop.turn();
    expect(started).toEqual(['a', 'b']);
    loop.turn();
    loop.turn();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    expect(await Promise.all(results)).toEqual(['A', 'B', 'C', 'D']);
    // The queue is empty: the next turn ends the run, and a request after it starts at once.
    loop.turn();
    expect(loop.scheduled()).toBe(0);
    void inTurn(async () => started.push('e'));
    expect(started.at(-1)).toBe('e');
  });

  it('does not wait for a request that waits on something else', () => {
    const loop = manualTurns();
    const inTurn = oneStartPerTurn(loop.nextTurn);
    const started: string[] = [];
    void inTurn(() => (started.push('slow'), new Promise(() => {})));
    void inTurn(async () => started.push('next'));
    loop.turn();
    expect(started).toEqual(['slow', 'next']);
  });

  it('hands on a request that fails, thrown or rejected, and goes on with the next', async () => {
    const loop = manualTurns();
    const inTurn = oneStartPerTurn(loop.nextTurn);
    const thrown = inTurn(() => {
      throw new Error('thrown');
    });
    const rejected = inTurn(() => Promise.reject(new Error('rejected')));
    const after = inTurn(async () => 'after');
    loop.turn();
    loop.turn();
    await expect(thrown).rejects.toThrow('thrown');
    await expect(rejected).rejects.toThrow('rejected');
    expect(await after).toBe('after');
  });

  it('reads what came on a socket before it starts the next queued request (a real loop)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfactl-turns-'));
    const path = join(dir, 's');
    const events: string[] = [];
    const server = createServer((socket) => socket.on('data', () => events.push('read')));
    await new Promise<void>((ok) => server.listen(path, ok));
    const client = createConnection(path);
    await new Promise((ok) => client.once('connect', ok));
    try {
      const inTurn = oneStartPerTurn();
      // Three requests read in one go, as from one look at the sockets; the second sends data the
      // service reads (in the real service: another client's request).
      const done = Promise.all([
        inTurn(async () => void events.push('first')),
        inTurn(async () => void (events.push('second'), client.write('x'))),
        inTurn(async () => void events.push('third')),
      ]);
      await done;
      await new Promise((ok) => setTimeout(ok, 20));
      expect(events).toEqual(['first', 'second', 'read', 'third']);
    } finally {
      client.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
