import { decodeCBOR } from '@levischuck/tiny-cbor';
import type { WebauthnAlgorithm, WebauthnPublicKeyJwk } from './proxmox-credentials.js';

/**
 * A WebAuthn credential's public key as a COSE_Key (CBOR, RFC 9052/9053) read back into a JWK,
 * what node:crypto (and libfido2's paste check) takes: EC2 P-256 (-7), RSA (-257), OKP Ed25519
 * (-8). Null for anything else, or bytes that are not such a key. Pure.
 */
export function coseToJwk(cose: Uint8Array): { readonly algorithm: WebauthnAlgorithm; readonly jwk: WebauthnPublicKeyJwk } | null {
  let map: unknown;
  try {
    // A copy: the decoder reads the whole underlying ArrayBuffer, which a pooled Buffer shares.
    map = decodeCBOR(new Uint8Array(cose));
  } catch {
    return null;
  }
  if (!(map instanceof Map)) return null;
  const bytes = (label: number): string | null => {
    const v: unknown = map.get(label);
    return v instanceof Uint8Array && v.length > 0 ? Buffer.from(v).toString('base64url') : null;
  };
  const kty = map.get(1);
  const alg = map.get(3);
  if (kty === 2 && alg === -7 && map.get(-1) === 1) {
    const x = bytes(-2);
    const y = bytes(-3);
    return x && y ? { algorithm: -7, jwk: { kty: 'EC', crv: 'P-256', x, y } } : null;
  }
  if (kty === 3 && alg === -257) {
    const n = bytes(-1);
    const e = bytes(-2);
    return n && e ? { algorithm: -257, jwk: { kty: 'RSA', n, e } } : null;
  }
  if (kty === 1 && alg === -8 && map.get(-1) === 6) {
    const x = bytes(-2);
    return x ? { algorithm: -8, jwk: { kty: 'OKP', crv: 'Ed25519', x } } : null;
  }
  return null;
}
