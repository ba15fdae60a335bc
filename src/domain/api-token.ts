import { createHash, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../errors.js';
import { parseUserId } from './userid.js';

/**
 * API tokens, as Proxmox has them: `USERID!NAME` names a token of a user, and the value a program
 * presents is `USERID!NAME=SECRET` (Proxmox writes `USER@REALM!TOKENID=UUID`), the secret being
 * 32 random bytes in base64url. Pure: no IO, no clock.
 */

/** What a token may do: what its user may (`inherit`), or only look (`read-only`). */
export type TokenPrivileges = 'inherit' | 'read-only';
export const TOKEN_PRIVILEGES: readonly TokenPrivileges[] = ['inherit', 'read-only'];

const NAME = /^[A-Za-z][A-Za-z0-9._-]{0,31}$/;
/**
 * What is read as a presented secret: any printable ASCII of bounded length, not only the shape
 * tfactl writes (43 base64url characters), so that a mistyped or guessed secret is refused as a
 * wrong one (audited, exit 5) rather than before the store is asked.
 */
const PRESENTED_SECRET = /^[\x21-\x7e]{1,256}$/;

/** A token name: 1 to 32 letters, digits, `.`, `_` or `-`, starting with a letter (Proxmox's rule). */
export function parseTokenName(text: string): string {
  if (!NAME.test(text)) {
    throw new UsageError('invalid token name: 1 to 32 letters, digits, ".", "_" or "-", starting with a letter', 'invalid_token_name');
  }
  return text;
}

/** `USERID!NAME`: how a token is named in lists and the audit trail. */
export function tokenId(userid: string, name: string): string {
  return `${userid}!${name}`;
}

/** The value a program presents: `USERID!NAME=SECRET`. */
export function formatTokenValue(userid: string, name: string, secret: string): string {
  return `${tokenId(userid, name)}=${secret}`;
}

export interface PresentedToken {
  readonly userid: string;
  readonly name: string;
  readonly secret: string;
}

/**
 * Reads a presented token (surrounding whitespace ignored); null when it does not have the
 * token's shape. Never says what was wrong with it: the text may be a secret.
 */
export function parseTokenValue(text: string): PresentedToken | null {
  const trimmed = text.trim();
  const bang = trimmed.lastIndexOf('!');
  const eq = trimmed.lastIndexOf('=');
  if (bang <= 0 || eq < bang) return null;
  const name = trimmed.slice(bang + 1, eq);
  const secret = trimmed.slice(eq + 1);
  if (!NAME.test(name) || !PRESENTED_SECRET.test(secret)) return null;
  try {
    return { userid: parseUserId(trimmed.slice(0, bang)).id, name, secret };
  } catch {
    return null;
  }
}

/** A new secret from 32 random bytes. */
export function newTokenSecret(random: Uint8Array): string {
  if (random.length !== 32) throw new Error('a token secret takes 32 random bytes');
  return Buffer.from(random).toString('base64url');
}

/** What the store keeps of a secret. */
export function tokenSecretHash(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Whether `secret` is the one whose hash is stored, compared in constant time. */
export function tokenSecretMatches(secret: string, stored: Uint8Array): boolean {
  const hash = tokenSecretHash(secret);
  return stored.length === hash.length && timingSafeEqual(hash, stored);
}
