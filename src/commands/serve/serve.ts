import { existsSync, lstatSync, rmSync, statSync, type Stats } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { connect, isIP, type Socket } from 'node:net';
import { dirname, resolve } from 'node:path';
import { displayStoreLocation, isPostgresUrl } from '../../domain/store-location.js';
import { ExitCode, RefusedError, StoreError, UsageError } from '../../errors.js';
import { INPUT_LIMITS, makeDirectories, readInputFile, refuseReplaceableDirectory } from '../../files.js';
import type { Invocation } from '../../invocation.js';
import { keyPathOf, openSession, storePath } from '../session.js';
import { fileOpt } from '../options.js';
import { createSession, secretKeyLoader, type Store } from '../../services/session.js';
import { keepAuditTrail } from './retention.js';
import { answer, errorAnswer, type ApiDeps } from './api.js';
import pkg from '../../../package.json' with { type: 'json' };
import { acceptCliRun, fileBudget, runRequest, socketTransport, type CliRun } from '../../remote/server.js';
import { PROTOCOL, RUN_PATH } from '../../remote/frames.js';
import { DEFAULT_SOCKET } from '../../remote/route.js';
import { parsePamArgv } from '../../pam-argv.js';
import { parseTokenValue } from '../../domain/api-token.js';
import type { Duplex } from 'node:stream';
import { oneStartPerTurn } from './turns.js';
import { connectionToDrop } from './unstarted.js';
import { errnoText } from '../../domain/errno.js';

/**
 * `tfactl serve`: answers tfactl's API (version 1: /api/v1/health, /api/v1/login) as JSON over
 * HTTP/1.1 on a Unix socket (mode 0666 in a 0755 directory; or the socket systemd passes), in the
 * foreground, one JSON line per request on standard error, never a secret. Only the store's owner
 * runs it. Each request has a store connection of its own while it runs (a small pool), so the
 * store's rules (single use, lockout counters, no lost writes) hold between requests exactly as
 * between CLI processes. SIGTERM (or
 * Ctrl-C) stops taking requests, lets those in flight finish, and exits 0.
 */
export async function run(inv: Invocation): Promise<void> {
  const socketOpt = typeof inv.opts.socket === 'string' ? socketPath(inv.opts.socket) : undefined;
  const tcp = tcpListener(inv);
  if (tcp?.tls) await checkTls(tcp.tls);
  const activated = inv.ctx.env.LISTEN_FDS === '1' && inv.ctx.env.LISTEN_PID === String(process.pid);
  if (activated && socketOpt !== undefined) throw new UsageError('systemd passed a socket: leave out --socket');
  // A store made by this start (a mistyped path, on SQLite) is said in the log: every user would
  // otherwise meet an empty store, unknown to it.
  const madeNow = !isPostgresUrl(storePath(inv)) && !existsSync(storePath(inv));
  // Only the owner of the store (root@local) serves it.
  const owner = await openSession(inv, { op: 'store.whole', action: 'serve' }, { creates: true, saysCreated: true });
  if (!owner.actor.viaOwnership) throw new UsageError('tfactl serve runs as the owner of the store: leave out --as and --token');
  const path = storePath(inv);
  const keyPath = keyPathOf(inv, path);
  // A store that has gone from its place is not made anew by the service (opening a path makes a
  // store there): that is the owner's to do.
  const refuseMissing = () => {
    if (!isPostgresUrl(path) && !existsSync(path)) throw new StoreError(`the tfactl service's store ${path} is not there: ask its owner`, 'store_missing');
  };
  // Each pooled connection reads the key file once (a store's key never changes: restore insists
  // on the same key), not once a request.
  // Why the store cannot be opened goes to the service's log; its clients, who may not have signed
  // in yet, are told that it cannot (a PostgreSQL store's role, host, port and database are not theirs to learn).
  const openOwnStore = async () => {
    refuseMissing();
    try {
      return (await inv.ctx.openStore(path, { now: inv.ctx.clock.nowSeconds(), keyPath, longLived })).store;
    } catch (e) {
      if (!(e instanceof StoreError) || e.code !== 'store_unavailable') throw e;
      log({ store: shownStore, trouble: e.message });
      throw new StoreError("the tfactl service cannot reach its store (its owner finds why in the service's log): try again later", e.code);
    }
  };
  const pool = connectionPool(POOL_SIZE, async () => {
    const store = await openOwnStore();
    return { store, secretKey: secretKeyLoader(store, keyPath) };
  });
  inv.onExit(() => pool.closeAll());
  const deps: ApiDeps = {
    openStore: async () => {
      // A pooled connection to a store file since moved away would go on reading and writing it: not the store.
      refuseMissing();
      const { store, release } = await pool.acquire();
      return { store: store.store, secretKey: store.secretKey, close: release };
    },
    now: () => inv.ctx.clock.nowSeconds(),
    randomBytes: (n) => inv.ctx.random.bytes(n),
    sleep: (ms) => inv.ctx.clock.sleep(ms),
    version: pkg.version,
    runCommand: async (request) => {
      // A PAM check or prompt with a token that may act has a PAM place and a pooled connection,
      // as the CLI's PAM lines have (startRun); anything else shares the other places.
      const pam = request.pam === true && request.token !== undefined && (await tokenMayAct(request.token));
      const place = takePlace(pam, '');
      if (place instanceof StoreError) throw place;
      try {
        // Its place taken here: an HTTP request's run answers its own calls, waiting on nobody.
        return await runRequest(request, { ...side, startRun: undefined, storeFor: () => (pam ? borrowForRun : openForRun) });
      } finally {
        place();
      }
    },
  };
  const log = (entry: Record<string, unknown>) => inv.ctx.io.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), ...entry })}\n`);
  // One for every connection the service opens: trouble of the store's, said once, is logged once.
  // The log is the journal's: a connection string goes in without its password.
  const shownStore = displayStoreLocation(path);
  const longLived = { troubled: (trouble: string) => log({ store: shownStore, trouble }) };

  let requests = 0;
  /** HTTP requests being answered: once stopping, the connections are closed when none is. */
  let answering = 0;
  let closeWhenAnswered = () => undefined as void;
  const inTurn = oneStartPerTurn();
  // What a connection holds before anything checks who sent it: a file descriptor, and while its
  // request's body comes, up to 4 MiB. Past MAX_UNSTARTED connections waiting for a request
  // (idle, or its headers not all there), or reading a body, for a second or more, the oldest of
  // the busiest address among those is dropped (unstarted.ts); past MAX_UNSTARTED_BURST, whatever
  // their age. A flood of them cannot use up the service's descriptors or memory, nor keep out the
  // sign-in that comes after it, whose request comes whole at once; a burst of clients that all
  // connect at the same moment, each about to send its request, is let be.
  const waiting = new Set<Duplex>();
  const reading = new Set<Duplex>();
  const since = new WeakMap<Duplex, number>();
  const addressOf = (c: Duplex) => (c as Partial<Socket>).remoteAddress ?? '';
  const admit = (set: Set<Duplex>, c: Duplex, why: string) => {
    const drop = (dropped: Duplex) => {
      set.delete(dropped);
      log({ refused: `dropped: ${why}, and newer connections waiting` });
      dropped.destroy();
    };
    if (set.size >= MAX_UNSTARTED) {
      const now = performance.now();
      const settled = [...set].filter((x) => now - (since.get(x) ?? now) >= UNSTARTED_SETTLE_MS);
      while (set.size >= MAX_UNSTARTED && settled.length > 0) {
        const dropped = connectionToDrop(settled, addressOf) as Duplex;
        settled.splice(settled.indexOf(dropped), 1);
        drop(dropped);
      }
      if (set.size >= MAX_UNSTARTED_BURST) drop(connectionToDrop(set, addressOf) as Duplex);
    }
    since.set(c, performance.now());
    set.add(c);
  };
  const connected = (c: Duplex) => {
    admit(waiting, c, 'no request yet');
    c.once('close', () => {
      waiting.delete(c);
      reading.delete(c);
    });
  };
  const handle: RequestListener = (req, res) => {
    requests++;
    answering++;
    const connection = req.socket;
    waiting.delete(connection);
    if (!req.complete) {
      admit(reading, connection, 'its request not all sent');
      req.once('end', () => reading.delete(connection));
    }
    res.once('close', () => {
      reading.delete(connection);
      // Kept alive for another request: waiting again.
      if (!connection.destroyed) admit(waiting, connection, 'no request yet');
    });
    res.once('close', () => {
      answering--;
      closeWhenAnswered();
    });
    const started = performance.now();
    void inTurn(() => answer(req, deps))
      .catch(errorAnswer)
      .then((a) => {
        // A PAM line's text (/api/v1/pam/...) as it is, its exit code in its type; anything else the JSON envelope.
        const plain = typeof a.body === 'string';
        const text = plain ? (a.body as string) : `${JSON.stringify(a.body)}\n`;
        const type = plain ? `text/plain; charset=utf-8; tfactl-exit=${a.command?.exit ?? ExitCode.internal}` : 'application/json';
        res.writeHead(a.status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...(a.allow && { Allow: a.allow }) }).end(text);
        log({ method: req.method, path: (req.url ?? '').split('?')[0], status: a.status, ms: Math.round((performance.now() - started) * 10) / 10, ...(a.userid && { userid: a.userid }), ...(a.command && { command: a.command.name, exit: a.command.exit }) });
      });
  };
  // The CLI as a client: `GET /api/v1/run` upgraded to the tfactl-cli protocol (src/remote/).
  // Each run opens the store for itself and closes it when it ends, as a CLI process would: a
  // connection handed on to the next run could still carry work of the last (an import's lanes).
  const openForRun = async () => ({ store: await openOwnStore(), created: false });
  // What PAM runs at every sign-in with an API token (`pam config --server --token` lines) is one
  // check that waits on nobody while it holds the store (the token is checked at once, the answer
  // read before) and leaves nothing running when it ends: it borrows a pooled connection. A run
  // that could wait on a person (a password, a kept session) never holds one of the pool's.
  const borrowForRun = async () => {
    refuseMissing();
    const { store, release } = await pool.acquire();
    return { store: lentStore(store.store, release), created: false, secretKey: store.secretKey };
  };
  // Places for runs. What pam_exec runs with an API token, its answer sent with it, waits on
  // nobody (it asks its client nothing, and borrows a pooled connection only to check): it has
  // places of its own, so a user holding every other place (commands waiting on answers never
  // given) cannot refuse everyone's sign-in. A connection holds no place until it says what to run.
  let pamRuns = 0;
  let otherRuns = 0;
  // Over TCP, one address (an IPv6 /64) holds at most MAX_RUNS_PER_ADDRESS of the other places: a
  // client that needs no credential to wait at a password prompt would otherwise hold every one
  // from one host. Local clients (the socket: address '') are the host's own users; PAM runs with
  // a token that may act have places of their own, which no such client can hold.
  const placesOf = new Map<string, number>();
  /** A PAM place or another: what gives it back, or why there is none (the service is busy: exit 6). */
  const takePlace = (pam: boolean, address: string): (() => void) | StoreError => {
    if (pam && pamRuns >= MAX_PAM_RUNS) return new StoreError(`the tfactl service is busy (${MAX_PAM_RUNS} sign-ins being checked): try again shortly`, 'service_busy');
    if (!pam && otherRuns >= MAX_RUNS) return new StoreError(`the tfactl service is busy (${MAX_RUNS} commands running): try again shortly`, 'service_busy');
    const counted = !pam && address !== '';
    if (counted && (placesOf.get(address) ?? 0) >= MAX_RUNS_PER_ADDRESS) {
      return new StoreError(`the tfactl service is busy (${MAX_RUNS_PER_ADDRESS} commands from ${address} running): try again shortly`, 'service_busy');
    }
    if (pam) pamRuns++;
    else otherRuns++;
    if (counted) placesOf.set(address, (placesOf.get(address) ?? 0) + 1);
    return () => {
      if (pam) pamRuns--;
      else otherRuns--;
      if (!counted) return;
      const left = (placesOf.get(address) ?? 1) - 1;
      if (left > 0) placesOf.set(address, left);
      else placesOf.delete(address);
    };
  };
  const startRun = async (argv: readonly string[], firstLine: boolean, sentFile: (path: string) => Buffer | undefined, address = ''): Promise<(() => void) | string> => {
    const pam = parsePamArgv(argv);
    const token = pam?.opts.token;
    // Only with a token that may act (read, not audited: the run checks it again): else anyone
    // could hold these places with runs of a made-up token.
    const place = takePlace(typeof token === 'string' && (pam?.command === 'pam prompt' || firstLine) && (await tokenMayAct(tokenFileText(token, sentFile))), address);
    return place instanceof StoreError ? place.message : place;
  };
  /** The text of `--token @FILE`, from the file the client sent. */
  const tokenFileText = (flag: string, sentFile: (path: string) => Buffer | undefined): string | undefined =>
    flag.startsWith('@') ? sentFile(flag.slice(1))?.toString('utf8').replace(/^\uFEFF/, '').trim() : undefined;
  /**
   * Whether `text` is a token of this store that may act now, and check other users' sign-ins (an
   * admin's, as PAM lines' tokens are): read, not audited (the run checks it again). A user's own
   * token could otherwise hold the sign-ins' places with failing checks of their own.
   */
  const tokenMayAct = async (text: string | undefined): Promise<boolean> => {
    const presented = text !== undefined && parseTokenValue(text);
    if (!presented) return false;
    const { tokenRefusal } = await import('../../services/tokens.js');
    const { store, release } = await pool.acquire();
    try {
      const { reason, user } = await tokenRefusal(store.store, presented, inv.ctx.clock.nowSeconds());
      return reason === null && user?.admin === true;
    } catch {
      return false;
    } finally {
      release();
    }
  };
  const side = { storePath: path, keyPath, base: inv.ctx, log, startRun, files: fileBudget(FILES_HELD_MAX), storeFor: (argv: readonly string[]) => (parsePamArgv(argv)?.opts.token !== undefined ? borrowForRun : openForRun) };
  const runs = new Set<CliRun>();
  /** Connections upgraded that have not yet said what to run (a CLI says it with its request), oldest first. */
  const unstarted = new Set<Duplex>();
  let stopping = false;
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    requests++;
    // Node's HTTP server stops listening for the socket's errors once it hands it over: a client
    // that resets it (while its refusal is written, say) would otherwise end the service.
    socket.on('error', () => socket.destroy());
    waiting.delete(socket);
    if ((req.url ?? '').split('?')[0] === RUN_PATH && req.headers.upgrade?.toLowerCase() === PROTOCOL) {
      // A client sends its command with its request: once stopping, it is not started at all.
      if (stopping) {
        log({ method: req.method, path: RUN_PATH, status: 503, stopping: true });
        refuse(socket, '503 Service Unavailable');
        return;
      }
      // Room for the newest: a flood of connections that say nothing must not refuse the sign-in
      // after it, nor drop the connections of other addresses (unstarted.ts).
      if (unstarted.size >= MAX_UNSTARTED) {
        const dropped = connectionToDrop(unstarted, (c) => (c as Partial<Socket>).remoteAddress ?? '') as Duplex;
        unstarted.delete(dropped);
        log({ method: 'RUN', refused: 'dropped: no command yet, and newer connections waiting' });
        dropped.destroy();
      }
      unstarted.add(socket);
      socket.once('close', () => unstarted.delete(socket));
      const run = acceptCliRun(socketTransport(socket, head), {
        ...side,
        startRun: (argv, firstLine, sentFile) => {
          unstarted.delete(socket);
          return startRun(argv, firstLine, sentFile, addressGroup(addressOf(socket)));
        },
      });
      runs.add(run);
      void run.ended.then(() => runs.delete(run));
      return;
    }
    log({ method: req.method, path: (req.url ?? '').split('?')[0], status: 400, upgrade: req.headers.upgrade });
    refuse(socket, '400 Bad Request');
  };
  const server = createServer({ requestTimeout: 30_000 }, handle).on('upgrade', upgrade).on('connection', connected);
  const socket = activated ? null : (socketOpt ?? DEFAULT_SOCKET);
  const made = await listen(server, socket);
  const servers = [server];
  let tcpAddress: string | undefined;
  if (tcp) {
    const tls = tcp.tls && (await import('node:https')).createServer({ requestTimeout: 30_000, handshakeTimeout: HANDSHAKE_MS, cert: tcp.tls.cert, key: tcp.tls.key }, handle);
    const onTcp = (tls || createServer({ requestTimeout: 30_000 }, handle)).on('upgrade', upgrade);
    onTcp.on('connection', connected);
    // Over TLS the connection a request arrives on is the TLS one: a connection counts as waiting
    // from its first byte, handshake or not (a flood that never starts TLS is dropped as any
    // other silent one), and its TLS side takes its place once the handshake is done.
    if (tls) {
      tls.on('secureConnection', (c: Duplex & { readonly _parent?: Duplex }) => {
        if (c._parent) waiting.delete(c._parent);
        connected(c);
      });
      tls.on('tlsClientError', (_e, c) => c.destroy());
    }
    await new Promise<void>((ok, fail) => onTcp.once('error', fail).listen(tcp.port, tcp.host, ok)).catch((e: unknown) => {
      server.close();
      throw new UsageError(`cannot listen on ${tcp.host}:${tcp.port}: ${errnoText(e)}`, 'listen_failed');
    });
    const bound = onTcp.address() as { address: string; port: number };
    tcpAddress = `${tls ? 'https' : 'http'}://${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}`;
    servers.push(onTcp);
  }
  // audit.keep-days, when set, kept as the service starts and every hour, on a pooled connection
  // as root@local (the owner serving the store).
  const retention = await keepAuditTrail(async (fn) => {
    const { store, release } = await pool.acquire();
    try {
      return await fn(createSession({ store: store.store, actor: owner.actor, clock: inv.ctx.clock, random: owner.random, hostname: owner.hostname, keyPath, secretKey: store.secretKey }));
    } finally {
      release();
    }
  }, log);
  log({ listening: socket ?? 'systemd socket', ...(tcpAddress && { tcp: tcpAddress }), store: shownStore, ...(madeNow && { created: 'a new, empty store: check the path if one was meant to be there' }), version: pkg.version });

  await new Promise<void>((done) => {
    const stop = inv.ctx.io.onInterrupt(() => {
      log({ stopping: true });
      stopping = true;
      void retention.stop();
      // Commands of the CLI waiting for their users end now; those working on the store finish.
      for (const run of runs) run.stop();
      let open = servers.length;
      for (const each of servers) {
        each.close(() => {
          if (--open > 0) return;
          stop();
          // Only the socket this service made: another may have replaced it since (tfactl serve refuses
          // to, but anyone who may write the directory could).
          if (socket !== null && made !== null && sameFile(socket, made)) rmSync(socket, { force: true });
          done();
        });
        each.closeIdleConnections();
      }
      // A connection that has not sent a whole request (silent, or halfway through its headers)
      // has nothing in flight, but Node's timeouts stop once a server closes: it would hold the
      // service up for as long as its client liked. Closed as soon as no request is being answered.
      closeWhenAnswered = () => {
        if (answering === 0) for (const each of servers) each.closeAllConnections();
      };
      // Nor does one whose request's body has not all come (its command never started), nor one
      // waiting for a request while others are answered.
      for (const c of [...waiting, ...reading]) c.destroy();
      closeWhenAnswered();
      // A request whose client never sends its body, or never reads the answer, is in flight for
      // as long as its client likes: past STOP_GRACE_MS every connection is closed.
      setTimeout(() => {
        for (const each of servers) each.closeAllConnections();
      }, STOP_GRACE_MS).unref();
    });
  });
  // A pruning under way ends after its batch, its entry written, before the connections close.
  await retention.stop();
  inv.out.result({ socket: socket ?? 'systemd', requests }, (r) => `stopped after ${r.requests} request${r.requests === 1 ? '' : 's'}`);
}

/** Commands of clients running at once, each with a store connection: more are turned away (exit 6, service_busy) until one ends. */
const MAX_RUNS = 256;
/** The address a TCP client's places are counted under: an IPv4 address, or an IPv6 address's /64. */
function addressGroup(address: string): string {
  if (!address.includes(':') || /^::ffff:\d/i.test(address)) return address;
  const [head = '', tail] = address.split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? front : [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '').toLowerCase()).join(':')}::/64`;
}

/** Commands of one TCP address running at once (see takePlace). */
const MAX_RUNS_PER_ADDRESS = 16;
/** PAM checks and prompts with an API token running at once (places of their own: see startRun). */
const MAX_PAM_RUNS = 64;
/** How long a TCP client has to finish the TLS handshake (Node's default is 120 s). */
const HANDSHAKE_MS = 10_000;
/** How long a stopping service lets the HTTP requests in flight finish (a sign-in takes well under a second). */
const STOP_GRACE_MS = 10_000;
/**
 * What the service holds of files clients sent with their commands, all runs together: a run
 * keeps them until it ends and may wait on its user for minutes, and each may send 65 MiB (an
 * import), so without this anyone could make the service hold gigabytes. Four such imports fit.
 */
const FILES_HELD_MAX = 256 * 1024 * 1024;
/** Connections that have not said what to run (for at most 10 s): past this many, one is dropped (unstarted.ts). */
const MAX_UNSTARTED = 64;
/** How long a plain HTTP connection may wait before it counts against MAX_UNSTARTED: its request is on its way. */
const UNSTARTED_SETTLE_MS = 1000;
/** Plain HTTP connections waiting at once however young: past this many, the oldest of the busiest address goes. */
const MAX_UNSTARTED_BURST = 256;

/**
 * Answers an upgrade request with `status` and closes. What the client sent after its request (a
 * CLI sends its command with it) is read and dropped: a socket closed with unread data resets the
 * connection, and the client could lose the answer that says why.
 */
function refuse(socket: Duplex, status: string): void {
  socket.resume();
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Store connections kept open: each serves one request at a time, as one CLI process would. */
const POOL_SIZE = 16;

/** A pooled store lent to a run: closing it gives it back to the pool. */
function lentStore(store: Store, release: () => void): Store {
  return new Proxy(store, { get: (target, key) => (key === 'close' ? release : Reflect.get(target, key, target)) });
}

/** A pooled connection and its key loader. */
interface PooledStore {
  readonly store: Store;
  readonly secretKey: (tx?: Store) => Promise<Buffer>;
}

/**
 * Up to `size` store connections, each lent to one request at a time: a request's transactions
 * never interleave with another's on one connection, so the store's rules hold between requests
 * as between processes, without opening the store for every request.
 */
function connectionPool(size: number, open: () => Promise<PooledStore>) {
  const idle: PooledStore[] = [];
  /** Requests waiting for a connection: given one, or null when a place came free for a new one. */
  const waiting: ((store: PooledStore | null) => void)[] = [];
  const all: PooledStore[] = [];
  let opening = 0;
  // A connection the server ended (a restart, a backend terminated) is closed and its place
  // freed: kept, it would fail every request it was lent to.
  const drop = (lost: PooledStore) => {
    lost.store.close();
    all.splice(all.indexOf(lost), 1);
  };
  const release = (store: PooledStore) => {
    const lost = store.store.connectionLost;
    if (lost) drop(store);
    const next = waiting.shift();
    if (next) next(lost ? null : store);
    else if (!lost) idle.push(store);
  };
  return {
    async acquire(): Promise<{ store: PooledStore; release: () => void }> {
      for (;;) {
        let store = idle.pop();
        while (store?.store.connectionLost) {
          drop(store);
          store = idle.pop();
        }
        if (!store && all.length + opening < size) {
          opening++;
          try {
            store = await open();
            all.push(store);
          } catch (e) {
            // The place stays free: a waiting request tries it (the store may be back by then).
            opening--;
            waiting.shift()?.(null);
            throw e;
          }
          opening--;
        }
        store ??= (await new Promise<PooledStore | null>((r) => waiting.push(r))) ?? undefined;
        if (store === undefined) continue;
        const lent = store;
        let released = false;
        return {
          store: lent,
          release: () => {
            if (released) return;
            released = true;
            release(lent);
          },
        };
      }
    },
    closeAll(): void {
      for (const pooled of all) void pooled.store.close();
    },
  };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * `--listen HOST:PORT` (with `--tls-cert FILE --tls-key FILE`): TCP besides the socket. Plain HTTP
 * only on a loopback address; anywhere else TLS or nothing.
 */
function tcpListener(inv: Invocation): { host: string; port: number; tls: { cert: Buffer; key: Buffer } | null } | null {
  const opt = (name: string) => (typeof inv.opts[name] === 'string' ? (inv.opts[name] as string) : undefined);
  const listenOpt = opt('listen');
  const certFile = fileOpt(inv, 'tlsCert', '--tls-cert');
  const keyFile = fileOpt(inv, 'tlsKey', '--tls-key');
  if (listenOpt === undefined) {
    if (certFile !== undefined || keyFile !== undefined) throw new UsageError('--tls-cert and --tls-key go with --listen HOST:PORT');
    return null;
  }
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(0|[1-9]\d{0,4})$/.exec(listenOpt);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || port > 65_535 || (host !== 'localhost' && isIP(host) === 0)) {
    throw new UsageError(`invalid --listen ${JSON.stringify(listenOpt)}: HOST:PORT, HOST an IP address (IPv6 in brackets) or localhost`);
  }
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('give both --tls-cert and --tls-key');
  if (certFile === undefined && !LOOPBACK.has(host)) {
    throw new UsageError(`--listen ${listenOpt} is not a loopback address: give --tls-cert and --tls-key (tfactl never serves plain HTTP beyond loopback)`);
  }
  const read = (file: string, flag: string) => readInputFile(file, { name: `the ${flag} file`, maxBytes: INPUT_LIMITS.secretFile * 16 });
  if (certFile === undefined || keyFile === undefined) return { host, port, tls: null };
  const tls = { cert: read(certFile, '--tls-cert'), key: read(keyFile, '--tls-key') };
  // A group may read it (Debian's ssl-cert); everyone may not.
  const mode = statSync(keyFile).mode;
  if (mode & 0o004) {
    throw new UsageError(`the --tls-key file ${keyFile} is readable by others (mode 0${(mode & 0o777).toString(8)}): run chmod o-r on it`, 'file_permissions');
  }
  return { host, port, tls };
}

/** Refuses a certificate and key TLS cannot serve with (not PEM, not a pair), before anything listens. */
async function checkTls(tls: { readonly cert: Buffer; readonly key: Buffer }): Promise<void> {
  const { createPrivateKey, X509Certificate } = await import('node:crypto');
  const fail = (why: string) => new UsageError(`--tls-cert and --tls-key cannot serve TLS: ${why}`, 'invalid_tls');
  let certificate;
  try {
    certificate = new X509Certificate(tls.cert);
  } catch {
    throw fail('the --tls-cert file holds no PEM certificate');
  }
  let key;
  try {
    key = createPrivateKey(tls.key);
  } catch {
    throw fail('the --tls-key file holds no PEM private key (or one locked with a passphrase)');
  }
  // OpenSSL takes an RSA key beside an EC certificate (one of each kind) and fails each handshake.
  if (!certificate.checkPrivateKey(key)) throw fail("the key is not the certificate's");
  const { createSecureContext } = await import('node:tls');
  try {
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (e) {
    throw fail(`OpenSSL cannot use them (${(e instanceof Error ? e.message : String(e)).replace(/^error:[0-9A-F]+:/, '').slice(0, 200)})`);
  }
}

/**
 * `--socket` as a path to listen on: absolute, and short enough for a Unix socket's address (108
 * bytes with its end: Linux would cut a longer one, and the service would listen on another name).
 */
function socketPath(given: string): string {
  if (given === '' || given.trim() !== given) throw new UsageError('--socket needs the path of the socket to listen on, without blanks around it', 'invalid_socket');
  const path = resolve(given);
  if (Buffer.byteLength(path) > SOCKET_PATH_MAX) throw new UsageError(`--socket ${path.slice(0, 60)}... is ${Buffer.byteLength(path)} bytes long: a Unix socket's path takes at most ${SOCKET_PATH_MAX}`, 'invalid_socket');
  // Its own directory is made when it is not there (/run/tfactl after a reboot), not a path of
  // them: a mistyped one would be left behind, made by root. Said before any store is opened.
  if (!existsSync(dirname(dirname(path)))) throw new UsageError(`cannot listen on ${path}: the directory ${dirname(dirname(path))} does not exist`, 'listen_failed');
  return path;
}

/** The longest path a Unix socket may have here (sun_path holds 108 bytes, its end included). */
const SOCKET_PATH_MAX = 107;

async function listen(server: Server, socket: string | null): Promise<Stats | null> {
  if (socket === null) {
    await new Promise<void>((ok, fail) => server.once('error', fail).listen({ fd: 3 }, ok));
    return null;
  }
  const fail = (e: unknown, what: string): never => {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot ${what}: ${errnoText(e)}`, 'listen_failed');
  };
  try {
    makeDirectories(dirname(socket), 0o755);
  } catch (e) {
    fail(e, `make the directory of --socket ${socket}`);
  }
  // Where another user may write, they could take the socket's name (clients would tell them
  // passwords) or swap what the service makes there.
  refuseReplaceableDirectory(dirname(socket), process.geteuid?.() ?? 0, 'the directory of --socket');
  // A socket left by a service that died is replaced; one something still answers on is another
  // service's (taking it over would cut that one off, and stopping would remove its socket); any
  // other file is not ours to remove.
  try {
    if (!lstatSync(socket).isSocket()) throw new UsageError(`--socket ${socket} exists and is not a socket`);
    if (await answers(socket)) throw new RefusedError(`something already listens on --socket ${socket} (another tfactl serve?): stop it first, or give another --socket`, 'socket_in_use');
    rmSync(socket);
  } catch (e) {
    if (e instanceof RefusedError) throw e;
    if (!(e instanceof Error && 'code' in e && e.code === 'ENOENT')) fail(e, `replace --socket ${socket}`);
  }
  // Every user of the host may connect (each request authenticates itself): the socket is made
  // 0666 by the umask of its making. Never chmod by name afterwards: that follows a symlink
  // someone put in its place.
  // The socket is made (bound) within listen's call: the umask is the process's, so it is put
  // back before anything else runs.
  const umask = process.umask(0o111);
  let listening: Promise<void>;
  try {
    listening = new Promise<void>((ok, no) => server.once('error', no).listen(socket, ok));
  } finally {
    process.umask(umask);
  }
  await listening.catch((e: unknown) => fail(e, `listen on ${socket}`));
  return lstatSync(socket);
}

/** Whether `path` is still the file `was` (same device and inode). */
function sameFile(path: string, was: Stats): boolean {
  try {
    const now = lstatSync(path);
    return now.dev === was.dev && now.ino === was.ino;
  } catch {
    return false;
  }
}

/** Whether something accepts connections on the Unix socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((done) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      done(true);
    });
    probe.once('error', () => done(false));
  });
}
