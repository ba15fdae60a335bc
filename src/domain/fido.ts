import { createHash, createPublicKey, timingSafeEqual, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

/**
 * What legacy U2F, WebAuthn and libfido2's tools have in common: base64 text, authenticator data and
 * assertion signatures (ES256, RS256). Pure: node:crypto only, no IO, no clock.
 */

export function sha256(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(data).digest();
}

const BASE64 = /^[A-Za-z0-9+/]*$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * The bytes `text` encodes, or null when it is not base64 (`+/`) or base64url (`-_`) as asked.
 * Padding is optional but, when given, must be right. Node's own decoder skips characters it does
 * not know, so a typo or a pasted line with junk would silently decode to other bytes.
 */
export function decodeBase64(text: string, alphabet: 'base64' | 'base64url'): Buffer | null {
  const body = text.replace(/={1,2}$/, '');
  const padded = body.length !== text.length;
  if (!(alphabet === 'base64' ? BASE64 : BASE64URL).test(body)) return null;
  if (body.length % 4 === 1 || (padded && text.length % 4 !== 0)) return null;
  return Buffer.from(body, alphabet);
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** The flags of authenticator data (WebAuthn §6.1; a U2F answer has the same first byte). */
const USER_PRESENT = 0x01;
const USER_VERIFIED = 0x04;
/** RP id hash (32) | flags (1) | signature counter (4): the fixed part, and all a U2F device signs. */
export const AUTHENTICATOR_DATA_MIN_BYTES = 37;

export interface AuthenticatorData {
  /** SHA-256 of the RP id, or of the appid for a U2F credential. */
  readonly rpIdHash: Buffer;
  readonly userPresent: boolean;
  readonly userVerified: boolean;
  /** The signature counter (big-endian 32 bits); 0 from authenticators that keep none. */
  readonly counter: number;
}

/** Reads the fixed part of authenticator data; null when it is too short to have one. */
export function parseAuthenticatorData(bytes: Uint8Array): AuthenticatorData | null {
  if (bytes.length < AUTHENTICATOR_DATA_MIN_BYTES) return null;
  const data = Buffer.from(bytes);
  const flags = data[32] as number;
  return {
    rpIdHash: data.subarray(0, 32),
    userPresent: (flags & USER_PRESENT) !== 0,
    userVerified: (flags & USER_VERIFIED) !== 0,
    counter: data.readUInt32BE(33),
  };
}

/** The COSE algorithms checked, by their names: ES256 and RS256, what Proxmox accepts at registration; EdDSA (Ed25519), which its imports may carry. */
export type AssertionAlgorithm = 'ES256' | 'RS256' | 'EdDSA';

/** A credential's public key: a JWK as stored, or a key node:crypto already holds. */
export type CredentialPublicKey = JsonWebKey | KeyObject;

/**
 * The public key to check `algorithm`'s signatures with, or null when `key` is not one (not a
 * key at all, a point off the curve, an RSA key for ES256 or the reverse, an RSA key whose size or
 * exponent makes its signatures worthless: rsaKeyUsable). Checking the key's type
 * against the algorithm the credential was registered with keeps an RSA key from being tried as
 * something else.
 */
export function assertionPublicKey(algorithm: AssertionAlgorithm, key: CredentialPublicKey): KeyObject | null {
  let publicKey: KeyObject;
  try {
    if (isKeyObject(key)) {
      if (key.type === 'secret') return null;
      publicKey = key.type === 'private' ? createPublicKey(key) : key;
    } else {
      // Only the public members: a JWK that also carries `d` must not become a private key here.
      const { kty, crv, x, y, n, e } = key;
      publicKey = createPublicKey({ key: { kty, crv, x, y, n, e } as JsonWebKey, format: 'jwk' });
    }
  } catch {
    return null;
  }
  if (algorithm === 'ES256') {
    return publicKey.asymmetricKeyType === 'ec' && publicKey.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? publicKey : null;
  }
  if (algorithm === 'EdDSA') return publicKey.asymmetricKeyType === 'ed25519' ? publicKey : null;
  return publicKey.asymmetricKeyType === 'rsa' && rsaKeyUsable(publicKey.asymmetricKeyDetails ?? {}) ? publicKey : null;
}

/** The RSA moduli a signature is checked with (what OpenSSL verifies). */
export const RSA_MIN_BITS = 1024;
export const RSA_MAX_BITS = 16384;

/**
 * Whether an RSA public key can stand behind a signature: a modulus of RSA_MIN_BITS to
 * RSA_MAX_BITS, and an odd public exponent of at least 3 (with e = 1 any padded hash is a
 * signature, made without a private key).
 */
function rsaKeyUsable(details: { readonly modulusLength?: number; readonly publicExponent?: bigint }): boolean {
  const { modulusLength, publicExponent } = details;
  if (modulusLength === undefined || modulusLength < RSA_MIN_BITS || modulusLength > RSA_MAX_BITS) return false;
  return publicExponent !== undefined && publicExponent >= 3n && publicExponent % 2n === 1n;
}

/**
 * Whether `key` is a node:crypto KeyObject rather than a JWK: by shape, not `instanceof`, so that
 * the bundle can load node:crypto lazily (scripts/build.mjs shims its functions, not its classes).
 */
function isKeyObject(key: CredentialPublicKey): key is KeyObject {
  return typeof (key as Partial<KeyObject>).export === 'function' && typeof (key as Partial<KeyObject>).type === 'string';
}

/** The P-256 key of a U2F registration: the 65-byte uncompressed point 0x04 | x | y; null if it is not one. */
export function u2fPublicKey(point: Uint8Array): KeyObject | null {
  if (point.length !== 65 || point[0] !== 0x04) return null;
  const bytes = Buffer.from(point);
  return assertionPublicKey('ES256', { kty: 'EC', crv: 'P-256', x: encodeBase64Url(bytes.subarray(1, 33)), y: encodeBase64Url(bytes.subarray(33)) });
}

/**
 * Whether `signature` is `key`'s signature over authenticator data | client data hash, the
 * message of every WebAuthn assertion and (with the 37-byte authenticator data a U2F device
 * implies) of every U2F sign response. ES256 signatures are DER, as authenticators send them;
 * RS256 is PKCS#1 v1.5. `key` comes from assertionPublicKey or u2fPublicKey.
 */
export function assertionSignatureValid(key: KeyObject, authenticatorData: Uint8Array, clientDataHash: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length === 0) return false;
  try {
    // Ed25519 hashes inside the signature scheme: node:crypto takes no digest for it.
    return verify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', Buffer.concat([authenticatorData, clientDataHash]), key, signature);
  } catch {
    // A signature node:crypto cannot even read is simply not a valid one.
    return false;
  }
}

/**
 * What is wrong with the shape of a browser's RegistrationResponseJSON (credential.toJSON()), or
 * null when it has one: an id and rawId in base64url, type `public-key`, and a response with
 * clientDataJSON and attestationObject in base64url. Only the shape: the contents are checked
 * against the challenge later.
 */
export function registrationResponseProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'it is not a JSON object';
  const v = value as Record<string, unknown>;
  const b64 = (x: unknown) => typeof x === 'string' && x.length > 0 && BASE64URL.test(x);
  if (!b64(v.id)) return 'its "id" is not a base64url string';
  if (!b64(v.rawId)) return 'its "rawId" is not a base64url string';
  if (v.type !== 'public-key') return 'its "type" is not "public-key"';
  const r = v.response;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'it has no "response" object';
  const response = r as Record<string, unknown>;
  if (!b64(response.clientDataJSON)) return 'its "response.clientDataJSON" is not a base64url string';
  if (!b64(response.attestationObject)) return 'its "response.attestationObject" is not a base64url string (is it a sign-in answer?)';
  return null;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Equal bytes, compared in constant time. */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && timingSafeEqual(a, b);

/** A browser's AuthenticationResponseJSON (credential.toJSON()), its fields decoded. */
export interface BrowserAssertion {
  /** rawId, or id: when both are there they agree. */
  readonly credentialId: Buffer;
  /** clientDataJSON: the exact bytes whose hash was signed. */
  readonly clientData: Buffer;
  readonly authenticatorData: Buffer;
  readonly signature: Buffer;
}

/** Reads a browser's sign-in answer; null when it does not have that shape. */
export function parseBrowserAssertion(value: unknown): BrowserAssertion | null {
  if (!isRecord(value) || value.type !== 'public-key' || !isRecord(value.response)) return null;
  const field = (record: Record<string, unknown>, name: string) => (typeof record[name] === 'string' ? decodeBase64(record[name], 'base64url') : null);
  const rawId = field(value, 'rawId');
  const id = field(value, 'id');
  const credentialId = rawId ?? id;
  if (!credentialId || credentialId.length === 0 || (rawId && id && !rawId.equals(id)) || (value.rawId !== undefined && !rawId) || (value.id !== undefined && !id)) return null;
  const clientData = field(value.response, 'clientDataJSON');
  const authenticatorData = field(value.response, 'authenticatorData');
  const signature = field(value.response, 'signature');
  if (!clientData || !authenticatorData || !signature || authenticatorData.length < AUTHENTICATOR_DATA_MIN_BYTES) return null;
  return { credentialId, clientData, authenticatorData, signature };
}

let strictUtf8: TextDecoder | undefined;

/** Client data (UTF-8 JSON, an object); null when it is anything else. */
export function parseClientData(bytes: Uint8Array): Record<string, unknown> | null {
  try {
    strictUtf8 ??= new TextDecoder('utf-8', { fatal: true });
    const value: unknown = JSON.parse(strictUtf8.decode(bytes));
    return isRecord(value) ? value : null;
  } catch {
    return null;
  }
}
