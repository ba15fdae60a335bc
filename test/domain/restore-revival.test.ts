import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AccessRows, nothingRevived, revivedAccess, type TokenAccessRow, type UserAccessRow } from '../../src/domain/restore-revival.js';

const NOW = Date.UTC(2026, 10, 30, 12) / 1000; // 2026-11-30 12:00Z
const hash = (n: number) => new Uint8Array(32).fill(n);
const user = (userid: string, over: Partial<UserAccessRow> = {}): UserAccessRow => ({ userid, created: 2000, admin: 0, enabled: 1, expire: null, password_hash: `$argon2id$${userid}`, ...over });
const token = (userid: string, name: string, over: Partial<TokenAccessRow> = {}): TokenAccessRow => ({ userid, name, secret_hash: hash(1), privileges: 'inherit', expires: null, ...over });
/** A store (or backup) of one history: its root@local created at 1000, then the users given. */
const rows = (over: Partial<AccessRows> = {}): AccessRows => ({ factors: [], tokens: [], ...over, users: [user('root@local', { created: 1000 }), ...(over.users ?? [])] });
const none = { users: [], enabled: [], admins: [], passwords: [], factors: [], tokens: [] };

describe('revivedAccess: what a restored backup grants that the store no longer did', () => {
  it('finds nothing when the store is the backup', () => {
    const store = rows({ users: [user('a@local', { admin: 1 })], factors: [{ id: 'f1', userid: 'a@local', type: 'totp', enabled: 1 }], tokens: [token('a@local', 'ci')] });
    const r = revivedAccess(store, store, NOW);
    expect(r).toEqual(none);
    expect(nothingRevived(r)).toBe(true);
  });

  it.each([
    ['a user deleted since', rows(), rows({ users: [user('a@local')] }), { users: ['a@local'] }],
    ['a user disabled since', rows({ users: [user('a@local', { enabled: 0 })] }), rows({ users: [user('a@local')] }), { enabled: ['a@local'] }],
    ['a user expired since', rows({ users: [user('a@local', { expire: '2026-11-29' })] }), rows({ users: [user('a@local', { expire: '2026-12-31' })] }), { enabled: ['a@local'] }],
    ['an admin made ordinary since', rows({ users: [user('a@local')] }), rows({ users: [user('a@local', { admin: 1 })] }), { admins: ['a@local'] }],
    ['a password changed since', rows({ users: [user('a@local', { password_hash: 'new' })] }), rows({ users: [user('a@local', { password_hash: 'old' })] }), { passwords: ['a@local'] }],
    ['a password removed since', rows({ users: [user('a@local', { password_hash: null })] }), rows({ users: [user('a@local', { password_hash: 'old' })] }), { passwords: ['a@local'] }],
    [
      'a factor deleted since',
      rows({ users: [user('a@local')] }),
      rows({ users: [user('a@local')], factors: [{ id: 'f1', userid: 'a@local', type: 'yubico', enabled: 1 }] }),
      { factors: [{ userid: 'a@local', id: 'f1', type: 'yubico' }] },
    ],
    [
      'a factor disabled since',
      rows({ users: [user('a@local')], factors: [{ id: 'f1', userid: 'a@local', type: 'totp', enabled: 0 }] }),
      rows({ users: [user('a@local')], factors: [{ id: 'f1', userid: 'a@local', type: 'totp', enabled: 1 }] }),
      { factors: [{ userid: 'a@local', id: 'f1', type: 'totp' }] },
    ],
    ['a token deleted since', rows({ users: [user('a@local')] }), rows({ users: [user('a@local')], tokens: [token('a@local', 'ci')] }), { tokens: ['a@local!ci'] }],
    ['a token replaced since (another secret)', rows({ users: [user('a@local')], tokens: [token('a@local', 'ci', { secret_hash: hash(2) })] }), rows({ users: [user('a@local')], tokens: [token('a@local', 'ci')] }), { tokens: ['a@local!ci'] }],
    ['a token made read-only since', rows({ users: [user('a@local')], tokens: [token('a@local', 'ci', { privileges: 'read-only' })] }), rows({ users: [user('a@local')], tokens: [token('a@local', 'ci')] }), { tokens: ['a@local!ci'] }],
    ['a token expired since', rows({ users: [user('a@local')], tokens: [token('a@local', 'ci', { expires: '2026-01-01' })] }), rows({ users: [user('a@local')], tokens: [token('a@local', 'ci')] }), { tokens: ['a@local!ci'] }],
  ])('reports %s', (_what, current, backup, expected) => {
    expect(revivedAccess(current, backup, NOW)).toEqual({ ...none, ...expected });
  });

  it.each([
    ['a user added since', rows({ users: [user('a@local')] }), rows()],
    ['a user enabled since', rows({ users: [user('a@local')] }), rows({ users: [user('a@local', { enabled: 0 })] })],
    ['a user the backup has disabled, disabled since as well', rows({ users: [user('a@local', { enabled: 0 })] }), rows({ users: [user('a@local', { enabled: false })] })],
    ['a user made admin since', rows({ users: [user('a@local', { admin: 1 })] }), rows({ users: [user('a@local')] })],
    ['a password set since where the backup has none', rows({ users: [user('a@local')] }), rows({ users: [user('a@local', { password_hash: null })] })],
    [
      'a factor the backup has disabled',
      rows({ users: [user('a@local')] }),
      rows({ users: [user('a@local')], factors: [{ id: 'f1', userid: 'a@local', type: 'totp', enabled: 0 }] }),
    ],
    ['a token the backup has expired', rows({ users: [user('a@local')] }), rows({ users: [user('a@local')], tokens: [token('a@local', 'ci', { expires: '2026-11-01' })] })],
    ['a token given more rights since', rows({ users: [user('a@local')], tokens: [token('a@local', 'ci')] }), rows({ users: [user('a@local')], tokens: [token('a@local', 'ci', { privileges: 'read-only' })] })],
  ])('does not report %s: the backup takes access away, or grants none the store lacks', (_what, current, backup) => {
    expect(nothingRevived(revivedAccess(current, backup, NOW))).toBe(true);
  });

  it('finds nothing when a new store takes in an older store\'s backup (a site moved by init, then restore)', () => {
    const old = {
      users: [user('root@local', { created: 1000, admin: 1 }), user('a@local', { created: 1500 })],
      factors: [{ id: 'f0', userid: 'root@local', type: 'totp', enabled: 1 }, { id: 'f1', userid: 'a@local', type: 'totp', enabled: 1 }],
      tokens: [token('root@local', 'ci'), token('a@local', 'ci')],
    };
    const fresh = { users: [user('root@local', { created: 9000, admin: 1, password_hash: null })], factors: [], tokens: [] };
    expect(revivedAccess(fresh, old, NOW)).toEqual(none);
  });

  it('reports a user deleted and added again since as the backup\'s account coming back, whole', () => {
    const backup = rows({ users: [user('a@local', { created: 1500, admin: 1 })], factors: [{ id: 'f1', userid: 'a@local', type: 'totp', enabled: 1 }], tokens: [token('a@local', 'ci')] });
    const current = rows({ users: [user('a@local', { created: 3000 })] });
    expect(revivedAccess(current, backup, NOW)).toEqual({ ...none, users: ['a@local'] });
  });

  it('compares nothing with a backup of another store\'s history (another root@local), whatever it holds', () => {
    const other = { users: [user('root@local', { created: 1001 }), user('a@local', { admin: 1 })], factors: [{ id: 'f1', userid: 'a@local', type: 'totp', enabled: 1 }], tokens: [token('a@local', 'ci')] };
    expect(revivedAccess(rows({ users: [user('a@local', { enabled: 0 })] }), other, NOW)).toEqual(none);
    expect(revivedAccess({ users: [], factors: [], tokens: [] }, other, NOW)).toEqual(none);
  });

  it('reads creation times given as text (PostgreSQL\'s BIGINT) as numbers', () => {
    const current = rows({ users: [user('a@local', { created: '2000', enabled: 0 })] });
    expect(revivedAccess(current, rows({ users: [user('a@local', { created: 2000 })] }), NOW).enabled).toEqual(['a@local']);
  });

  it("names a deleted user once, not again for each of its factors and tokens", () => {
    const backup = rows({ users: [user('a@local')], factors: [{ id: 'f1', userid: 'a@local', type: 'totp', enabled: 1 }], tokens: [token('a@local', 'ci')] });
    expect(revivedAccess(rows(), backup, NOW)).toEqual({ ...none, users: ['a@local'] });
  });

  it('accepts the flags as numbers (SQLite, PostgreSQL integers) or booleans alike', () => {
    expect(revivedAccess(rows({ users: [user('a@local', { enabled: false })] }), rows({ users: [user('a@local', { enabled: true })] }), NOW).enabled).toEqual(['a@local']);
  });

  const ids = fc.uniqueArray(fc.constantFrom('a@local', 'b@local', 'c@corp', 'd@corp', 'Z@local', 'é@local'), { maxLength: 6 });
  const store = ids.chain((users) =>
    fc.record({
      users: fc.constant([user('root@local', { created: 1000 }), ...users.map((u) => user(u))]),
      factors: fc.constant(users.map((u, i) => ({ id: `f${i}`, userid: u, type: 'totp', enabled: 1 }))),
      tokens: fc.constant(users.map((u) => token(u, 'ci'))),
    }),
  );

  it('reports exactly the users a store lost, in bytewise order, and nothing else of theirs', () => {
    fc.assert(
      fc.property(store, fc.array(fc.nat(), { maxLength: 6 }), (backup, drops) => {
        const lost = new Set(drops.map((d) => backup.users[d % backup.users.length]!.userid).filter((u) => u !== 'root@local'));
        const current = {
          users: backup.users.filter((u) => !lost.has(u.userid)),
          factors: backup.factors.filter((f) => !lost.has(f.userid)),
          tokens: backup.tokens.filter((t) => !lost.has(t.userid)),
        };
        const r = revivedAccess(current, backup, NOW);
        expect(r).toEqual({ ...none, users: [...lost].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) });
      }),
    );
  });

  it('never reports what the backup does not have', () => {
    fc.assert(
      fc.property(store, store, (current, backup) => {
        const r = revivedAccess(current, backup, NOW);
        const backupUsers = new Set(backup.users.map((u) => u.userid));
        for (const u of [...r.users, ...r.enabled, ...r.admins, ...r.passwords]) expect(backupUsers.has(u)).toBe(true);
        for (const f of r.factors) expect(backup.factors.some((b) => b.id === f.id)).toBe(true);
        for (const t of r.tokens) expect(backup.tokens.some((b) => `${b.userid}!${b.name}` === t)).toBe(true);
      }),
    );
  });
});
