import { createHash, createHmac, pbkdf2Sync, randomBytes as nodeRandomBytes } from 'node:crypto';

/**
 * What node-postgres's SCRAM and MD5 logins compute (`pg/lib/crypto/utils.js`, which
 * scripts/build.mjs replaces with this module in `dist/pg.cjs`), with node:crypto's synchronous
 * functions instead of WebCrypto. Same names, same results: WebCrypto's PBKDF2 runs on the thread
 * pool and its module takes a while to load, about 5 ms of every command on a PostgreSQL store
 * with a password (a SCRAM login derives its key at every connection). The build fails if pg's
 * module names other functions than these; test/store/pg-crypto.test.ts holds each to the
 * original and to RFC 7677's SCRAM-SHA-256 example.
 */

/** WebCrypto's hash names (`SHA-256`, `SHA512-256`, as pg's certificate code gives them) as node:crypto's. */
const nodeHashName = (name: string): string => name.toLowerCase().replace(/^sha-/, 'sha');

export function randomBytes(length: number): Buffer {
  return nodeRandomBytes(length);
}

export async function md5(text: string | Buffer): Promise<string> {
  return createHash('md5').update(text).digest('hex');
}

/** AuthenticationMD5Password: 'md5' + md5(md5(password + user) + salt). */
export async function postgresMd5PasswordHash(user: string, password: string, salt: Buffer): Promise<string> {
  const inner = await md5(password + user);
  return `md5${await md5(Buffer.concat([Buffer.from(inner), salt]))}`;
}

export async function sha256(data: Uint8Array): Promise<Buffer> {
  return createHash('sha256').update(data).digest();
}

export async function hashByName(name: string, data: Uint8Array): Promise<Buffer> {
  return createHash(nodeHashName(name)).update(data).digest();
}

export async function hmacSha256(key: Uint8Array, message: string): Promise<Buffer> {
  return createHmac('sha256', key).update(message, 'utf8').digest();
}

/** SCRAM's SaltedPassword: PBKDF2-HMAC-SHA-256 of the (SASLprepped) password, 32 bytes. */
export async function deriveKey(password: string, salt: Uint8Array, iterations: number): Promise<Buffer> {
  return pbkdf2Sync(password, salt, iterations, 32, 'sha256');
}
