import { UsageError } from '../errors.js';
import { checkText } from './text.js';
import { cellShown, quote } from './userid.js';

const EMAIL_RE = /^[^\s@<>"',;]+@[^\s@<>"',;]+\.[^\s@<>"',;]+$/;

/**
 * Validates an email address loosely (something@domain.tld, no spaces); empty means none.
 * `shownAs` puts a refused one into the message (quoted; a file's cell by shownIfAddress).
 */
export function parseEmail(input: string, shownAs: (input: string) => string = quote): string | null {
  if (input === '') return null;
  checkText(input, 'email address', 254, 'invalid_email');
  if (!EMAIL_RE.test(input)) {
    throw new UsageError(`invalid email address ${shownAs(input)}`, 'invalid_email');
  }
  return input;
}

/** An email cell as cellShown shows it: only when it looks like an address. */
export const shownIfAddress = (text: string) => cellShown(text, /^[^@\s]+@[^@\s]+\.[^@\s]+$/);

/**
 * Validates a free-text field (a comment, a factor's description, an issuer): one line of at most
 * 256 characters under the text rule (domain/text.ts); empty, or blanks alone, means none.
 */
export function parseComment(input: string, what = 'comment'): string | null {
  // Blanks alone say nothing: as empty (a listing would show an empty-looking cell).
  if (input.trim() === '') return null;
  return checkText(input, what, 256, 'invalid_comment');
}

/** Parses a positive whole number option such as `--limit`. */
export function parsePositiveInt(input: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  // No leading zero, no sign, no blank: as --digits and --period take numbers.
  if (!/^[1-9][0-9]{0,15}$/.test(input) || Number(input) > max) {
    throw new UsageError(`invalid ${what} ${quote(input)}: expected a whole number ${max === Number.MAX_SAFE_INTEGER ? 'of 1 or more' : `from 1 to ${max}`}`, 'invalid_number');
  }
  return Number(input);
}

/** Where a factor id has '-': every id is a UUID as tfactl makes them (5b49e077-6e52-4c1e-…). */
const FACTOR_ID_DASHES = new Set([8, 13, 18, 23]);

/**
 * Whether a message may repeat what was given as a factor id: only what could start one. What is
 * typed where an id goes may be a secret in the wrong place (a recovery key, a TOTP secret, a
 * password), and an id that matches nothing is repeated back.
 */
export function factorIdShowable(input: string): boolean {
  return input.length <= 36 && [...input].every((c, i) => (FACTOR_ID_DASHES.has(i) ? c === '-' : /[0-9a-f]/i.test(c)));
}

/** Said instead of a factor id not repeated (see factorIdShowable). */
export const factorIdUnshown = (input: string) => `it is not repeated here (${[...input].length} characters): a factor id is hex, as tfa list shows it`;

/**
 * A factor id as given on the command line: its full id or any start of it (`tfa list` shows
 * them), so at least one printable character without spaces, and no longer than an id is.
 */
export function parseFactorIdArg(input: string): string {
  if (!/^[^\s\p{Cc}\p{Cf}]{1,64}$/u.test(input)) {
    throw new UsageError(`invalid factor id${factorIdShowable(input) ? ` ${quote(input)}` : ''}: give the id tfa list shows, or a start of it of at least ${MIN_FACTOR_ID_PREFIX} characters`, 'invalid_factor_id');
  }
  // Said before anything else (a sign-in that would spend a second factor): no id is this short.
  if (input.length < MIN_FACTOR_ID_PREFIX) {
    throw new UsageError(`factor id ${input} is too short: give at least ${MIN_FACTOR_ID_PREFIX} characters of it (see tfactl tfa list)`, 'ambiguous_id');
  }
  return input;
}

/** The fewest characters of a factor id that name it (as git wants of a commit id): `0` deleting whatever starts with 0 is a slip. */
export const MIN_FACTOR_ID_PREFIX = 4;
