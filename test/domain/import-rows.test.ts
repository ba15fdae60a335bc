import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { csvColumns, csvRecord, IMPORT_FIELDS, importFormat, importRowReader, jsonLineRecord, otherSeparator, type RawRecord } from '../../src/domain/import-rows.js';
import { UsageError } from '../../src/errors.js';

// What a record means; reading records from bytes (csv-parse, lines) is test/services/import-input.test.ts.

const rows = (records: RawRecord[]) => records.map(importRowReader());

describe('import records', () => {
  it('take CSV columns case-insensitively and refuse unknown, missing or repeated ones for the whole file', () => {
    expect(csvColumns([' UserID ', 'Password'], 1)).toEqual(['userid', 'password']);
    expect(() => csvColumns(['userid', 'shoe_size'], 1)).toThrow(/line 1: unknown column "shoe_size"/);
    expect(() => csvColumns(['password'], 1)).toThrow(/no userid column/);
    expect(() => csvColumns(['userid', 'USERID'], 3)).toThrow(/line 3: column "userid" appears twice/);
  });

  it("say so when the columns are separated by ';' or tabs (a spreadsheet's export), not by commas", () => {
    expect(() => csvColumns(['UserID;Password;tfa'], 1)).toThrow("line 1: the columns are separated by ';': a CSV file separates them with commas (userid,password,tfa)");
    expect(() => csvColumns(['userid;comment;'], 1)).toThrow(/^line 1: the columns are separated by ';'/);
    expect(() => csvColumns(['userid\tcomment'], 1)).toThrow('line 1: the columns are separated by tabs: a CSV file separates them with commas (userid,password,tfa)');
    // Not a header of known columns however it is split: said as before.
    expect(() => csvColumns(['alice;Secret-pass'], 1)).toThrow(/the first line is not a header/);
  });

  it("reads a header line csv-parse refused for its quotes as columns separated by ';' when they are known ones", () => {
    expect(otherSeparator('"UserID";"Password";"tfa"', 1)?.message).toBe("line 1: the columns are separated by ';': a CSV file separates them with commas (userid,password,tfa)");
    expect(otherSeparator('"userid"|comment|', 1)?.message).toMatch(/separated by '\|'/);
    expect(otherSeparator('"userid";"bogus"', 1)).toBeUndefined();
    expect(otherSeparator('"userid","comment"', 1)).toBeUndefined();
  });

  it('fail a CSV row with another number of fields than the header, not the file', () => {
    expect(csvRecord(['userid', 'comment'], ['a', 'b'], 2)).toEqual({ line: 2, fields: { userid: 'a', comment: 'b' } });
    expect(rows([csvRecord(['userid', 'comment'], ['a', 'b', 'c'], 7)])).toEqual([
      { ok: false, line: 7, userid: 'a@local', error: 'line 7 has 3 fields, the header 2' },
    ]);
  });

  it('read JSON Lines with booleans and nulls, skip blank lines and refuse unknown keys', () => {
    const parsed = rows(
      ['{"userid":"c1","admin":true,"password":null,"tfa":"totp:JBSWY3DPEHPK3PXP"}', '{"userid":"c2","expire":"2030-01-31"}', '  ']
        .map((text, i) => jsonLineRecord(text, i + 1))
        .filter((r) => r !== null),
    );
    expect(parsed).toEqual([
      { ok: true, row: expect.objectContaining({ line: 1, userid: 'c1@local', admin: true, password: null, totp: { secret: 'JBSWY3DPEHPK3PXP' } }) },
      { ok: true, row: expect.objectContaining({ line: 2, userid: 'c2@local', expire: '2030-01-31' }) },
    ]);
    expect(() => jsonLineRecord('{"userid":"x","colour":"red"}', 4)).toThrow(/line 4: unknown column "colour"/);
    expect(rows([jsonLineRecord('[1]', 5) as RawRecord, jsonLineRecord('{"userid":', 6) as RawRecord]).map((r) => !r.ok && r.error)).toEqual([
      'line 5 is not a JSON object',
      'line 6 is not valid JSON',
    ]);
  });

  it('refuse a JSON Lines key given twice, as a CSV column named twice (JSON.parse would keep the last)', () => {
    expect(() => jsonLineRecord('{"userid":"a","password":"x","password":"y"}', 3)).toThrow(/line 3: column "password" appears twice/);
    expect(() => jsonLineRecord('{"userid":"a","UserID":"b"}', 4)).toThrow(/line 4: column "userid" appears twice/);
    // Keys inside strings, escapes and nested values are not keys of the row.
    expect(jsonLineRecord('{"userid":"a\\"","comment":"\\"userid\\":{,","email":"x@y"}', 5)).toEqual({
      line: 5,
      fields: { userid: 'a"', comment: '"userid":{,', email: 'x@y' },
    });
    expect(jsonLineRecord('{"userid":"a","comment":{"userid":1,"comment":[{"email":2}]}}', 6)).toMatchObject({ fields: { userid: 'a' } });
  });

  it('read every key of any flat JSON object once, whatever its strings hold', () => {
    const field = fc.constantFrom(...IMPORT_FIELDS);
    fc.assert(
      fc.property(fc.dictionary(field, fc.string({ unit: 'binary', maxLength: 12 })), fc.boolean(), (object, spaced) => {
        const text = JSON.stringify(object, null, spaced ? 1 : undefined).replace(/\n/g, ' ');
        expect(jsonLineRecord(text, 1)).toEqual(text.trim() === '{}' ? { line: 1, fields: {} } : { line: 1, fields: object });
        const keys = Object.keys(object);
        if (keys.length > 0) {
          const twice = `${text.slice(0, -1)}${keys.length ? ',' : ''}${JSON.stringify(keys[0])}:"again"}`;
          expect(() => jsonLineRecord(twice, 1)).toThrow(/appears twice/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('tell JSON Lines by their first byte', () => {
    expect(importFormat('{'.charCodeAt(0))).toBe('jsonl');
    expect(importFormat('u'.charCodeAt(0))).toBe('csv');
    expect(importFormat(undefined)).toBe('csv');
  });

  it('report bad rows with their line number and fail a user id seen before', () => {
    const columns = ['userid', 'admin', 'expire', 'tfa'];
    const parsed = rows(
      [
        ['ok1', 'true', '', ''],
        ['bad', 'maybe', '', ''],
        ['ok2', '', '2024-02-30', ''],
        ['ok3', '', '', 'sms'],
        ['OK1', '', '', ''],
      ].map((cells, i) => csvRecord(columns, cells, i + 2)),
    );
    expect(parsed.map((r) => (r.ok ? r.row.userid : r.error.slice(0, 7)))).toEqual(['ok1@local', 'line 3:', 'line 4:', 'line 5:', 'line 6:']);
    expect(parsed[4]).toMatchObject({ ok: false, error: 'line 6: ok1@local already appears on line 2' });
    // A failed row names its user as every other row's result does; one that is no user id, as given.
    expect(parsed.map((r) => (r.ok ? r.row.userid : r.userid))).toEqual(['ok1@local', 'bad@local', 'ok2@local', 'ok3@local', 'ok1@local']);
    const [notAnId, mistyped] = rows([csvRecord(columns, ['a/b', 'maybe', '', ''], 2), csvRecord(columns, ['bob@x', '', '', ''], 3)]);
    // One with a sign no user id holds (a password in the wrong column, maybe) is not repeated.
    expect(notAnId).toMatchObject({ ok: false, userid: null, error: 'line 2: invalid user id of 3 characters: the name before \'@\' must be 1 to 64 characters without spaces or any of : / @ \\ , ; " \' ` < > |' });
    expect(mistyped).toMatchObject({ ok: false, userid: 'bob@x', error: expect.stringMatching(/^line 3: invalid user id "bob@x": the realm after '@' must be/) });
  });

  it('never repeat a password that stands where the user id goes', () => {
    const password = 'Pw:Leak1Secret99';
    // In the userid column; and shifted there by a comma in an unquoted password before it.
    const [inPlace] = rows([csvRecord(['userid', 'password'], [password, 'erin'], 2)]);
    const [shifted] = rows([csvRecord(['password', 'userid'], ['PwLeak2', 'Secret99x', 'frank'], 2)]);
    expect(inPlace).toMatchObject({ ok: false, userid: null, error: expect.stringMatching(/^line 2: invalid user id of 16 characters: /) });
    expect(shifted).toEqual({ ok: false, line: 2, userid: null, error: 'line 2 has 3 fields, the header 2' });
    // Before the password, the user id is the row's own, and names it.
    expect(rows([csvRecord(['userid', 'password'], ['gina', 'a,b', 'c'], 2)])).toMatchObject([{ ok: false, userid: 'gina@local' }]);
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 30 }).filter((p) => /[^\p{L}\p{N}._@+-]/u.test(p)), (pw) => {
        const [row] = rows([csvRecord(['userid', 'password'], [pw, 'x'], 2)]);
        if (!row!.ok) {
          expect(row!.userid).toBeNull();
          if (pw.trim().length > 3) expect(row!.error).not.toContain(pw.trim());
        }
      }),
    );
  });

  it('do not repeat a first row taken for a header because a cell is named as a column', () => {
    expect(() => csvColumns(['admin', 'PwLeak15Secret', 'totp'], 1)).toThrow(
      /^line 1: the header has no userid column \(is the first line a header\? it names the columns, e.g. userid,password,tfa; known: /,
    );
    expect(() => csvColumns(['admin', 'PwLeak15Secret', 'totp'], 1)).not.toThrow(/pwleak15secret/i);
    expect(() => csvColumns(['userid', 'pasword'], 1)).toThrow('line 1: unknown column "pasword" (known: ');
    expect(() => csvColumns(['admin', 'password'], 1)).toThrow(/^line 1: the header has no userid column$/);
  });

  it('say a factor kind named twice is named twice, and a JSON field of the wrong type which', () => {
    expect(rows(['recovery+recovery', 'totp+TOTP:JBSWY3DPEHPK3PXP'].map((tfa, i) => csvRecord(['userid', 'tfa'], [`t${i}`, tfa], i + 2))).map((r) => !r.ok && r.error)).toEqual([
      'line 2: invalid tfa: recovery is named twice (one factor of each kind)',
      'line 3: invalid tfa: totp is named twice (one factor of each kind)',
    ]);
    expect(rows([jsonLineRecord('{"userid":"j","admin":3}', 4) as RawRecord])).toEqual([
      { ok: false, line: 4, userid: 'j@local', error: 'line 4 has a field "admin" that is not a string, true, false or null' },
    ]);
    // true is no user id (it made the user true@local), nor an email or a password.
    expect(rows(['{"userid":true}', '{"userid":"k","email":false}'].map((text, i) => jsonLineRecord(text, i + 5) as RawRecord)).map((r) => !r.ok && r.error)).toEqual([
      'line 5 has a field "userid" that is not a string or null (only admin may be true or false)',
      'line 6 has a field "email" that is not a string or null (only admin may be true or false)',
    ]);
    expect(rows([jsonLineRecord('{"userid":"k","admin":true}', 7) as RawRecord])).toMatchObject([{ ok: true, row: { admin: true } }]);
  });

  it('never show a TOTP secret from a mistyped tfa cell in the error', () => {
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    const cells = ['recovery+totp=' + secret, 'totp:' + secret + '+totp:' + secret, secret, 'recovry', 'totp' + secret];
    const parsed = rows(cells.map((tfa, i) => csvRecord(['userid', 'tfa'], [`u${i}`, tfa], i + 2)));
    const errors = parsed.map((r) => (r.ok ? 'ok' : r.error));
    expect(errors).toEqual([
      'line 2: invalid tfa "totp=…": expected totp, totp:BASE32 or recovery, joined with +',
      'line 3: invalid tfa: totp is named twice (one factor of each kind)',
      'line 4: invalid tfa of 32 characters: expected totp, totp:BASE32 or recovery, joined with +',
      'line 5: invalid tfa "recovry": expected totp, totp:BASE32 or recovery, joined with +',
      'line 6: invalid tfa of 36 characters: expected totp, totp:BASE32 or recovery, joined with +',
    ]);
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z2-7]{16,64}$/), fc.constantFrom('', 'totp', 'totp=', 'totp:', 'x ', 'recovery+'), (s, before) => {
        const [r] = rows([csvRecord(['userid', 'tfa'], ['u', `${before}${s}+${before}${s}`], 2)]);
        if (!r!.ok) expect(r!.error).not.toContain(s.slice(0, 8));
      }),
    );
  });

  it('never show a password that slid into the admin or expire cell (a comma in it, unquoted)', () => {
    const parsed = rows([
      csvRecord(['userid', 'password', 'admin'], ['u1', 'first', 'rest-of-the-password'], 2),
      csvRecord(['userid', 'password', 'expire'], ['u2', 'first', 'rest-of-the-password'], 3),
      csvRecord(['userid', 'admin', 'expire'], ['u3', 'ture', '2026-02-30'], 4),
    ]);
    expect(parsed.map((r) => (r.ok ? 'ok' : r.error))).toEqual([
      'line 2: invalid admin of 20 characters: expected true, false, yes, no, 1 or 0',
      'line 3: invalid expiry date of 20 characters: expected a date as YYYY-MM-DD',
      'line 4: invalid admin of 4 characters: expected true, false, yes, no, 1 or 0',
    ]);
    // The piece after a comma in a password, in the admin or email cell: never repeated.
    const slid = rows([csvRecord(['userid', 'password', 'admin'], ['u5', 'Tr0ub4dor', 'horse'], 6), csvRecord(['userid', 'password', 'email'], ['u6', 'Tr0ub', 'horse9'], 7)]);
    expect(slid.map((r) => (r.ok ? 'ok' : r.error))).toEqual([
      'line 6: invalid admin of 5 characters: expected true, false, yes, no, 1 or 0',
      'line 7: invalid email address of 6 characters',
    ]);
    const [dated] = rows([csvRecord(['userid', 'expire'], ['u4', '2026-02-30'], 5)]);
    expect(dated).toMatchObject({ ok: false, error: 'line 5: invalid expiry date "2026-02-30": there is no such day in that month' });
  });

  it('fail any field that holds a lone surrogate (bytes that were not UTF-8)', () => {
    for (const field of IMPORT_FIELDS) {
      const fields = { userid: 'sam', [field]: `a\udcf6b` };
      expect(rows([{ line: 9, fields }])).toEqual([
        { ok: false, line: 9, userid: null, error: `line 9: the ${field} field is not valid UTF-8 (or holds a lone surrogate)` },
      ]);
    }
  });

  it('never throw anything but a UsageError, and every failed row names its line, whatever the fields', () => {
    const field = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', 'true', 'totp', 'totp:JBSWY3DPEHPK3PXP+recovery', '2030-01-31', 'a@b.example'));
    fc.assert(
      fc.property(fc.array(fc.array(field, { minLength: 4, maxLength: 4 }), { maxLength: 8 }), (records) => {
        const read = importRowReader();
        records.forEach((cells, i) => {
          const r = read(csvRecord(['userid', 'admin', 'tfa', 'comment'], cells, i + 2));
          if (!r.ok) expect(r.error).toMatch(new RegExp(`^line ${i + 2}\\b`));
        });
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        try {
          const r = jsonLineRecord(text, 1);
          if (r) rows([r]);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
