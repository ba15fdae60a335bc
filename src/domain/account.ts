import { UsageError } from '../errors.js';
import type { TotpAlgorithm, TotpOptions } from '../store/types.js';
import { quote } from './userid.js';

const EMAIL_RE = /^[^\s@<>"',;]+@[^\s@<>"',;]+\.[^\s@<>"',;]+$/;

/** Validates an email address loosely (something@domain.tld, no spaces); empty means none. */
export function parseEmail(input: string): string | null {
  if (input === '') return null;
  if (input.length > 254 || !EMAIL_RE.test(input)) {
    throw new UsageError(`invalid email address ${quote(input)}`, 'invalid_email');
  }
  return input;
}

/** Validates a free-text comment: one line, at most 256 characters; empty means none. */
export function parseComment(input: string): string | null {
  if (input === '') return null;
  if (/[\p{Cc}]/u.test(input) || [...input].length > 256) {
    throw new UsageError('invalid comment: one line of at most 256 characters, without control characters', 'invalid_comment');
  }
  return input;
}

/** Parses a positive whole number option such as `--limit`. */
export function parsePositiveInt(input: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^[0-9]{1,16}$/.test(input) || Number(input) < 1 || Number(input) > max) {
    throw new UsageError(`invalid ${what} ${quote(input)}: expected a whole number from 1 to ${max}`, 'invalid_number');
  }
  return Number(input);
}

export const DEFAULT_TOTP_OPTIONS: TotpOptions = { digits: 6, step: 30, algorithm: 'SHA1' };
const ALGORITHMS: readonly TotpAlgorithm[] = ['SHA1', 'SHA256', 'SHA512'];

/** Parses TOTP parameters (digits 6 or 8, step 10 to 300 seconds, SHA1/SHA256/SHA512), defaults filled in. */
export function parseTotpOptions(input: { digits?: string; step?: string; algorithm?: string }): TotpOptions {
  const digits = input.digits ?? String(DEFAULT_TOTP_OPTIONS.digits);
  if (digits !== '6' && digits !== '8') throw new UsageError(`invalid digits ${quote(digits)}: expected 6 or 8`, 'invalid_totp');
  const stepText = input.step ?? String(DEFAULT_TOTP_OPTIONS.step);
  if (!/^[0-9]{2,3}$/.test(stepText) || Number(stepText) < 10 || Number(stepText) > 300) {
    throw new UsageError(`invalid step ${quote(stepText)}: expected 10 to 300 seconds`, 'invalid_totp');
  }
  const algorithm = (input.algorithm ?? DEFAULT_TOTP_OPTIONS.algorithm).toUpperCase().replace('-', '');
  if (!ALGORITHMS.includes(algorithm as TotpAlgorithm)) {
    throw new UsageError(`invalid algorithm ${quote(input.algorithm ?? '')}: expected SHA1, SHA256 or SHA512`, 'invalid_totp');
  }
  return { digits: digits === '6' ? 6 : 8, step: Number(stepText), algorithm: algorithm as TotpAlgorithm };
}
