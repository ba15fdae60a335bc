import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStoreConfig } from '../../src/domain/store-config.js';
import { StoreError } from '../../src/errors.js';

describe('/etc/tfactl/config', () => {
  it('reads db and key-file, ignoring blank lines, comments and blanks around =', () => {
    const text = '# this host\n\n  db = postgres://tfactl:s3cret@db:5432/tfactl  \nkey-file=/etc/tfactl/tfactl.key\n';
    expect(parseStoreConfig(text, '/etc/tfactl/config')).toEqual({ path: '/etc/tfactl/config', db: 'postgres://tfactl:s3cret@db:5432/tfactl', keyFile: '/etc/tfactl/tfactl.key' });
    expect(parseStoreConfig('', 'c')).toEqual({ path: 'c', db: null, keyFile: null });
  });

  it.each([
    ['db postgres://x', 'c line 1: not a setting'],
    ['dbx = 1', 'c line 1: not a setting tfactl knows (it knows db, key-file)'],
    ['# ok\ndb =', 'c line 2: db has no value'],
    ['db = /a\ndb = /b', 'c line 2: db is set twice'],
    ['key-file = relative.key', 'c line 1: key-file must be an absolute path'],
    // Read from wherever a command runs: pam_exec's, systemd's and cron's directories differ.
    ['db = rel/tfactl.db', 'c line 1: db must be an absolute path or a postgres:// connection string'],
    ['db = postgres://u:p@h/d   # main', 'c line 1: db holds a # after a blank: a comment goes on a line of its own, starting with #'],
  ])('refuses %j: %s', (text, message) => {
    expect(() => parseStoreConfig(text, 'c')).toThrow(message);
  });

  it('never repeats a value in an error, whatever the text (a connection string holds a password)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant('db = postgres://u:SECRETVALUE@h/d'), fc.constant('db = postgres://u:SECRETVALUE@h/d'), fc.string(), fc.constant('key-file = SECRETVALUE'), fc.constant('db: postgres://u:SECRETVALUE@h/d?x=1'), fc.constant('SECRETVALUE'))), (lines) => {
        try {
          parseStoreConfig(lines.join('\n'), 'c');
        } catch (e) {
          expect(e).toBeInstanceOf(StoreError);
          expect((e as Error).message).not.toContain('SECRETVALUE');
          expect((e as Error).message).not.toContain('\n');
        }
      }),
    );
  });
});
