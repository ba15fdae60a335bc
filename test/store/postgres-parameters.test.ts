import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pgError, translate } from '../../src/store/postgres.js';
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

describe("the server's errors as the store's", () => {
  it('says a full disk or memory as store_full, and a held lock as store_busy, naming the store without its password', () => {
    const where = 'postgres://tfa:***@db.example.org:5432/tfa';
    expect(pgError(Object.assign(new Error('could not extend file'), { code: '53100' }), where)).toMatchObject({
      code: 'store_full',
      exitCode: 6,
      message: `the PostgreSQL server of the store at ${where} is out of disk space (53100): what was being written was not; free some and run the command again`,
    });
    expect(pgError(Object.assign(new Error('out of memory'), { code: '53200' }), where)).toMatchObject({ code: 'store_full' });
    expect(pgError(Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }), where)).toMatchObject({ code: 'store_busy' });
  });

  it('tells a wrong password from a connection pg_hba.conf lets not in (TLS required, say), and says a server gone silent', () => {
    const where = 'postgres://tfa:***@db.example.org:5432/tfa';
    expect(pgError(Object.assign(new Error('password authentication failed for user "tfa"'), { code: '28P01' }), where).message).toBe(`PostgreSQL store ${where}: the server refused the user name or password`);
    const hba = 'pg_hba.conf rejects connection for host "127.0.0.1", user "tfa", database "tfa", no encryption';
    expect(pgError(Object.assign(new Error(hba), { code: '28000' }), where)).toMatchObject({
      code: 'store_unavailable',
      message: `PostgreSQL store ${where}: the server lets no such connection in (${hba}): see its pg_hba.conf`,
    });
    expect(pgError(Object.assign(new Error('connect ENETUNREACH 255.255.255.255:5432 - Local (0.0.0.0:0)'), { code: 'ENETUNREACH' }), where).message).toBe(
      `PostgreSQL store ${where}: this host has no route to it (the network or the address is wrong)`,
    );
    expect(pgError(new Error('The server does not support SSL connections'), where).message).toBe(`PostgreSQL store ${where}: the server offers no TLS, which the connection string asks for (sslmode)`);
    expect(pgError(new Error('Query read timeout'), where).message).toBe(
      `PostgreSQL store ${where}: no answer from the server within 120 s (is the network to it down?): nothing of the command was kept; run it again`,
    );
  });
});

describe('a PostgreSQL store opened for a service', () => {
  it('names itself postgres://... in its messages, which go to clients: not its role, host, port or database', async () => {
    const { openPostgresStore } = await import('../../src/store/postgres.js');
    const opened = openPostgresStore('postgres://tfactl:secret@127.0.0.1:1/sitedb', { now: 1, shownAs: 'postgres://...' });
    await expect(opened).rejects.toMatchObject({ code: 'store_unavailable', message: 'PostgreSQL store postgres://...: nothing answers there (is PostgreSQL running?)' });
  });
});
