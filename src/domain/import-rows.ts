import { UsageError } from '../errors.js';
import { parseComment, parseEmail } from './account.js';
import { parseDate } from './dates.js';
import { parseUserId, quote } from './userid.js';

/**
 * Rows of a bulk import: CSV with a header, or JSON Lines. Each row is checked on its own so one bad
 * row is reported with its line number without stopping the others; a file whose shape is wrong
 * (unknown or missing columns, broken quoting) is refused whole.
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

/** A record of raw text fields and the line it starts on. */
interface RawRecord {
  readonly line: number;
  readonly fields: Readonly<Record<string, string>>;
}

/** Parses CSV (RFC 4180: quoted fields may hold commas, quotes as "" and line breaks). */
export function parseCsv(text: string): RawRecord[] {
  const records: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let atCellStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
        if (i + 1 < text.length && !',\r\n'.includes(text[i + 1] ?? '')) throw new UsageError(`CSV line ${line}: text after a closing quote`, 'invalid_import');
      } else {
        if (c === '\n') line++;
        cell += c;
      }
      continue;
    }
    if (c === '"' && atCellStart) {
      quoted = true;
      atCellStart = false;
    } else if (c === '"') {
      throw new UsageError(`CSV line ${line}: a quote inside an unquoted field`, 'invalid_import');
    } else if (c === ',') {
      cells.push(cell);
      cell = '';
      atCellStart = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      cells.push(cell);
      if (cells.length > 1 || cells[0] !== '') records.push({ line: start, cells });
      cells = [];
      cell = '';
      atCellStart = true;
      line++;
      start = line;
    } else {
      cell += c;
      atCellStart = false;
    }
  }
  if (quoted) throw new UsageError(`CSV line ${start}: a quoted field is never closed`, 'invalid_import');
  cells.push(cell);
  if (cells.length > 1 || cells[0] !== '') records.push({ line: start, cells });
  const [header, ...rows] = records;
  if (!header) return [];
  const names = header.cells.map((h) => h.trim().toLowerCase());
  checkColumns(names, header.line);
  return rows.map((r) => {
    if (r.cells.length !== names.length) {
      return { line: r.line, fields: { __error: `has ${r.cells.length} fields, the header ${names.length}` } };
    }
    return { line: r.line, fields: Object.fromEntries(names.map((n, i) => [n, r.cells[i] ?? ''])) };
  });
}

/** Parses JSON Lines: one object a line; values may be strings, booleans or null. */
export function parseJsonLines(text: string): RawRecord[] {
  const records: RawRecord[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      records.push({ line, fields: { __error: 'is not valid JSON' } });
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      records.push({ line, fields: { __error: 'is not a JSON object' } });
      return;
    }
    const names = Object.keys(value).map((k) => k.toLowerCase());
    checkColumns(names, line, false);
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== null && typeof v !== 'string' && typeof v !== 'boolean') {
        fields.__error = `field ${quote(k)} must be a string, a boolean or null`;
      } else {
        fields[k.toLowerCase()] = v === null ? '' : String(v);
      }
    }
    records.push({ line, fields });
  });
  return records;
}

function checkColumns(names: readonly string[], line: number, needUserid = true): void {
  const unknown = names.filter((n) => !(IMPORT_FIELDS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    throw new UsageError(
      `line ${line}: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map(quote).join(', ')} (known: ${IMPORT_FIELDS.join(', ')})`,
      'invalid_import',
    );
  }
  if (needUserid && !names.includes('userid')) throw new UsageError(`line ${line}: the header has no userid column`, 'invalid_import');
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`line ${line}: column ${quote(dup)} appears twice`, 'invalid_import');
}

/** Tells the format by its first character: JSON Lines start with `{`. */
export function parseImport(text: string): ParsedRow[] {
  const records = text.trimStart().startsWith('{') ? parseJsonLines(text) : parseCsv(text);
  const seen = new Map<string, number>();
  return records.map((r) => {
    const parsed = parseRecord(r);
    if (!parsed.ok) return parsed;
    const first = seen.get(parsed.row.userid);
    if (first !== undefined) return { ok: false, line: r.line, userid: parsed.row.userid, error: `line ${r.line}: ${parsed.row.userid} already appears on line ${first}` };
    seen.set(parsed.row.userid, r.line);
    return parsed;
  });
}

function parseRecord(r: RawRecord): ParsedRow {
  const f = (name: Field) => (r.fields[name] ?? '').trim();
  const useridText = f('userid');
  if (r.fields.__error) return { ok: false, line: r.line, userid: useridText || null, error: `line ${r.line} ${r.fields.__error}` };
  const given = (name: Field) => Object.hasOwn(r.fields, name);
  // Bytes that were not UTF-8 (decodeUtf8) or JSON's "\udXXX": not text, whatever the field.
  const broken = IMPORT_FIELDS.find((name) => /\p{Cs}/u.test(r.fields[name] ?? ''));
  if (broken) return { ok: false, line: r.line, userid: null, error: `line ${r.line}: the ${broken} field is not valid UTF-8 (or holds a lone surrogate)` };
  try {
    const id = parseUserId(useridText);
    const adminText = f('admin').toLowerCase();
    if (!['', 'true', 'false', 'yes', 'no', '1', '0'].includes(adminText)) throw new UsageError(`invalid admin ${quote(adminText)}: expected true or false`);
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
        email: given('email') ? parseEmail(f('email')) : undefined,
        comment: given('comment') ? parseComment(r.fields.comment ?? '') : undefined,
        expire: given('expire') ? (expire === '' ? null : parseDate(expire, 'expiry date')) : undefined,
        ...tfa,
      },
    };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return { ok: false, line: r.line, userid: useridText || null, error: `line ${r.line}: ${e.message}` };
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
    else throw new UsageError(`invalid tfa ${quote(part.replace(/^(totp:).*/i, '$1…'))}: expected totp, totp:BASE32 or recovery, joined with +`);
  }
  return { totp, recovery };
}
