import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { translate } from '../../src/store/postgres.js';
import { displayStoreLocation, isPostgresUrl, resolveKeyPath } from '../../src/domain/store-location.js';

describe("the store's SQL parameters on PostgreSQL", () => {
  it('numbers ? in order, and each @name once, in the order names first appear', () => {
    expect(translate('SELECT a FROM t WHERE x = ? AND y = ?')).toEqual({ sql: 'SELECT a FROM t WHERE x = $1 AND y = $2', names: null, count: 2 });
    expect(translate('UPDATE t SET a = @a, b = @b WHERE a < @a AND c = @c_2')).toEqual({ sql: 'UPDATE t SET a = $1, b = $2 WHERE a < $1 AND c = $3', names: ['a', 'b', 'c_2'], count: 0 });
  });

  it("leaves quoted text alone ('?', '@x' and 'it''s' are values, not parameters)", () => {
    expect(translate("SELECT '?', '@x', 'it''s' FROM t WHERE a = ? AND t.type = 'totp'").sql).toBe("SELECT '?', '@x', 'it''s' FROM t WHERE a = $1 AND t.type = 'totp'");
  });

  it('never leaves a ? or an @name outside quotes (any text)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant('?'), fc.constant('@n'), fc.constant(" 'q?' "), fc.constantFrom('a', ' ', '=', ',', '1'))), (parts) => {
        const out = translate(parts.join('')).sql.replace(/'[^']*'/g, '');
        expect(out).not.toMatch(/\?|@[A-Za-z_]/);
      }),
    );
  });
});

describe('a PostgreSQL store location', () => {
  it('is told from a file by its scheme', () => {
    expect(isPostgresUrl('postgres://u:p@h/db')).toBe(true);
    expect(isPostgresUrl('postgresql://h/db')).toBe(true);
    expect(isPostgresUrl('/var/lib/tfactl/tfactl.db')).toBe(false);
    expect(isPostgresUrl('./postgres://x')).toBe(false);
  });

  it('is shown without its password or options, whatever they are', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }).filter((p) => !/[\s]/.test(p)), (password) => {
        const url = `postgres://tfactl:${encodeURIComponent(password)}@db.example.com:5432/tfactl?sslmode=require&password=${encodeURIComponent(password)}`;
        const shown = displayStoreLocation(url);
        expect(shown).toBe('postgres://tfactl:***@db.example.com:5432/tfactl');
      }),
    );
    expect(displayStoreLocation('/srv/tfactl.db')).toBe('/srv/tfactl.db');
  });

  it('keeps its key in /etc/tfactl/tfactl.key unless TFACTL_KEY_FILE says otherwise', () => {
    expect(resolveKeyPath('postgres://h/db', {})).toBe('/etc/tfactl/tfactl.key');
    expect(resolveKeyPath('postgres://h/db', { TFACTL_KEY_FILE: '/k' })).toBe('/k');
    expect(resolveKeyPath('/srv/s.db', {})).toBe('/srv/s.db.key');
  });
});
