/**
 * The rules of the one-shot loopback page that runs a WebAuthn ceremony in the user's browser
 * (commands/webauthn/loopback-server.ts does the IO): which requests it answers, what an answer
 * from the browser must look like, and how text reaches the page. Pure: no IO, no clock.
 *
 * Why the rules are this strict: the server listens on 127.0.0.1, which every web page the user
 * has open can reach (a page that rebinds its own name to 127.0.0.1 included). Only the exact
 * origin `http://localhost:PORT` is one WebAuthn accepts for RP id `localhost`, so any other Host
 * or Origin is someone else's request; the unguessable path keeps other local users and programs
 * from finding the page.
 */

/** What a ceremony is for: enrolling a credential, or signing in with one. */
export type CeremonyKind = 'registration' | 'authentication';

/** The one origin the page may be used from. The port is part of it: WebAuthn checks it. */
export function loopbackOrigin(port: number): string {
  return `http://localhost:${port}`;
}

/** Whether `origin` is a loopback page's: exactly `http://localhost:PORT`, nothing else. */
export function isLoopbackOrigin(origin: string): boolean {
  const m = /^http:\/\/localhost:(\d{1,5})$/.exec(origin);
  return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 65_535 && loopbackOrigin(Number(m[1])) === origin;
}

/** Where the page is: the origin and the secret path (with its trailing slash, for relative links). */
export function ceremonyUrl(port: number, token: string): string {
  return `${loopbackOrigin(port)}/${token}/`;
}

/** The resources under the secret path, by their file names. */
export const CEREMONY_RESOURCES = {
  page: '',
  script: 'page.js',
  library: 'simplewebauthn-browser.js',
  options: 'options',
  response: 'response',
} as const;

export type CeremonyResource = keyof typeof CEREMONY_RESOURCES;

/** The parts of an HTTP request the rules look at (header values as Node gives them). */
export interface CeremonyRequest {
  readonly method: string;
  /** The request target as sent (`/TOKEN/options`, maybe with a query). */
  readonly target: string;
  readonly host: string | undefined;
  readonly origin: string | undefined;
}

/** What to do with a request: serve one of the resources, send the bare path on, or refuse. */
export type CeremonyRoute =
  | { readonly serve: CeremonyResource }
  | { readonly redirect: string }
  | { readonly refuse: 403 | 404 | 405; readonly reason: string };

const METHODS: Readonly<Record<CeremonyResource, string>> = { page: 'GET', script: 'GET', library: 'GET', options: 'GET', response: 'POST' };

/**
 * Routes one request. `tokenMatches` compares a path segment with the secret token (the caller
 * does it in constant time). The Host must be exactly `localhost:PORT` (not 127.0.0.1, not
 * another port or name: a rebound name arrives with its own Host); an Origin, when sent, must be
 * the exact origin, and a POST must send one (browsers always do). Only then is the path looked
 * at, so a refused request learns nothing about it.
 */
export function routeCeremonyRequest(req: CeremonyRequest, port: number, tokenMatches: (segment: string) => boolean): CeremonyRoute {
  const origin = loopbackOrigin(port);
  if (req.host !== `localhost:${port}`) return { refuse: 403, reason: `the page is served only at ${origin}` };
  if (req.origin !== undefined ? req.origin !== origin : req.method === 'POST') {
    return { refuse: 403, reason: `requests come only from pages of ${origin}` };
  }
  // A query string has no meaning here; the path alone decides.
  const path = req.target.split('?', 1)[0]!;
  const match = /^\/([A-Za-z0-9_-]+)(?:(\/)([a-z.-]*))?$/.exec(path);
  if (!match || !tokenMatches(match[1]!)) return { refuse: 404, reason: 'not found' };
  if (match[2] === undefined) return req.method === 'GET' ? { redirect: `/${match[1]}/` } : { refuse: 404, reason: 'not found' };
  const resource = (Object.keys(CEREMONY_RESOURCES) as CeremonyResource[]).find((r) => CEREMONY_RESOURCES[r] === match[3]);
  if (resource === undefined) return { refuse: 404, reason: 'not found' };
  if (req.method !== METHODS[resource]) return { refuse: 405, reason: `${METHODS[resource]} only` };
  return { serve: resource };
}

/** A media type is JSON when its essence is application/json (parameters such as charset aside). */
export function isJsonMediaType(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The browser's answer, checked only for shape: verifying it is the caller's business. */
export type CeremonyAnswerCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Checks that `value` has the shape of a RegistrationResponseJSON (kind registration) or an
 * AuthenticationResponseJSON (kind authentication), as @simplewebauthn/browser and
 * `credential.toJSON()` give them: the fields a verifier reads, as base64url strings.
 */
export function checkCeremonyAnswer(kind: CeremonyKind, value: unknown): CeremonyAnswerCheck {
  const fail = (reason: string): CeremonyAnswerCheck => ({ ok: false, reason });
  if (!isObject(value)) return fail('the answer is not a JSON object');
  if (value.type !== 'public-key') return fail('the answer is not a public-key credential');
  for (const field of ['id', 'rawId'] as const) {
    if (typeof value[field] !== 'string' || !BASE64URL.test(value[field])) return fail(`the answer's ${field} is not base64url`);
  }
  const response = value.response;
  if (!isObject(response)) return fail("the answer has no response object");
  const fields = kind === 'registration' ? ['clientDataJSON', 'attestationObject'] : ['clientDataJSON', 'authenticatorData', 'signature'];
  for (const field of fields) {
    const v = response[field];
    if (typeof v !== 'string' || !BASE64URL.test(v)) return fail(`the answer's response.${field} is not base64url`);
  }
  if (value.clientExtensionResults !== undefined && !isObject(value.clientExtensionResults)) return fail("the answer's clientExtensionResults is not an object");
  return { ok: true };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
