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
});

describe('resolveKeyPath', () => {
  it('puts the key beside the store unless TFACTL_KEY_FILE says otherwise', () => {
    expect(resolveKeyPath('/s/tfactl.db', {})).toBe('/s/tfactl.db.key');
    expect(resolveKeyPath('/s/tfactl.db', { TFACTL_KEY_FILE: '/k' })).toBe('/k');
  });
});
