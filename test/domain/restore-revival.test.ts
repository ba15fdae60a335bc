import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AccessRows,
  type FactorAccessRow,
  nothingRemoved,
  nothingRevived,
  type RealmAccessRow,
  type RemovedAccess,
  removedAccess,
  type RevivedAccess,
  revivedAccess,
  sameHistory,
  type SettingRow,
  type TokenAccessRow,
  type UserAccessRow,
} from '../../src/domain/restore-revival.js';

const NOW = Date.UTC(2026, 10, 30, 12) / 1000; // 2026-11-30 12:00Z
const hash = (n: number) => new Uint8Array(32).fill(n);
const user = (userid: string, over: Partial<UserAccessRow> = {}): UserAccessRow => ({
  userid,
  created: 2000,
  modified: 2000,
  admin: 0,
  enabled: 1,
  expire: null,
  password_hash: `$argon2id$${userid}`,
  ...over,
});
const factor = (id: string, userid: string, over: Partial<FactorAccessRow> = {}): FactorAccessRow => ({ id, userid, type: 'totp', enabled: 1, ...over });
const token = (userid: string, name: string, over: Partial<TokenAccessRow> = {}): TokenAccessRow => ({ userid, name, secret_hash: hash(1), privileges: 'inherit', expires: null, ...over });

interface Rows {
  users?: UserAccessRow[];
  factors?: FactorAccessRow[];
  tokens?: TokenAccessRow[];
  realms?: RealmAccessRow[];
  settings?: SettingRow[];
}
/** A store (or backup) of one history: its root@local created at 1000, then the rows given. */
function rows(r: Rows = {}, root: number | null = 1000): AccessRows & { reads: string[] } {
  const rootCreated = root ?? undefined;
  const reads: string[] = [];
  const read = <T>(name: string, list: T[]) => () => {
    reads.push(name);
    return list;
  };
  return {
    reads,
    rootCreated,
    users: read('users', [...(rootCreated === undefined ? [] : [user('root@local', { created: rootCreated })]), ...(r.users ?? [])]),
    factors: read('factors', r.factors ?? []),
    tokens: read('tokens', r.tokens ?? []),
    realms: read('realms', r.realms ?? [{ name: 'local', enforce: 'none' }]),
    settings: read('settings', r.settings ?? [{ key: 'key.fingerprint', value: 'f' }]),
  };
}
const none: RevivedAccess = { users: [], enabled: [], admins: [], passwords: [], factors: [], tokens: [], realms: [], settings: [] };

describe('revivedAccess: what a restored backup grants that the store no longer did', () => {
  it('finds nothing when the store is the backup', () => {
    const store = rows({ users: [user('a@local', { admin: 1 })], factors: [factor('f1', 'a@local')], tokens: [token('a@local', 'ci')] });
    const r = revivedAccess(store, store, NOW);
    expect(r).toEqual(none);
    expect(nothingRevived(r)).toBe(true);
  });

  const a = (over: Partial<UserAccessRow> = {}) => [user('a@local', over)];
  it.each<[string, Rows, Rows, Partial<RevivedAccess>]>([
    ['a user deleted since', {}, { users: a() }, { users: ['a@local'] }],
    ['a user deleted and added again since (another account)', { users: a({ created: 3000 }) }, { users: a({ admin: 1 }), tokens: [token('a@local', 'ci')] }, { users: ['a@local'] }],
    ['a user disabled since', { users: a({ enabled: 0 }) }, { users: a() }, { enabled: ['a@local'] }],
    ['a user expired since', { users: a({ expire: '2026-11-29' }) }, { users: a({ expire: '2026-12-31' }) }, { enabled: ['a@local'] }],
    ['a user given an earlier expiry since, not yet passed', { users: a({ expire: '2026-12-15' }) }, { users: a() }, { enabled: ['a@local'] }],
    ['an admin made ordinary since', { users: a() }, { users: a({ admin: 1 }) }, { admins: ['a@local'] }],
    ['a password changed since', { users: a({ password_hash: 'new', modified: 2500 }) }, { users: a({ password_hash: 'old' }) }, { passwords: ['a@local'] }],
    ['a password removed since', { users: a({ password_hash: null, modified: 2500 }) }, { users: a({ password_hash: 'old' }) }, { passwords: ['a@local'] }],
    ['a factor deleted since', { users: a() }, { users: a(), factors: [factor('f1', 'a@local', { type: 'yubico' })] }, { factors: [{ userid: 'a@local', id: 'f1', type: 'yubico' }] }],
    ['a factor disabled since', { users: a(), factors: [factor('f1', 'a@local', { enabled: 0 })] }, { users: a(), factors: [factor('f1', 'a@local')] }, { factors: [{ userid: 'a@local', id: 'f1', type: 'totp' }] }],
    ['a token deleted since', { users: a() }, { users: a(), tokens: [token('a@local', 'ci')] }, { tokens: ['a@local!ci'] }],
    ['a token replaced since (another secret)', { users: a(), tokens: [token('a@local', 'ci', { secret_hash: hash(2) })] }, { users: a(), tokens: [token('a@local', 'ci')] }, { tokens: ['a@local!ci'] }],
    ['a token made read-only since', { users: a(), tokens: [token('a@local', 'ci', { privileges: 'read-only' })] }, { users: a(), tokens: [token('a@local', 'ci')] }, { tokens: ['a@local!ci'] }],
    ['a token expired since', { users: a(), tokens: [token('a@local', 'ci', { expires: '2026-01-01' })] }, { users: a(), tokens: [token('a@local', 'ci')] }, { tokens: ['a@local!ci'] }],
    ['a token given an earlier expiry since', { users: a(), tokens: [token('a@local', 'ci', { expires: '2027-01-01' })] }, { users: a(), tokens: [token('a@local', 'ci', { expires: '2028-01-01' })] }, { tokens: ['a@local!ci'] }],
    ['a realm made to require TOTP since', { realms: [{ name: 'corp', enforce: 'totp' }] }, { realms: [{ name: 'corp', enforce: 'none' }] }, { realms: ['corp'] }],
    ['a realm made to require a YubiKey instead of TOTP since', { realms: [{ name: 'corp', enforce: 'yubico' }] }, { realms: [{ name: 'corp', enforce: 'totp' }] }, { realms: ['corp'] }],
    ['a setting changed since', { settings: [{ key: 'lockout.tfa-limit', value: '3' }] }, { settings: [{ key: 'lockout.tfa-limit', value: '10' }] }, { settings: ['lockout.tfa-limit'] }],
    ['a setting set since, back to its default', { settings: [{ key: 'lockout.tfa-limit', value: '3' }] }, { settings: [] }, { settings: ['lockout.tfa-limit'] }],
  ])('reports %s', (_what, current, backup, expected) => {
    expect(revivedAccess(rows(current), rows(backup), NOW)).toEqual({ ...none, ...expected });
  });

  it.each<[string, Rows, Rows]>([
    ['a user added since', { users: a() }, {}],
    ['a user enabled since', { users: a() }, { users: a({ enabled: 0 }) }],
    ['a user disabled in the backup too', { users: a({ enabled: 0, modified: 2500 }) }, { users: a({ enabled: 0 }) }],
    ['a user the backup has expired', { users: a({ enabled: 0 }) }, { users: a({ expire: '2026-01-01' }) }],
    ['a user given a later expiry since', { users: a({ expire: '2027-06-01' }) }, { users: a({ expire: '2027-01-01' }) }],
    ['a user made admin since', { users: a({ admin: 1 }) }, { users: a() }],
    ['a password set since where the backup has none', { users: a({ modified: 2500 }) }, { users: a({ password_hash: null }) }],
    ['a password re-hashed at sign-in since (the user unchanged)', { users: a({ password_hash: '$argon2id$v=19$m=65536$new' }) }, { users: a({ password_hash: '$argon2id$v=19$m=19456$old' }) }],
    ['a factor the backup has disabled', { users: a() }, { users: a(), factors: [factor('f1', 'a@local', { enabled: 0 })] }],
    ['a token the backup has expired', { users: a() }, { users: a(), tokens: [token('a@local', 'ci', { expires: '2026-11-01' })] }],
    ['a token given more rights since', { users: a(), tokens: [token('a@local', 'ci')] }, { users: a(), tokens: [token('a@local', 'ci', { privileges: 'read-only' })] }],
    ['a realm that requires nothing since', { realms: [{ name: 'corp', enforce: 'none' }] }, { realms: [{ name: 'corp', enforce: 'totp' }] }],
    ['a realm added since', { realms: [{ name: 'corp', enforce: 'totp' }] }, { realms: [] }],
  ])('does not report %s: the backup takes access away, or grants none the store lacks', (_what, current, backup) => {
    expect(revivedAccess(rows(current), rows(backup), NOW)).toEqual(none);
  });

  it("names a deleted user once, not again for each of its factors and tokens", () => {
    expect(revivedAccess(rows(), rows({ users: a(), factors: [factor('f1', 'a@local')], tokens: [token('a@local', 'ci')] }), NOW)).toEqual({ ...none, users: ['a@local'] });
  });

  it('compares nothing, and reads no row of either, with a backup of another store\'s history', () => {
    const other = rows({ users: a({ admin: 1 }), factors: [factor('f1', 'a@local')], tokens: [token('a@local', 'ci')] }, 1001);
    const current = rows({ users: a({ enabled: 0 }) });
    expect(sameHistory(current, other)).toBe(false);
    expect(revivedAccess(current, other, NOW)).toEqual(none);
    expect([current.reads, other.reads]).toEqual([[], []]);
  });

  it('finds nothing when a new store takes in an older store\'s backup (a site moved by init, then restore)', () => {
    const old = rows({ users: [user('a@local', { created: 1500 })], factors: [factor('f1', 'a@local')], tokens: [token('a@local', 'ci')], realms: [{ name: 'local', enforce: 'totp' }] }, 1000);
    expect(revivedAccess(rows({}, 9000), old, NOW)).toEqual(none);
  });

  it('compares nothing for a store without root@local (never one tfactl opens)', () => {
    expect(revivedAccess(rows({}, null), rows({ users: a() }, null), NOW)).toEqual(none);
  });

  /**
   * The model: a backup of users (each with a factor and a token), and for each user one change
   * made since, of those an admin makes. What comes back is known from the changes alone.
   */
  const CHANGES = ['none', 'delete', 'readd', 'disable', 'expire', 'demote', 'promote', 'passwd', 'rehash', 'deleteFactor', 'disableFactor', 'deleteToken', 'replaceToken', 'readOnlyToken', 'addToken'] as const;
  type Change = (typeof CHANGES)[number];
  const names = fc.uniqueArray(fc.constantFrom('a@local', 'b@local', 'c@corp', 'd@corp', 'z@local', 'é@local', 'a,b@local'), { maxLength: 7 });
  const model = names.chain((ids) => fc.tuple(fc.constant(ids), fc.array(fc.constantFrom(...CHANGES), { minLength: ids.length, maxLength: ids.length }), fc.array(fc.boolean(), { minLength: ids.length, maxLength: ids.length })));

  it('reports exactly what the changes made since took away, whatever they are', () => {
    fc.assert(
      fc.property(model, ([ids, changes, admins]) => {
        const backup: Rows = { users: [], factors: [], tokens: [] };
        const current: Rows = { users: [], factors: [], tokens: [] };
        const expected = { ...none, users: [] as string[], enabled: [] as string[], admins: [] as string[], passwords: [] as string[], factors: [] as { userid: string; id: string; type: string }[], tokens: [] as string[] };
        ids.forEach((id, i) => {
          const change: Change = changes[i]!;
          const b = user(id, { admin: admins[i] ? 1 : 0 });
          const f = factor(`factor-of-${id}`, id);
          const t = token(id, 'ci');
          backup.users!.push(b);
          backup.factors!.push(f);
          backup.tokens!.push(t);
          if (change === 'delete') return expected.users.push(id);
          const changed = (over: Partial<UserAccessRow>) => ({ ...b, modified: 2500, ...over });
          const c = {
            readd: { ...b, created: 3000, modified: 3000 },
            disable: changed({ enabled: 0 }),
            expire: changed({ expire: '2026-01-01' }),
            demote: changed({ admin: 0 }),
            promote: changed({ admin: 1 }),
            passwd: changed({ password_hash: `new ${id}` }),
            rehash: { ...b, password_hash: `re-hashed ${id}` },
          }[change as string] ?? b;
          current.users!.push(c);
          if (change === 'readd') return expected.users.push(id);
          if (change === 'disable' || change === 'expire') expected.enabled.push(id);
          if (change === 'demote' && b.admin === 1) expected.admins.push(id);
          if (change === 'passwd') expected.passwords.push(id);
          if (change === 'deleteFactor' || change === 'disableFactor') expected.factors.push({ userid: id, id: f.id, type: 'totp' });
          if (change !== 'deleteFactor') current.factors!.push(change === 'disableFactor' ? { ...f, enabled: 0 } : f);
          if (change === 'deleteToken' || change === 'replaceToken' || change === 'readOnlyToken') expected.tokens.push(`${id}!ci`);
          if (change !== 'deleteToken') current.tokens!.push(change === 'replaceToken' ? { ...t, secret_hash: hash(9) } : change === 'readOnlyToken' ? { ...t, privileges: 'read-only' } : t);
          if (change === 'addToken') current.tokens!.push(token(id, 'new'));
        });
        const bytewise = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
        for (const list of [expected.users, expected.enabled, expected.admins, expected.passwords, expected.tokens]) list.sort(bytewise);
        expected.factors.sort((x, y) => bytewise(x.userid, y.userid));
        expect(revivedAccess(rows(current), rows(backup), NOW)).toEqual(expected);
      }),
    );
  });
});

describe('removedAccess: what a restore takes away that the store has and the backup does not', () => {
  const gone: RemovedAccess = { users: [], factors: [], tokens: [], realms: [] };
  const a = (over: Partial<UserAccessRow> = {}) => [user('a@local', over)];

  it('finds nothing when the store is the backup, or holds less than it', () => {
    const store = rows({ users: a(), factors: [factor('f1', 'a@local')], tokens: [token('a@local', 'ci')], realms: [{ name: 'local', enforce: 'none' }, { name: 'corp', enforce: 'none' }] });
    expect(removedAccess(store, store)).toEqual(gone);
    expect(nothingRemoved(removedAccess(rows(), store))).toBe(true);
  });

  it.each<[string, Rows, Rows, Partial<RemovedAccess>]>([
    ['a user added since, with their factor and token (listed once, as the user)', { users: a(), factors: [factor('f1', 'a@local')], tokens: [token('a@local', 'ci')] }, {}, { users: ['a@local'] }],
    ['a user deleted and added again since: the new account goes', { users: a({ created: 3000 }) }, { users: a() }, { users: ['a@local'] }],
    ['a factor added since to a user the backup has', { users: a(), factors: [factor('f2', 'a@local', { type: 'webauthn' })] }, { users: a() }, { factors: [{ userid: 'a@local', id: 'f2', type: 'webauthn' }] }],
    ["a factor of root@local's added since", { factors: [factor('f3', 'root@local')] }, {}, { factors: [{ userid: 'root@local', id: 'f3', type: 'totp' }] }],
    ['a token added since', { users: a(), tokens: [token('a@local', 'ci')] }, { users: a() }, { tokens: ['a@local!ci'] }],
    ['a token replaced since: its new secret stops working', { users: a(), tokens: [token('a@local', 'ci', { secret_hash: hash(2) })] }, { users: a(), tokens: [token('a@local', 'ci')] }, { tokens: ['a@local!ci'] }],
    ['a realm added since', { realms: [{ name: 'local', enforce: 'none' }, { name: 'corp', enforce: 'none' }] }, {}, { realms: ['corp'] }],
  ])('lists %s', (_what, current, backup, expected) => {
    expect(removedAccess(rows(current), rows(backup))).toEqual({ ...gone, ...expected });
  });

  it("compares a backup of another store's history too (a site moved into a store already in use), never listing root@local", () => {
    expect(removedAccess(rows({ users: a() }, 9000), rows({}, 1000))).toEqual({ ...gone, users: ['a@local'] });
  });

  it('lists each kind in bytewise order', () => {
    const users = ['b@local', 'B@local', 'a@local'].map((u) => user(u));
    expect(removedAccess(rows({ users }), rows()).users).toEqual(['B@local', 'a@local', 'b@local']);
  });
});
