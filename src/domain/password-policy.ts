import { UsageError } from '../errors.js';

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
}
