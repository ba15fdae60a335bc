import { encodeCBOR } from '@levischuck/tiny-cbor';
import { UsageError } from '../errors.js';
import type { U2fRegistration } from './u2f.js';
import { quote } from './userid.js';

/**
 * WebAuthn credentials and U2F registrations as Proxmox VE stores them in tfa.cfg, turned into the
 * forms a verifier takes: the public key as a COSE_Key (CBOR, what @simplewebauthn/server's
 * verifyAuthenticationResponse takes as `credential.publicKey`) and as a JWK (what
 * node:crypto's createPublicKey takes). Pure: JSON values in, bytes and strings out.
 *
 * Proxmox keeps webauthn-rs's own JSON, not COSE, and three webauthn-rs versions wrote its byte
 * strings three ways: base64url without padding (PVE 9, webauthn-rs 0.5), JSON arrays of
 * integers (PVE 7/8, webauthn-rs 0.3; still so for `e` of RSA keys and `x` of Ed25519 keys), and
 * padded standard base64, which webauthn-rs reads too. All three are read here, for every byte
 * string, and one credential normalises to the same bytes however it was written.
 *
 * Errors name the place (the caller's `where`: user and entry) and the field, never a value:
 * key material is public, but a damaged entry could hold anything.
 */

const INVALID = 'invalid_proxmox_config';

/** The COSE algorithms tfactl verifies: ES256 and RS256 (what Proxmox accepts), and EdDSA. */
export type WebauthnAlgorithm = -7 | -257 | -8;

/** A public key in JSON Web Key form (RFC 7517/8037), byte strings base64url without padding. */
export type WebauthnPublicKeyJwk =
  | { readonly kty: 'EC'; readonly crv: 'P-256'; readonly x: string; readonly y: string }
  | { readonly kty: 'RSA'; readonly n: string; readonly e: string }
  | { readonly kty: 'OKP'; readonly crv: 'Ed25519'; readonly x: string };

/** Bytes in a plain ArrayBuffer (what @simplewebauthn/server's types ask for). */
export type Bytes = Uint8Array<ArrayBuffer>;

/** A WebAuthn credential, normalised: the same for every encoding Proxmox used. */
export interface WebauthnCredential {
  /** The credential id the authenticator gave (1 to 1023 bytes). */
  readonly credentialId: Bytes;
  /** -7 (ES256, P-256), -257 (RS256) or -8 (EdDSA, Ed25519). */
  readonly algorithm: WebauthnAlgorithm;
  /**
   * The public key as a CBOR-encoded COSE_Key (RFC 9052/9053), map keys in deterministic order:
   * EC2 `{1: 2, 3: -7, -1: 1, -2: x, -3: y}`, OKP `{1: 1, 3: -8, -1: 6, -2: x}`,
   * RSA `{1: 3, 3: -257, -1: n, -2: e}` (n and e without leading zero bytes).
   */
  readonly publicKeyCose: Bytes;
  /** The same key as a JWK (`createPublicKey({ key, format: 'jwk' })`). */
  readonly publicKeyJwk: WebauthnPublicKeyJwk;
  /** The signature counter last seen (0 to 2^32 - 1); an authenticator without one reports 0. */
  readonly counter: number;
  /** Whether the credential may be backed up or synced (a passkey); null when Proxmox did not record it. */
  readonly backupEligible: boolean | null;
  /** Whether it was backed up when last seen; null when Proxmox did not record it. */
  readonly backupState: boolean | null;
}

/**
 * A legacy U2F registration, normalised: what domain/u2f.ts's sign-in check takes
 * (U2fRegistration), and the key as a JWK too. U2F keeps no counter.
 */
export interface U2fCredential extends U2fRegistration {
  /** The key handle (1 to 255 bytes): the credential id when signing in through WebAuthn's appid extension. */
  readonly keyHandle: Bytes;
  /** The uncompressed P-256 point, 65 bytes: 0x04 | x | y. */
  readonly publicKey: Bytes;
  /** The same key as a JWK. */
  readonly publicKeyJwk: { readonly kty: 'EC'; readonly crv: 'P-256'; readonly x: string; readonly y: string };
}

/**
 * Reads the `entry` of a Proxmox WebAuthn factor: webauthn-rs's
 * `{cred_id, cred: {type_, key: {EC_EC2 | EC_OKP | RSA}}, counter, backup_eligible?, backup_state?}`.
 * Other fields of webauthn-rs's Credential (user_verified, registration_policy, transports, ...)
 * are passed over, as Proxmox passes them over: they do not change which signatures verify.
 */
export function webauthnCredentialFromProxmox(entry: unknown, where: string): WebauthnCredential {
  const fail: Fail = failAt(where);
  if (!isObject(entry)) fail('a WebAuthn entry must be an object with cred_id, cred and counter');
  const credentialId = byteString(entry['cred_id'], 'cred_id', fail);
  if (credentialId.length === 0 || credentialId.length > 1023) fail('"cred_id" must be 1 to 1023 bytes');

  const counter = entry['counter'];
  if (typeof counter !== 'number' || !Number.isInteger(counter) || counter < 0 || counter > 0xffffffff) {
    fail('"counter" must be an integer from 0 to 4294967295');
  }
  const flag = (field: string): boolean | null => {
    const value = entry[field];
    if (value === undefined || value === null) return null;
    if (typeof value !== 'boolean') fail(`"${field}" must be true or false`);
    return value as boolean;
  };

  const cred = entry['cred'];
  if (!isObject(cred)) fail('"cred" must be an object with type_ and key');
  const type = cred['type_'];
  if (typeof type !== 'string') fail('"cred.type_" must be the algorithm name (ES256, RS256 or EDDSA)');
  const key = cred['key'];
  if (!isObject(key) || Object.keys(key).length !== 1) fail('"cred.key" must be an object with one of EC_EC2, EC_OKP or RSA');
  const [shape, params] = Object.entries(key)[0] as [string, unknown];
  if (!KEY_SHAPES.includes(shape)) fail(`key type ${quote(shape)} is not supported: expected EC_EC2, EC_OKP or RSA`);
  if (!isObject(params)) fail(`"cred.key.${shape}" must be an object`);

  const { algorithm, cose, jwk } = publicKeyOf(type as string, shape, params as JsonObject, fail);
  return {
    credentialId,
    algorithm,
    publicKeyCose: cose,
    publicKeyJwk: jwk,
    counter: counter as number,
    backupEligible: flag('backup_eligible'),
    backupState: flag('backup_state'),
  };
}

/**
 * Reads the `entry` of a Proxmox U2F factor: `{key: {keyHandle, version}, public-key, certificate?}`,
 * the key handle base64url and the public key standard base64 of the 65-byte point. Where
 * domain/u2f.ts's u2fRegistrationFromProxmox answers null for an entry it cannot use (at sign-in),
 * this one says what is wrong with it (at import).
 */
export function u2fCredentialFromProxmox(entry: unknown, where: string): U2fCredential {
  const fail: Fail = failAt(where);
  if (!isObject(entry)) fail('a U2F entry must be an object with key and public-key');
  const key = entry['key'];
  if (!isObject(key)) fail('"key" must be an object with keyHandle and version');
  const version = key['version'];
  if (version !== undefined && typeof version !== 'string') fail('"key.version" must be a string');
  const keyHandle = byteString(key['keyHandle'], 'key.keyHandle', fail);
  if (keyHandle.length === 0 || keyHandle.length > 255) fail('"key.keyHandle" must be 1 to 255 bytes');
  const publicKey = byteString(entry['public-key'], 'public-key', fail);
  if (publicKey.length !== 65 || publicKey[0] !== 0x04) fail('"public-key" must be an uncompressed P-256 point (65 bytes starting 0x04)');
  const x = publicKey.subarray(1, 33);
  const y = publicKey.subarray(33);
  if (!isP256Point(x, y)) fail('"public-key" is not a point on the P-256 curve');
  const certificate = entry['certificate'];
  if (certificate !== undefined && certificate !== null && typeof certificate !== 'string') fail('"certificate" must be base64 text');
  return { keyHandle, publicKey: Uint8Array.from(publicKey), publicKeyJwk: { kty: 'EC', crv: 'P-256', x: base64url(x), y: base64url(y) } };
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

type Fail = (why: string) => never;

const KEY_SHAPES = ['EC_EC2', 'EC_OKP', 'RSA'];

const ALGORITHMS: Readonly<Record<string, { readonly algorithm: WebauthnAlgorithm; readonly shape: string }>> = {
  ES256: { algorithm: -7, shape: 'EC_EC2' },
  // webauthn-rs 0.3's name for it.
  ECDSA_SHA256: { algorithm: -7, shape: 'EC_EC2' },
  RS256: { algorithm: -257, shape: 'RSA' },
  EDDSA: { algorithm: -8, shape: 'EC_OKP' },
};

// COSE labels and values (RFC 9052 section 7, RFC 9053, RFC 8230).
const KTY = 1;
const ALG = 3;
const KTY_OKP = 1;
const KTY_EC2 = 2;
const KTY_RSA = 3;
const CRV_P256 = 1;
const CRV_ED25519 = 6;

function publicKeyOf(
  type: string,
  shape: string,
  params: JsonObject,
  fail: Fail,
): { algorithm: WebauthnAlgorithm; cose: Bytes; jwk: WebauthnPublicKeyJwk } {
  const known = ALGORITHMS[type];
  if (!Object.hasOwn(ALGORITHMS, type) || known === undefined) {
    fail(`algorithm ${quote(type)} is not supported: tfactl verifies ES256 and RS256 (what Proxmox accepts) and EDDSA (as webauthn-rs names them)`);
  }
  const { algorithm, shape: expected } = known as { algorithm: WebauthnAlgorithm; shape: string };
  if (shape !== expected) fail(`algorithm ${type} does not go with a ${shape} key`);

  if (shape === 'EC_EC2') {
    if (params['curve'] !== 'SECP256R1') fail('"cred.key.EC_EC2.curve" must be SECP256R1 (ES256 is P-256 only)');
    const x = byteString(params['x'], 'cred.key.EC_EC2.x', fail);
    const y = byteString(params['y'], 'cred.key.EC_EC2.y', fail);
    if (x.length !== 32 || y.length !== 32) fail('"cred.key.EC_EC2" x and y must be 32 bytes each');
    if (!isP256Point(x, y)) fail('"cred.key.EC_EC2" is not a point on the P-256 curve');
    const cose = coseKey([[KTY, KTY_EC2], [ALG, algorithm], [-1, CRV_P256], [-2, x], [-3, y]]);
    return { algorithm, cose, jwk: { kty: 'EC', crv: 'P-256', x: base64url(x), y: base64url(y) } };
  }
  if (shape === 'EC_OKP') {
    if (params['curve'] !== 'ED25519') fail('"cred.key.EC_OKP.curve" must be ED25519');
    const x = byteString(params['x'], 'cred.key.EC_OKP.x', fail);
    if (x.length !== 32) fail('"cred.key.EC_OKP.x" must be 32 bytes');
    const cose = coseKey([[KTY, KTY_OKP], [ALG, algorithm], [-1, CRV_ED25519], [-2, x]]);
    return { algorithm, cose, jwk: { kty: 'OKP', crv: 'Ed25519', x: base64url(x) } };
  }
  // RSA: webauthn-rs keeps e as 3 bytes (65537 is [1, 0, 1]); COSE and JWK want both integers
  // without leading zero bytes (RFC 8230, RFC 7518 section 6.3.1).
  const n = withoutLeadingZeros(byteString(params['n'], 'cred.key.RSA.n', fail));
  const e = withoutLeadingZeros(byteString(params['e'], 'cred.key.RSA.e', fail));
  const bits = n.length === 0 ? 0 : (n.length - 1) * 8 + (32 - Math.clz32(n[0] as number));
  if (bits < 1024 || bits > 16384) fail('"cred.key.RSA.n" must be a modulus of 1024 to 16384 bits');
  if (e.length === 0 || e.length > 8 || ((e[e.length - 1] as number) & 1) === 0 || (e.length === 1 && (e[0] as number) < 3)) {
    fail('"cred.key.RSA.e" must be an odd exponent of at least 3');
  }
  const cose = coseKey([[KTY, KTY_RSA], [ALG, algorithm], [-1, n], [-2, e]]);
  return { algorithm, cose, jwk: { kty: 'RSA', n: base64url(n), e: base64url(e) } };
}

function coseKey(entries: readonly (readonly [number, number | Uint8Array])[]): Bytes {
  return Uint8Array.from(encodeCBOR(new Map(entries.map(([label, value]) => [label, value]))));
}

// P-256 (SEC 2, FIPS 186-4): y^2 = x^3 - 3x + b over the field of p.
const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

/**
 * Whether (x, y) is a point of P-256. A point off the curve would never verify a signature (and
 * feeding one to a verifier is the invalid-curve attack's first step): refused at import instead.
 */
function isP256Point(x: Uint8Array, y: Uint8Array): boolean {
  const X = toBigInt(x);
  const Y = toBigInt(y);
  if (X >= P256_P || Y >= P256_P) return false;
  const lhs = (Y * Y) % P256_P;
  const rhs = (((X * X) % P256_P) * X - 3n * X + P256_B) % P256_P;
  return lhs === (rhs + P256_P) % P256_P;
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function withoutLeadingZeros(bytes: Bytes): Bytes {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

// ---------------------------------------------------------------------------------------------
// Byte strings
// ---------------------------------------------------------------------------------------------

const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A byte string in any of the encodings webauthn-rs wrote or reads: a JSON array of integers 0 to
 * 255, or base64 text in the URL-safe or the standard alphabet (not both), padded or not. Text that
 * does not decode to exactly itself (stray characters, wrong padding, spare bits set) is refused,
 * as webauthn-rs's decoder refuses it.
 */
function byteString(value: unknown, field: string, fail: Fail): Bytes {
  if (Array.isArray(value)) {
    if (!value.every((b) => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b <= 255)) {
      fail(`"${field}" must be base64 text or a list of byte values (0 to 255)`);
    }
    return Uint8Array.from(value as number[]);
  }
  if (typeof value !== 'string') fail(`"${field}" must be base64 text or a list of byte values (0 to 255)`);
  const text = value as string;
  const urlSafe = BASE64URL.test(text);
  if (!urlSafe && !BASE64.test(text)) fail(`"${field}" is not base64`);
  const body = text.replace(/=+$/, '');
  const padded = text.length !== body.length;
  // Padding, when there is any, must be exactly what completes the last group of four.
  if (body.length % 4 === 1 || (padded && text.length % 4 !== 0)) fail(`"${field}" is not base64: wrong length or padding`);
  const bytes = Buffer.from(body, urlSafe ? 'base64url' : 'base64');
  if (bytes.toString(urlSafe ? 'base64url' : 'base64').replace(/=+$/, '') !== body) fail(`"${field}" is not base64: its last character has spare bits set`);
  return Uint8Array.from(bytes);
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

// ---------------------------------------------------------------------------------------------
// Shared
// ---------------------------------------------------------------------------------------------

type JsonObject = { readonly [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function failAt(where: string): Fail {
  return (why) => {
    throw new UsageError(`${where}: ${why}`, INVALID);
  };
}
