import fc from 'fast-check';
import { createSecretKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { assertionPublicKey, assertionSignatureValid, decodeBase64, parseAuthenticatorData, registrationResponseProblem, u2fPublicKey } from '../../src/domain/fido.js';

describe('base64 as FIDO answers carry it', () => {
  it('decodes what node encodes, in either alphabet, with or without padding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const data = Buffer.from(bytes);
        expect(decodeBase64(data.toString('base64'), 'base64')).toEqual(data);
        expect(decodeBase64(data.toString('base64').replace(/=+$/, ''), 'base64')).toEqual(data);
        expect(decodeBase64(data.toString('base64url'), 'base64url')).toEqual(data);
        expect(decodeBase64(`${data.toString('base64url')}${'='.repeat((4 - (data.toString('base64url').length % 4)) % 4)}`, 'base64url')).toEqual(data);
      }),
    );
  });

  it('refuses characters of the other alphabet, junk, and wrong padding, where node would guess', () => {
    for (const [text, alphabet] of [
      ['ab-_', 'base64'],
      ['ab+/', 'base64url'],
      ['QUJD RA', 'base64'],
      ['QUJD\n', 'base64'],
      ['QQ=', 'base64'],
      ['Q===', 'base64'],
      ['QUJDR', 'base64'],
      ['=', 'base64url'],
    ] as const) {
      expect(decodeBase64(text, alphabet), `${JSON.stringify(text)} as ${alphabet}`).toBeNull();
    }
  });
});

describe('authenticator data', () => {
  it('reads the RP id hash, the user presence and verification flags and the big-endian counter', () => {
    const data = Buffer.concat([Buffer.alloc(32, 0xab), Buffer.from([0x05, 0x01, 0x02, 0x03, 0x04]), Buffer.from('extensions')]);
    expect(parseAuthenticatorData(data)).toEqual({ rpIdHash: Buffer.alloc(32, 0xab), userPresent: true, userVerified: true, counter: 0x01020304 });
    data[32] = 0x40;
    expect(parseAuthenticatorData(data)).toMatchObject({ userPresent: false, userVerified: false });
    expect(parseAuthenticatorData(data.subarray(0, 36))).toBeNull();
  });
});

describe('credential public keys', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ed = generateKeyPairSync('ed25519');
  const ed448 = generateKeyPairSync('ed448');

  it('take no RSA key whose signatures prove nothing: exponent 1 or even, a modulus under 1024 or over 16384 bits', () => {
    const jwk = rsa.publicKey.export({ format: 'jwk' });
    const withE = (e: number[]) => ({ ...jwk, e: Buffer.from(e).toString('base64url') });
    expect(assertionPublicKey('RS256', withE([1, 0, 1]))).not.toBeNull();
    expect(assertionPublicKey('RS256', withE([3]))).not.toBeNull();
    expect(assertionPublicKey('RS256', withE([1]))).toBeNull();
    expect(assertionPublicKey('RS256', withE([2]))).toBeNull();
    expect(assertionPublicKey('RS256', withE([1, 0, 0]))).toBeNull();
    const small = generateKeyPairSync('rsa', { modulusLength: 512 });
    expect(assertionPublicKey('RS256', small.publicKey)).toBeNull();
    expect(assertionPublicKey('RS256', { ...jwk, n: Buffer.concat([Buffer.from([0x80]), Buffer.alloc(2048)]).toString('base64url') })).toBeNull();
    expect(assertionPublicKey('RS256', generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey)).not.toBeNull();
  });

  it('take a key only for the algorithm it is for', () => {
    expect(assertionPublicKey('ES256', ec.publicKey.export({ format: 'jwk' }))?.asymmetricKeyType).toBe('ec');
    expect(assertionPublicKey('RS256', rsa.publicKey.export({ format: 'jwk' }))?.asymmetricKeyType).toBe('rsa');
    expect(assertionPublicKey('ES256', rsa.publicKey)).toBeNull();
    expect(assertionPublicKey('RS256', ec.publicKey)).toBeNull();
    expect(assertionPublicKey('ES256', p384.publicKey)).toBeNull();
    expect(assertionPublicKey('ES256', createSecretKey(Buffer.alloc(32)))).toBeNull();
    expect(assertionPublicKey('ES256', null as never)).toBeNull();
    expect(assertionPublicKey('ES256', { kty: 'EC', crv: 'P-256' })).toBeNull();
    expect(assertionPublicKey('EdDSA', ed.publicKey.export({ format: 'jwk' }))?.asymmetricKeyType).toBe('ed25519');
    expect(assertionPublicKey('EdDSA', ec.publicKey)).toBeNull();
    expect(assertionPublicKey('EdDSA', ed448.publicKey)).toBeNull();
    expect(assertionPublicKey('ES256', ed.publicKey)).toBeNull();
    expect(assertionPublicKey('RS256', ed.publicKey)).toBeNull();
  });

  it('check an Ed25519 signature over authenticator data and client data hash, and nothing else', () => {
    const authData = randomBytes(37);
    const hash = randomBytes(32);
    const key = assertionPublicKey('EdDSA', ed.publicKey)!;
    const signature = sign(null, Buffer.concat([authData, hash]), ed.privateKey);
    expect(assertionSignatureValid(key, authData, hash, signature)).toBe(true);
    expect(assertionSignatureValid(key, authData, randomBytes(32), signature)).toBe(false);
    expect(assertionSignatureValid(key, authData, hash, Buffer.alloc(64))).toBe(false);
    expect(assertionSignatureValid(key, authData, hash, signature.subarray(1))).toBe(false);
  });

  it('keep only the public part of a key given with its private part', () => {
    expect(assertionPublicKey('ES256', ec.privateKey.export({ format: 'jwk' }))?.type).toBe('public');
    expect(assertionPublicKey('RS256', rsa.privateKey)?.type).toBe('public');
  });

  it('read a U2F registration\'s point, and nothing else', () => {
    const jwk = ec.publicKey.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    expect(u2fPublicKey(point)?.export({ format: 'jwk' })).toEqual(jwk);
    expect(u2fPublicKey(Buffer.concat([Buffer.from([2]), point.subarray(1)]))).toBeNull();
    expect(u2fPublicKey(point.subarray(0, 64))).toBeNull();
    // Random coordinates are (all but never) off the curve: refused, not thrown at.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (xy) => {
        expect(u2fPublicKey(Buffer.concat([Buffer.from([4]), xy]))).toBeNull();
      }),
    );
  });
});

describe('registrationResponseProblem', () => {
  const good = { id: 'AAEC', rawId: 'AAEC', type: 'public-key', response: { clientDataJSON: 'eyJ9', attestationObject: 'o2Nm' }, clientExtensionResults: {} };

  it('accepts the shape of credential.toJSON()', () => {
    expect(registrationResponseProblem(good)).toBeNull();
  });

  it.each([
    [null, /not a JSON object/],
    [[good], /not a JSON object/],
    [{ ...good, id: 1 }, /"id"/],
    [{ ...good, rawId: 'a b' }, /"rawId"/],
    [{ ...good, type: 'password' }, /"type"/],
    [{ ...good, response: 'x' }, /"response"/],
    [{ ...good, response: { clientDataJSON: 'eyJ9' } }, /attestationObject.*sign-in answer/],
    [{ ...good, response: { attestationObject: 'o2Nm', clientDataJSON: '{}' } }, /clientDataJSON/],
  ])('names what is wrong with %j', (value, message) => {
    expect(registrationResponseProblem(value)).toMatch(message);
  });

  it('never throws, whatever JSON it is given', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      const problem = registrationResponseProblem(value);
      expect(problem === null || (typeof problem === 'string' && !problem.includes('\n'))).toBe(true);
    }));
  });
});
