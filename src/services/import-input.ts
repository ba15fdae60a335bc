import { Readable, pipeline } from 'node:stream';
import type { Options } from 'csv-parse';
import { csvColumns, csvQuotingError, csvRecord, importFormat, importRowReader, jsonLineRecord, makesSecrets, otherSeparator, type ParsedRow, type RawRecord } from '../domain/import-rows.js';
import { decodeUtf8 } from '../domain/text.js';
import { UsageError } from '../errors.js';
import { describeSize, MiB } from '../files.js';

/**
 * Reading a bulk import (`user import`) as it comes: CSV through csv-parse, JSON Lines a line at a
 * time. Only the record being read and one piece of input are held, never the whole input; what a
 * record means (its columns, its row) is the domain's (domain/import-rows.ts).
 *
 * Bytes are decoded field by field (CSV) or line by line (JSON Lines) with decodeUtf8, so a byte
 * that is not UTF-8 fails the row it is in (its field then holds a lone surrogate), not the file.
 */

/**
 * The rows of an import in input order, each with the line it starts on, as they are read.
 * Throws a UsageError (code `invalid_import`) when the input's shape is wrong (an unknown column,
 * broken CSV quoting) as soon as it is read: rows before it have been handed out already.
 */
export async function* importRows(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<ParsedRow> {
  const read = importRowReader();
  for await (const record of importRecords(chunks)) yield read(record);
}

/**
 * Reads all of an import to check its shape, as importRows would (throwing the same errors),
 * counts its records, and finds the line of the first whose row would make secrets (null for
 * none): what a file is checked with before anything is imported.
 */
export async function surveyImportRecords(chunks: AsyncIterable<Uint8Array>): Promise<{ readonly records: number; readonly firstSecretLine: number | null }> {
  let records = 0;
  let firstSecretLine: number | null = null;
  for await (const record of importRecords(chunks)) {
    records++;
    if (firstSecretLine === null && makesSecrets(record.fields)) firstSecretLine = record.line;
  }
  return { records, firstSecretLine };
}

/** The records of either format, told apart by the first byte that is not white space. */
export async function* importRecords(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<RawRecord> {
  const input = chunks[Symbol.asyncIterator]();
  try {
    // Enough of the start to see the first byte that is not white space (nor a byte order mark).
    let head = Buffer.alloc(0);
    let ended = false;
    const more = async () => {
      const next = await input.next();
      if (next.done) ended = true;
      else head = Buffer.concat([head, next.value]);
    };
    while (head.length < 3 && !ended) await more();
    if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) head = head.subarray(3);
    let at = head.findIndex((b) => !WHITE_SPACE.has(b));
    while (at < 0 && !ended) {
      await more();
      at = head.findIndex((b) => !WHITE_SPACE.has(b));
    }
    // Nothing at all is no import: a file cut off to nothing, or the wrong file, not zero users.
    if (at < 0) throw new UsageError('the import is empty: expected CSV with a header line naming its columns (userid first), or JSON Lines', 'import_empty');
    const first = head[at];
    const rest = (async function* () {
      if (head.length > 0) yield head;
      for (;;) {
        const next = await input.next();
        if (next.done) return;
        yield next.value;
      }
    })();
    try {
      yield* importFormat(first) === 'jsonl' ? jsonLinesRecords(rest) : csvRecords(rest);
    } catch (e) {
      // A row too long to be one (`yes |`, /dev/zero, a quote never closed) says little if the
      // input is also too large: the rest is read (not parsed) to say that instead, if it is.
      if (e instanceof UsageError && e.code === 'import_row_too_long') while (!(await input.next()).done);
      throw e;
    }
  } finally {
    await input.return?.();
  }
}

/**
 * The longest row read, in bytes: far more than any row can hold (a password of at most 4096
 * characters, a comment of 256...), and enough to stop a runaway quote or an input without line
 * ends from being gathered into one row of up to the whole input's size.
 */
export const MAX_ROW_BYTES = MiB;

function rowTooLong(line: number): UsageError {
  return new UsageError(`line ${line}: a row longer than ${describeSize(MAX_ROW_BYTES)} (is a quote never closed?)`, 'import_row_too_long');
}

/** Space, tab, line feed, vertical tab, form feed, carriage return. */
const WHITE_SPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

/** Where the records read so far end: by our count of lines, and by csv-parse's. */
interface CsvPosition {
  /** The line the next record starts on, unless empty lines come first. */
  next: number;
  /** csv-parse's count of empty lines skipped so far. */
  emptyLines: number;
  /** csv-parse's line count at the end of the last record. */
  parserLines: number;
}

/**
 * CSV (RFC 4180: quoted fields may hold commas, quotes as "" and line breaks) with a header, through
 * csv-parse. Rows of another number of fields than the header are records that fail; empty lines
 * are skipped; broken quoting refuses the file at the line where it shows.
 */
async function* csvRecords(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<RawRecord> {
  const { parse, CsvError } = await import('csv-parse');
  // Lines are counted here as editors count them (CR LF, CR or LF): csv-parse counts CR LF
  // inside a quoted field as two lines, and a record at the line where it ends.
  const at: CsvPosition = { next: 1, emptyLines: 0, parserLines: 0 };
  const options: Options<{ fields: Buffer[]; line: number }, Buffer[]> = {
    // Fields as bytes, decoded here (see above); csv-parse would turn bad bytes into U+FFFD.
    encoding: null,
    relax_column_count: true,
    skip_empty_lines: true,
    // Whatever line ends a file mixes, as before csv-parse: it would otherwise keep to the first.
    record_delimiter: ['\r\n', '\n', '\r'],
    max_record_size: MAX_ROW_BYTES,
    // Called as each record is parsed, in order, before an error after it can destroy the records
    // not yet read: each record gets the line it starts on, and an error can say where it is.
    on_record: (fields, context) => {
      const line = at.next + (context.empty_lines - at.emptyLines);
      at.next = line + fields.reduce((n, field) => n + lineBreaks(field), 0) + 1;
      at.emptyLines = context.empty_lines;
      at.parserLines = context.lines;
      return { fields, line };
    },
  };
  // parse() is typed for string records; ours are bytes turned into { fields, line } above.
  const parser = parse(options as unknown as Options);
  const head = firstLine(chunks);
  // pipeline() passes the reader's backpressure to the source and its errors (a file too large,
  // standard input failing) to the parser, whose iteration below throws them.
  pipeline(Readable.from(head.chunks), parser, () => undefined);
  let columns: string[] | undefined;
  try {
    for await (const { fields, line } of parser as AsyncIterable<{ fields: Buffer[]; line: number }>) {
      const cells = fields.map(decodeUtf8);
      if (columns === undefined) columns = csvColumns(cells, line);
      else yield csvRecord(columns, cells, line);
    }
  } catch (e) {
    if (!(e instanceof CsvError)) throw e;
    // A header of quoted columns separated by ';' is no CSV to csv-parse: said as the unquoted one is.
    const separated = columns === undefined && at.next === 1 ? otherSeparator(head.line(), 1) : undefined;
    throw separated ?? csvError(e, at);
  }
}

/** The first line of the input (up to 4 KiB), kept as its chunks pass through, for a header csv-parse refuses. */
function firstLine(chunks: AsyncIterable<Uint8Array>): { chunks: AsyncIterable<Uint8Array>; line: () => string } {
  const kept: Buffer[] = [];
  let length = 0;
  let done = false;
  async function* pass(): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunks) {
      if (!done) {
        kept.push(Buffer.from(chunk.subarray(0, 4096 - length)));
        length += kept.at(-1)!.length;
        done = length >= 4096 || chunk.includes(0x0a) || chunk.includes(0x0d);
      }
      yield chunk;
    }
  }
  return { chunks: pass(), line: () => decodeUtf8(Buffer.concat(kept)).split(/\r\n|\n|\r/)[0]! };
}

/** How many lines a field spans beyond its first: its CR LF, CR and LF line breaks. */
function lineBreaks(field: Buffer): number {
  let n = 0;
  for (let i = field.indexOf(0x0a); i >= 0; i = field.indexOf(0x0a, i + 1)) n++;
  for (let i = field.indexOf(0x0d); i >= 0; i = field.indexOf(0x0d, i + 1)) if (field[i + 1] !== 0x0a) n++;
  return n;
}

/** Broken quoting (or anything else csv-parse refuses) as our error, at the line it shows. */
function csvError(e: { readonly code: string; readonly message: string; readonly [key: string]: unknown }, at: CsvPosition): UsageError {
  const emptyLines = typeof e.empty_lines === 'number' ? e.empty_lines : at.emptyLines;
  // The record being read starts after the last one and the empty lines that followed it; where in
  // it the error is, csv-parse's count says (off only past a quoted CR LF in this very record).
  const recordStart = at.next + (emptyLines - at.emptyLines);
  const parserStart = at.parserLines + 1 + (emptyLines - at.emptyLines);
  const line = typeof e.lines === 'number' ? recordStart + Math.max(0, e.lines - parserStart) : recordStart;
  switch (e.code) {
    case 'INVALID_OPENING_QUOTE':
      return csvQuotingError('quote-in-field', line);
    case 'CSV_INVALID_CLOSING_QUOTE':
      return csvQuotingError('text-after-quote', line);
    case 'CSV_QUOTE_NOT_CLOSED':
      return csvQuotingError('unclosed-quote', recordStart);
    case 'CSV_MAX_RECORD_SIZE':
      return rowTooLong(recordStart);
    default:
      return new UsageError(`CSV line ${line}: ${e.message}`, 'invalid_import');
  }
}

/** JSON Lines: one object a line, lines numbered from 1 and split at LF (a CR before it is dropped). */
async function* jsonLinesRecords(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<RawRecord> {
  let line = 0;
  // The line being read, in pieces (joined once it is complete: a long line is copied once).
  let pieces: Buffer[] = [];
  let length = 0;
  const record = (last: Buffer) => {
    line++;
    const bytes = pieces.length === 0 ? last : Buffer.concat([...pieces, last]);
    pieces = [];
    length = 0;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    return jsonLineRecord(decodeUtf8(bytes.subarray(0, end)), line);
  };
  for await (const chunk of chunks) {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    let start = 0;
    for (let lf = buf.indexOf(0x0a); lf >= 0; lf = buf.indexOf(0x0a, start)) {
      if (length + lf - start > MAX_ROW_BYTES) throw rowTooLong(line + 1);
      const r = record(buf.subarray(start, lf));
      start = lf + 1;
      if (r) yield r;
    }
    if (start < buf.length) {
      pieces.push(buf.subarray(start));
      length += buf.length - start;
      if (length > MAX_ROW_BYTES) throw rowTooLong(line + 1);
    }
  }
  if (length > 0) {
    const r = record(Buffer.alloc(0));
    if (r) yield r;
  }
}
