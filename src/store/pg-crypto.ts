import { createHash, createHmac, pbkdf2, randomBytes as nodeRandomBytes } from 'node:crypto';

/**
 * What node-postgres's SCRAM and MD5 logins compute (`pg/lib/crypto/utils.js`, which
 * scripts/build.mjs replaces with this module in `dist/pg.cjs`), with node:crypto's functions
 * instead of WebCrypto: loading WebCrypto and its asynchronous key objects took about 3 ms of every
 * command on a PostgreSQL store with a password (a SCRAM login derives its key at every
 * connection). The hashes are synchronous (microseconds); PBKDF2 stays on the thread pool. Same
 * names, same results: the build fails if pg's module names a function this one lacks, and
 * test/store/pg-crypto.test.ts holds each to the original and to RFC 7677's SCRAM-SHA-256 example.
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

/**
 * SCRAM's SaltedPassword: PBKDF2-HMAC-SHA-256 of the (SASLprepped) password, 32 bytes. On the
 * thread pool, as WebCrypto's was: `tfactl serve` logs in a connection for many of its runs, and
 * the server may ask for far more than 4,096 iterations.
 */
export function deriveKey(password: string, salt: Uint8Array, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => pbkdf2(password, salt, iterations, 32, 'sha256', (e, key) => (e ? reject(e) : resolve(key))));
}
