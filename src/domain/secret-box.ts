import { createCipheriv, createDecipheriv } from 'node:crypto';

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
