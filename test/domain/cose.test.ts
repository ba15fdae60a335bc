import { describe, expect, it } from 'vitest';
import { coseToJwk } from '../../src/domain/cose.js';
import { SoftAuthenticator } from '../fixtures/soft-authenticator.js';

describe('coseToJwk', () => {
  it.each(['ES256', 'RS256'] as const)('reads a %s COSE_Key back into the JWK node:crypto made', (algorithm) => {
    const key = new SoftAuthenticator(algorithm);
    const { kty, crv, x, y, n, e } = key.publicKey.export({ format: 'jwk' });
    const expected = algorithm === 'ES256' ? { kty, crv, x, y } : { kty, n, e };
    expect(coseToJwk(key.coseKey())).toEqual({ algorithm: algorithm === 'ES256' ? -7 : -257, jwk: expected });
  });

  it('reads a key that sits inside a larger buffer (a pooled Buffer, a slice)', () => {
    const cose = new SoftAuthenticator().coseKey();
    const inside = Buffer.concat([Buffer.from('before'), cose, Buffer.from('after')]).subarray(6, 6 + cose.length);
    expect(coseToJwk(inside)).toEqual(coseToJwk(Uint8Array.from(cose)));
    expect(coseToJwk(inside)).not.toBeNull();
  });

  it('is null for bytes that are not a key it knows', () => {
    expect(coseToJwk(Buffer.from('not cbor at all'))).toBeNull();
    expect(coseToJwk(new Uint8Array([0xa0]))).toBeNull();
  });
});
