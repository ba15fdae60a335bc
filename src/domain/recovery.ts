import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Single-use recovery keys, stored the Proxmox way so imported sets keep working: each key is 8
 * random bytes shown as `xxxx-xxxx-xxxx-xxxx`; the store keeps hex(HMAC-SHA256(key = ASCII of the
 * set's 16-hex-character secret, message = the key with dashes)).
 */
export const RECOVERY_KEY_COUNT = 10;
/** More slots than Proxmox or tfactl ever make: a set is read whole at every sign-in, so none bigger is taken (an import, a backup). */
export const MAX_RECOVERY_SLOTS = 100;
/** Below this many keys left, sign-in warns (as Proxmox does). */
export const RECOVERY_LOW_WATER = 4;

const KEY_RE = /^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/;

export function formatRecoveryKey(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return [0, 4, 8, 12].map((i) => hex.slice(i, i + 4)).join('-');
}

/** A new set: its secret (16 hex characters) and the keys, from 8 + 10 * 8 random bytes. */
export function newRecoverySet(randomBytes: (n: number) => Uint8Array): { secret: string; keys: string[] } {
  const secret = Buffer.from(randomBytes(8)).toString('hex');
  const keys = Array.from({ length: RECOVERY_KEY_COUNT }, () => formatRecoveryKey(randomBytes(8)));
  return { secret, keys };
}

export function hashRecoveryKey(secret: string, key: string): string {
  return createHmac('sha256', Buffer.from(secret, 'ascii')).update(key).digest('hex');
}

/** The groups of a recovery key as typed: four of four hex digits, joined by dashes, single spaces (as read out from paper) or nothing, the same throughout; any case. */
const TYPED_KEY = /^[0-9a-fA-F]{4}([- ]?)[0-9a-fA-F]{4}\1[0-9a-fA-F]{4}\1[0-9a-fA-F]{4}$/;

/** Whether input looks like a recovery key (with dashes, spaces or neither, any case). */
export function looksLikeRecoveryKey(input: string): boolean {
  return TYPED_KEY.test(input.trim());
}

/**
 * Normalises a typed recovery key to `xxxx-xxxx-xxxx-xxxx` lower case; null for one of the wrong
 * form (at a sign-in, a failed attempt like any other: each is counted before it is checked).
 */
export function parseRecoveryKey(input: string): string | null {
  const trimmed = input.trim();
  const hex = TYPED_KEY.test(trimmed) ? trimmed.replace(/[- ]/g, '').toLowerCase() : '';
  const key = /^[0-9a-f]{16}$/.test(hex) ? [0, 4, 8, 12].map((i) => hex.slice(i, i + 4)).join('-') : '';
  return KEY_RE.test(key) ? key : null;
}

/**
 * Which unused slot `key` fills, comparing against every slot in constant time so timing does not
 * tell how far the search went. `slots` holds the stored hashes, null for used keys.
 */
export function findRecoverySlot(secret: string, key: string, slots: readonly (string | null)[]): number | null {
  const candidate = Buffer.from(hashRecoveryKey(secret, key), 'hex');
  let found: number | null = null;
  slots.forEach((hash, index) => {
    const stored = Buffer.from(hash ?? '00'.repeat(32), 'hex');
    const equal = stored.length === candidate.length && timingSafeEqual(stored, candidate);
    if (equal && hash !== null && found === null) found = index;
  });
  return found;
}
