import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.js';
import { processContext } from '../../src/main.js';
import type { Frame } from '../../src/remote/frames.js';
import { acceptCliRun, socketTransport, type Transport } from '../../src/remote/server.js';
import { setUpOn } from '../e2e/harness.js';

/**
 * A run of the service whose client reads no further: the run's output waits once the service holds
 * a megabyte of it, and goes on when the client catches up. The real command (`user list --json`
 * on a SQLite store of 10,000 users, about 4 MB of JSON) through acceptCliRun, with a transport
 * that says how far behind its client is.
 */
const dir = mkdtempSync(join(tmpdir(), 'tfactl-pacing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 'tfactl.db');
const tfactl = setUpOn(db);

let token = '';
beforeAll(() => {
  writeFileSync(join(dir, 'many.csv'), `userid,comment\n${Array.from({ length: 10_000 }, (_, i) => `u${i},${'c'.repeat(200)}`).join('\n')}\n`);
  tfactl('user', 'import', join(dir, 'many.csv'));
  tfactl('user', 'add', 'ops', '--admin', '--no-password');
  token = (JSON.parse(tfactl('token', 'add', 'ops', 'list', '--json')) as { result: { value: string } }).result.value;
}, 60_000);

/** `user list --json` run by the service for a client that reads nothing past the first megabyte until catchUp(). */
function runForSlowClient() {
  const base = processContext();
  const run = { held: 0, behind: true, out: [] as string[], exit: undefined as number | undefined, destroyed: false, catchUp: () => undefined as void, logged: [] as Record<string, unknown>[] };
  const caughtUp = new Promise<void>((resolve) => (run.catchUp = resolve));
  // As a socket's: destroying it ends the conversation (the client has gone) and closes it.
  let clientGone = () => undefined as void;
  let closed = () => undefined as void;
  const ended = new Promise<void>((resolve) => (closed = resolve));
  const transport: Transport = {
    send: (f: Frame) => {
      if (f.t === 'out' && f.fd === 1) {
        run.out.push(String(f.s));
        run.held += String(f.s).length;
      }
      if (f.t === 'exit') run.exit = Number(f.code);
    },
    listen: (onFrame, onEnd) => {
      clientGone = onEnd;
      queueMicrotask(() => onFrame({ t: 'start', argv: ['user', 'list', '--json'], env: { TFACTL_TOKEN: token }, tty: {}, tickets: false }));
    },
    end: () => undefined,
    destroy: () => {
      run.destroyed = true;
      clientGone();
      run.catchUp();
      closed();
    },
    ended,
    caughtUp: () => (run.behind && run.held > 1024 * 1024 ? caughtUp : null),
  };
  const cli = acceptCliRun(transport, { storePath: db, keyPath: `${db}.key`, base, log: (entry) => void run.logged.push(entry), storeFor: () => base.openStore });
  return { run, cli };
}

const until = async (done: () => boolean) => {
  for (const end = Date.now() + 20_000; !done() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
};

describe('the output of a run whose client reads no further', () => {
  it('waits once the service holds a megabyte of it, and goes on, to the end, when the client catches up', async () => {
    const { run } = runForSlowClient();
    // Long enough for the whole listing, had it not waited (it takes well under a second).
    await new Promise((r) => setTimeout(r, 3_000));
    expect(run.exit).toBeUndefined();
    expect(run.held).toBeGreaterThan(1024 * 1024);
    expect(run.held).toBeLessThan(1024 * 1024 + 256 * 1024);

    run.behind = false;
    run.catchUp();
    await until(() => run.exit !== undefined);
    expect(run.exit).toBe(0);
    const listed = JSON.parse(run.out.join('')) as { ok: boolean; result: unknown[] };
    expect(listed.ok).toBe(true);
    expect(listed.result).toHaveLength(10_002);
  }, 60_000);

  it('is cut off when the service stops, instead of keeping the service waiting for the client', async () => {
    const { run, cli } = runForSlowClient();
    await until(() => run.held > 1024 * 1024);
    await new Promise((r) => setTimeout(r, 200));
    expect(run.destroyed).toBe(false);
    cli.stop();
    expect(run.destroyed).toBe(true);
    // The run ends there, cut off (its client sees exit 6: the connection closed before the
    // command ended), without reading the rest of the store.
    await until(() => run.logged.some((e) => e.command === 'user list'));
    expect(run.logged.find((e) => e.command === 'user list')).toMatchObject({ method: 'RUN', exit: ExitCode.cancelled });
    expect(run.held).toBeLessThan(1024 * 1024 + 256 * 1024);
  }, 60_000);
});

describe("a client's socket (socketTransport)", () => {
  it('says its client is behind once the service holds over a megabyte for it, and caught up when it has read it', async () => {
    const path = join(dir, 'pacing.sock');
    let serverSide: Socket | undefined;
    let transport: Transport | undefined;
    const server = createServer((socket) => {
      serverSide = socket;
      transport = socketTransport(socket, Buffer.alloc(0));
    });
    await new Promise<void>((ok) => server.listen(path, ok));
    const client = createConnection(path);
    try {
      client.pause();
      await until(() => transport !== undefined);
      let behind: Promise<void> | null = null;
      for (let sent = 0; behind === null && sent < 64 * 1024 * 1024; sent += 64 * 1024) {
        transport!.send({ t: 'out', fd: 1, s: 'x'.repeat(64 * 1024) });
        behind = transport!.caughtUp!();
      }
      expect(behind).not.toBeNull();
      expect(serverSide!.writableLength).toBeGreaterThan(1024 * 1024);
      expect(serverSide!.writableLength).toBeLessThan(1024 * 1024 + 128 * 1024);
      let caughtUp = false;
      void behind!.then(() => (caughtUp = true));
      await new Promise((r) => setTimeout(r, 300));
      expect(caughtUp).toBe(false);
      client.on('data', () => undefined);
      client.resume();
      await until(() => caughtUp);
      expect(caughtUp).toBe(true);
      expect(transport!.caughtUp!()).toBeNull();
    } finally {
      client.destroy();
      server.close();
    }
  });
});

describe("a listing's writes to a client that has gone", () => {
  it('end the listing with the error, and leave no rejection unhandled, wherever the last piece falls', async () => {
    const { Output } = await import('../../src/output.js');
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      // One item that stops just short of a 64 KB piece (`{"result":[` and its quotes are 13 more
      // characters), so the listing's closing text is what makes the piece and writes it.
      for (const length of [65_490, 65_505, 65_513, 65_520, 65_523]) {
        let written = 0;
        const io = {
          stdout: { write: (t: string) => void (written += t.length), isTTY: false, columns: undefined, caughtUp: () => Promise.reject(new Error('the client has gone')) },
          onInterrupt: () => () => undefined,
        } as unknown as ConstructorParameters<typeof Output>[0];
        const out = new Output(io, true);
        const listing = out.list(
          async function* () {
            yield 'x'.repeat(length);
          },
          { headers: [], empty: '', rows: () => [], json: (x: string) => x },
        );
        if (length + 13 >= 64 * 1024) await expect(listing).rejects.toThrow('the client has gone');
        else await listing;
        expect(written).toBeGreaterThan(length);
      }
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
