import { verifyAuthenticationResponse } from '@simplewebauthn/server';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { coseToJwk } from '../../src/domain/cose.js';
import type { AssertionAlgorithm } from '../../src/domain/fido.js';
import { verifyWebauthnAssertion, type WebauthnAssertionCheck } from '../../src/domain/webauthn-assertion.js';
import { SoftAuthenticator, UP, UV } from '../fixtures/soft-authenticator.js';

/**
 * tfactl's own check of WebAuthn sign-in answers (node:crypto alone), against a software
 * authenticator's answers and against @simplewebauthn/server, an independent implementation that
 * must agree on every answer, good or tampered. Chromium's virtual authenticator signs the answers
 * of the end-to-end tests (webauthn-cli.test.ts).
 */
const RP_ID = 'app.example.com';
const ORIGIN = 'https://app.example.com';

function setUp(algorithm: AssertionAlgorithm) {
  const key = new SoftAuthenticator(algorithm, { counter: 10 });
  const challenge = randomBytes(32);
  const options = { challenge: challenge.toString('base64url'), rpId: RP_ID };
  const parsed = coseToJwk(key.coseKey())!;
  const check = (answer: unknown, extra: Partial<WebauthnAssertionCheck> = {}): ReturnType<typeof verifyWebauthnAssertion> =>
    verifyWebauthnAssertion({
      credential: { id: key.credentialId, algorithm, publicKey: parsed.jwk },
      rpId: RP_ID,
      origins: [ORIGIN],
      challenge,
      requireUserVerification: false,
      answer,
      ...extra,
    });
  return { key, options, check };
}

describe('verifyWebauthnAssertion', () => {
  it.each(['ES256', 'RS256'] as const)('accepts a %s answer and returns its counter and UV flag', (algorithm) => {
    const { key, options, check } = setUp(algorithm);
    expect(check(key.authenticate(options, { origin: ORIGIN, counter: 11 }))).toEqual({ valid: true, counter: 11, userVerified: false });
    expect(check(key.authenticate(options, { origin: ORIGIN, counter: 12, flags: UP | UV }), { requireUserVerification: true })).toEqual({ valid: true, counter: 12, userVerified: true });
  });

  it('names what is wrong', () => {
    const { key, options, check } = setUp('ES256');
    const good = () => key.authenticate(options, { origin: ORIGIN }) as { id: string; rawId: string; response: Record<string, string> };
    const other = new SoftAuthenticator();
    expect(check(other.authenticate(options, { origin: ORIGIN }))).toEqual({ valid: false, reason: 'unknown-credential' });
    expect(check(key.authenticate(options, { origin: 'https://evil.example.com' }))).toEqual({ valid: false, reason: 'wrong-origin' });
    expect(check(key.authenticate({ ...options, challenge: randomBytes(32).toString('base64url') }, { origin: ORIGIN }))).toEqual({ valid: false, reason: 'wrong-challenge' });
    expect(check(key.authenticate(options, { origin: ORIGIN, type: 'webauthn.create' }))).toEqual({ valid: false, reason: 'wrong-type' });
    expect(check(key.authenticate(options, { origin: ORIGIN, signedRpId: 'evil.example.com' }))).toEqual({ valid: false, reason: 'wrong-rp-id' });
    expect(check(key.authenticate(options, { origin: ORIGIN, flags: 0 }))).toEqual({ valid: false, reason: 'user-not-present' });
    expect(check(key.authenticate(options, { origin: ORIGIN, flags: UP }), { requireUserVerification: true })).toEqual({ valid: false, reason: 'user-not-verified' });
    const forged = good();
    forged.response.signature = (other.authenticate(options, { origin: ORIGIN }) as { response: { signature: string } }).response.signature;
    expect(check(forged)).toEqual({ valid: false, reason: 'bad-signature' });
    expect(check({ ...good(), rawId: other.id })).toEqual({ valid: false, reason: 'malformed-answer' });
    expect(check({ ...good(), type: 'password' })).toEqual({ valid: false, reason: 'malformed-answer' });
    expect(check({ ...good(), response: { ...good().response, clientDataJSON: Buffer.from('not json').toString('base64url') } })).toEqual({ valid: false, reason: 'malformed-answer' });
    expect(check('{}')).toEqual({ valid: false, reason: 'malformed-answer' });
  });

  it('refuses an answer made in a frame of another site (crossOrigin)', () => {
    const { key, options, check } = setUp('ES256');
    const answer = key.authenticate(options, { origin: ORIGIN }) as { response: { clientDataJSON: string } };
    const clientData = JSON.parse(Buffer.from(answer.response.clientDataJSON, 'base64url').toString());
    answer.response.clientDataJSON = Buffer.from(JSON.stringify({ ...clientData, crossOrigin: true })).toString('base64url');
    expect(check(answer)).toEqual({ valid: false, reason: 'wrong-origin' });
  });

  it('refuses an ES256 signature whose DER encoding is broken, which a lenient parser would read', () => {
    const { key, options, check } = setUp('ES256');
    const answer = key.authenticate(options, { origin: ORIGIN }) as { response: { signature: string } };
    expect(check(answer).valid).toBe(true);
    const sig = Buffer.from(answer.response.signature, 'base64url');
    sig[1]! ^= 0x01; // the SEQUENCE's length no longer matches its content
    answer.response.signature = sig.toString('base64url');
    expect(check(answer)).toMatchObject({ valid: false });
  });

  it('agrees with @simplewebauthn/server on answers good and tampered', async () => {
    for (const algorithm of ['ES256', 'RS256'] as const) {
      const { key, options, check } = setUp(algorithm);
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            origin: fc.constantFrom(ORIGIN, 'https://evil.example.com', 'http://app.example.com'),
            signedRpId: fc.constantFrom(RP_ID, 'example.com'),
            flags: fc.constantFrom(0, UP, UP | UV, UV),
            type: fc.constantFrom('webauthn.get', 'webauthn.create'),
            uv: fc.boolean(),
            flip: fc.option(fc.nat({ max: 63 }), { nil: undefined }),
          }),
          async (c) => {
            const answer = key.authenticate(options, { origin: c.origin, signedRpId: c.signedRpId, flags: c.flags, type: c.type, counter: 1000 }) as { response: { signature: string } };
            if (c.flip !== undefined) {
              const sig = Buffer.from(answer.response.signature, 'base64url');
              const at = signatureValueBytes(sig, algorithm);
              sig[at[c.flip % at.length]!]! ^= 0x01;
              answer.response.signature = sig.toString('base64url');
            }
            const ours = check(answer, { requireUserVerification: c.uv }).valid;
            let theirs: boolean;
            try {
              const r = await verifyAuthenticationResponse({
                response: answer as never,
                expectedChallenge: options.challenge,
                expectedOrigin: ORIGIN,
                expectedRPID: RP_ID,
                credential: { id: key.id, publicKey: new Uint8Array(key.coseKey()), counter: 0 },
                requireUserVerification: c.uv,
              });
              theirs = r.verified;
            } catch {
              theirs = false;
            }
            expect(ours).toBe(theirs);
          },
        ),
        { numRuns: 60 },
      );
    }
  });
});

/**
 * The indices of a signature's value bytes, where a flipped bit makes another signature of the same
 * form: RS256's every byte; ES256's the two INTEGERs' contents (DER: 30 L 02 Lr r.. 02 Ls s..),
 * not the lengths and tags, where our strict DER reading and simplewebauthn's lenient one part
 * ways (tested on its own above).
 */
function signatureValueBytes(sig: Buffer, algorithm: 'ES256' | 'RS256'): number[] {
  if (algorithm === 'RS256') return [...sig.keys()];
  const rLength = sig[3]!;
  const sAt = 4 + rLength;
  const sLength = sig[sAt + 1]!;
  return [...Array.from({ length: rLength }, (_, i) => 4 + i), ...Array.from({ length: sLength }, (_, i) => sAt + 2 + i)];
}
