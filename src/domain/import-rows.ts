import { UsageError } from '../errors.js';
import { parseComment, parseEmail, shownIfAddress } from './account.js';
import { topLevelJsonKeys } from './json-keys.js';
import { parseDate } from './dates.js';
import { cellShown, parseUserId, quote, shownIfFieldName, shownIfUserIdShaped, USERID_SHAPE } from './userid.js';

/**
 * Rows of a bulk import: CSV with a header, or JSON Lines. Each row is checked on its own so one bad
 * row is reported with its line number without stopping the others; a file whose shape is wrong
 * (unknown or missing columns, broken quoting) is refused whole. Reading the bytes (csv-parse,
 * splitting lines, decoding) is services/import-input.ts; what a record means is here.
 */
export const IMPORT_FIELDS = ['userid', 'password', 'admin', 'email', 'comment', 'expire', 'tfa'] as const;
type Field = (typeof IMPORT_FIELDS)[number];

/**
 * One row. A field is undefined when its column (or JSON key) is absent: an update then leaves it
 * as it is, while an empty value clears it.
 */
export interface ImportRow {
  readonly line: number;
  readonly userid: string;
  readonly realm: string;
  /** null or undefined: no password (an update keeps the current one). */
  readonly password: string | null | undefined;
  readonly admin: boolean | undefined;
  readonly email: string | null | undefined;
  readonly comment: string | null | undefined;
  readonly expire: string | null | undefined;
  /** A TOTP factor to create: with a given secret, or a generated one (secret null). */
  readonly totp: { readonly secret: string | null } | null;
  readonly recovery: boolean;
}

export type ParsedRow = { readonly ok: true; readonly row: ImportRow } | { readonly ok: false; readonly line: number; readonly userid: string | null; readonly error: string };

/**
 * A record of raw text fields and the line it starts on. `__error` holds why the record cannot be a
 * row (wrong number of fields, not a JSON object): its row fails with that reason.
 */
export interface RawRecord {
  readonly line: number;
  readonly fields: Readonly<Record<string, string>>;
}

/**
 * The two formats, told apart by the first byte of the input that is not white space: JSON Lines
 * start with `{`, anything else is CSV. `byte` is undefined for an input of white space only.
 */
export function importFormat(byte: number | undefined): 'csv' | 'jsonl' {
  return byte === 0x7b ? 'jsonl' : 'csv';
}

/**
 * The columns a CSV header names (trimmed, in lower case), in order. Refuses the whole file for an
 * unknown column, a header without `userid` or a column named twice.
 */
export function csvColumns(header: readonly string[], line: number): string[] {
  const names = header.map((h) => h.trim().toLowerCase());
  checkColumns(names, line);
  return names;
}

/** A CSV record under its header's columns; a record with another number of fields fails its row. */
export function csvRecord(columns: readonly string[], cells: readonly string[], line: number): RawRecord {
  if (cells.length !== columns.length) {
    // Its user id still names the row in the results where the cell is sure to be its own: before
    // the password, whose unquoted comma (the usual cause) shifts the cells after it, so that a
    // piece of the password would stand where the user id goes.
    const at = columns.indexOf('userid');
    const password = columns.indexOf('password');
    const userid = password < 0 || at < password ? cells[at] : undefined;
    return { line, fields: { __error: `has ${cells.length} fields, the header ${columns.length}`, ...(userid !== undefined && { userid }) } };
  }
  const fields: Record<string, string> = {};
  columns.forEach((name, i) => {
    fields[name] = cells[i] ?? '';
  });
  return { line, fields };
}

/**
 * Whether a record's row would make secrets shown only in the results: a new TOTP secret (`totp`
 * without one of its own) or recovery keys. Read as leniently as a survey must: a tfa cell its row
 * would refuse says no.
 */
export function makesSecrets(fields: Readonly<Record<string, string>>): boolean {
  return (fields.tfa ?? '').split('+').some((part) => ['totp', 'recovery'].includes(part.trim().toLowerCase()));
}

/** Why a CSV file's quoting is broken, at a line: the whole file is refused. */
export function csvQuotingError(problem: 'quote-in-field' | 'text-after-quote' | 'unclosed-quote', line: number): UsageError {
  const what = {
    'quote-in-field': 'a quote inside an unquoted field',
    'text-after-quote': 'text after a closing quote',
    'unclosed-quote': 'a quoted field is never closed',
  }[problem];
  return new UsageError(`CSV line ${line}: ${what}`, 'invalid_import');
}

/**
 * One line of JSON Lines: an object whose values are strings, booleans or null. Null for a blank
 * line. A line that is not such an object fails its row; an unknown key refuses the whole input.
 */
export function jsonLineRecord(text: string, line: number): RawRecord | null {
  if (text.trim() === '') return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { line, fields: { __error: 'is not valid JSON' } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { line, fields: { __error: 'is not a JSON object' } };
  // The keys as written: JSON.parse keeps only the last of a key given twice.
  const names = topLevelJsonKeys(text).map((k) => k.toLowerCase());
  checkColumns(names, line, false);
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v !== null && typeof v !== 'string' && !(typeof v === 'boolean' && k.toLowerCase() === 'admin')) {
      fields.__error = `has a field ${quote(k)} that is not ${k.toLowerCase() === 'admin' ? 'a string, true, false' : 'a string'} or null${k.toLowerCase() === 'admin' ? '' : ' (only admin may be true or false)'}`;
    } else {
      fields[k.toLowerCase()] = v === null ? '' : String(v);
    }
  }
  return { line, fields };
}


/**
 * A header line whose columns are known ones separated by ';', a tab or '|' instead of commas
 * (a spreadsheet's export in a locale that writes ';'), each column quoted or not: the error that
 * says so, else undefined. `text` is the header as one cell (unquoted), or its whole line when its
 * quoting refused it as CSV (`"userid";"comment"`).
 */
export function otherSeparator(text: string, line: number): UsageError | undefined {
  const separator = [';', '\t', '|'].find((c) => text.includes(c));
  if (separator === undefined) return undefined;
  // A trailing separator (an empty last column) as spreadsheets write it.
  const parts = text
    .split(separator)
    .map((p) => p.trim().replace(/^"(.*)"$/s, '$1').trim().toLowerCase())
    .filter((p, i, all) => p !== '' || i < all.length - 1);
  if (!parts.every((p) => (IMPORT_FIELDS as readonly string[]).includes(p))) return undefined;
  return new UsageError(`line ${line}: the columns are separated by ${separator === '\t' ? 'tabs' : `'${separator}'`}: a CSV file separates them with commas (userid,password,tfa)`, 'invalid_import');
}

function checkColumns(names: readonly string[], line: number, needUserid = true): void {
  const unknown = names.filter((n) => !(IMPORT_FIELDS as readonly string[]).includes(n));
  // No column it knows: a file without its header line, whose first row (a password, maybe) is
  // not repeated back.
  if (needUserid && unknown.length === names.length) {
    // A spreadsheet's export in a locale that separates with ';' (or a tab): one unknown column
    // whose parts are known ones.
    const separated = names.length === 1 ? otherSeparator(names[0]!, line) : undefined;
    if (separated) throw separated;
    throw new UsageError(`line ${line}: the first line is not a header: it names no column tfactl knows (the header names the columns, e.g. userid,password,tfa; known: ${IMPORT_FIELDS.join(', ')})`, 'invalid_import');
  }
  // Without a userid column it is no header either (a file without one, whose first row began
  // with a cell named as a column is: `admin,PASSWORD,totp`), and its cells are not repeated.
  if (needUserid && !names.includes('userid')) {
    throw new UsageError(`line ${line}: the header has no userid column${unknown.length > 0 ? ` (is the first line a header? it names the columns, e.g. userid,password,tfa; known: ${IMPORT_FIELDS.join(', ')})` : ''}`, 'invalid_import');
  }
  if (unknown.length > 0) {
    throw new UsageError(
      `line ${line}: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map(shownIfFieldName).join(', ')} (known: ${IMPORT_FIELDS.join(', ')})`,
      'invalid_import',
    );
  }
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`line ${line}: column ${quote(dup)} appears twice`, 'invalid_import');
}

/**
 * Turns records into rows, in input order, each checked on its own: a user id that already
 * appeared fails its row (naming the line it first appeared on). Remembers every user id it has
 * seen, so its memory grows with the rows, as the import's results do, not with their text.
 */
export function importRowReader(): (record: RawRecord) => ParsedRow {
  const seen = new Map<string, number>();
  return (r) => {
    const parsed = parseRecord(r);
    if (!parsed.ok) return parsed;
    const first = seen.get(parsed.row.userid);
    if (first !== undefined) return { ok: false, line: r.line, userid: parsed.row.userid, error: `line ${r.line}: ${parsed.row.userid} already appears on line ${first}` };
    seen.set(parsed.row.userid, r.line);
    return parsed;
  };
}

function parseRecord(r: RawRecord): ParsedRow {
  const f = (name: Field) => (r.fields[name] ?? '').trim();
  const useridText = f('userid');
  if (r.fields.__error) return { ok: false, line: r.line, userid: shownUserid(useridText), error: `line ${r.line} ${r.fields.__error}` };
  const given = (name: Field) => Object.hasOwn(r.fields, name);
  // Bytes that were not UTF-8 (decodeUtf8) or JSON's "\udXXX": not text, whatever the field.
  const broken = IMPORT_FIELDS.find((name) => /\p{Cs}/u.test(r.fields[name] ?? ''));
  if (broken) return { ok: false, line: r.line, userid: null, error: `line ${r.line}: the ${broken} field is not valid UTF-8 (or holds a lone surrogate)` };
  try {
    const id = parseUserId(useridText, shownIfUserIdShaped);
    const adminText = f('admin').toLowerCase();
    if (!['', 'true', 'false', 'yes', 'no', '1', '0'].includes(adminText)) throw new UsageError(`invalid admin ${cellShown(adminText, /^$/)}: expected true, false, yes, no, 1 or 0`);
    const expire = f('expire');
    const tfa = parseTfaField(f('tfa'));
    const password = r.fields.password ?? '';
    return {
      ok: true,
      row: {
        line: r.line,
        userid: id.id,
        realm: id.realm,
        password: password === '' ? (given('password') ? null : undefined) : password,
        admin: given('admin') ? ['true', 'yes', '1'].includes(adminText) : undefined,
        email: given('email') ? parseEmail(f('email'), shownIfAddress) : undefined,
        comment: given('comment') ? parseComment(r.fields.comment ?? '') : undefined,
        expire: given('expire') ? (expire === '' || expire.toLowerCase() === 'never' ? null : parseExpiry(expire)) : undefined,
        ...tfa,
      },
    };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return { ok: false, line: r.line, userid: shownUserid(useridText), error: `line ${r.line}: ${e.message}` };
  }
}


/** An expiry cell: a date, the error naming the cell as cellShown does. */
function parseExpiry(text: string): string {
  if (/^\d{1,4}[-./]\d{1,2}[-./]\d{1,4}$/.test(text)) return parseDate(text, 'expiry date');
  throw new UsageError(`invalid expiry date ${cellShown(text, /^$/)}: expected a date as YYYY-MM-DD`, 'invalid_date');
}

/** A failed row's user id as the results name every other row's (`v1@local`), or as given when it is not one (and could not be a password). */
function shownUserid(text: string): string | null {
  try {
    return parseUserId(text).id;
  } catch {
    return USERID_SHAPE.test(text) ? text : null;
  }
}

/** `totp`, `totp:BASE32` and `recovery`, joined with `+`. */
function parseTfaField(text: string): { totp: { secret: string | null } | null; recovery: boolean } {
  let totp: { secret: string | null } | null = null;
  let recovery = false;
  for (const part of text === '' ? [] : text.split('+').map((p) => p.trim())) {
    if (part.toLowerCase() === 'recovery' && !recovery) recovery = true;
    else if (part.toLowerCase() === 'totp' && !totp) totp = { secret: null };
    else if (/^totp:/i.test(part) && !totp) totp = { secret: part.slice(5) };
    else if ((part.toLowerCase() === 'recovery' && recovery) || (/^totp(:|$)/i.test(part) && totp)) {
      throw new UsageError(`invalid tfa: ${/^totp/i.test(part) ? 'totp' : 'recovery'} is named twice (one factor of each kind)`);
    } else throw new UsageError(`invalid tfa ${tfaPartShown(part)}: expected totp, totp:BASE32 or recovery, joined with +`);
  }
  return { totp, recovery };
}

/**
 * A tfa cell's part for an error message, never a secret in it: a word alone (a misspelt
 * `recovery`) as it is; a word and what follows a separator (`totp=SECRET`, `totp:SECRET` given
 * twice) as the word and separator; anything else only by its length.
 */
function tfaPartShown(part: string): string {
  if (/^[a-z]{1,12}$/i.test(part)) return quote(part);
  const word = /^[a-z]{1,12}[=:;,._ -]/i.exec(part);
  return word ? quote(`${word[0]}…`) : `of ${[...part].length} characters`;
}
