import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../errors.js';

/**
 * Yubico OTP: modhex, the AES-128 token, its CRC and counters, and the signatures of validation
 * protocol 2.0. Pure: no clock, no network.
 */
const MODHEX = 'cbdefghijklnrtuv';
const HEX = '0123456789abcdef';

export function modhexToHex(input: string): string {
  return [...input].map((c) => HEX[MODHEX.indexOf(c)] ?? '?').join('');
}

export function hexToModhex(input: string): string {
  return [...input.toLowerCase()].map((c) => MODHEX[HEX.indexOf(c)] ?? '?').join('');
}

export function isModhex(input: string): boolean {
  return /^[cbdefghijklnrtuv]+$/.test(input);
}

/** An OTP as typed by a key: a public id of 0 to 32 modhex characters, then a 32-character token. */
export interface YubicoOtp {
  readonly otp: string;
  readonly publicId: string;
  readonly token: string;
}

/** Whether input looks like a YubiKey OTP (tells it from TOTP codes and recovery keys). */
export function looksLikeYubicoOtp(input: string): boolean {
  const text = input.trim().toLowerCase();
  return text.length >= 32 && text.length <= 64 && text.length % 2 === 0 && isModhex(text);
}

export function parseYubicoOtp(input: string): YubicoOtp {
  const otp = input.trim().toLowerCase();
  if (!looksLikeYubicoOtp(otp)) {
    throw new UsageError('invalid YubiKey OTP: expected 32 to 64 modhex characters (touch the key to type one)', 'invalid_otp');
  }
  return { otp, publicId: otp.slice(0, otp.length - 32), token: otp.slice(-32) };
}

/** CRC-16 (ISO 13239) as YubiKeys compute it; over a whole token it leaves the residue 0xf0b8. */
export function crc16(data: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of data) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) {
      const carry = crc & 1;
      crc >>= 1;
      if (carry) crc ^= 0x8408;
    }
  }
  return crc;
}

export const CRC_RESIDUE = 0xf0b8;

/** The fields of a decrypted token. */
export interface YubicoToken {
  /** The private id, 6 bytes as hex. */
  readonly privateId: string;
  /** Non-volatile counter: plugs-ins (power-ups). */
  readonly useCounter: number;
  /** Touches within this power-up. */
  readonly sessionCounter: number;
  readonly timestamp: number;
}

/**
 * Decrypts a 32-character modhex token with the key's 16-byte AES key and checks its CRC. Returns
 * null for a token that does not decrypt to a valid one (wrong key, typo, another key's OTP).
 */
export function decryptToken(aesKey: Buffer, token: string): YubicoToken | null {
  if (aesKey.length !== 16 || token.length !== 32 || !isModhex(token)) return null;
  const decipher = createDecipheriv('aes-128-ecb', aesKey, null);
  decipher.setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(Buffer.from(modhexToHex(token), 'hex')), decipher.final()]);
  if (crc16(plain) !== CRC_RESIDUE) return null;
  return {
    privateId: plain.subarray(0, 6).toString('hex'),
    useCounter: plain.readUInt16LE(6),
    timestamp: plain.readUIntLE(8, 3),
    sessionCounter: plain[11] ?? 0,
  };
}

/** Whether (use, session) comes strictly after the last accepted pair. */
export function isNewer(token: { useCounter: number; sessionCounter: number }, last: { useCounter: number; sessionCounter: number } | null): boolean {
  return last === null || counterValue(token) > counterValue(last);
}

/**
 * The counter pair as one number, ordered like the pair: what the store compares atomically. Bit 15
 * of the use counter is a flag (caps lock was on when the key was used), not part of the count:
 * libyubikey masks it too, or one such OTP would make every later one look older.
 */
export function counterValue(token: { useCounter: number; sessionCounter: number }): number {
  return (token.useCounter & 0x7fff) * 256 + token.sessionCounter;
}

/** Validation protocol 2.0 signature: base64 HMAC-SHA1 over `k=v&...` of every field but `h`, sorted by key. */
export function signParams(params: Readonly<Record<string, string>>, apiKey: Buffer): string {
  const text = Object.keys(params)
    .filter((k) => k !== 'h')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  return createHmac('sha1', apiKey).update(text).digest('base64');
}

export function signatureValid(params: Readonly<Record<string, string>>, apiKey: Buffer): boolean {
  const given = Buffer.from(params.h ?? '', 'base64');
  const expected = Buffer.from(signParams(params, apiKey), 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Parses a validation server's answer: `key=value` lines. */
export function parseResponse(body: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of body.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) fields[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return fields;
}

/** Parses `--aes-key` (32 hex digits) and `--private-id` (12 hex digits). */
export function parseHexBytes(input: string, bytes: number, what: string): Buffer {
  const text = input.trim().toLowerCase();
  if (!new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(text)) {
    throw new UsageError(`invalid ${what}: expected ${bytes * 2} hex digits`, 'invalid_yubico');
  }
  return Buffer.from(text, 'hex');
}

/** Whether a decrypted token's private id is the key's (both hex), compared in constant time: it is a secret. */
export function samePrivateId(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'hex');
  const y = Buffer.from(b.toLowerCase(), 'hex');
  return x.length === 6 && y.length === 6 && timingSafeEqual(x, y);
}
