import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCsv, parseImport } from '../../src/domain/import-rows.js';
import { UsageError } from '../../src/errors.js';

describe('parseImport', () => {
  it('reads CSV with a header, quoted fields and line numbers', () => {
    const rows = parseImport('userid,password,comment,tfa\nalice,secret-pw1,"Alice, ""A.""",totp+recovery\n\n"bob@corp",,"two\nlines",\n');
    expect(rows).toEqual([
      { ok: true, row: expect.objectContaining({ line: 2, userid: 'alice@local', password: 'secret-pw1', comment: 'Alice, "A."', totp: { secret: null }, recovery: true }) },
      { ok: false, line: 4, userid: 'bob@corp', error: expect.stringContaining('line 4') },
    ]);
  });

  it('reads JSON Lines with booleans and nulls', () => {
    const rows = parseImport('{"userid":"c1","admin":true,"password":null,"tfa":"totp:JBSWY3DPEHPK3PXP"}\n{"userid":"c2","expire":"2030-01-31"}\n');
    expect(rows).toEqual([
      { ok: true, row: expect.objectContaining({ line: 1, userid: 'c1@local', admin: true, password: null, totp: { secret: 'JBSWY3DPEHPK3PXP' } }) },
      { ok: true, row: expect.objectContaining({ line: 2, userid: 'c2@local', expire: '2030-01-31' }) },
    ]);
  });

  it('refuses unknown columns and a header without userid for the whole file', () => {
    expect(() => parseImport('userid,shoe_size\nx,42\n')).toThrow(/unknown column "shoe_size"/);
    expect(() => parseImport('password\nx\n')).toThrow(/no userid column/);
    expect(() => parseImport('{"userid":"x","colour":"red"}\n')).toThrow(/line 1: unknown column "colour"/);
  });

  it('reports bad rows with their line number and keeps the good ones', () => {
    const rows = parseImport('userid,admin,expire,tfa\nok1,true,,\nbad,maybe,,\nok2,,2024-02-30,\nok3,,,sms\nok1,,,\n');
    expect(rows.map((r) => (r.ok ? r.row.userid : r.error.slice(0, 7)))).toEqual(['ok1@local', 'line 3:', 'line 4:', 'line 5:', 'line 6:']);
  });

  it('never throws anything but a UsageError, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          for (const r of parseImport(`userid,password,tfa\n${text}`)) {
            if (!r.ok) expect(r.error).toMatch(/^line \d+/);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips any one-line comment through CSV quoting', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }).filter((c) => !/[\p{Cc}]/u.test(c) && c.trim() !== ''), (comment) => {
        const rows = parseCsv(`userid,comment\nu1,"${comment.replace(/"/g, '""')}"\n`);
        expect(rows).toEqual([{ line: 2, fields: { userid: 'u1', comment } }]);
      }),
    );
  });
});
