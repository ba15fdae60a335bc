import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import type { TotpParams } from './totp-params.js';

/**
 * Secrets at rest: AES-256-GCM with the store's key. The associated data binds a sealed secret to
 * where it belongs (user id and factor id), so a secret copied into another row does not open.
 * Layout: version byte 1 | 12-byte nonce | ciphertext | 16-byte tag.
 */
const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function secretContext(userid: string, factorId: string, purpose: string): Buffer {
  return Buffer.from(`tfactl/v1/${purpose}/${userid}/${factorId}`, 'utf8');
}

/**
 * A keyed fingerprint of a user's TOTP secret with the parameters its codes depend on: what the
 * replay ledger knows the secret by after its factor is gone, so that the secret added again does
 * not take its spent codes again. HMAC-SHA256 under a key derived from the store's (never the
 * sealing key itself); it tells nothing of the secret without the key.
 */
export function totpSecretMark(key: Buffer, userid: string, secret: string, params: TotpParams): string {
  const markKey = createHmac('sha256', key).update('tfactl/v1/secret-mark-key').digest();
  return createHmac('sha256', markKey).update(['totp', userid, params.algorithm, params.digits, params.period, secret].join('\0')).digest('base64url');
}

/** Where a realm's YubiKey validation service API key belongs. */
export function realmKeyContext(realm: string): Buffer {
  return secretContext(`realm/${realm}`, 'yubico-api-key', 'realm');
}

export function seal(key: Buffer, nonce: Buffer, plaintext: string, context: Buffer): Buffer {
  if (nonce.length !== NONCE_BYTES) throw new Error('seal: nonce must be 12 bytes');
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(context);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), nonce, body, cipher.getAuthTag()]);
}

/** Opens a sealed secret; null when the key, the context or the bytes are wrong. */
export function open(key: Buffer, sealed: Buffer, context: Buffer): string | null {
  if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== VERSION) return null;
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
  const body = sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(context);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** Whether two secrets' bytes are the same, compared in constant time (for equal lengths). */
export function sameSecretBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether a secret opened from the store (null: it did not open) is `expected`, in constant time. */
export function openedIs(opened: string | null, expected: string): boolean {
  return opened !== null && sameSecretBytes(Buffer.from(opened, 'utf8'), Buffer.from(expected, 'utf8'));
}
