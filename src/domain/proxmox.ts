import { UsageError } from '../errors.js';
import { parseEmail, shownIfAddress } from './account.js';
import { dateOf, isStoredTime, LAST_SECOND } from './dates.js';
import { repeatedJsonKey } from './json-keys.js';
import { u2fCredentialFromProxmox, webauthnCredentialFromProxmox, type U2fCredential, type WebauthnCredential } from './proxmox-credentials.js';
import { parseTotpParams, type TotpParams } from './totp-params.js';
import { checkText, decodeUtf8 } from './text.js';
import { encodeSecret, parseSecret } from './totp.js';
import { parseRealmName, parseUserId, quote } from './userid.js';
import { parseAppId, parseOrigin, parseRpId, parseRpName } from './webauthn-settings.js';
import { isModhex } from './yubico.js';
import { MAX_RECOVERY_SLOTS } from './recovery.js';

/**
 * Readers for the Proxmox VE files an import needs: /etc/pve/priv/tfa.cfg (JSON),
 * /etc/pve/user.cfg, /etc/pve/domains.cfg and /etc/pve/datacenter.cfg. Pure: text in, typed values out; the caller reads the
 * files and decides what to store. Anything we cannot read faithfully is refused with a UsageError
 * naming the line or the user, so an import never goes ahead on a half-understood file. Error
 * messages never repeat a secret, a key or the text around a JSON syntax error.
 */

const INVALID = 'invalid_proxmox_config';

/** A JSON value kept as Proxmox wrote it (WebAuthn and U2F entries and settings, as they were). */
export type ProxmoxJson = null | boolean | number | string | readonly ProxmoxJson[] | { readonly [key: string]: ProxmoxJson };

// ---------------------------------------------------------------------------------------------
// tfa.cfg
// ---------------------------------------------------------------------------------------------

/** What every tfa.cfg entry carries besides its factor data. */
export interface ProxmoxEntryInfo {
  /** Proxmox's entry id (a UUID for entries Proxmox created). */
  readonly id: string;
  readonly description: string;
  /** Epoch seconds. */
  readonly created: number;
  readonly enabled: boolean;
}

export interface ProxmoxTotpEntry extends ProxmoxEntryInfo {
  /** Canonical unpadded upper-case base32. */
  readonly secret: string;
  readonly params: TotpParams;
  /** From the `issuer` parameter, else the label's `issuer:` prefix; null when neither is there. */
  readonly issuer: string | null;
  /** The label's account part (usually the user id); null when the label is empty. */
  readonly account: string | null;
  /** The last accepted time step (Proxmox's replay guard); null when Proxmox never recorded one. */
  readonly lastCount: number | null;
}

export interface ProxmoxYubicoEntry extends ProxmoxEntryInfo {
  /** The key's public id: 12 modhex characters, lower case. */
  readonly publicId: string;
}

/** A WebAuthn or U2F registration: its entry as Proxmox wrote it, checked (see below). */
export interface ProxmoxOpaqueEntry extends ProxmoxEntryInfo {
  readonly entry: ProxmoxJson;
}

export interface ProxmoxWebauthnEntry extends ProxmoxOpaqueEntry {
  /** The credential the entry holds, normalised whatever encoding Proxmox used. */
  readonly credential: WebauthnCredential;
}

export interface ProxmoxU2fEntry extends ProxmoxOpaqueEntry {
  /** The registration the entry holds, normalised. */
  readonly registration: U2fCredential;
}

/**
 * The cluster's WebAuthn settings, from datacenter.cfg's `webauthn:` line (or, from PVE 7.0 and
 * 7.1, tfa.cfg's `webauthn` object). Values are in the forms the tfactl settings store.
 */
export interface ProxmoxWebauthnConfig {
  /** `id`: the RP id the credentials were made under (parseRpId). */
  readonly rpId: string;
  /** `rp`: the RP name; null when not given. */
  readonly rpName: string | null;
  /** `origin` as a serialised origin (parseOrigin); null when not given (Proxmox then took the browser's address). */
  readonly origin: string | null;
  /** `allow-subdomains` when given; null when not (Proxmox then allows them). */
  readonly allowSubdomains: boolean | null;
  /** Where it came from, for messages: `datacenter.cfg line 3` or `tfa.cfg`. */
  readonly source: string;
}

/** The cluster's U2F settings, from datacenter.cfg's `u2f:` line (or tfa.cfg's `u2f` object). */
export interface ProxmoxU2fConfig {
  /** The appid the registrations were made under, exactly as written (parseAppId). */
  readonly appId: string;
  /** The origin sign-ins came from; null when not given (the appid's, or the browser's address). */
  readonly origin: string | null;
  readonly source: string;
}

/** A recovery key set as Proxmox stores it; tfactl hashes keys the same way, so the hashes keep working. */
export interface ProxmoxRecoverySet {
  /** The per-set HMAC key: 16 hex characters, exactly as stored (the HMAC uses its ASCII). */
  readonly secret: string;
  /** hex(HMAC-SHA256) per key, lower case; null where the key was used. Indices are stable. */
  readonly slots: readonly (string | null)[];
  readonly created: number;
}

export interface ProxmoxUserTfa {
  /** `name@realm` in canonical form (parseUserId): as Proxmox named it, in lower case. */
  readonly userid: string;
  readonly totp: readonly ProxmoxTotpEntry[];
  readonly webauthn: readonly ProxmoxWebauthnEntry[];
  readonly u2f: readonly ProxmoxU2fEntry[];
  readonly yubico: readonly ProxmoxYubicoEntry[];
  readonly recovery: ProxmoxRecoverySet | null;
  /** Locked after too many TOTP failures, until a recovery key succeeds or an admin unlocks. */
  readonly totpLocked: boolean;
  /** Every factor refused until this epoch second; null when not locked. */
  readonly tfaLockedUntil: number | null;
}

export interface ProxmoxTfa {
  readonly users: readonly ProxmoxUserTfa[];
  /** The cluster's WebAuthn settings (rp, origin, id) as written; null when not there (since PVE 7.2 they are in datacenter.cfg). */
  readonly webauthnConfig: ProxmoxJson | null;
  /** The cluster's U2F settings (appid, origin) as written; null when not there. */
  readonly u2fConfig: ProxmoxJson | null;
  /** webauthnConfig, read. */
  readonly webauthn: ProxmoxWebauthnConfig | null;
  /** u2fConfig, read. */
  readonly u2f: ProxmoxU2fConfig | null;
}

const TFA_TOP_FIELDS = ['users', 'webauthn', 'u2f'];
const TFA_USER_FIELDS = ['totp', 'webauthn', 'u2f', 'yubico', 'recovery', 'totp-locked', 'tfa-locked-until'];
const TFA_ENTRY_FIELDS = ['id', 'description', 'created', 'enable', 'entry'];

/**
 * Parses the JSON of /etc/pve/priv/tfa.cfg. An empty file is an empty configuration (Proxmox
 * creates the file with the first factor). Unknown fields are refused rather than dropped: they
 * could be factors this reader does not know.
 */
export function parseTfaCfg(text: string): ProxmoxTfa {
  if (text.trim() === '') return { users: [], webauthnConfig: null, u2fConfig: null, webauthn: null, u2f: null };
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    // The engine's message quotes the text near the fault, which may be a secret: report only where.
    throw new UsageError(`tfa.cfg is not valid JSON${jsonFaultLine(text, e)}`, INVALID);
  }
  if (!isJsonObject(root)) throw new UsageError('tfa.cfg: expected a JSON object with "users"', INVALID);
  const repeated = repeatedJsonKey(text);
  if (repeated !== null) throw new UsageError(`tfa.cfg: the key ${quote(repeated)} is given twice in one object (only the last would count)`, INVALID);
  refuseUnknownFields(root, TFA_TOP_FIELDS, 'tfa.cfg');
  const usersValue = root['users'] ?? {};
  if (!isJsonObject(usersValue)) throw new UsageError('tfa.cfg: "users" must be an object keyed by user id', INVALID);
  const users = Object.entries(usersValue).map(([key, value]) => parseUserTfa(key, value));
  // Keys are canonicalised (parseUserId): two that differ only in case or width are one user.
  const seen = new Set<string>();
  for (const u of users) {
    if (seen.has(u.userid)) throw new UsageError(`tfa.cfg: two entries of "users" are the user ${quote(u.userid)} (user ids ignore case and width)`, INVALID);
    seen.add(u.userid);
  }
  const webauthnConfig = optionalObject(root, 'webauthn', 'tfa.cfg');
  const u2fConfig = optionalObject(root, 'u2f', 'tfa.cfg');
  return {
    users,
    webauthnConfig,
    u2fConfig,
    webauthn: webauthnConfig === null ? null : tfaCfgWebauthnConfig(webauthnConfig as JsonObject),
    u2f: u2fConfig === null ? null : tfaCfgU2fConfig(u2fConfig as JsonObject),
  };
}

/** proxmox-tfa's WebauthnConfig: `{rp, origin?, id, allow-subdomains?}`, unknown fields refused as it refuses them. */
function tfaCfgWebauthnConfig(value: JsonObject): ProxmoxWebauthnConfig {
  const where = 'tfa.cfg: "webauthn"';
  refuseUnknownFields(value, ['rp', 'origin', 'id', 'allow-subdomains'], where);
  const text = (field: string): string | null => {
    const v = value[field];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') throw new UsageError(`${where}: "${field}" must be a string`, INVALID);
    return v;
  };
  const allow = value['allow-subdomains'] ?? null;
  if (allow !== null && typeof allow !== 'boolean') throw new UsageError(`${where}: "allow-subdomains" must be true or false`, INVALID);
  return webauthnConfig({ id: text('id'), rp: text('rp'), origin: text('origin'), allowSubdomains: allow as boolean | null }, 'tfa.cfg');
}

/** proxmox-tfa's U2fConfig: `{appid, origin?}`; the origin defaults to the appid. */
function tfaCfgU2fConfig(value: JsonObject): ProxmoxU2fConfig {
  const where = 'tfa.cfg: "u2f"';
  refuseUnknownFields(value, ['appid', 'origin'], where);
  const { appid, origin = null } = value;
  if (typeof appid !== 'string') throw new UsageError(`${where}: "appid" must be a string`, INVALID);
  if (origin !== null && typeof origin !== 'string') throw new UsageError(`${where}: "origin" must be a string`, INVALID);
  return u2fConfig({ appid, origin: origin as string | null }, 'tfa.cfg');
}

/** Checks one source's WebAuthn settings; `id` is required: every credential is bound to it. */
function webauthnConfig(
  raw: { id: string | null; rp: string | null; origin: string | null; allowSubdomains: boolean | null },
  source: string,
): ProxmoxWebauthnConfig {
  const where = `${source}: webauthn`;
  if (raw.id === null || raw.id.trim() === '') {
    throw new UsageError(`${where}: no id (the RP id its credentials were made under, e.g. id=pve.example.com)`, INVALID);
  }
  const rpId = within(where, () => parseRpId(raw.id as string, INVALID));
  const rpName = raw.rp === null || raw.rp.trim() === '' ? null : within(where, () => parseRpName(raw.rp as string, INVALID));
  const origin = raw.origin === null || raw.origin.trim() === '' ? null : within(where, () => parseOrigin(raw.origin as string, 'origin', INVALID));
  return { rpId, rpName, origin, allowSubdomains: raw.allowSubdomains, source };
}

/** Checks one source's U2F settings; at least the appid or the origin must be there. */
function u2fConfig(raw: { appid: string | null; origin: string | null }, source: string): ProxmoxU2fConfig {
  const where = `${source}: u2f`;
  const origin = raw.origin === null || raw.origin.trim() === '' ? null : within(where, () => parseOrigin(raw.origin as string, 'origin', INVALID));
  // Proxmox uses the origin as written when there is no appid: registrations are bound to that string.
  const appIdText = raw.appid !== null && raw.appid !== '' ? raw.appid : raw.origin !== null && raw.origin !== '' ? raw.origin : null;
  if (appIdText === null) throw new UsageError(`${where}: neither appid nor origin is given`, INVALID);
  const appId = within(where, () => parseAppId(appIdText, INVALID));
  return { appId, origin, source };
}

function parseUserTfa(key: string, value: unknown): ProxmoxUserTfa {
  const userid = requireRealmUserId(key, 'tfa.cfg');
  const where = `tfa.cfg: user ${quote(userid)}`;
  if (!isJsonObject(value)) throw new UsageError(`${where}: expected an object of factors`, INVALID);
  refuseUnknownFields(value, TFA_USER_FIELDS, where);

  const totp = entryList(value, 'totp', where).map((raw, i) => parseTotpEntry(raw, `${where}: totp entry #${i + 1}`));
  const webauthn = entryList(value, 'webauthn', where).map((raw, i): ProxmoxWebauthnEntry => {
    const entry = parseOpaqueEntry(raw, `${where}: webauthn entry #${i + 1}`);
    return { ...entry, credential: webauthnCredentialFromProxmox(entry.entry, `${where}: webauthn entry ${quote(entry.id)}`) };
  });
  const u2f = entryList(value, 'u2f', where).map((raw, i): ProxmoxU2fEntry => {
    const entry = parseOpaqueEntry(raw, `${where}: u2f entry #${i + 1}`);
    return { ...entry, registration: u2fCredentialFromProxmox(entry.entry, `${where}: u2f entry ${quote(entry.id)}`) };
  });
  const yubico = entryList(value, 'yubico', where).map((raw, i) => parseYubicoEntry(raw, `${where}: yubico entry #${i + 1}`));

  // Entry ids address factors (delete, enable); two alike would make one of them unreachable.
  const seen = new Set<string>();
  for (const entry of [...totp, ...webauthn, ...u2f, ...yubico]) {
    if (seen.has(entry.id)) throw new UsageError(`${where}: two entries share the id ${quote(entry.id)}`, INVALID);
    seen.add(entry.id);
  }

  const recoveryValue = value['recovery'];
  const recovery = recoveryValue === undefined || recoveryValue === null ? null : parseRecoverySet(recoveryValue, `${where}: recovery`);

  const locked = value['totp-locked'] ?? false;
  if (typeof locked !== 'boolean') throw new UsageError(`${where}: "totp-locked" must be true or false`, INVALID);
  const until = value['tfa-locked-until'] ?? null;
  if (until !== null && !isStoredTime(until)) {
    throw new UsageError(`${where}: "tfa-locked-until" must be epoch seconds (1970 to 9999)`, INVALID);
  }
  return { userid, totp, webauthn, u2f, yubico, recovery, totpLocked: locked, tfaLockedUntil: until as number | null };
}

function entryList(user: JsonObject, field: string, where: string): readonly unknown[] {
  const list = user[field];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new UsageError(`${where}: "${field}" must be a list`, INVALID);
  return list;
}

function parseEntryInfo(raw: unknown, where: string): { info: ProxmoxEntryInfo; entry: unknown } {
  if (!isJsonObject(raw)) throw new UsageError(`${where}: expected an object with id, created and entry`, INVALID);
  refuseUnknownFields(raw, TFA_ENTRY_FIELDS, where);
  const { id, description = '', created, enable = true, entry } = raw;
  if (typeof id !== 'string' || id === '' || id.length > 256 || /[\p{Cc}]/u.test(id)) {
    throw new UsageError(`${where}: "id" must be a non-empty single-line string`, INVALID);
  }
  if (typeof description !== 'string') throw new UsageError(`${where}: "description" must be a string`, INVALID);
  // As long as `tfa add` takes one: listings pad every row to the widest.
  within(where, () => checkText(description, 'description', TEXT_MAX));
  if (!isStoredTime(created)) throw new UsageError(`${where}: "created" must be epoch seconds (1970 to 9999)`, INVALID);
  if (typeof enable !== 'boolean') throw new UsageError(`${where}: "enable" must be true or false`, INVALID);
  if (entry === undefined) throw new UsageError(`${where}: "entry" is missing`, INVALID);
  return { info: { id, description, created: created as number, enabled: enable }, entry };
}

/** A TOTP entry is the otpauth URI, or (since Proxmox keeps a replay guard) `{totp, last-count}`. */
function parseTotpEntry(raw: unknown, where: string): ProxmoxTotpEntry {
  const { info, entry } = parseEntryInfo(raw, where);
  let uri: unknown = entry;
  let lastCount: number | null = null;
  if (isJsonObject(entry)) {
    refuseUnknownFields(entry, ['totp', 'last-count'], where);
    uri = entry['totp'];
    const count = entry['last-count'] ?? null;
    if (count !== null && !Number.isSafeInteger(count)) throw new UsageError(`${where}: "last-count" must be an integer`, INVALID);
    lastCount = count as number | null;
  }
  if (typeof uri !== 'string') throw new UsageError(`${where}: expected an otpauth://totp/ URI`, INVALID);
  const totp = within(where, () => parseTotpUri(uri));
  return { ...info, ...totp, lastCount };
}

function parseYubicoEntry(raw: unknown, where: string): ProxmoxYubicoEntry {
  const { info, entry } = parseEntryInfo(raw, where);
  const publicId = typeof entry === 'string' ? entry.toLowerCase() : '';
  if (publicId.length !== 12 || !isModhex(publicId)) {
    throw new UsageError(`${where}: expected a YubiKey public id of 12 modhex characters`, INVALID);
  }
  return { ...info, publicId };
}

function parseOpaqueEntry(raw: unknown, where: string): ProxmoxOpaqueEntry {
  const { info, entry } = parseEntryInfo(raw, where);
  if (!isJsonObject(entry)) throw new UsageError(`${where}: "entry" must be an object`, INVALID);
  return { ...info, entry: entry as ProxmoxJson };
}

function parseRecoverySet(raw: unknown, where: string): ProxmoxRecoverySet {
  if (!isJsonObject(raw)) throw new UsageError(`${where}: expected an object with secret, entries and created`, INVALID);
  refuseUnknownFields(raw, ['secret', 'entries', 'created'], where);
  const { secret, entries, created } = raw;
  if (typeof secret !== 'string' || !/^[0-9a-fA-F]{16}$/.test(secret)) {
    throw new UsageError(`${where}: "secret" must be 16 hex characters`, INVALID);
  }
  if (!Array.isArray(entries) || entries.length === 0) throw new UsageError(`${where}: "entries" must be a non-empty list`, INVALID);
  if (entries.length > MAX_RECOVERY_SLOTS) throw new UsageError(`${where}: "entries" has ${entries.length} keys (Proxmox makes 10; at most ${MAX_RECOVERY_SLOTS} are taken)`, INVALID);
  const slots = entries.map((hash: unknown, i) => {
    if (hash === null) return null;
    if (typeof hash !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hash)) {
      throw new UsageError(`${where}: entry #${i + 1} must be a 64-hex-character hash or null`, INVALID);
    }
    return hash.toLowerCase();
  });
  if (!isStoredTime(created)) throw new UsageError(`${where}: "created" must be epoch seconds (1970 to 9999)`, INVALID);
  return { secret, slots, created: created as number };
}

interface ParsedTotpUri {
  readonly secret: string;
  readonly params: TotpParams;
  readonly issuer: string | null;
  readonly account: string | null;
}

const TOTP_URI_PREFIX = 'otpauth://totp/';

/**
 * Parses `otpauth://totp/[issuer:]account?secret=…&digits=…&algorithm=…&period=…&issuer=…`, the
 * form Proxmox writes (issuer and account percent-encoded). Missing parameters take the defaults
 * every authenticator assumes (SHA1, 6 digits, 30 s); unknown ones (`image`) are ignored as apps do.
 */
function parseTotpUri(uri: string): ParsedTotpUri {
  if (uri.slice(0, TOTP_URI_PREFIX.length).toLowerCase() !== TOTP_URI_PREFIX) {
    throw new UsageError('expected an otpauth://totp/ URI', INVALID);
  }
  const rest = uri.slice(TOTP_URI_PREFIX.length);
  const q = rest.indexOf('?');
  const rawLabel = q < 0 ? rest : rest.slice(0, q);
  const query = new Map<string, string>();
  for (const part of q < 0 ? [] : rest.slice(q + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).toLowerCase();
    if (!['secret', 'algorithm', 'digits', 'period', 'issuer'].includes(name)) continue;
    if (query.has(name)) throw new UsageError(`the URI gives "${name}" twice`, INVALID);
    query.set(name, percentDecode(eq < 0 ? '' : part.slice(eq + 1), `the URI's ${name}`));
  }
  const secretText = query.get('secret');
  if (secretText === undefined) throw new UsageError('the URI has no secret', INVALID);
  const secret = parseProxmoxSecret(secretText);
  const params = parseTotpParams({ algorithm: query.get('algorithm'), digits: query.get('digits'), period: query.get('period') });
  // A literal ':' separates issuer and account, so an issuer may hold an encoded one (%3A); some
  // writers encode the separator itself, so without a literal ':' the decoded label is split.
  const decodeLabel = (text: string): string => percentDecode(text, 'the URI label');
  const rawColon = rawLabel.indexOf(':');
  const decoded = decodeLabel(rawLabel);
  const colon = rawColon >= 0 ? -1 : decoded.indexOf(':');
  const [issuerPart, accountPart] =
    rawColon >= 0
      ? [decodeLabel(rawLabel.slice(0, rawColon)), decodeLabel(rawLabel.slice(rawColon + 1))]
      : [colon >= 0 ? decoded.slice(0, colon) : '', decoded.slice(colon + 1)];
  const labelIssuer = issuerPart.trim();
  const account = accountPart.trim();
  const issuer = query.get('issuer') ?? labelIssuer;
  // Kept with the factor (export totp gives it back), so held to the text rule like a description.
  if (issuer !== '') checkText(issuer, "the URI's issuer", TEXT_MAX);
  return { secret, params, issuer: issuer === '' ? null : issuer, account: account === '' ? null : account };
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * A base32 secret as Proxmox and authenticator apps read it: bits of the last character beyond
 * the last whole byte are ignored. Proxmox let users type their own secret, so such secrets can be
 * in tfa.cfg; clearing those bits keeps the same key bytes (the same codes) and a canonical form.
 */
function parseProxmoxSecret(input: string): string {
  const text = input.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase();
  const last = BASE32.indexOf(text.slice(-1));
  const spareBits = (text.length * 5) % 8;
  const tidy = /^[A-Z2-7]+$/.test(text) && last >= 0 ? text.slice(0, -1) + (BASE32[last & ~((1 << spareBits) - 1)] ?? '') : text;
  try {
    return parseSecret(tidy);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // The base32 decoder's own errors are not UsageErrors; none should remain, but refuse cleanly.
    throw new UsageError('invalid TOTP secret: not decodable base32', INVALID);
  }
}

function percentDecode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UsageError(`${what} is not valid percent-encoding`, INVALID);
  }
}

// ---------------------------------------------------------------------------------------------
// user.cfg
// ---------------------------------------------------------------------------------------------

/** The realm factor keys a user.cfg `user:` line may carry (before tfa.cfg existed). */
export type ProxmoxUserKeys =
  | { readonly kind: 'none' }
  /** `x` (or `x!oath`, `x!u2f`): the user's factors are in tfa.cfg. */
  | { readonly kind: 'in-tfa-cfg' }
  /** Legacy keys for the realm's enforced factor: TOTP secrets (base32) and YubiKey public ids. */
  | { readonly kind: 'legacy'; readonly totpSecrets: readonly string[]; readonly yubicoIds: readonly string[] };

export interface ProxmoxUser {
  /** `name@realm` in canonical form (parseUserId): as Proxmox named it, in lower case. */
  readonly userid: string;
  readonly enabled: boolean;
  /** The UTC date of Proxmox's expiry time, `YYYY-MM-DD`; null for never. */
  readonly expire: string | null;
  readonly firstname: string | null;
  readonly lastname: string | null;
  readonly email: string | null;
  readonly comment: string | null;
  readonly keys: ProxmoxUserKeys;
  /** The line of user.cfg it came from, for messages about it later in an import. */
  readonly line: number;
}

export interface ProxmoxUserCfg {
  readonly users: readonly ProxmoxUser[];
}

/** Line types of user.cfg that say nothing about users' factors. */
const USER_CFG_SKIPPED = new Set(['group', 'pool', 'role', 'acl', 'token']);

/**
 * Parses /etc/pve/user.cfg as pve-access-control does: one entry per line, fields separated by
 * `:` and trimmed, trailing empty fields dropped; `user:USERID:ENABLE:EXPIRE:FIRST:LAST:EMAIL:COMMENT:KEYS:`.
 * Group, pool, role, ACL and token lines are skipped. Where Proxmox would warn and skip a bad
 * user line, this refuses the file: an import must not silently lose a user.
 */
export function parseUserCfg(text: string): ProxmoxUserCfg {
  const users: ProxmoxUser[] = [];
  const lineOf = new Map<string, number>();
  splitLines(text).forEach((raw, index) => {
    const line = index + 1;
    const content = trimWhitespace(raw);
    if (content === '' || content.startsWith('#')) return;
    const fields = content.split(':').map(trimWhitespace);
    // Perl's split drops trailing empty fields; the line's closing ':' must not count as one.
    while (fields.length > 0 && fields[fields.length - 1] === '') fields.pop();
    const type = fields[0] ?? '';
    if (USER_CFG_SKIPPED.has(type)) return;
    // Not echoed: a damaged line could be anything, a secret included.
    if (type !== 'user') throw new UsageError(`user.cfg line ${line}: not a user, group, pool, role, acl or token line`, INVALID);
    const user = parseUserLine(fields.slice(1), line);
    const earlier = lineOf.get(user.userid);
    if (earlier !== undefined) {
      throw new UsageError(`user.cfg line ${line}: user ${quote(user.userid)} is already defined on line ${earlier}`, INVALID);
    }
    lineOf.set(user.userid, line);
    users.push(user);
  });
  return { users };
}

function parseUserLine(fields: readonly string[], line: number): ProxmoxUser {
  const where = `user.cfg line ${line}`;
  if (fields.length > 8) throw new UsageError(`${where}: too many fields for a user line`, INVALID);
  const [id = '', enable = '', expire = '', firstname = '', lastname = '', email = '', comment = '', keys = ''] = fields;
  const userid = requireRealmUserId(id, where);
  if (enable !== '' && enable !== '0' && enable !== '1') throw new UsageError(`${where}: enable must be 0 or 1`, INVALID);
  if (!/^[0-9]*$/.test(expire) || Number(expire) > LAST_SECOND) {
    throw new UsageError(`${where}: expire must be epoch seconds up to year 9999 (0 for never)`, INVALID);
  }
  const expireSeconds = Number(expire);
  return {
    userid,
    // Proxmox reads the field as a Perl truth value: empty means disabled.
    enabled: enable === '1',
    expire: expireSeconds === 0 ? null : dateOf(expireSeconds),
    firstname: nullIfEmpty(nameText(firstname, 'first name', where)),
    lastname: nullIfEmpty(nameText(lastname, 'last name', where)),
    // Proxmox writes the e-mail address as is, unlike the free-text fields; a line short of a
    // field or two puts a key (a legacy TOTP secret) there, not repeated.
    email: within(where, () => parseEmail(email, shownIfAddress)),
    comment: nullIfEmpty(nameText(comment, 'comment', where)),
    keys: parseUserKeys(keys, where),
    line,
  };
}

/**
 * A free-text field of a user line (a name, the comment), refused without being repeated where it
 * holds only what looks like a legacy TOTP secret: a line short of one to three fields puts its
 * keys there, and an import would store the secret in the clear and list it with the user.
 */
function nameText(raw: string, what: string, where: string): string {
  const text = proxmoxText(decodeProxmoxText(raw), what, where);
  if (looksLikeSecrets(text)) {
    throw new UsageError(`${where}: the ${what} looks like a TOTP secret (is the line short of a field?); not imported, not repeated`, INVALID);
  }
  return text;
}

/**
 * Text made only of what Proxmox keeps as a TOTP secret: 40 hex digits, or base32 of at least 16
 * characters (80 bits) in capitals; several joined as the keys field joins them. A name or a
 * comment in words never is (a space-free run of 16 capitals and digits 2-7 is not a name).
 */
function looksLikeSecrets(text: string): boolean {
  const words = text.split(/[\s,;]+/).filter((w) => w !== '');
  return words.length > 0 && words.every((w) => /^[0-9A-Fa-f]{40}$/.test(w) || /^[A-Z2-7]{16,}=*$/.test(w));
}

/**
 * Undoes PVE::Tools::encode_text (uri_escape of the UTF-8 bytes outside 0x20-0x7e, and of `:`) the
 * way decode_text does: every %XX becomes its byte, other characters stay, then the bytes are read
 * as UTF-8. Proxmox replaces invalid sequences; here they become lone surrogates (decodeUtf8),
 * which the text rule refuses, naming the line. encode_text leaves `%` itself unescaped, so a
 * literal `%41` in a Proxmox comment comes back as `A`, in Proxmox too.
 */
function decodeProxmoxText(raw: string): string {
  if (!raw.includes('%')) return raw;
  const utf8 = new TextEncoder().encode(raw);
  const bytes: number[] = [];
  for (let i = 0; i < utf8.length; i++) {
    const byte = utf8[i] as number;
    const hex = byte === 0x25 && i + 2 < utf8.length ? String.fromCharCode(utf8[i + 1] as number, utf8[i + 2] as number) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(byte);
    }
  }
  return decodeUtf8(Uint8Array.from(bytes));
}

/** The longest free text (a description, an issuer) a Proxmox file may hold here: what `tfa add` and `user add` take. */
const TEXT_MAX = 256;

/** A free-text field of a Proxmox file under tfactl's text rule (no length limit beyond Proxmox's own). */
function proxmoxText(value: string, what: string, where: string): string {
  return within(where, () => checkText(value, what, Infinity));
}

/**
 * The `keys` field: `x` or `x!TYPE` points to tfa.cfg; otherwise a list (split as
 * PVE::Tools::split_list does, on commas, semicolons and white space) of YubiKey public ids (12
 * modhex characters) and TOTP secrets (base32, or 40 hex digits as oathkeygen printed them).
 */
function parseUserKeys(field: string, where: string): ProxmoxUserKeys {
  if (field === '') return { kind: 'none' };
  if (/^x(?:!.*)?$/.test(field)) return { kind: 'in-tfa-cfg' };
  const totpSecrets: string[] = [];
  const yubicoIds: string[] = [];
  field
    .split(/[\s,;]+/)
    .filter((key) => key !== '')
    .forEach((key, i) => {
      if (key.length === 12 && isModhex(key.toLowerCase())) {
        yubicoIds.push(key.toLowerCase());
      } else if (/^[0-9A-Fa-f]{40}$/.test(key)) {
        // Proxmox tests for hex first, so a 40-character key of hex digits is hex even if it could be base32.
        totpSecrets.push(encodeSecret(Uint8Array.from(Buffer.from(key, 'hex'))));
      } else if (/^[A-Za-z2-7]+=*$/.test(key)) {
        totpSecrets.push(within(`${where}: key #${i + 1}`, () => parseProxmoxSecret(key)));
      } else {
        throw new UsageError(
          `${where}: key #${i + 1} is neither a YubiKey id (12 modhex characters) nor a TOTP secret (base32 or 40 hex digits)`,
          INVALID,
        );
      }
    });
  return { kind: 'legacy', totpSecrets, yubicoIds };
}

// ---------------------------------------------------------------------------------------------
// domains.cfg
// ---------------------------------------------------------------------------------------------

export type ProxmoxRealmType = 'pam' | 'pve' | 'ad' | 'ldap' | 'openid';

/** The second factor a realm enforces (its `tfa` property). */
export type ProxmoxRealmEnforcement =
  | { readonly kind: 'none' }
  /** Proxmox `type=oath`; missing options take Proxmox's defaults (6 digits, 30 s, SHA1). */
  | { readonly kind: 'totp'; readonly params: TotpParams }
  /** Proxmox `type=yubico`: a validation service with its API id and base64 API key. */
  | { readonly kind: 'yubico'; readonly apiId: string; readonly apiKey: string; readonly url: string };

export interface ProxmoxRealm {
  /** The realm name in canonical form (parseRealmName): as Proxmox named it, in lower case. */
  readonly name: string;
  readonly type: ProxmoxRealmType;
  readonly comment: string | null;
  readonly enforcement: ProxmoxRealmEnforcement;
  /** The line of its section header, for messages about it later in an import. */
  readonly line: number;
}

const REALM_TYPES: readonly ProxmoxRealmType[] = ['pam', 'pve', 'ad', 'ldap', 'openid'];
/** What Proxmox uses when a yubico realm names no URL. */
export const PROXMOX_YUBICO_URL = 'https://api2.yubico.com/wsapi/2.0/verify';

interface RealmSection {
  readonly name: string;
  readonly type: ProxmoxRealmType;
  readonly line: number;
  readonly properties: Map<string, { value: string; line: number }>;
}

/**
 * Parses /etc/pve/domains.cfg, a Proxmox section config: a `TYPE: NAME` header, then indented
 * `key value` lines up to the next blank line; `#` lines are comments. Only the realm's type,
 * comment and `tfa` matter to tfactl; other properties (servers, LDAP settings) are passed over.
 */
export function parseDomainsCfg(text: string): ProxmoxRealm[] {
  const sections: RealmSection[] = [];
  let current: RealmSection | null = null;
  splitLines(text).forEach((raw, index) => {
    const line = index + 1;
    const where = `domains.cfg line ${line}`;
    if (/^\s*#/.test(raw)) return;
    if (trimWhitespace(raw) === '') {
      current = null;
      return;
    }
    const header = /^(\S+):\s*(\S+)\s*$/.exec(raw);
    if (header) {
      const [, type = '', name = ''] = header;
      if (!REALM_TYPES.includes(type as ProxmoxRealmType)) {
        throw new UsageError(`${where}: unknown realm type ${quote(type)}: expected pam, pve, ad, ldap or openid`, INVALID);
      }
      const realm = within(where, () => parseRealmName(name));
      const earlier = sections.find((s) => s.name === realm);
      if (earlier) throw new UsageError(`${where}: realm ${quote(realm)} is already defined on line ${earlier.line}`, INVALID);
      current = { name: realm, type: type as ProxmoxRealmType, line, properties: new Map() };
      sections.push(current);
      return;
    }
    const property = /^\s+(\S+)(?:\s+(.*\S))?\s*$/.exec(raw);
    // Not echoed: the line may hold a realm's bind password or API key.
    if (!property) throw new UsageError(`${where}: expected a "type: name" section header or an indented "key value" line`, INVALID);
    const section: RealmSection | null = current;
    if (section === null) throw new UsageError(`${where}: a "key value" line outside a realm section`, INVALID);
    const [, key = '', value = ''] = property;
    const earlier = section.properties.get(key);
    if (earlier) throw new UsageError(`${where}: ${quote(key)} is already set on line ${earlier.line}`, INVALID);
    section.properties.set(key, { value, line });
  });
  return sections.map((section) => {
    const commentProperty = section.properties.get('comment');
    const comment = commentProperty ? proxmoxText(commentProperty.value, 'comment', `domains.cfg line ${commentProperty.line}`) : '';
    const tfa = section.properties.get('tfa');
    return {
      name: section.name,
      type: section.type,
      comment: comment === '' ? null : comment,
      enforcement: tfa === undefined ? { kind: 'none' } : parseRealmTfa(tfa.value, `domains.cfg line ${tfa.line}`),
      line: section.line,
    };
  });
}

const REALM_TFA_KEYS = ['type', 'digits', 'step', 'algorithm', 'id', 'key', 'url'];

/**
 * Parses the `tfa` property string, e.g. `type=oath,digits=6,step=30` or
 * `type=yubico,id=…,key=…,url=…`. Options of the other type are ignored, as Proxmox ignores them.
 */
function parseRealmTfa(value: string, where: string): ProxmoxRealmEnforcement {
  const options = parsePropertyString(value, where, 'tfa', 'type');
  for (const key of options.keys()) {
    if (!REALM_TFA_KEYS.includes(key)) throw new UsageError(`${where}: unknown tfa option ${quote(key)}`, INVALID);
  }
  const type = options.get('type');
  if (type === 'oath') {
    const params = within(where, () =>
      parseTotpParams({ digits: options.get('digits'), period: options.get('step'), algorithm: options.get('algorithm') }),
    );
    return { kind: 'totp', params };
  }
  if (type === 'yubico') {
    const apiId = options.get('id') ?? '';
    const apiKey = options.get('key') ?? '';
    const url = options.get('url') ?? PROXMOX_YUBICO_URL;
    if (!/^[0-9A-Za-z]+$/.test(apiId)) throw new UsageError(`${where}: tfa type=yubico needs the API id (id=…)`, INVALID);
    if (!isBase64Key(apiKey)) throw new UsageError(`${where}: tfa type=yubico needs the base64 API key (key=…)`, INVALID);
    if (!/^https?:\/\/[^\s/]+/.test(url)) throw new UsageError(`${where}: tfa url must be an http(s) URL`, INVALID);
    // As realm set-yubico: realm show prints the URL, so it may not carry a password.
    if (/^https?:\/\/[^/?#]*@/.test(url)) throw new UsageError(`${where}: tfa url may not hold a user or password (tfactl shows the URL)`, INVALID);
    proxmoxText(url, 'tfa url', where);
    return { kind: 'yubico', apiId, apiKey, url };
  }
  throw new UsageError(`${where}: tfa type must be oath or yubico`, INVALID);
}

/** The key a Yubico validation service issues: base64 of at least 16 bytes, as `realm set-enforce` wants it. */
function isBase64Key(text: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return false;
  const bytes = Buffer.from(text, 'base64');
  return bytes.length >= 16 && bytes.toString('base64').replace(/=+$/, '') === text.replace(/=+$/, '');
}

/**
 * Splits a Proxmox property string (`k=v,k="quoted, with \"escapes\""`). A bare value is the
 * format's default key (`type` for a realm's tfa), as PVE::JSONSchema reads it; where the format
 * has none, a bare value is refused. Values are never put in messages: `key` is a secret.
 */
function parsePropertyString(text: string, where: string, what: string, defaultKey: string | null): Map<string, string> {
  const options = new Map<string, string>();
  const part = /\s*(?:([^=,"\s]+)=)?(?:"((?:[^"\\]|\\.)*)"|([^,"]*))\s*(?:,|$)/y;
  let pos = 0;
  while (pos < text.length) {
    part.lastIndex = pos;
    const m = part.exec(text);
    if (!m || m[0] === '') throw new UsageError(`${where}: the ${what} option list is malformed`, INVALID);
    pos = part.lastIndex;
    const [, key, quoted, plain] = m;
    const value = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (plain ?? '').trim();
    if (key === undefined && value === '') continue;
    if (key === undefined && defaultKey === null) throw new UsageError(`${where}: a ${what} option without a name (expected name=value)`, INVALID);
    const name = key ?? (defaultKey as string);
    if (options.has(name)) throw new UsageError(`${where}: ${what} option ${quote(name)} is given twice`, INVALID);
    options.set(name, value);
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// datacenter.cfg
// ---------------------------------------------------------------------------------------------

/** What an import takes from datacenter.cfg: the settings WebAuthn credentials and U2F registrations were made under. */
export interface ProxmoxDatacenterCfg {
  /** The `webauthn:` line; null when there is none. */
  readonly webauthn: ProxmoxWebauthnConfig | null;
  /** The `u2f:` line; null when there is none. */
  readonly u2f: ProxmoxU2fConfig | null;
}

const WEBAUTHN_KEYS = ['rp', 'origin', 'id', 'allow-subdomains'];
const U2F_KEYS = ['appid', 'origin'];

/**
 * Parses /etc/pve/datacenter.cfg as PVE::JSONSchema::parse_config reads it: one `key: value` per
 * line, surrounding white space trimmed, `#` lines (the cluster's description) and other keys
 * passed over. Only `webauthn: rp=…,origin=…,id=…[,allow-subdomains=0|1]` and
 * `u2f: appid=…,origin=…` matter here; each is checked (an unknown option, a bad URL or RP id is
 * refused, naming the line) and may be given once.
 */
export function parseDatacenterCfg(text: string): ProxmoxDatacenterCfg {
  let webauthn: ProxmoxWebauthnConfig | null = null;
  let u2f: ProxmoxU2fConfig | null = null;
  const seen = new Map<string, number>();
  splitLines(text).forEach((raw, index) => {
    const line = index + 1;
    const content = trimWhitespace(raw);
    if (content === '' || content.startsWith('#')) return;
    const m = /^(\S+?):\s*(.*)$/.exec(content);
    // Proxmox warns and ignores a line that is not `key: value`; so does this reader, silently.
    if (!m) return;
    const [, key = '', value = ''] = m;
    if (key !== 'webauthn' && key !== 'u2f') return;
    const where = `datacenter.cfg line ${line}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) throw new UsageError(`${where}: ${key} is already set on line ${earlier}`, INVALID);
    seen.set(key, line);
    const options = parsePropertyString(value, where, key, null);
    for (const name of options.keys()) {
      if (!(key === 'webauthn' ? WEBAUTHN_KEYS : U2F_KEYS).includes(name)) throw new UsageError(`${where}: unknown ${key} option ${quote(name)}`, INVALID);
    }
    if (key === 'webauthn') {
      const allow = options.get('allow-subdomains');
      const allowSubdomains = allow === undefined ? null : proxmoxBoolean(allow, `${where}: allow-subdomains`);
      webauthn = webauthnConfig(
        { id: options.get('id') ?? null, rp: options.get('rp') ?? null, origin: options.get('origin') ?? null, allowSubdomains },
        where,
      );
    } else {
      u2f = u2fConfig({ appid: options.get('appid') ?? null, origin: options.get('origin') ?? null }, where);
    }
  });
  return { webauthn, u2f };
}

/** PVE::JSONSchema::parse_boolean: 1, on, yes, true and 0, off, no, false, in any case. */
function proxmoxBoolean(value: string, where: string): boolean {
  if (/^(?:1|on|yes|true)$/i.test(value)) return true;
  if (/^(?:0|off|no|false)$/i.test(value)) return false;
  throw new UsageError(`${where}: expected 0 or 1`, INVALID);
}

// ---------------------------------------------------------------------------------------------
// Shared
// ---------------------------------------------------------------------------------------------

type JsonObject = { readonly [key: string]: unknown };

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function refuseUnknownFields(value: JsonObject, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new UsageError(`${where}: unknown field ${quote(key)}`, INVALID);
  }
}

function optionalObject(value: JsonObject, field: string, where: string): ProxmoxJson | null {
  const inner = value[field];
  if (inner === undefined || inner === null) return null;
  if (!isJsonObject(inner)) throw new UsageError(`${where}: "${field}" must be an object`, INVALID);
  return inner as ProxmoxJson;
}

/** Proxmox user ids always name their realm; a bare name would silently land in tfactl's `local`. */
function requireRealmUserId(input: string, where: string): string {
  if (!input.includes('@')) throw new UsageError(`${where}: user id ${quote(input)} has no @realm`, INVALID);
  return within(where, () => parseUserId(input)).id;
}

/** Runs a parser of one value and prefixes its UsageError with where the value came from. */
function within<T>(where: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${where}: ${e.message}`, INVALID);
    throw e;
  }
}

function splitLines(text: string): string[] {
  return text.split(/\r?\n/);
}

function trimWhitespace(text: string): string {
  return text.replace(/^\s+|\s+$/g, '');
}

function nullIfEmpty(text: string): string | null {
  return text === '' ? null : text;
}

/** " (line N)" for a JSON.parse error that reports a position, else nothing. */
function jsonFaultLine(text: string, error: unknown): string {
  const position = /at position (\d+)/.exec(error instanceof Error ? error.message : '');
  if (!position) return '';
  const offset = Number(position[1]);
  return ` (line ${text.slice(0, offset).split('\n').length})`;
}
