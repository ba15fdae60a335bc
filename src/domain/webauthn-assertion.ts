import { assertionPublicKey, assertionSignatureValid, decodeBase64, parseAuthenticatorData, parseBrowserAssertion, parseClientData, sameBytes, sha256, type AssertionAlgorithm, type CredentialPublicKey } from './fido.js';

/**
 * Checking a browser's WebAuthn sign-in answer (AuthenticationResponseJSON) with node:crypto alone,
 * as WebAuthn Level 2 §7.2 says, for the ES256 and RS256 credentials tfactl keeps: the client data
 * (type, challenge, origin, not cross-origin), the RP id hash, user presence (and verification when
 * required), and the signature over authenticator data | SHA-256(client data). The signature
 * counter is returned for the caller's replay guard, which compares it in the store. Pure: no IO,
 * no clock. (Registration, with its attestation formats, is @simplewebauthn/server's.)
 */

export interface WebauthnAssertionCheck {
  /** The credential the answer must be from. */
  readonly credential: { readonly id: Uint8Array; readonly algorithm: AssertionAlgorithm; readonly publicKey: CredentialPublicKey };
  /** The RP id the credential was made under. */
  readonly rpId: string;
  /** The origins the answer may come from, compared exactly. */
  readonly origins: readonly string[];
  /** The challenge's bytes, which the client data names in base64url. */
  readonly challenge: Uint8Array;
  readonly requireUserVerification: boolean;
  /** The answer, parsed from JSON. */
  readonly answer: unknown;
}

export type WebauthnAssertionFailure =
  | 'malformed-answer'
  | 'unknown-credential'
  | 'unusable-credential'
  | 'wrong-type'
  | 'wrong-challenge'
  | 'wrong-origin'
  | 'wrong-rp-id'
  | 'bad-signature'
  | 'user-not-present'
  | 'user-not-verified';

export type WebauthnAssertionResult =
  | { readonly valid: true; readonly counter: number; readonly userVerified: boolean }
  | { readonly valid: false; readonly reason: WebauthnAssertionFailure };

export function verifyWebauthnAssertion(check: WebauthnAssertionCheck): WebauthnAssertionResult {
  const fail = (reason: WebauthnAssertionFailure): WebauthnAssertionResult => ({ valid: false, reason });
  const answer = parseBrowserAssertion(check.answer);
  if (!answer) return fail('malformed-answer');
  if (!sameBytes(answer.credentialId, check.credential.id)) return fail('unknown-credential');
  const publicKey = assertionPublicKey(check.credential.algorithm, check.credential.publicKey);
  if (!publicKey) return fail('unusable-credential');

  const clientData = parseClientData(answer.clientData);
  if (!clientData) return fail('malformed-answer');
  if (clientData.type !== 'webauthn.get') return fail('wrong-type');
  const challenge = typeof clientData.challenge === 'string' ? decodeBase64(clientData.challenge, 'base64url') : null;
  if (!challenge || !sameBytes(challenge, check.challenge)) return fail('wrong-challenge');
  // An answer made inside a frame of another site is not one our page asked for.
  if (typeof clientData.origin !== 'string' || !check.origins.includes(clientData.origin) || clientData.crossOrigin === true) return fail('wrong-origin');

  const data = parseAuthenticatorData(answer.authenticatorData);
  if (!data) return fail('malformed-answer');
  if (!sameBytes(data.rpIdHash, sha256(check.rpId))) return fail('wrong-rp-id');
  if (!assertionSignatureValid(publicKey, answer.authenticatorData, sha256(answer.clientData), answer.signature)) return fail('bad-signature');
  if (!data.userPresent) return fail('user-not-present');
  if (check.requireUserVerification && !data.userVerified) return fail('user-not-verified');
  return { valid: true, counter: data.counter, userVerified: data.userVerified };
}
