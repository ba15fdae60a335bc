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

/**
 * The canonical form of a user id or realm name: Unicode NFKC, then full case folding, so that
 * `ROOT`, `ｒｏｏｔ` (fullwidth) and `root` are one name. JavaScript has no case folding: upper then
 * lower case, normalised again, is full folding for all but a few characters; it is repeated until
 * nothing changes (U+1E9E ẞ folds to ß on the first pass and to ss on the second), so folding a
 * folded name changes nothing. ASCII, by far the common case, takes the short way.
 */
export function canonicalName(input: string): string {
  if (/^[\x00-\x7f]*$/.test(input)) return input.toLowerCase();
  let text = input.normalize('NFKC');
  for (let pass = 0; pass < 8; pass++) {
    const next = text.toUpperCase().toLowerCase().normalize('NFKC');
    if (next === text) break;
    text = next;
  }
  return text;
}

/**
 * Validates a realm name (a letter, then 1 to 31 letters, digits, dots, dashes or underscores) and
 * returns its canonical form: realm names are ASCII, so that is lower case.
 */
export function parseRealmName(input: string): string {
  const realm = canonicalName(input);
  if (!REALM_RE.test(realm)) {
    throw new UsageError(
      `invalid realm name ${quote(input)}: use 2 to 32 letters, digits, '.', '-' or '_', starting with a letter`,
      'invalid_realm',
    );
  }
  return realm;
}

/**
 * The realm among `existing` that a new realm `name` would pass for: one that differs from it only
 * in dots, dashes and underscores (`local.` and `local`, `ad-corp` and `adcorp`), which a user id
 * shown in a list or the audit trail does not make plain (`root@local.`). Null when there is none.
 */
export function realmPassedFor(name: string, existing: Iterable<string>): string | null {
  const skeleton = (realm: string) => realm.replace(/[._-]/g, '');
  for (const realm of existing) if (realm !== name && skeleton(realm) === skeleton(name)) return realm;
  return null;
}

/**
 * Parses `name@realm`, or a bare `name` meaning realm `local`, into canonical form
 * (canonicalName) before anything else sees it: `ALICE@Corp` is `alice@corp`. Whether a new name
 * may be created is a further question (domain/lookalike.ts). `shownAs` puts the input into an
 * error message (quoted; an import shows a cell only where it cannot be a password that slid over).
 */
export function parseUserId(input: string, shownAs: (input: string) => string = quote): UserId {
  // An API token's value where a user id belongs (TFACTL_AS for TFACTL_TOKEN): refused without
  // its secret in the message.
  if (TOKEN_VALUE.test(input)) {
    throw new UsageError("invalid user id: that is an API token's value (USERID!NAME=SECRET), not repeated here; a token is given with TFACTL_TOKEN or --token @FILE", 'invalid_userid');
  }
  if (/\p{Cs}/u.test(input)) {
    throw new UsageError(`invalid user id ${shownAs(input)}: it is not valid Unicode (a lone surrogate, or bytes that were not UTF-8)`, 'invalid_userid');
  }
  if (input.includes('\uFFFD')) {
    // What the command line and most decoders make of bytes that were not UTF-8.
    throw new UsageError(`invalid user id ${shownAs(input)}: it holds U+FFFD, the replacement character (was the input not UTF-8?)`, 'invalid_userid');
  }
  const canonical = canonicalName(input);
  const at = canonical.lastIndexOf('@');
  const name = at < 0 ? canonical : canonical.slice(0, at);
  const realmPart = at < 0 ? LOCAL_REALM : canonical.slice(at + 1);
  if (!NAME_RE.test(name)) {
    throw new UsageError(
      `invalid user id ${shownAs(input)}: ${unseen(input)}the name before '@' must be 1 to 64 characters without spaces or any of : / @ \\ , ; " ' \` < > |`,
      'invalid_userid',
    );
  }
  let realm: string;
  try {
    realm = parseRealmName(realmPart);
  } catch {
    throw new UsageError(
      `invalid user id ${shownAs(input)}: ${unseen(input)}the realm after '@' must be 2 to 32 letters, digits, '.', '-' or '_', starting with a letter`,
      'invalid_userid',
    );
  }
  return { name, realm, id: `${name}@${realm}` };
}

/**
 * What an API token's value looks like (USERID!NAME=SECRET, the realm left out for `local`): '!',
 * a token name, '=' and a character of the secret. No user id may hold it, or `bob!ci=SECRET`
 * would be taken for a user of realm local, its secret then shown and audited as a name.
 */
const TOKEN_VALUE = /![A-Za-z][A-Za-z0-9._-]{0,31}=[\x21-\x7e]/;

/** A character that would not show as itself (controls, format and invisible characters, spaces other than ASCII's, line separators, lone surrogates). */
const UNSEEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}\u2800]|[^\S ]/u;

/**
 * Input as a message may show it: `?` for each character that would not show as itself (see UNSEEN).
 */
export function shown(input: string): string {
  return input.replace(new RegExp(UNSEEN.source, 'gu'), '?');
}

/** The first character of `input` that shows as `?` in a message, named as the text rule names one (`it holds U+001B, ...; `), else ''. */
function unseen(input: string): string {
  const c = UNSEEN.exec(input)?.[0];
  return c === undefined ? '' : `it holds U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}, shown as ?; `;
}

/**
 * Input for an error message: quoted when it has the shape of what belongs there (`shape`), else
 * by its length only. A file's cells that slid over by one (a comma in an unquoted password) put a
 * password where a date or a user id goes, and a password typed where a user id goes (at a login
 * prompt, in `--as`, as PAM_USER) is no user id either: the message must not repeat it.
 */
export function cellShown(text: string, shape: RegExp): string {
  return shape.test(text) ? quote(text) : `of ${[...text].length} characters`;
}

/**
 * What could be a user id with a mistake in it (a realm too short, too long a name, a letter of
 * another script). Any other sign (`:`, a space, `/`, a quote...) is more likely a password where
 * the user id goes, and is not repeated (cellShown).
 */
export const USERID_SHAPE = /^[\p{L}\p{N}._@+-]+$/u;

/** Where a user id goes, as a message shows it: quoted when it has a user id's shape (USERID_SHAPE), else by its length. */
export const shownIfUserIdShaped = (text: string) => cellShown(text, USERID_SHAPE);

/**
 * parseUserId for the user id of a sign-in (`login`, `--as`, PAM_USER, the service's login), where
 * a password typed a line early is the likely mistake: refused without being repeated unless it
 * has a user id's shape. (One with that shape is named as typed, as sshd's "Invalid user" does:
 * the audit trail records failed sign-ins of unknown user ids under the id given.)
 */
export function parseSignInUserId(input: string): UserId {
  return parseUserId(input, shownIfUserIdShaped);
}

/**
 * The name of a field, column or key for an error message: quoted when it is a name (a letter,
 * then letters, digits, `_`, `.`, `-`, at most 40), else by its length: a request or a file whose
 * pieces slid over puts a password or a code where a name goes.
 */
export const shownIfFieldName = (text: string) => cellShown(text, /^[A-Za-z][A-Za-z0-9_.-]{0,39}$/);

/** Quotes user input for an error message, keeping it on one line and short. */
export function quote(input: string): string {
  const clean = [...shown(input)];
  return JSON.stringify(clean.length > 80 ? `${clean.slice(0, 77).join('')}...` : clean.join(''));
}
