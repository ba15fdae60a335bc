import { assertionSignatureValid, decodeBase64, parseAuthenticatorData, parseBrowserAssertion, parseClientData, sameBytes, sha256, u2fPublicKey } from './fido.js';

/**
 * Legacy U2F sign-in (FIDO U2F raw message formats and JavaScript API, v1.2): registrations made
 * before WebAuthn (imported from Proxmox) keep signing in; tfactl never makes new ones. Two answers
 * are accepted for the same check:
 *
 * - the raw U2F answer `{"keyHandle", "clientData", "signatureData"}` (base64url) that Proxmox's API
 *   takes: the device signed SHA256(appid) | flags | counter | SHA256(clientData), and clientData is
 *   `{"typ": "navigator.id.getAssertion", "challenge", "origin", ...}`;
 * - a browser's WebAuthn AuthenticationResponseJSON made with the `appid` extension: the same device
 *   signed authenticatorData | SHA256(clientDataJSON), where authenticatorData begins with
 *   SHA256(appid) | flags | counter, i.e. the very same message with clientDataJSON as client data.
 *
 * Pure: node:crypto only, no IO, no clock. A wrong or malformed answer is a result, never an
 * exception. Replay (the counter) and the challenge's single use and expiry are the caller's.
 */

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const base64UrlField = (record: Record<string, unknown>, field: string): Buffer | null => {
  const value = record[field];
  return typeof value === 'string' ? decodeBase64(value, 'base64url') : null;
};

/** A U2F registration as Proxmox keeps it (`key.keyHandle`, `public-key`), decoded to bytes. */
export interface U2fRegistration {
  readonly keyHandle: Uint8Array;
  /** The 65-byte uncompressed P-256 point 0x04 | x | y. */
  readonly publicKey: Uint8Array;
}

/**
 * A registration from the U2F entry Proxmox keeps in tfa.cfg (and tfactl's import stores whole):
 * `{"key": {"keyHandle": <base64url>, "version": "U2F_V2"}, "public-key": <standard base64 of the
 * point>}`; null when the entry is not one, or its key is not a P-256 point.
 */
export function u2fRegistrationFromProxmox(entry: unknown): U2fRegistration | null {
  if (!isRecord(entry) || !isRecord(entry.key)) return null;
  const keyHandle = base64UrlField(entry.key, 'keyHandle');
  const point = typeof entry['public-key'] === 'string' ? decodeBase64(entry['public-key'], 'base64') : null;
  if (!keyHandle || keyHandle.length === 0 || !point || !u2fPublicKey(point)) return null;
  return { keyHandle, publicKey: point };
}

export interface U2fSignInCheck {
  readonly registration: U2fRegistration;
  /** The appid the registration was made under (setting `u2f.appid`). */
  readonly appId: string;
  /** The origin a raw U2F answer's client data must name, compared exactly: `u2f.origin` (by default the appid). */
  readonly u2fOrigin: string;
  /**
   * What else a browser's answer may name: the origins of the pages that may ask (it must be on the
   * appid's domain and https, or the browser refuses the extension). A raw answer names u2fOrigin only.
   */
  readonly pageOrigins: readonly string[];
  /** The challenge tfactl issued for this sign-in: its bytes, which the answer names in base64url. */
  readonly challenge: Uint8Array;
  /** The answer: a parsed JSON value, or its JSON text. */
  readonly answer: unknown;
}

/** Why an answer was refused; for the audit log. None of them repeats a byte of the answer. */
export type U2fFailure =
  /** Not one of the two answer shapes, a field that is not base64url, client data that is not JSON. */
  | 'malformed-answer'
  /** Signed with another registration's key handle (another key, or another user's). */
  | 'unknown-key-handle'
  /** The stored public key is not a P-256 point: the registration cannot sign in. */
  | 'unusable-registration'
  /** Client data of another ceremony (a registration, or not a sign-in at all). */
  | 'wrong-type'
  | 'wrong-challenge'
  | 'wrong-origin'
  /** A browser's answer whose authenticator data is for another appid or RP id. */
  | 'wrong-appid'
  /** The signature does not verify: tampered, or signed for another appid (a raw answer does not name its appid). */
  | 'bad-signature'
  /** Correctly signed, but the device says nobody touched it. */
  | 'user-not-present';

export type U2fSignInResult =
  | {
      readonly valid: true;
      /** Which of the two answer shapes it was. */
      readonly format: 'u2f' | 'webauthn-appid';
      /** The device's signature counter, for the caller's replay guard. */
      readonly counter: number;
      readonly userPresent: true;
    }
  | { readonly valid: false; readonly reason: U2fFailure };

/** An answer taken apart, every field decoded; what was signed is kept as the bytes that came. */
type U2fAnswer = {
  readonly keyHandle: Buffer;
  /** clientData (raw U2F) or clientDataJSON (WebAuthn): the exact bytes whose hash was signed. */
  readonly clientData: Buffer;
  readonly signature: Buffer;
} & (
  | { readonly format: 'u2f'; /** flags (1) | counter (4), the rest of what the device signed. */ readonly flagsAndCounter: Buffer }
  | { readonly format: 'webauthn-appid'; readonly authenticatorData: Buffer }
);

const U2F_TYPE = 'navigator.id.getAssertion';
const WEBAUTHN_TYPE = 'webauthn.get';

function parseAnswer(answer: unknown): U2fAnswer | null {
  let value = answer;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return null;
    }
  }
  if (!isRecord(value)) return null;
  return isRecord(value.response) ? parseWebAuthnAnswer(value) : parseRawAnswer(value);
}

function parseRawAnswer(answer: Record<string, unknown>): U2fAnswer | null {
  const keyHandle = base64UrlField(answer, 'keyHandle');
  const clientData = base64UrlField(answer, 'clientData');
  const signatureData = base64UrlField(answer, 'signatureData');
  // flags (1) | counter (4) | a DER signature, which is never empty.
  if (!keyHandle || !clientData || !signatureData || signatureData.length <= 5) return null;
  return { format: 'u2f', keyHandle, clientData, flagsAndCounter: signatureData.subarray(0, 5), signature: signatureData.subarray(5) };
}

function parseWebAuthnAnswer(answer: Record<string, unknown>): U2fAnswer | null {
  const parsed = parseBrowserAssertion(answer);
  return parsed && { format: 'webauthn-appid', keyHandle: parsed.credentialId, clientData: parsed.clientData, authenticatorData: parsed.authenticatorData, signature: parsed.signature };
}


/**
 * The key handle an answer was made with (a raw answer's `keyHandle`, a browser's `rawId`), to
 * find the registration to check it against; null when the answer is not one of the two shapes.
 */
export function u2fAnswerKeyHandle(answer: unknown): Buffer | null {
  return parseAnswer(answer)?.keyHandle ?? null;
}

/**
 * Checks a U2F sign-in answer against one registration: key handle, client data (type, challenge,
 * origin), the appid, the signature and user presence. Preconditions: the caller has looked up and
 * consumed the challenge (single use, not expired) and picked the registration (u2fAnswerKeyHandle).
 * Guarantees: `valid: true` only for an answer the registration's key signed for this appid and
 * challenge with the user present; the counter is returned unchecked (the replay guard is the
 * caller's). Never throws.
 */
export function verifyU2fSignIn(check: U2fSignInCheck): U2fSignInResult {
  const fail = (reason: U2fFailure): U2fSignInResult => ({ valid: false, reason });
  const answer = parseAnswer(check.answer);
  if (!answer) return fail('malformed-answer');
  if (!Buffer.from(check.registration.keyHandle).equals(answer.keyHandle)) return fail('unknown-key-handle');
  const publicKey = u2fPublicKey(check.registration.publicKey);
  if (!publicKey) return fail('unusable-registration');

  const clientData = parseClientData(answer.clientData);
  if (!clientData) return fail('malformed-answer');
  const type = answer.format === 'u2f' ? clientData.typ : clientData.type;
  if (type !== (answer.format === 'u2f' ? U2F_TYPE : WEBAUTHN_TYPE)) return fail('wrong-type');
  const challenge = typeof clientData.challenge === 'string' ? decodeBase64(clientData.challenge, 'base64url') : null;
  if (!challenge || !sameBytes(challenge, check.challenge)) return fail('wrong-challenge');
  // An answer made inside a frame of another site is not one our page asked for.
  const origins = answer.format === 'u2f' ? [check.u2fOrigin] : [check.u2fOrigin, ...check.pageOrigins];
  if (typeof clientData.origin !== 'string' || !origins.includes(clientData.origin) || clientData.crossOrigin === true) {
    return fail('wrong-origin');
  }

  const appIdHash = sha256(check.appId);
  // A U2F device signs exactly the authenticator data a browser shows: SHA256(appid) | flags | counter.
  const authenticatorData = answer.format === 'u2f' ? Buffer.concat([appIdHash, answer.flagsAndCounter]) : answer.authenticatorData;
  const parsed = parseAuthenticatorData(authenticatorData);
  if (!parsed) return fail('malformed-answer');
  if (!sameBytes(parsed.rpIdHash, appIdHash)) return fail('wrong-appid');
  if (!assertionSignatureValid(publicKey, authenticatorData, sha256(answer.clientData), answer.signature)) return fail('bad-signature');
  if (!parsed.userPresent) return fail('user-not-present');
  return { valid: true, format: answer.format, counter: parsed.counter, userPresent: true };
}
