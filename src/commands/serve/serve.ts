import { chmodSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname } from 'node:path';
import { resolveKeyPath } from '../../domain/store-location.js';
import { UsageError } from '../../errors.js';
import type { Invocation } from '../../invocation.js';
import { openSession, storePath } from '../session.js';
import { answer, errorAnswer, type ApiDeps } from './api.js';
import pkg from '../../../package.json' with { type: 'json' };

export const DEFAULT_SOCKET = '/run/tfactl/tfactl.sock';

/**
 * `tfactl serve`: answers tfactl's API (version 1: /api/v1/health, /api/v1/login) as JSON over
 * HTTP/1.1 on a Unix socket (mode 0666 in a 0755 directory; or the socket systemd passes), in the
 * foreground, one JSON line per request on standard error, never a secret. Only the store's owner
 * runs it. Each request opens the store for itself, so the store's rules (single use, lockout
 * counters, no lost writes) hold between requests exactly as between CLI processes. SIGTERM (or
 * Ctrl-C) stops taking requests, lets those in flight finish, and exits 0.
 */
export async function run(inv: Invocation): Promise<void> {
  const socketOpt = typeof inv.opts.socket === 'string' ? inv.opts.socket : undefined;
  const activated = inv.ctx.env.LISTEN_FDS === '1' && inv.ctx.env.LISTEN_PID === String(process.pid);
  if (activated && socketOpt !== undefined) throw new UsageError('systemd passed a socket: leave out --socket');
  // Only the owner of the store (root@local) serves it.
  const owner = await openSession(inv, { op: 'store.whole', action: 'serve' });
  if (!owner.actor.viaOwnership) throw new UsageError('tfactl serve runs as the owner of the store: leave out --as and --token');
  const path = storePath(inv);
  const keyPath = resolveKeyPath(path, inv.ctx.env);
  const deps: ApiDeps = {
    openStore: async () => {
      const { store } = await inv.ctx.openStore(path, { now: inv.ctx.clock.nowSeconds(), keyPath });
      return { store, keyPath, close: () => void store.close() };
    },
    now: () => inv.ctx.clock.nowSeconds(),
    randomBytes: (n) => inv.ctx.random.bytes(n),
    sleep: (ms) => inv.ctx.clock.sleep(ms),
    version: pkg.version,
  };
  const log = (entry: Record<string, unknown>) => inv.ctx.io.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), ...entry })}\n`);

  let requests = 0;
  const server = createServer({ requestTimeout: 30_000 }, (req, res) => {
    requests++;
    const started = performance.now();
    void answer(req, deps)
      .catch(errorAnswer)
      .then((a) => {
        const text = `${JSON.stringify(a.body)}\n`;
        res.writeHead(a.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' }).end(text);
        log({ method: req.method, path: (req.url ?? '').split('?')[0], status: a.status, ms: Math.round((performance.now() - started) * 10) / 10, ...(a.userid && { userid: a.userid }) });
      });
  });
  const socket = activated ? null : (socketOpt ?? DEFAULT_SOCKET);
  await listen(server, socket);
  log({ listening: socket ?? 'systemd socket', store: path, version: pkg.version });

  await new Promise<void>((done) => {
    const stop = inv.ctx.io.onInterrupt(() => {
      log({ stopping: true });
      server.close(() => {
        stop();
        if (socket !== null) rmSync(socket, { force: true });
        done();
      });
      server.closeIdleConnections();
    });
  });
  inv.out.result({ socket: socket ?? 'systemd', requests }, (r) => `stopped after ${r.requests} request${r.requests === 1 ? '' : 's'}`);
}

async function listen(server: Server, socket: string | null): Promise<void> {
  if (socket === null) {
    await new Promise<void>((ok, fail) => server.once('error', fail).listen({ fd: 3 }, ok));
    return;
  }
  mkdirSync(dirname(socket), { recursive: true, mode: 0o755 });
  // A socket left by a service that died is replaced; any other file is not ours to remove.
  try {
    if (lstatSync(socket).isSocket()) rmSync(socket);
    else throw new UsageError(`--socket ${socket} exists and is not a socket`);
  } catch (e) {
    if (!(e instanceof Error && 'code' in e && e.code === 'ENOENT')) throw e;
  }
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(socket, ok));
  // Every user of the host may connect: each request authenticates itself.
  chmodSync(socket, 0o666);
}
