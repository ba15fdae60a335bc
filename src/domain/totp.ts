import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { createGuardrails, ScureBase32Plugin, generateSync } from 'otplib';
import { UsageError } from '../errors.js';
import type { TotpAlgorithm, TotpParams } from './totp-params.js';

/**
 * TOTP (RFC 6238) over otplib. Pure: the time is always a parameter. Codes are accepted one step
 * back, in the current step and one step forward, as Proxmox does.
 */

/** 80 bits: the shortest secret in use (Proxmox realm keys from oathkeygen). */
const MIN_SECRET_BYTES = 10;
const MAX_SECRET_BYTES = 64;
/** The size of a secret tfactl generates: 160 bits, 32 base32 characters. */
export const GENERATED_SECRET_BYTES = 20;

// node:crypto's HMAC: a tenth of the pure-JS one's time, and node:crypto is loaded anyway wherever
// a TOTP secret is opened (secret-box).
const crypto = new NodeCryptoPlugin();
const base32 = new ScureBase32Plugin();
const guardrails = createGuardrails({ MIN_SECRET_BYTES });

/** Encodes secret bytes as unpadded base32 (A-Z, 2-7). */
export function encodeSecret(bytes: Uint8Array): string {
  return base32.encode(bytes, { padding: false });
}

/**
 * Parses a base32 secret as people type it (any case, spaces and padding ignored) into its
 * canonical unpadded upper-case form, 80 to 512 bits. Never repeats the secret in an error.
 */
export function parseSecret(input: string): string {
  const text = input.replace(/[\s-]/g, '').replace(/=+$/, '').toUpperCase();
  if (!/^[A-Z2-7]+$/.test(text)) {
    throw new UsageError('invalid TOTP secret: use base32 (letters A-Z and digits 2-7)', 'invalid_secret');
  }
  const bits = text.length * 5;
  if ([1, 3, 6].includes(text.length % 8)) {
    throw new UsageError(`invalid TOTP secret: ${text.length} base32 characters are no whole number of bytes (one missing, or one too many?)`, 'invalid_secret');
  }
  if (bits < MIN_SECRET_BYTES * 8 || Math.floor(bits / 8) > MAX_SECRET_BYTES) {
    throw new UsageError(
      `invalid TOTP secret: it must be ${MIN_SECRET_BYTES * 8} to ${MAX_SECRET_BYTES * 8} bits (16 to 103 base32 characters)`,
      'invalid_secret',
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = base32.decode(text);
  } catch {
    // e.g. a last character whose spare bits are not zero: not something a generator writes.
    throw new UsageError('invalid TOTP secret: it is not valid base32 (check the last characters)', 'invalid_secret');
  }
  return encodeSecret(bytes);
}

/** The time step (counter) of an epoch time. */
export function stepAt(epochSeconds: number, period: number): number {
  return Math.floor(epochSeconds / period);
}

/** What otplib needs for one secret at one time, the same for generating and verifying. */
function otpOptions(secret: string, params: TotpParams, epochSeconds: number) {
  return {
    strategy: 'totp' as const,
    secret,
    crypto,
    base32,
    guardrails,
    algorithm: hashName(params.algorithm),
    digits: params.digits,
    period: params.period,
    epoch: epochSeconds,
  };
}

/** The code for a secret at a time. */
export function totpCode(secret: string, params: TotpParams, epochSeconds: number): string {
  return generateSync(otpOptions(secret, params, epochSeconds));
}

export type TotpMatch = { readonly valid: true; readonly step: number } | { readonly valid: false };

/**
 * Whether `token` is the code of the step before, at or after `epochSeconds`; which step if so (the
 * earliest, as otplib's verify answers). otplib's HOTP codes of the three steps, the secret decoded
 * once: its TOTP verify decodes it again for every step, 70 µs a check against 30 (a service
 * checks a thousand a second), with the same answers (test/domain/totp.test.ts holds the two to
 * each other on random secrets, times and codes).
 */
export function matchTotp(secret: string, token: string, params: TotpParams, epochSeconds: number): TotpMatch {
  if (!new RegExp(`^[0-9]{${params.digits}}$`).test(token)) return { valid: false };
  const key = base32.decode(secret);
  const current = stepAt(epochSeconds, params.period);
  for (let step = Math.max(0, current - 1); step <= current + 1; step++) {
    const code = generateSync({ strategy: 'hotp', secret: key, counter: step, crypto, base32, guardrails, algorithm: hashName(params.algorithm), digits: params.digits });
    if (crypto.constantTimeEqual(code, token)) return { valid: true, step };
  }
  return { valid: false };
}

function hashName(a: TotpAlgorithm): 'sha1' | 'sha256' | 'sha512' {
  return a === 'SHA1' ? 'sha1' : a === 'SHA256' ? 'sha256' : 'sha512';
}

/**
 * The provisioning URI authenticator apps read:
 * `otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=...&digits=...&period=...`,
 * issuer and account percent-encoded.
 */
export function otpauthUri(input: { issuer: string; account: string; secret: string } & TotpParams): string {
  const issuer = encodeURIComponent(input.issuer);
  const query = [
    `secret=${input.secret}`,
    `issuer=${issuer}`,
    `algorithm=${input.algorithm}`,
    `digits=${input.digits}`,
    `period=${input.period}`,
  ].join('&');
  return `otpauth://totp/${issuer}:${encodeURIComponent(input.account)}?${query}`;
}
