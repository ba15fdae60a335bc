import { UsageError } from '../errors.js';

/** The realm every bare user name belongs to; built in, never deleted. */
export const LOCAL_REALM = 'local';
/** The built-in superuser. It cannot be deleted, disabled, expired or demoted. */
export const ROOT_USERID = 'root@local';

export interface UserId {
  readonly name: string;
  readonly realm: string;
  /** Canonical `name@realm`. */
  readonly id: string;
}

const REALM_RE = /^[A-Za-z][A-Za-z0-9._-]{1,31}$/;
// Printable, no whitespace, none of the characters that separate fields in ids, URIs or config files.
const NAME_RE = /^[^\s:/@\\,;"'`<>|\p{Cc}\p{Cf}]{1,64}$/u;

/** Validates a realm name: a letter, then 1 to 31 letters, digits, dots, dashes or underscores. */
export function parseRealmName(input: string): string {
  if (!REALM_RE.test(input)) {
    throw new UsageError(
      `invalid realm name ${quote(input)}: use 2 to 32 letters, digits, '.', '-' or '_', starting with a letter`,
      'invalid_realm',
    );
  }
  return input;
}

/** Parses `name@realm`, or a bare `name` meaning realm `local`. */
export function parseUserId(input: string): UserId {
  const at = input.lastIndexOf('@');
  const name = at < 0 ? input : input.slice(0, at);
  const realmPart = at < 0 ? LOCAL_REALM : input.slice(at + 1);
  if (!NAME_RE.test(name)) {
    throw new UsageError(
      `invalid user id ${quote(input)}: the name before '@' must be 1 to 64 characters without spaces or any of : / @ \\ , ; " ' \` < > |`,
      'invalid_userid',
    );
  }
  let realm: string;
  try {
    realm = parseRealmName(realmPart);
  } catch {
    throw new UsageError(
      `invalid user id ${quote(input)}: the realm after '@' must be 2 to 32 letters, digits, '.', '-' or '_', starting with a letter`,
      'invalid_userid',
    );
  }
  return { name, realm, id: `${name}@${realm}` };
}

/** Quotes user input for an error message, keeping it on one line and short. */
export function quote(input: string): string {
  const clean = input.replace(/[\p{Cc}\p{Cf}]/gu, '?');
  return JSON.stringify(clean.length > 80 ? `${clean.slice(0, 77)}...` : clean);
}
