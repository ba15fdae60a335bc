import type { IncomingMessage } from 'node:http';
import { parseTokenValue } from '../../domain/api-token.js';
import { decide } from '../../domain/permissions.js';
import { hideTokenSecrets } from '../../domain/text.js';
import { parseSignInUserId, shownIfFieldName } from '../../domain/userid.js';
import { AuthError, ExitCode, RefusedError, TfaError, UsageError } from '../../errors.js';
import { beginSignIn, finishSignIn } from '../../services/authenticate.js';
import type { AuthDeps } from '../../services/authenticate.js';
import type { Store } from '../../services/session.js';
import { authenticateToken } from '../../services/tokens.js';
import { challengeView, signedInView } from '../views.js';
import type { RunOutcome, RunRequest } from '../../remote/server.js';
import { parsePamForm } from './pam-form.js';

/**
 * tfactl serve's API, version 1: what a request asks for, answered with the CLI's envelope
 * (`{"ok":true,"result":...,"warnings":[]}` or `{"ok":false,"error":{"code","message"},"warnings":[]}`) and an
 * HTTP status for the CLI's exit code. The operations are the services the CLI calls.
 */

export interface ApiDeps {
  /** Opens the store for one request (closed by the caller's `close`), with its key (read once per connection). */
  openStore(): Promise<{ readonly store: Store; secretKey(tx?: Store): Promise<Buffer>; close(): void }>;
  now(): number;
  randomBytes(n: number): Buffer;
  sleep(ms: number): Promise<void>;
  readonly version: string;
  /** Runs a command for POST /api/v1/run and /api/v1/pam/... (src/remote/server.ts runRequest). */
  runCommand(request: RunRequest): Promise<RunOutcome>;
}

export interface ApiAnswer {
  readonly status: number;
  /** The JSON envelope; a string is sent as it is, as text/plain with `command`'s exit code in its type (/api/v1/pam/...). */
  readonly body: unknown;
  /** For the request log: the user id acted on, when there is one. */
  readonly userid?: string;
  /** For the request log: the command POST /api/v1/run ran, and its exit code. */
  readonly command?: { readonly name: string | undefined; readonly exit: number };
  /** With 405: the method the path takes (the Allow header). */
  readonly allow?: string;
}

const HTTP_STATUS: Readonly<Record<string, number>> = { body_too_large: 413, method: 405 };

const BODY_MAX_BYTES = 64 * 1024;
/** A command's request may carry standard input (a bulk import): more, but bounded. */
const RUN_BODY_MAX_BYTES = 4 * 1024 * 1024;

/** The HTTP status of each exit code. */
const STATUS: Readonly<Record<number, number>> = {
  [ExitCode.usage]: 400,
  [ExitCode.notFound]: 404,
  [ExitCode.refused]: 403,
  [ExitCode.authFailed]: 401,
  [ExitCode.store]: 503,
};

/** The HTTP status of a run that ended with exit code `code`. */
const statusOf = (code: number): number => (code === ExitCode.ok ? 200 : (STATUS[code] ?? 500));

export function errorAnswer(e: unknown): ApiAnswer {
  // HTTP's own words where it has them: a body over the limit, a method the path does not take.
  // As output.ts does for every message a command writes: a field's name or a path may be a
  // token's value sent where something else goes (and pam_exec shows the answer on a terminal).
  if (e instanceof TfaError) return { status: HTTP_STATUS[e.code] ?? STATUS[e.exitCode] ?? 500, body: { ok: false, error: { code: e.code, message: hideTokenSecrets(e.message) }, warnings: [] } };
  return { status: 500, body: { ok: false, error: { code: 'internal', message: 'internal error' }, warnings: [] } };
}

/** The request's body, at most `maxBytes` of it. */
function readBytes(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  // Events rather than `for await`: the async iterator costs a request more than the rest of its reading.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      // Nothing more is read: the answer goes out and the connection closes (HTTP's own rule for an unread body).
      req.off('data', onData).off('end', onEnd).pause();
      reject(new UsageError(`the request body is over ${maxBytes} bytes`, 'body_too_large'));
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData).on('end', onEnd).once('error', reject);
  });
}

/**
 * The request's JSON body. Refused before anything is checked: nesting past BODY_MAX_DEPTH (JSON.parse
 * would spend most of a second on megabytes of brackets), a key given twice (JSON.parse keeps the
 * last: a proxy or a log reading the first would see another user than the one checked), and a
 * top-level field `fields` does not name (a misspelt "stdn" is not silently no standard input).
 */
async function readBody(req: IncomingMessage, fields: readonly string[], maxBytes = BODY_MAX_BYTES): Promise<unknown> {
  const text = (await readBytes(req, maxBytes)).toString('utf8');
  const { jsonNestedDeeperThan, repeatedJsonKey } = await import('../../domain/json-keys.js');
  if (jsonNestedDeeperThan(text, BODY_MAX_DEPTH)) throw new UsageError(`the request body nests deeper than ${BODY_MAX_DEPTH} levels`, 'invalid_body');
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    throw new UsageError('the request body is not JSON', 'invalid_body');
  }
  const repeated = repeatedJsonKey(text);
  if (repeated !== null) throw new UsageError(`the request body gives ${JSON.stringify(repeated.slice(0, 40))} twice`, 'invalid_body');
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const unknown = Object.keys(body).find((k) => !fields.includes(k));
    if (unknown !== undefined) throw new UsageError(`the request body has a field ${shownIfFieldName(unknown)} this API does not take (it takes ${fields.join(', ')})`, 'invalid_body');
  }
  return body;
}

/** How deep a request body may nest (a browser's answer to a security key is 3 levels). */
const BODY_MAX_DEPTH = 16;

const field = (body: Record<string, unknown>, name: string): string | undefined => {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`"${name}" must be a string`, 'invalid_body');
  return v;
};

export async function answer(req: IncomingMessage, deps: ApiDeps): Promise<ApiAnswer> {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/api/v1/health') {
    if (req.method !== 'GET') return { ...errorAnswer(new UsageError('GET /api/v1/health', 'method')), allow: 'GET' };
    // Healthy means the store answers too (a PostgreSQL server down, a store file gone): a load
    // balancer or systemd's watchdog then takes a service out that could sign no one in (503).
    const opened = await deps.openStore();
    try {
      await opened.store.getSettings();
    } finally {
      opened.close();
    }
    return { status: 200, body: { ok: true, result: { version: deps.version }, warnings: [] } };
  }
  // What a browser sends from a page (any web page the admin opens could post here: a form or a
  // fetch of text/plain needs no preflight) carries its Origin, and no Authorization header (a page
  // cannot add one without a preflight this service never answers). The API is for programs (a web
  // app's server, a reverse proxy that adds the token and passes the browser's headers on, PAM, tfactl).
  if (req.method === 'POST' && req.headers.origin !== undefined && req.headers.authorization === undefined) {
    return { status: 403, body: { ok: false, error: { code: 'browser_refused', message: "tfactl's API does not answer a web page's requests (it sent an Origin): call it from the web app's server" }, warnings: [] } };
  }
  if (path === '/api/v1/login') {
    if (req.method !== 'POST') return { ...errorAnswer(new UsageError('POST /api/v1/login', 'method')), allow: 'POST' };
    return login(req, deps);
  }
  if (path === '/api/v1/run') {
    if (req.method !== 'POST') return { ...errorAnswer(new UsageError('POST /api/v1/run', 'method')), allow: 'POST' };
    return runCommand(req, deps);
  }
  if (path === '/api/v1/pam/check' || path === '/api/v1/pam/prompt') return pamRun(req, deps, path === '/api/v1/pam/check' ? 'check' : 'prompt');
  return { status: 404, body: { ok: false, error: { code: 'not_found', message: hideTokenSecrets(`no such API path ${JSON.stringify(path)}: see the README (tfactl serve)`) }, warnings: [] } };
}

/**
 * POST /api/v1/run: any tfactl command, `{"args": ["user", "show", "alice"], "stdin": "..."}`, run
 * by the service as the CLI runs it with --json and no terminal; the answer is its envelope, with
 * the HTTP status of its exit code. It acts as the API token of the Authorization header, or as
 * `--as USERID --password-stdin` in `args` with the password in `stdin`; nobody otherwise.
 */
async function runCommand(req: IncomingMessage, deps: ApiDeps): Promise<ApiAnswer> {
  const body = await readBody(req, ['args', 'stdin'], RUN_BODY_MAX_BYTES);
  const fields = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const { args } = fields;
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new UsageError('the request body must be {"args": ["user", "list"], "stdin": "..."}', 'invalid_body');
  const stdin = field(fields, 'stdin') ?? '';
  const token = bearerToken(req);
  const ran = await deps.runCommand({ args: args as string[], stdin, token });
  let envelope: unknown;
  try {
    envelope = JSON.parse(ran.stdout);
  } catch {
    return errorAnswer(new Error('the command printed no envelope'));
  }
  return { status: statusOf(ran.code), body: envelope, command: { name: ran.command, exit: ran.code }, ...(ran.userid !== undefined && { userid: ran.userid }) };
}

/**
 * The API token of the Authorization header, or undefined when there is none. A header of another
 * kind (Basic) or a Bearer value that is no token is refused (exit 5) in this API's words: dropped,
 * the command ran as nobody and was told of --as and TFACTL_TOKEN, which a request has not.
 */
function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const value = /^Bearer\s+(.+)$/i.exec(header)?.[1];
  if (value === undefined) throw new AuthError('authentication failed: the Authorization header is not Bearer USERID!NAME=SECRET (this API takes API tokens)');
  if (!parseTokenValue(value)) throw new AuthError('authentication failed: the Authorization header holds no API token (Bearer USERID!NAME=SECRET)');
  return value;
}

/**
 * POST /api/v1/pam/check and /api/v1/pam/prompt: what pam_exec runs, asked by a client that is not
 * tfactl (bin/tfactl-pam-curl: a shell and curl, which start in a fraction of node's time). The form
 * (pam-form.ts) is the line's options, PAM's items and the answer; the run is the very `pam check`
 * or `pam prompt` the CLI runs through the service, and the answer is what it prints, as text (what
 * pam_exec shows the user): its output, then any warning or error, with the HTTP status of its exit
 * code and the code itself in the type (`text/plain; charset=utf-8; tfactl-exit=5`: what says that
 * tfactl answered). It acts as the API token of the form's `token` field or the Authorization header.
 */
async function pamRun(req: IncomingMessage, deps: ApiDeps, command: 'check' | 'prompt'): Promise<ApiAnswer> {
  try {
    if (req.method !== 'POST') throw new UsageError(`POST /api/v1/pam/${command}`, 'method');
    const form = parsePamForm((await readBytes(req, BODY_MAX_BYTES)).toString('utf8'), command);
    const header = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (header !== undefined && form.token !== undefined) throw new UsageError('give the API token once: the field token or the Authorization header', 'invalid_body');
    const token = form.token ?? header;
    if (token === undefined) throw new AuthError(`authentication failed: POST /api/v1/pam/${command} needs an API token: the field token, or Authorization: Bearer USERID!NAME=SECRET`);
    // Said here, not as the run would (it names TFACTL_TOKEN, which this client never set).
    if (!parseTokenValue(token)) throw new AuthError('authentication failed: the token sent is not an API token (USERID!NAME=SECRET)');
    const ran = await deps.runCommand({ args: form.args, stdin: form.answer, token, env: form.env, json: false, pam: true });
    return { status: statusOf(ran.code), body: `${ran.stdout}${ran.stderr}`, command: { name: ran.command, exit: ran.code }, ...(ran.userid !== undefined && { userid: ran.userid }) };
  } catch (e) {
    const failed = errorAnswer(e);
    const { error } = failed.body as { error: { message: string } };
    return { status: failed.status, body: `error: ${error.message}\n`, command: { name: `pam ${command}`, exit: e instanceof TfaError ? e.exitCode : ExitCode.internal }, ...(failed.status === 405 && { allow: 'POST' }) };
  }
}

/**
 * POST /api/v1/login, for web apps, reverse proxies and scripts that check a user: with
 * `{"userid", "password"}` as `login --begin` (signed in, or a challenge for the second factor),
 * with `{"userid", "challenge", "response"}` as `login --finish`. Callable with an API token
 * (Authorization: Bearer USERID!NAME=SECRET) whose user may check that user: an admin's (a
 * read-only one will do), root@local's for root@local. Lockout, replay and audit as at login.
 */
async function login(req: IncomingMessage, deps: ApiDeps): Promise<ApiAnswer> {
  const body = await readBody(req, ['userid', 'password', 'challenge', 'response']);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new UsageError('the request body must be a JSON object', 'invalid_body');
  const fields = body as Record<string, unknown>;
  const userid = parseSignInUserId(field(fields, 'userid') ?? '').id;
  const password = field(fields, 'password');
  const challenge = field(fields, 'challenge');
  // A browser's answer may come as the object it is (AuthenticationResponseJSON), or as its text.
  const sent = fields.response;
  const response = typeof sent === 'object' && sent !== null && !Array.isArray(sent) ? JSON.stringify(sent) : field(fields, 'response');
  if ((password === undefined) === (challenge === undefined)) throw new UsageError('give "password" (to begin), or "challenge" and "response" (to finish)', 'invalid_body');
  if (challenge !== undefined && response === undefined) throw new UsageError('"challenge" needs its "response"', 'invalid_body');

  const presented = parseTokenValue(/^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
  if (!presented) throw new AuthError('authentication failed: this API needs an API token: Authorization: Bearer USERID!NAME=SECRET');

  const opened = await deps.openStore();
  try {
    const { store } = opened;
    const caller = await authenticateToken({ store, now: deps.now }, presented);
    const principal = { userid: caller.user.userid, admin: caller.user.admin, token: { name: caller.token.name, privileges: caller.token.privileges } };
    const decision = decide(principal, 'auth.verify', userid);
    if (!decision.allowed) {
      await store.appendAudit({ ts: deps.now(), actor: principal.userid, action: 'auth.verify', target: userid, outcome: 'refused', detail: { reason: decision.reason, token: principal.token.name } });
      throw new RefusedError(decision.reason, 'permission_denied');
    }
    const auth: AuthDeps = {
      store,
      now: deps.now,
      sleep: deps.sleep,
      secretKey: opened.secretKey,
      randomBytes: deps.randomBytes,
      audit: (entry, tx) => (tx ?? store).appendAudit({ ...entry, ts: deps.now(), actor: userid, detail: { ...entry.detail, via: `${principal.userid}!${principal.token.name}` } }),
    };
    const context = { userid, action: 'login', keys: {} };
    if (challenge !== undefined) {
      const signedIn = await finishSignIn(auth, context, challenge, { code: response as string, kind: undefined });
      return { status: 200, body: { ok: true, result: signedInView(signedIn), warnings: signedIn.warnings }, userid };
    }
    const begun = await beginSignIn(auth, context, password as string);
    const result = 'signedIn' in begun ? signedInView(begun.signedIn) : challengeView(begun.challenge);
    return { status: 200, body: { ok: true, result, warnings: 'signedIn' in begun ? begun.signedIn.warnings : [] }, userid };
  } catch (e) {
    // A refusal names the user in the request log too.
    if (!(e instanceof TfaError)) throw e;
    return { ...errorAnswer(e), userid };
  } finally {
    opened.close();
  }
}
