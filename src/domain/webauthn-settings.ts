import { UsageError } from '../errors.js';
import { checkText } from './text.js';
import { quote } from './userid.js';

/**
 * The values of the WebAuthn and U2F settings (`webauthn.rp-id`, `webauthn.rp-name`,
 * `webauthn.origin`, `u2f.appid`, `u2f.origin`), checked once here for `settings set` and for what
 * an import from Proxmox brings, so both store the same canonical forms. Pure: text in, text out.
 *
 * What each value is bound to decides how it may be normalised: a credential is bound to its RP id
 * (compared as a domain name, so lower case is the same id), a U2F registration to the SHA-256 of
 * its appid string exactly as written (so the appid is never rewritten), and browsers report
 * origins in their serialised form (`https://host:port`, default port left out), which is the form
 * stored.
 */

const DEFAULT_CODE = 'invalid_setting';

/** The longest RP name kept: authenticators may shorten it further (to 64 bytes) on their display. */
export const RP_NAME_MAX = 128;
const URL_MAX = 2048;

/**
 * An RP id: a domain name (the web interface's host, or a parent domain of it) or `localhost`,
 * without scheme, port or path. International names are kept in their ASCII (punycode) form, the
 * form browsers hash. IP addresses are refused: browsers refuse them as RP ids.
 */
export function parseRpId(input: string, code = DEFAULT_CODE): string {
  const text = input.trim();
  const fail = (why: string): never => {
    throw new UsageError(`invalid WebAuthn RP id ${quote(text)}: ${why}`, code);
  };
  if (text === '') fail('it is empty');
  if (/[\s/:@?#[\]\\]/.test(text)) fail('give the domain name alone, without scheme, port or path (pve.example.com)');
  let host: string;
  try {
    host = new URL(`https://${text}/`).hostname;
  } catch {
    return fail('not a domain name');
  }
  if (host.endsWith('.')) fail('a domain name without the final dot');
  if (/^[0-9.]+$/.test(host) || /^\d+$/.test(host.slice(host.lastIndexOf('.') + 1))) fail('an IP address cannot be an RP id; use a domain name');
  const labels = host.split('.');
  if (host.length > 253 || labels.some((l) => !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(l))) fail('not a domain name');
  return host;
}

/** The RP name authenticators show: one line of text. */
export function parseRpName(input: string, code = DEFAULT_CODE): string {
  checkText(input, 'WebAuthn RP name', RP_NAME_MAX, code);
  if (input.trim() === '') throw new UsageError('invalid WebAuthn RP name: it is empty', code);
  return input.trim();
}

/**
 * A web origin as browsers report it in client data: `https://host[:port]`, or `http://localhost`
 * with a port (the loopback page); a trailing `/` is dropped, a path refused. Returns the
 * serialised origin (host in lower case and ASCII, default port left out).
 */
export function parseOrigin(input: string, what: string, code = DEFAULT_CODE): string {
  const text = input.trim();
  const url = parseUrl(text, what, code);
  const fail = (why: string): never => {
    throw new UsageError(`invalid ${what} ${urlShown(text)}: ${why}`, code);
  };
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && url.hostname === 'localhost')) {
    fail('an origin must be https:// (or http://localhost)');
  }
  if (url.username !== '' || url.password !== '') fail('an origin has no user name or password');
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(text)) fail('an origin is scheme, host and port only, without a path');
  return url.origin;
}

/**
 * The `webauthn.origin` setting: the origins a WebAuthn answer may come from, separated by white
 * space (each as parseOrigin), duplicates dropped, order kept. Empty means none is configured.
 */
export function parseOriginList(input: string, code = DEFAULT_CODE): string[] {
  const origins: string[] = [];
  for (const part of input.split(/\s+/)) {
    if (part === '') continue;
    const origin = parseOrigin(part, 'WebAuthn origin', code);
    if (!origins.includes(origin)) origins.push(origin);
  }
  return origins;
}

/** The stored form of a list of origins (what parseOriginList reads back). */
export function formatOriginList(origins: readonly string[]): string {
  return origins.join(' ');
}

/**
 * A U2F appid: an https:// URL (or http://localhost), kept exactly as written, since a
 * registration is bound to the SHA-256 of this very string: `https://pve:8006` and
 * `https://pve:8006/` are different appids.
 */
export function parseAppId(input: string, code = DEFAULT_CODE): string {
  const url = parseUrl(input, 'U2F appid', code);
  if (input !== input.trim() || /\s/.test(input)) throw new UsageError('invalid U2F appid: no white space (it is compared byte for byte)', code);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && url.hostname === 'localhost')) {
    throw new UsageError(`invalid U2F appid ${urlShown(input)}: it must be an https:// URL (or http://localhost)`, code);
  }
  if (url.username !== '' || url.password !== '') throw new UsageError(`invalid U2F appid ${urlShown(input)}: no user name or password`, code);
  return input;
}

/**
 * Whether an origin may use an RP id: its host is the RP id or a subdomain of it (WebAuthn's
 * "registrable domain suffix" rule, without the public suffix list: a warning, not a refusal).
 */
export function originFitsRpId(origin: string, rpId: string): boolean {
  const host = new URL(origin).hostname;
  return host === rpId || host.endsWith(`.${rpId}`);
}

/**
 * A waiting ceremony (its challenge lives 120 s) as the settings now say: an origin taken out of
 * `webauthn.origin` meanwhile no longer answers, and user verification made required applies; a
 * setting loosened meanwhile widens nothing. The loopback page's http://localhost origins stay.
 */
export function tightenedCeremony<T extends { readonly origins: readonly string[]; readonly userVerification: 'preferred' | 'required' }>(
  ceremony: T,
  rpId: string,
  now: { readonly origins: readonly string[]; readonly userVerification: 'preferred' | 'required' },
): T {
  const stays = (origin: string) => now.origins.includes(origin) || (rpId === 'localhost' && new URL(origin).protocol === 'http:');
  return {
    ...ceremony,
    origins: ceremony.origins.filter(stays),
    userVerification: now.userVerification === 'required' ? 'required' : ceremony.userVerification,
  };
}

/** A URL for an error message: quoted, unless it has an @ (a user name and password may be in it: then by its length). */
function urlShown(text: string): string {
  return text.includes('@') ? `of ${[...text].length} characters (not repeated: it holds an @)` : quote(text);
}

function parseUrl(text: string, what: string, code: string): URL {
  checkText(text, what, URL_MAX, code);
  if (text === '') throw new UsageError(`invalid ${what}: it is empty`, code);
  try {
    return new URL(text);
  } catch {
    throw new UsageError(`invalid ${what} ${urlShown(text)}: not a URL`, code);
  }
}

/**
 * The origins a ceremony's answer may come from. Those asked for (`--origin`) must each be one of
 * the allowed origins (`webauthn.origin`), or, under RP id `localhost`, an http://localhost origin
 * (the loopback page's), and fit the RP id; without any asked for, every allowed origin that fits
 * the RP id. Empty when none is configured: only a terminal (fido2-assert) can answer then.
 */
export function ceremonyOrigins(rpId: string, requested: readonly string[], allowed: readonly string[]): string[] {
  for (const origin of requested) {
    if (!originFitsRpId(origin, rpId)) {
      throw new UsageError(`origin ${origin} cannot use WebAuthn RP id ${rpId}: its host must be ${rpId} or a subdomain of it`, 'invalid_origin');
    }
    const loopback = rpId === 'localhost' && new URL(origin).protocol === 'http:';
    if (!loopback && !allowed.includes(origin)) {
      throw new UsageError(`origin ${origin} is not allowed: add it to the webauthn.origin setting (tfactl settings set webauthn.origin '...')`, 'invalid_origin');
    }
  }
  const origins = requested.length > 0 ? requested : allowed.filter((o) => originFitsRpId(o, rpId));
  return [...new Set(origins)];
}
