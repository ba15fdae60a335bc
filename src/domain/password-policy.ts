import { UsageError } from '../errors.js';
import { commonPasswordText } from './common-passwords.js';

export interface PasswordPolicy {
  readonly minLength: number;
  readonly maxLength: number;
}

export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = { minLength: 8, maxLength: 256 };

/**
 * Checks a new password against the policy. Length counts Unicode code points, so a password of
 * emoji is measured as a person would count it. Never includes the password in the message.
 */
export function checkPassword(password: string, policy: PasswordPolicy): void {
  const length = [...password].length;
  if (length < policy.minLength || length > policy.maxLength) {
    throw new UsageError(
      `password rejected: it must be ${policy.minLength} to ${policy.maxLength} characters long (it has ${length})`,
      'weak_password',
    );
  }
  // A lone surrogate is a byte of standard input that was not UTF-8 (decodeUtf8): a password
  // typed in another encoding would not be the one the person thinks they set.
  if (/\p{Cs}/u.test(password)) {
    throw new UsageError('password rejected: it is not valid UTF-8', 'weak_password');
  }
  if (/[\p{Cc}]/u.test(password)) {
    throw new UsageError('password rejected: it must not contain control characters', 'weak_password');
  }
  if (password.trim() !== password) {
    throw new UsageError('password rejected: it must not start or end with whitespace', 'weak_password');
  }
  const guessable = guessableBy(password);
  if (guessable !== null) throw new UsageError(`password rejected: ${guessable}, which guessers try first: choose another`, 'weak_password');
}

let commonText: string | undefined;

/**
 * Why a password is among the first a guesser tries (NIST SP 800-63B, 5.1.1.2: passwords from
 * leaked sets, repetitive or sequential characters), or null. Case does not save one (`Password1`
 * is `password1`, `Abcdefgh` is `abcdefgh`), nor do a digit or two and a symbol put after a
 * repeat or a run (`aaaaaaaa1`, `12345678!`), as they are put after a word.
 */
export function guessableBy(password: string): string | null {
  const folded = password.toLowerCase();
  for (const text of [folded, folded.replace(/[0-9!-/:-@[-`{-~]{1,2}$/, '')]) {
    const points = [...text].map((c) => c.codePointAt(0)!);
    if (points.length < 2) continue;
    if (points.every((p) => p === points[0])) return 'it is one character repeated';
    const step = points[1]! - points[0]!;
    if ((step === 1 || step === -1) && points.every((p, i) => i === 0 || p - points[i - 1]! === step)) return 'it is a run of characters in order';
  }
  // The list is ASCII and has no line breaks (a password with one is refused above).
  if (!/^[ -~]+$/.test(folded)) return null;
  commonText ??= `\n${commonPasswordText()}\n`;
  return commonText.includes(`\n${folded}\n`) ? 'it is one of the most common passwords' : null;
}
