import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveKeyPath, resolveStorePath, SYSTEM_STORE } from '../../src/domain/store-location.js';

describe('resolveStorePath', () => {
  const base = { flag: undefined, env: {}, uid: 1000, home: '/home/u' };
  it('prefers --db, then TFACTL_DB', () => {
    expect(resolveStorePath({ ...base, flag: '/a.db', env: { TFACTL_DB: '/b.db' } })).toBe('/a.db');
    expect(resolveStorePath({ ...base, env: { TFACTL_DB: '/b.db' } })).toBe('/b.db');
  });
  it('uses the system store for uid 0', () => {
    expect(resolveStorePath({ ...base, uid: 0, env: { XDG_DATA_HOME: '/x' } })).toBe(SYSTEM_STORE);
  });
  it('uses XDG_DATA_HOME, else ~/.local/share, for other users', () => {
    expect(resolveStorePath({ ...base, env: { XDG_DATA_HOME: '/x' } })).toBe('/x/tfactl/tfactl.db');
    expect(resolveStorePath(base)).toBe('/home/u/.local/share/tfactl/tfactl.db');
    expect(resolveStorePath({ ...base, env: { XDG_DATA_HOME: 'relative' } })).toBe('/home/u/.local/share/tfactl/tfactl.db');
  });
  it('refuses a PostgreSQL URL that names no database, or an sslmode that would not mean what it says', () => {
    for (const ok of ['postgres://u:p@h/db', 'postgres://u:p@h/db?sslmode=disable', 'postgres://u:p@h/db?sslmode=verify-full', 'postgres://u:p@h/db?sslmode=no-verify', 'postgres://u:p@h/?database=db', 'postgres:///db?host=/run/postgresql']) {
      expect(resolveStorePath({ ...base, flag: ok })).toBe(ok);
    }
    for (const none of ['postgres://u:Sekr1t@h', 'postgres://u:Sekr1t@h:5432/']) expect(() => resolveStorePath({ ...base, flag: none })).toThrow(/^--db names no database: postgres:\/\/USER:PASSWORD@HOST:PORT\/DATABASE$/);
    expect(() => resolveStorePath({ ...base, env: { TFACTL_DB: 'postgres://u:Sekr1t@h/db?sslmode=prefer' } })).toThrow(/^TFACTL_DB asks for sslmode=prefer: tfactl never falls back to an unencrypted connection; use disable/);
    expect(() => resolveStorePath({ ...base, flag: 'postgres://u:Sekr1t@h/db?sslmode=bogus' })).toThrow(/^--db asks for sslmode=bogus: that is no sslmode tfactl knows; use disable/);
  });

  it('refuses a path whose first part is a ~ the shell did not expand (--db=~/x): it would be a directory named ~ here', () => {
    expect(() => resolveStorePath({ ...base, flag: '~/trial.db' })).toThrow(/^--db begins with ~, which the shell did not expand into a home directory: write --db ~\/\.\.\. \(a space, not =\) or \$HOME\/\.\.\.$/);
    for (const path of ['~', '~/x.db', '~bob/x.db']) expect(() => resolveStorePath({ ...base, env: { TFACTL_DB: path } })).toThrow(/^TFACTL_DB begins with ~, .*write \$HOME\/\.\.\. \(unquoted ~ only\)$/);
    expect(() => resolveKeyPath('/a.db', { TFACTL_KEY_FILE: '~/a.key' })).toThrow(/^TFACTL_KEY_FILE begins with ~/);
    for (const ok of ['./~/x.db', '/tmp/~x.db', 'a~/x.db']) expect(resolveStorePath({ ...base, flag: ok })).toBe(ok);
  });

  it('refuses an empty --db, and a URL of any kind but postgres, from wherever it comes', () => {
    expect(() => resolveStorePath({ ...base, flag: '', env: { TFACTL_DB: '/b.db' } })).toThrow(/^--db needs a store/);
    // TFACTL_DB=$STORE with STORE unset: refused, never the system store (as root) or the user's own.
    expect(() => resolveStorePath({ ...base, uid: 0, env: { TFACTL_DB: '' } })).toThrow(/^TFACTL_DB is set but empty: name a store, or unset it for the default one$/);
    expect(resolveStorePath({ ...base, flag: '/a.db', env: { TFACTL_DB: '' } })).toBe('/a.db');
    expect(() => resolveStorePath({ ...base, flag: 'mysql://u:secret@h/db' })).toThrow('--db names a mysql:// store, which tfactl does not have');
    expect(() => resolveStorePath({ ...base, env: { TFACTL_DB: 'file:///x.db' } })).toThrow(/^TFACTL_DB names a file:\/\/ store/);
    expect(() => resolveStorePath({ ...base, config: { db: 'sqlite://x' } as never })).toThrow(/^the db of \/etc\/tfactl\/config names a sqlite:\/\/ store/);
    for (const ok of ['postgres://h/db', 'PostgreSQL://h/db', 'relative.db', './a:b.db', '/x/y://z.db', 'postgres://h/db@x', 'postgres://h/db?user=app@corp']) expect(resolveStorePath({ ...base, flag: ok })).toBe(ok);
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z][A-Za-z0-9+.-]{0,10}$/), fc.string(), (scheme, rest) => {
        const location = `${scheme}://u:Sekr1t${rest}@host/db`;
        let refused: unknown = null;
        try {
          expect(resolveStorePath({ ...base, flag: location })).toBe(location);
        } catch (e) {
          refused = e;
        }
        // A postgres URL is refused only for what it says (no database, an sslmode, a password cut by a /), never for its scheme.
        if (refused === null || !/names no database|asks for sslmode|must be percent-encoded/.test((refused as Error).message)) expect(refused === null).toBe(/^postgres(ql)?$/i.test(scheme));
        if (refused) expect((refused as Error).message).not.toContain('Sekr1t');
      }),
    );
  });

  it('refuses a PostgreSQL connection string of another shape, and blanks around a location, never echoing them', () => {
    const refusals: [string, RegExp][] = [
      ['host=db.example.com user=tfactl password=Sekr1t dbname=tfactl', /^--db is a keyword=value connection string, which tfactl does not read/],
      ['dbname=tfactl password=Sekr1t', /keyword=value/],
      ["host = db.example.com password='Sekr1t pw' dbname=x", /keyword=value/],
      ['postgres:u:Sekr1t@h/d', /^--db is not a connection string tfactl reads \(it needs :\/\/ after postgres\)/],
      ['postgresql:/u:Sekr1t@h/d', /needs :\/\/ after postgres/],
      ['postgres//u:Sekr1t@h/d', /needs :\/\/ after postgres/],
      // Quoted, bracketed or prefixed, as pasted from a shell, a config of another program, a URL in text.
      ['"postgres://u:Sekr1t@h/d"', /^--db holds postgres:\/\/ but does not begin with it \(quotes or other text around a connection string\?\)/],
      ["'postgres://u:Sekr1t@h/d'", /does not begin with it/],
      ['<postgres://u:Sekr1t@h/d>', /does not begin with it/],
      ['db=postgres://u:Sekr1t@h/d', /does not begin with it/],
      // A / in the password: the URL reads the user as a host, the rest as a path.
      ['postgres://u:12345/Sekr1t@127.0.0.1:5432/d', /^--db cannot be read: a \/ in its user name or password must be percent-encoded/],
      [' postgres://u:Sekr1t@h/d', /^--db begins or ends with a blank/],
      ['/var/lib/tfactl/Sekr1t.db\n', /begins or ends with a blank/],
      ['\tq://r/Sekr1t.db', /begins or ends with a blank/],
    ];
    for (const [location, message] of refusals) {
      let refused: Error | null = null;
      try {
        resolveStorePath({ ...base, flag: location });
      } catch (e) {
        refused = e as Error;
      }
      expect(refused?.message, location).toMatch(message);
      expect(refused?.message).not.toContain('Sekr1t');
      expect((refused as { code?: string } | null)?.code).toBe('invalid_store');
    }
    // File names that only look a little like them are paths.
    for (const ok of ['/srv/user=x.db', 'postgres.db', './postgres/tfactl.db', '/x/host=y/tfactl.db', 'my store.db', './My Backups/user=alice.db', 'a b user=x.db']) expect(resolveStorePath({ ...base, flag: ok })).toBe(ok);
  });
});

describe('resolveKeyPath', () => {
  it('puts the key beside the store unless TFACTL_KEY_FILE says otherwise', () => {
    expect(resolveKeyPath('/s/tfactl.db', {})).toBe('/s/tfactl.db.key');
    expect(resolveKeyPath('/s/tfactl.db', { TFACTL_KEY_FILE: '/k' })).toBe('/k');
  });
});
