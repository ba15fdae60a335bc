import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ParsedRow } from '../../src/domain/import-rows.js';
import { UsageError } from '../../src/errors.js';
import { importRecords, importRows, MAX_ROW_BYTES, surveyImportRecords } from '../../src/services/import-input.js';

/** `input` as the import reads it, in pieces split at `cuts` (byte offsets). */
async function* pieces(input: string | Buffer, cuts: readonly number[] = []): AsyncGenerator<Uint8Array> {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  let at = 0;
  for (const cut of [...new Set(cuts)].filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b)) {
    yield bytes.subarray(at, cut);
    at = cut;
  }
  if (at < bytes.length || bytes.length === 0) yield bytes.subarray(at);
}

async function read(input: string | Buffer, cuts: readonly number[] = []): Promise<ParsedRow[]> {
  const rows: ParsedRow[] = [];
  for await (const row of importRows(pieces(input, cuts))) rows.push(row);
  return rows;
}

async function records(input: string | Buffer, cuts: readonly number[] = []) {
  const out = [];
  for await (const r of importRecords(pieces(input, cuts))) out.push(r);
  return out;
}

const refusal = async (input: string | Buffer) => {
  try {
    await read(input);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('the input was not refused');
};

describe('reading CSV (csv-parse)', () => {
  it('refuses an input with nothing in it (empty, white space, a byte order mark alone): no header, no import', async () => {
    for (const input of ['', '\n\n', ' \t\r\n', Buffer.from([0xef, 0xbb, 0xbf])]) {
      expect(await refusal(input)).toBe('the import is empty: expected CSV with a header line naming its columns (userid first), or JSON Lines');
    }
    expect(await read('userid\n')).toEqual([]);
  });

  it('reads a header, quoted fields and each row at the line it starts on', async () => {
    const rows = await read('userid,password,comment,tfa\nalice,secret-pw1,"Alice, ""A.""",totp+recovery\n\n"bob@corp",,"two\nlines",\ncy,,"a\r\nb\rc",\ndee,,,\n');
    expect(rows).toEqual([
      { ok: true, row: expect.objectContaining({ line: 2, userid: 'alice@local', password: 'secret-pw1', comment: 'Alice, "A."', totp: { secret: null }, recovery: true }) },
      { ok: false, line: 4, userid: 'bob@corp', error: expect.stringMatching(/^line 4: invalid comment: it holds U\+000A/) },
      { ok: false, line: 6, userid: 'cy@local', error: expect.stringMatching(/^line 6: invalid comment: it holds U\+000D/) },
      { ok: true, row: expect.objectContaining({ line: 9, userid: 'dee@local' }) },
    ]);
  });

  it('takes LF, CR LF and CR line ends, mixed, and a byte order mark', async () => {
    const rows = await read('\ufeffuserid,comment\r\na,one\nb,two\rc,three\r\n');
    expect(rows.map((r) => (r.ok ? [r.row.line, r.row.userid, r.row.comment] : r.error))).toEqual([
      [2, 'a@local', 'one'],
      [3, 'b@local', 'two'],
      [4, 'c@local', 'three'],
    ]);
  });

  it('fails a row with bytes that are not UTF-8, and only that row', async () => {
    const rows = await read(Buffer.concat([Buffer.from('userid,comment\nok1,fine\n'), Buffer.from('bytes,J\xf6rg\n', 'latin1'), Buffer.from('ok2,Jörg\n')]));
    expect(rows.map((r) => (r.ok ? r.row.comment : r.error))).toEqual(['fine', 'line 3: the comment field is not valid UTF-8 (or holds a lone surrogate)', 'Jörg']);
  });

  it('refuses the whole file for broken quoting, at the line where it shows', async () => {
    expect(await refusal('userid,comment\nok,fine\nx"y,z\n')).toBe('CSV line 3: a quote inside an unquoted field');
    expect(await refusal('userid,comment\n"x"y,z\n')).toBe('CSV line 2: text after a closing quote');
    expect(await refusal('userid,comment\nok,fine\n\n\nbad,"never\nclosed\n')).toBe('CSV line 5: a quoted field is never closed');
    expect(await refusal('userid,shoe\nx,42\n')).toBe('line 1: unknown column "shoe" (known: userid, password, admin, email, comment, expire, tfa)');
    // A JSON line's key that is no name (a password where a key goes) is not repeated.
    expect(await refusal('{"userid":"x","sup3rs3cretpw!y":"1"}\n')).toBe('line 1: unknown column of 15 characters (known: userid, password, admin, email, comment, expire, tfa)');
  });

  it('says a file without its header line is one, never repeating the first row (its password)', async () => {
    const message = await refusal('ivan,PW-Secret-1,totp\njo,PW-Secret-2,none\n');
    expect(message).toBe('line 1: the first line is not a header: it names no column tfactl knows (the header names the columns, e.g. userid,password,tfa; known: userid, password, admin, email, comment, expire, tfa)');
    expect(message?.toLowerCase()).not.toContain('pw-secret');
  });

  it('refuses a row longer than any row can be, at the line it starts on', async () => {
    expect(await refusal(`userid,comment\nok,fine\n\nx,"${'y'.repeat(MAX_ROW_BYTES + 100)}"\n`)).toBe('line 4: a row longer than 1 MiB (is a quote never closed?)');
    expect(await refusal(`{"userid":"a"}\n{"userid":"${'y'.repeat(MAX_ROW_BYTES + 100)}"}\n`)).toBe('line 2: a row longer than 1 MiB (is a quote never closed?)');
  });

  it('says an input is too large rather than that a row is too long, when it is both', async () => {
    async function* tooLarge() {
      yield Buffer.from('userid\n');
      for (let i = 0; i < 40; i++) yield Buffer.alloc(64 * 1024, 'x');
      throw new UsageError('standard input is larger than 2 MiB', 'file_too_large');
    }
    await expect(surveyImportRecords(tooLarge())).rejects.toThrow('standard input is larger than 2 MiB');
  });

  it('round-trips any one-line comment through CSV quoting', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 60 }).filter((c) => !/[\p{Cc}]/u.test(c) && c.trim() !== ''),
        async (comment) => {
          const got = await records(`userid,comment\nu1,"${comment.replace(/"/g, '""')}"\n`);
          expect(got).toEqual([{ line: 2, fields: { userid: 'u1', comment } }]);
        },
      ),
    );
  });
});

describe('reading JSON Lines', () => {
  it('numbers lines from 1, drops a CR before LF, skips blank lines and fails lines that are no object', async () => {
    const rows = await read('{"userid":"c1","admin":true}\r\n\n  \n[1,2]\n{"userid":"c2"}');
    expect(rows.map((r) => (r.ok ? [r.row.line, r.row.userid] : r.error))).toEqual([[1, 'c1@local'], 'line 4 is not a JSON object', [5, 'c2@local']]);
  });

  it('refuses the input for an unknown key, on whichever line', async () => {
    expect(await refusal('{"userid":"a"}\n{"userid":"b","colour":"red"}\n')).toBe(
      'line 2: unknown column "colour" (known: userid, password, admin, email, comment, expire, tfa)',
    );
  });
});

describe('reading an import as it comes', () => {
  it('gives the same rows however the input is cut into pieces (inside a character, a quote, a CR LF)', async () => {
    const csv = Buffer.concat([
      Buffer.from('\ufeffuserid,password,comment,tfa\r\nzoë,pw one two,"Zoë, ""Z""",totp\r\n\r\n"yan@corp",,"quoted\r\nbreak",recovery\r'),
      Buffer.from('bad,J\xf6rg,,\n', 'latin1'),
      Buffer.from('王伟,,"多 行",\n'),
    ]);
    const jsonl = Buffer.from('{"userid":"zoë","comment":"Zoë"}\r\n\n{"userid":"王伟","tfa":"recovery"}\n{"userid":\n');
    for (const input of [csv, jsonl]) {
      const whole = await read(input);
      expect(whole.length).toBeGreaterThan(2);
      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 12 }), async (cuts) => {
          expect(await read(input, cuts)).toEqual(whole);
        }),
        { numRuns: 200 },
      );
    }
  });

  it('never throws anything but a UsageError, and every failed row names its line, whatever the bytes', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.array(fc.constantFrom('a', ',', '"', '\n', '\r', '{', '}', ':', 'é', '\xff', 'totp', 'true', ' '), { maxLength: 60 }).map((p) => p.join('')),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('userid,password,tfa\n', '', '{"userid":"a"}\n'), text, async (head, body) => {
        try {
          for (const r of await read(Buffer.concat([Buffer.from(head), Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1')]))) {
            if (!r.ok) expect(r.error).toMatch(/^line \d+/);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('reads no further than the rows asked for: the input is never held whole', async () => {
    let pulled = 0;
    async function* endless() {
      yield Buffer.from('userid,comment\n');
      for (let i = 0; ; i++) {
        pulled++;
        yield Buffer.from(`user${i},${'c'.repeat(200)}\n`);
      }
    }
    const rows = importRows(endless());
    for (let i = 0; i < 5; i++) expect((await rows.next()).value).toMatchObject({ ok: true, row: { userid: `user${i}@local` } });
    await rows.return(undefined);
    // csv-parse and the stream feeding it read a little ahead (their buffers), never on and on.
    expect(pulled).toBeLessThan(200);
  });

  it('counts the records of a file that is read twice, first to check its shape', async () => {
    expect((await surveyImportRecords(pieces('userid\na\n\nb\n"c"\n'))).records).toBe(3);
    expect((await surveyImportRecords(pieces('{"userid":"a"}\n\n{"userid":"b"}\n'))).records).toBe(2);
    await expect(surveyImportRecords(pieces(''))).rejects.toThrow('the import is empty');
    await expect(surveyImportRecords(pieces('userid\na\n"b\n'))).rejects.toThrow('CSV line 3: a quoted field is never closed');
  });

  it('finds the first record that would make secrets: recovery keys, or TOTP without a secret of its own', async () => {
    expect(await surveyImportRecords(pieces('userid,tfa\na,\nb,totp:JBSWY3DPEHPK3PXP\nc,recovery + totp:JBSWY3DPEHPK3PXP\nd,totp\n'))).toEqual({ records: 4, firstSecretLine: 4 });
    expect(await surveyImportRecords(pieces('{"userid":"a","tfa":"TOTP"}\n'))).toEqual({ records: 1, firstSecretLine: 1 });
    expect(await surveyImportRecords(pieces('userid\na\n'))).toEqual({ records: 1, firstSecretLine: null });
  });
});
