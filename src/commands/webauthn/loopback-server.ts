import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/browser';
import type { Random } from '../../context.js';
import type { CeremonyKind, CeremonyResource } from '../../domain/loopback-ceremony.js';
import { ceremonyUrl, checkCeremonyAnswer, isJsonMediaType, loopbackOrigin, routeCeremonyRequest } from '../../domain/loopback-ceremony.js';
import { CancelledError, ExitCode, RefusedError, TfaError } from '../../errors.js';
import { connectionOwner, pageUsersOfThisProcess } from './page-peer.js';
import { CEREMONY_PAGE_SCRIPT, ceremonyPageHtml, pageSecurityPolicy, type CeremonyPrompt } from './page.js';

export type { CeremonyKind, CeremonyPrompt };

/** What each kind of ceremony gives the browser, and what the browser answers. */
export interface CeremonyPayloads {
  readonly registration: { readonly options: PublicKeyCredentialCreationOptionsJSON; readonly answer: RegistrationResponseJSON };
  readonly authentication: { readonly options: PublicKeyCredentialRequestOptionsJSON; readonly answer: AuthenticationResponseJSON };
}
export type CeremonyOptionsJSON<K extends CeremonyKind> = CeremonyPayloads[K]['options'];
export type CeremonyAnswerJSON<K extends CeremonyKind> = CeremonyPayloads[K]['answer'];

/** How long the page waits for an answer unless told otherwise (the challenge's lifetime, as in Proxmox). */
export const CEREMONY_TIMEOUT_MS = 120_000;
/** The largest answer accepted: a registration with a large attestation is a few KiB. */
export const CEREMONY_ANSWER_MAX_BYTES = 64 * 1024;

export interface LoopbackCeremonyOptions<K extends CeremonyKind, R> {
  readonly kind: K;
  /** What the browser's navigator.credentials.create() or get() is given. */
  readonly publicKey: CeremonyOptionsJSON<K>;
  /** Who is enrolling or signing in what, shown on the page. */
  readonly prompt: CeremonyPrompt;
  /** The secret path's randomness. */
  readonly random: Random;
  /** The port on 127.0.0.1; a free one when absent or 0. */
  readonly port?: number;
  /** How long to wait for the answer; CEREMONY_TIMEOUT_MS when absent. */
  readonly timeoutMs?: number;
  /** Called with the whole seconds left: at once, then every second while waiting. */
  readonly onCountdown?: (secondsLeft: number) => void;
  /**
   * Checks the browser's answer (and keeps what it gives: a credential, a session); its result is
   * the ceremony's. It runs once, on the first answer. A TfaError it throws is shown on the page by
   * its message (which therefore never holds a secret); anything else as a generic failure.
   */
  readonly finish?: (answer: CeremonyAnswerJSON<K>) => Promise<R>;
  /** What the page says when `finish` succeeded. */
  readonly successMessage?: string;
  /**
   * The uids whose connections the page answers (on Linux, where the kernel says who owns the
   * connecting socket); pageUsersOfThisProcess(process.env) when absent; `any` for a page whose
   * user this process cannot know (one a tfactl service serves for a client): then its secret
   * path alone keeps others out.
   */
  readonly pageUsers?: ReadonlySet<number> | 'any';
  /** Told of each connection refused because another user owns it (its uid, when known). */
  readonly onStranger?: (uid: number | undefined) => void;
}

export interface LoopbackCeremony<R> {
  /** `http://localhost:PORT/TOKEN/`: the page, for the user's browser. */
  readonly url: string;
  /** `http://localhost:PORT`: the one origin the answer may come from (a verifier's expectedOrigin). */
  readonly origin: string;
  readonly port: number;
  /**
   * Settles once: with what `finish` returned (the answer itself without `finish`), or with a
   * TfaError: RefusedError `webauthn_timeout` when no answer came in time, `webauthn_answer` when
   * the answer was malformed, CancelledError after close(), or what `finish` threw. Everything the
   * ceremony opened is closed by the time it settles.
   */
  readonly result: Promise<R>;
  /** Stops waiting (the result becomes a CancelledError unless it has settled); idempotent. */
  close(why?: string): Promise<void>;
}

/**
 * Serves the one-shot page that runs a WebAuthn ceremony in the user's browser, on 127.0.0.1 only,
 * under one unguessable path: the page, its script, the library, the options (GET) and the answer
 * (POST); everything else is 404, and any request whose Host or Origin is not exactly
 * `http://localhost:PORT` is refused (domain/loopback-ceremony.ts says why), as is, on Linux, any
 * connection that another user of the machine owns (domain/socket-owner.ts).
 *
 * Single use: the first answer ends the ceremony, whether or not it is well formed or `finish`
 * accepts it; later requests are refused, and the server closes once the reply is sent. Resolves
 * once the server listens. A port that is taken or not allowed is a RefusedError (`port_in_use`).
 */
export function startLoopbackCeremony<K extends CeremonyKind>(options: LoopbackCeremonyOptions<K, CeremonyAnswerJSON<K>> & { readonly finish?: undefined }): Promise<LoopbackCeremony<CeremonyAnswerJSON<K>>>;
export function startLoopbackCeremony<K extends CeremonyKind, R>(options: LoopbackCeremonyOptions<K, R> & { readonly finish: (answer: CeremonyAnswerJSON<K>) => Promise<R> }): Promise<LoopbackCeremony<R>>;
export async function startLoopbackCeremony<K extends CeremonyKind, R>(options: LoopbackCeremonyOptions<K, R>): Promise<LoopbackCeremony<R>> {
  const library = readBrowserLibrary();
  const token = options.random.bytes(32).toString('base64url');
  const tokenBytes = Buffer.from(token);
  const tokenMatches = (segment: string) => {
    const given = Buffer.from(segment);
    return given.length === tokenBytes.length && timingSafeEqual(given, tokenBytes);
  };
  const finish = options.finish ?? (async (answer: CeremonyAnswerJSON<K>) => answer as unknown as R);
  const timeoutMs = options.timeoutMs ?? CEREMONY_TIMEOUT_MS;

  // waiting -> answered (the one answer is being checked) -> over (settled; the server closes).
  let state: 'waiting' | 'answered' | 'over' = 'waiting';
  let settle!: { resolve: (r: R) => void; reject: (e: unknown) => void };
  const result = new Promise<R>((resolve, reject) => (settle = { resolve, reject }));
  // A caller that only awaits close() must not see an unhandled rejection.
  result.catch(() => undefined);
  /** The one answer being checked and replied to. */
  let answering: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  /** The timeout and the countdown, started once the server listens. */
  const clock: { deadline?: NodeJS.Timeout; ticker?: NodeJS.Timeout } = {};
  const stopClock = () => {
    clearTimeout(clock.deadline);
    clearInterval(clock.ticker);
  };

  let port = 0;
  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) sendJson(res, 500, { ok: false, message: 'tfactl failed to answer: see the terminal' });
      else res.destroy();
      end({ error: e });
    });
  });
  // Slow or idle connections must not keep the ceremony (or the process) alive past its end.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 1_000;

  // Who may use the page: the secret path is in the browser's command line, which every local
  // user can read, so each connection is also checked for its owner (domain/socket-owner.ts).
  const users = options.pageUsers ?? pageUsersOfThisProcess(process.env);
  const admitted = new WeakMap<Socket, boolean>();
  const admits = (socket: Socket): boolean => {
    let ok = admitted.get(socket);
    if (ok === undefined) {
      const owner = users === 'any' ? 'unchecked' : connectionOwner(socket);
      ok = owner === 'unchecked' || (owner !== 'unknown' && users !== 'any' && users.has(owner));
      admitted.set(socket, ok);
      if (!ok) options.onStranger?.(typeof owner === 'number' ? owner : undefined);
    }
    return ok;
  };

  let pageCache: { html: string; policy: string } | undefined;
  const page = () => (pageCache ??= { html: ceremonyPageHtml(options.kind, options.prompt), policy: pageSecurityPolicy() });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!admits(req.socket)) {
      return refuse(res, 403, 'this page belongs to another user of this machine: open it as the user who started tfactl');
    }
    const route = routeCeremonyRequest(
      { method: req.method ?? '', target: req.url ?? '', host: req.headers.host, origin: req.headers.origin },
      port,
      tokenMatches,
    );
    if ('refuse' in route) return refuse(res, route.refuse, route.reason);
    if ('redirect' in route) {
      res.writeHead(308, { Location: route.redirect, 'Cache-Control': 'no-store' }).end();
      return;
    }
    if (state !== 'waiting') return refuse(res, 410, state === 'answered' ? 'this page has been used: see the terminal' : 'this page is no longer in use');
    return serve(route.serve, req, res);
  }

  async function serve(resource: CeremonyResource, req: IncomingMessage, res: ServerResponse): Promise<void> {
    switch (resource) {
      case 'page': {
        const { html, policy } = page();
        return send(res, 200, 'text/html; charset=utf-8', html, { 'Content-Security-Policy': policy });
      }
      case 'script':
        return send(res, 200, 'text/javascript; charset=utf-8', CEREMONY_PAGE_SCRIPT);
      case 'library':
        return send(res, 200, 'text/javascript; charset=utf-8', library);
      case 'options':
        return sendJson(res, 200, { kind: options.kind, publicKey: options.publicKey });
      case 'response':
        return (answering = answer(req, res));
    }
  }

  /** The one answer: taken before it is read, so a second one racing it is refused. */
  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    state = 'answered';
    // The answer came in time: however long `finish` takes, its outcome is the result.
    stopClock();
    const reply = async (status: number, body: { ok: boolean; message: string }, how: { value: R } | { error: unknown }) => {
      sendJson(res, status, body);
      // Closing now would cut the reply off: the page shows it.
      await sent(res);
      await end(how);
    };
    const fail = (status: number, message: string) =>
      reply(status, { ok: false, message }, { error: new RefusedError(`the browser's answer was refused: ${message}`, 'webauthn_answer') });
    if (!isJsonMediaType(req.headers['content-type'])) return fail(415, 'it is not JSON');
    let body: Buffer | null;
    try {
      body = await readBody(req, CEREMONY_ANSWER_MAX_BYTES);
    } catch {
      return fail(400, 'it was cut off');
    }
    if (body === null) return fail(413, `it is larger than ${CEREMONY_ANSWER_MAX_BYTES} bytes`);
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      return fail(400, 'it is not JSON');
    }
    const shape = checkCeremonyAnswer(options.kind, value);
    if (!shape.ok) return fail(400, shape.reason);
    let outcome: R;
    try {
      outcome = await finish(value as CeremonyAnswerJSON<K>);
    } catch (e) {
      const message = e instanceof TfaError && e.exitCode !== ExitCode.internal ? e.message : 'tfactl could not finish this: see the terminal';
      return reply(200, { ok: false, message }, { error: e });
    }
    return reply(200, { ok: true, message: options.successMessage ?? 'Done. You can close this page and go back to the terminal.' }, { value: outcome });
  }

  /** Settles the result (first call only) and closes the server and every connection to it. */
  function end(how: { value: R } | { error: unknown }): Promise<void> {
    if (state !== 'over') {
      state = 'over';
      stopClock();
      if ('value' in how) settle.resolve(how.value);
      else settle.reject(how.error);
    }
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'is in use' : e.code === 'EACCES' ? 'is not allowed for this user' : `cannot be used (${e.code ?? e.message})`;
      reject(new RefusedError(`port ${options.port ?? 0} on 127.0.0.1 ${why}`, 'port_in_use'));
    });
    server.listen({ host: '127.0.0.1', port: options.port ?? 0, exclusive: true }, () => resolve());
  });
  port = (server.address() as { port: number }).port;
  server.on('error', (e) => void end({ error: e }));

  const startedAt = Date.now();
  clock.deadline = setTimeout(() => {
    void end({ error: new RefusedError(`no answer came from the browser within ${Math.round(timeoutMs / 1000)} s`, 'webauthn_timeout') });
  }, timeoutMs);
  const countdown = () => options.onCountdown?.(Math.max(0, Math.ceil((timeoutMs - (Date.now() - startedAt)) / 1000)));
  clock.ticker = setInterval(countdown, 1000);
  countdown();

  return {
    url: ceremonyUrl(port, token),
    origin: loopbackOrigin(port),
    port,
    result,
    close: async (why = 'the WebAuthn page was closed before an answer came') => {
      // An answer being checked is not cut short: its outcome (a stored credential) is the result.
      if (state === 'answered') await answering?.catch(() => undefined);
      await end({ error: new CancelledError(why) });
    },
  };
}

/** Resolves once the reply has been handed to the OS (or its connection is gone). */
function sent(res: ServerResponse): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    res.once('finish', resolve);
    res.once('close', resolve);
  });
}

/**
 * @simplewebauthn/browser's UMD bundle, served as it is: read from the installed package (a
 * dependency of tfactl) where the bundle's require finds it, once per ceremony, so a broken
 * installation fails before the page is offered.
 */
function readBrowserLibrary(): Buffer {
  let file = '@simplewebauthn/browser';
  try {
    // The package exports only its entry points; the bundle is beside them, two levels up.
    file = join(dirname(require.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle', 'index.umd.min.js');
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new TfaError(`the WebAuthn page's library ${file} is missing from this installation (${code})`, 'missing_file', ExitCode.internal);
  }
}

/** The body, or null when it is larger than `max` bytes (the rest is not read). */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const COMMON_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...COMMON_HEADERS, ...headers, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) }).end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function refuse(res: ServerResponse, status: number, message: string): void {
  // The request may still be sending a body; it is not read, and the connection is not kept.
  res.shouldKeepAlive = false;
  sendJson(res, status, { ok: false, message });
}
