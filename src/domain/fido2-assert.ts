import { UsageError } from '../errors.js';
import {
  AUTHENTICATOR_DATA_MIN_BYTES,
  assertionPublicKey,
  assertionSignatureValid,
  decodeBase64,
  encodeBase64Url,
  parseAuthenticatorData,
  sameBytes,
  sha256,
  u2fPublicKey,
  type AssertionAlgorithm,
  type CredentialPublicKey,
} from './fido.js';
import type { U2fRegistration } from './u2f.js';

/**
 * Sign-in with a security key from a terminal without a browser, through libfido2's tools (Debian
 * `fido2-tools`), as pam-u2f's manual mode does: tfactl prints the three lines `fido2-assert -G`
 * reads, the user runs it where the key is plugged in and pastes back the four lines it prints.
 * Works for WebAuthn credentials and, with `fido2-assert -G -u`, legacy U2F registrations.
 *
 *   fido2-assert -G reads          fido2-assert -G prints (and -V reads)
 *   1 client data hash (base64)    1 client data hash (base64)
 *   2 RP id, or appid with -u      2 RP id, or appid
 *   3 credential id (base64)       3 authenticator data: base64 of a CBOR byte string holding it
 *                                  4 signature (base64; DER for ES256)
 *
 * Pure: node:crypto only, no IO, no clock.
 */

/**
 * The client data of a terminal sign-in: what tfactl hashes into line 1. Without a browser there
 * is no CollectedClientData, so tfactl defines its own in the same manner, the UTF-8 bytes of
 *
 *   {"type":"tfactl.fido2-assert","challenge":"<challenge, base64url>","rpId":"<RP id or appid>"}
 *
 * exactly: these three members in this order, no white space, strings as JSON.stringify writes
 * them. The authenticator signs authenticator data | SHA256(these bytes), so an answer is bound to
 * the challenge tfactl issued and to the RP id or appid it was issued for. Its type is one no
 * browser writes (they write `webauthn.get`, U2F pages `{"typ": ...}`), so a signature made for a
 * web page is never one for a terminal sign-in, nor the reverse.
 */
export function terminalClientData(challenge: Uint8Array, rpId: string): Buffer {
  return Buffer.from(JSON.stringify({ type: 'tfactl.fido2-assert', challenge: encodeBase64Url(challenge), rpId }), 'utf8');
}

export function terminalClientDataHash(challenge: Uint8Array, rpId: string): Buffer {
  return sha256(terminalClientData(challenge, rpId));
}

export interface TerminalAssertionRequest {
  /** The challenge tfactl issued for this sign-in. */
  readonly challenge: Uint8Array;
  /** The RP id the WebAuthn credential was made under, or a U2F registration's appid. */
  readonly rpId: string;
  /** The credential id (for U2F: the key handle). */
  readonly credentialId: Uint8Array;
}

/**
 * What `fido2-assert -G` reads on standard input (or from `-i FILE`): three lines, each ended by a
 * newline. Throws a UsageError for an RP id that fido2-assert cannot read as one line.
 */
export function fido2AssertInput(request: TerminalAssertionRequest): string {
  if (request.rpId === '' || /[\n\r\0]/.test(request.rpId)) {
    throw new UsageError('the RP id (or appid) cannot be given to fido2-assert: it is empty or has a line break or NUL', 'invalid_rp_id');
  }
  const cdh = terminalClientDataHash(request.challenge, request.rpId).toString('base64');
  return `${cdh}\n${request.rpId}\n${Buffer.from(request.credentialId).toString('base64')}\n`;
}

/** The options of `fido2-assert` that get an assertion (`-u` asks the key for a U2F one). */
export function fido2AssertGetOptions(kind: 'webauthn' | 'u2f'): readonly string[] {
  return kind === 'u2f' ? ['-G', '-u'] : ['-G'];
}

/** The four lines `fido2-assert -G` printed, decoded. */
export interface Fido2Assertion {
  readonly clientDataHash: Buffer;
  readonly rpId: string;
  /** The authenticator data itself (the CBOR byte string around it removed). */
  readonly authenticatorData: Buffer;
  readonly signature: Buffer;
}

const LINES = ['client data hash', 'relying party id', 'authenticator data', 'signature'] as const;

const pasteError = (message: string) => new UsageError(`fido2-assert output: ${message}`, 'invalid_assertion');

/**
 * The content of a CBOR byte string (RFC 8949 major type 2, definite length) that is all of
 * `bytes`; null for anything else. libfido2 prints authenticator data this way.
 */
function cborByteString(bytes: Buffer): Buffer | null {
  const head = bytes[0];
  if (head === undefined || head >> 5 !== 2) return null;
  const info = head & 0x1f;
  const sizeBytes = info < 24 ? 0 : info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1;
  if (sizeBytes < 0 || bytes.length < 1 + sizeBytes) return null;
  const size = sizeBytes === 0 ? BigInt(info) : readUnsigned(bytes.subarray(1, 1 + sizeBytes));
  return BigInt(bytes.length - 1 - sizeBytes) === size ? bytes.subarray(1 + sizeBytes) : null;
}

function readUnsigned(bytes: Buffer): bigint {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return value;
}

/**
 * Parses the output of `fido2-assert -G` as a user pastes it: four lines (blank lines before and
 * after, carriage returns and blanks around each line are ignored), or the same four on one line
 * separated by blanks (`fido2-assert ... | paste -sd ' '`, for a prompt that takes one line: no
 * field has a blank in it). Throws a UsageError that names the line which is missing or wrong,
 * never repeating what was pasted.
 */
export function parseFido2AssertOutput(text: string): Fido2Assertion {
  const trimmed = text.trim();
  const lines = (trimmed.includes('\n') ? text.split('\n') : trimmed.split(/[ \t]+/)).map((line) => line.replace(/^[ \t\r]+|[ \t\r]+$/g, ''));
  while (lines.length > 0 && lines[0] === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) {
    throw pasteError(`nothing was pasted: it prints 4 lines (${LINES.join(', ')})`);
  }
  if (lines.length > LINES.length) {
    throw pasteError('line 5 is one too many: fido2-assert -G prints 4 lines (run it without -r, -h or -b)');
  }
  LINES.forEach((name, i) => {
    if (lines[i] === undefined) throw pasteError(`line ${i + 1} (${name}) is missing: paste all 4 lines fido2-assert -G printed`);
    if (lines[i] === '') throw pasteError(`line ${i + 1} (${name}) is empty`);
  });
  const [cdhLine, rpId, authDataLine, signatureLine] = lines as [string, string, string, string];

  const base64Line = (line: string, n: number) => {
    const bytes = decodeBase64(line, 'base64');
    if (!bytes) throw pasteError(`line ${n} (${LINES[n - 1]}) is not base64`);
    return bytes;
  };
  const clientDataHash = base64Line(cdhLine, 1);
  if (clientDataHash.length !== 32) throw pasteError(`line 1 (client data hash) is ${clientDataHash.length} bytes, not the 32 of a SHA-256 hash`);
  if (/[\u0000-\u001f\u007f]/.test(rpId)) throw pasteError('line 2 (relying party id) has control characters');
  const authenticatorData = cborByteString(base64Line(authDataLine, 3));
  if (!authenticatorData) throw pasteError('line 3 (authenticator data) is not a CBOR byte string, the form fido2-assert prints it in');
  if (authenticatorData.length < AUTHENTICATOR_DATA_MIN_BYTES) {
    throw pasteError(`line 3 (authenticator data) is ${authenticatorData.length} bytes, less than the ${AUTHENTICATOR_DATA_MIN_BYTES} it always has`);
  }
  const signature = base64Line(signatureLine, 4);
  return { clientDataHash, rpId, authenticatorData, signature };
}

/** The credential a terminal sign-in is checked against. */
export type Fido2AssertCredential =
  | {
      readonly kind: 'webauthn';
      /** The RP id the credential was made under. */
      readonly rpId: string;
      /** The algorithm it was registered with (ES256 and RS256 are what Proxmox accepts; imports may carry EdDSA). */
      readonly algorithm: AssertionAlgorithm;
      readonly publicKey: CredentialPublicKey;
    }
  | { readonly kind: 'u2f'; readonly appId: string; readonly registration: U2fRegistration };

export interface Fido2AssertCheck {
  readonly assertion: Fido2Assertion;
  /** The challenge tfactl issued (and printed the input lines for). */
  readonly challenge: Uint8Array;
  readonly credential: Fido2AssertCredential;
  /** Refuse an assertion without user verification (a PIN or biometrics; run fido2-assert -G -v). */
  readonly requireUserVerification?: boolean;
}

/** Why a pasted assertion was refused; for the audit log. */
export type Fido2AssertFailure =
  /** Line 2, or the RP id hash in the authenticator data, is not the credential's RP id (appid). */
  | 'wrong-rp-id'
  /** Line 1 is not the hash of this challenge's client data: an answer to another challenge. */
  | 'wrong-challenge'
  /** The stored public key is not one of its algorithm: the credential cannot sign in. */
  | 'unusable-credential'
  | 'bad-signature'
  | 'user-not-present'
  | 'user-not-verified';

export type Fido2AssertResult =
  | { readonly valid: true; readonly counter: number; readonly userPresent: true; readonly userVerified: boolean }
  | { readonly valid: false; readonly reason: Fido2AssertFailure };

/**
 * Checks a parsed `fido2-assert -G` answer against the challenge and one credential. Preconditions:
 * the caller has consumed the challenge (single use, not expired) and picked the credential whose
 * input lines it printed. Guarantees: `valid: true` only when the credential's key signed this
 * challenge's client data for its RP id (appid) with the user present (and verified, if required);
 * the counter is returned unchecked, for the caller's replay guard. Never throws.
 */
export function verifyFido2Assertion(check: Fido2AssertCheck): Fido2AssertResult {
  const fail = (reason: Fido2AssertFailure): Fido2AssertResult => ({ valid: false, reason });
  const { assertion, credential } = check;
  const rpId = credential.kind === 'u2f' ? credential.appId : credential.rpId;
  if (assertion.rpId !== rpId) return fail('wrong-rp-id');
  const clientDataHash = terminalClientDataHash(check.challenge, rpId);
  if (!sameBytes(assertion.clientDataHash, clientDataHash)) return fail('wrong-challenge');
  const authenticatorData = parseAuthenticatorData(assertion.authenticatorData);
  if (!authenticatorData || !sameBytes(authenticatorData.rpIdHash, sha256(rpId))) return fail('wrong-rp-id');
  const publicKey = credential.kind === 'u2f' ? u2fPublicKey(credential.registration.publicKey) : assertionPublicKey(credential.algorithm, credential.publicKey);
  if (!publicKey) return fail('unusable-credential');
  if (!assertionSignatureValid(publicKey, assertion.authenticatorData, clientDataHash, assertion.signature)) return fail('bad-signature');
  if (!authenticatorData.userPresent) return fail('user-not-present');
  if (check.requireUserVerification && !authenticatorData.userVerified) return fail('user-not-verified');
  return { valid: true, counter: authenticatorData.counter, userPresent: true, userVerified: authenticatorData.userVerified };
}
