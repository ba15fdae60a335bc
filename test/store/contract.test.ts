import { beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/types.js';
import { onEveryBackend } from './backends.js';

/**
 * The store's contract, on every backend (test/store/backends.ts): what services rely on, and the
 * single-use and counting guarantees under racing connections (other processes, other hosts).
 */
const NOW = 1_000_000;
const user = (userid: string, realm = 'local') => ({ userid, realm, admin: false, enabled: true, email: null, comment: null, expire: null, passwordHash: 'hash', created: NOW });
const totpParams = { algorithm: 'SHA1' as const, digits: 6 as const, period: 30 };

onEveryBackend((opened, others) => {
  let store: Store;
  beforeAll(async () => {
    store = opened();
    for (const name of ['ann', 'ben', 'cat', 'dan']) expect(await store.insertUser(user(`${name}@local`))).toBe(true);
  });

  describe('users and realms', () => {
    it('insert once, change, and delete', async () => {
      expect(await store.insertUser(user('ann@local'))).toBe(false);
      expect(await store.updateUser('ann@local', { email: 'ann@example.com', admin: true }, NOW + 1)).toBe(true);
      expect(await store.getUser('ann@local')).toMatchObject({ userid: 'ann@local', email: 'ann@example.com', admin: true, enabled: true, hasPassword: true, modified: NOW + 1 });
      expect(await store.updateUser('nobody@local', { admin: true }, NOW)).toBe(false);
      expect(await store.insertUser(user('gone@local'))).toBe(true);
      expect(await store.deleteUser('gone@local')).toBe(true);
      expect(await store.getUser('gone@local')).toBeUndefined();
    });

    it('list realms and users in bytewise order, whatever the database locale', async () => {
      for (const name of ['b-x', 'b_x', 'bx', 'b.x']) expect(await store.insertRealm({ name, comment: null, created: NOW })).toBe(true);
      expect((await store.listRealms()).map((r) => r.name)).toEqual(['b-x', 'b.x', 'b_x', 'bx', 'local']);
      const listed: string[] = [];
      for await (const u of store.users({})) listed.push(u.userid);
      expect(listed).toEqual(['ann@local', 'ben@local', 'cat@local', 'dan@local', 'root@local']);
    });

    it('offer the user ids that start with what was typed, characters as they are', async () => {
      for (const name of ['a_b', 'a%c', 'añ', 'ab']) expect(await store.insertUser(user(`${name}@local`))).toBe(true);
      expect(await store.userIdsStartingWith('a_')).toEqual(['a_b@local']);
      expect(await store.userIdsStartingWith('a')).toEqual(['a%c@local', 'a_b@local', 'ab@local', 'ann@local', 'añ@local']);
      expect(await store.userIdsStartingWith('añ')).toEqual(['añ@local']);
      expect(await store.userIdsStartingWith('ann@local')).toEqual(['ann@local']);
      expect(await store.userIdsStartingWith('zz')).toEqual([]);
      expect(await store.userIdsStartingWith('')).toEqual(['a%c@local', 'a_b@local', 'ab@local', 'ann@local', 'añ@local', 'ben@local', 'cat@local', 'dan@local', 'root@local']);
      for (const name of ['a_b', 'a%c', 'añ', 'ab']) expect(await store.deleteUser(`${name}@local`)).toBe(true);
    });

    it('count users without a factor of a kind', async () => {
      expect(await store.usersWithout('local', 'totp', 2)).toEqual({ count: 5, first: ['ann@local', 'ben@local'] });
    });
  });

  describe('single use under racing connections', () => {
    it('advances a TOTP step once: of ten connections with the same step, one succeeds', async () => {
      await store.insertTotpFactor({ id: 't-ben', userid: 'ben@local', description: 'phone', created: NOW, sealedSecret: Buffer.alloc(40, 1), params: totpParams, issuer: 'Example: Corp', lastStep: null, verified: false, secretMark: null });
      const racing = await others(10);
      const results = await Promise.all(racing.map((s) => s.advanceTotpStep('t-ben', 500, NOW, null)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.advanceTotpStep('t-ben', 499, NOW, null)).toBe(false);
      expect(await store.advanceTotpStep('t-ben', 501, NOW, null)).toBe(true);
      expect((await store.getTotpSecrets('ben@local'))[0]).toMatchObject({ id: 't-ben', lastStep: 501 });
      expect((await store.listFactors('ben@local'))[0]).toMatchObject({ type: 'totp', verified: true, issuer: 'Example: Corp' });
    });

    it('keeps a TOTP secret spent after its factor goes: the same secret added again starts where it stopped', async () => {
      const factor = (id: string, secretMark: string | null, lastStep: number | null) =>
        ({ id, userid: 'dan@local', description: 'phone', created: NOW, sealedSecret: Buffer.alloc(40, 3), params: totpParams, issuer: null, lastStep, verified: lastStep !== null, secretMark });
      await store.insertTotpFactor(factor('t-dan', 'mark-a', 700));
      expect(await store.advanceTotpStep('t-dan', 705, NOW, 'mark-a')).toBe(true);
      expect(await store.deleteFactor('dan@local', 't-dan')).toBe(true);
      // Added again, unverified or with an older confirming step: the spent steps stay spent.
      await store.insertTotpFactor(factor('t-dan2', 'mark-a', null));
      expect((await store.getTotpSecrets('dan@local'))[0]).toMatchObject({ id: 't-dan2', lastStep: 705 });
      expect(await store.advanceTotpStep('t-dan2', 705, NOW, 'mark-a')).toBe(false);
      expect(await store.advanceTotpStep('t-dan2', 706, NOW, 'mark-a')).toBe(true);
      expect(await store.deleteFactor('dan@local', 't-dan2')).toBe(true);
      // Another secret (another mark) and another user's ledger do not count.
      await store.insertTotpFactor(factor('t-dan3', 'mark-b', null));
      expect((await store.getTotpSecrets('dan@local'))[0]).toMatchObject({ id: 't-dan3', lastStep: null });
      expect(await store.deleteFactor('dan@local', 't-dan3')).toBe(true);
      // A factor from before marks were kept takes its mark with the next step it accepts, and the ledger with it.
      await store.insertTotpFactor(factor('t-dan4', null, 800));
      expect(await store.advanceTotpStep('t-dan4', 801, NOW, 'mark-c')).toBe(true);
      expect(await store.advanceTotpStep('t-dan4', 802, NOW, 'mark-other')).toBe(true);
      expect(await store.deleteFactor('dan@local', 't-dan4')).toBe(true);
      await store.insertTotpFactor(factor('t-dan5', 'mark-c', 790));
      expect((await store.getTotpSecrets('dan@local'))[0]).toMatchObject({ id: 't-dan5', lastStep: 802 });
      expect(await store.deleteFactor('dan@local', 't-dan5')).toBe(true);
    });

    it('spends a recovery key once: of ten connections, one succeeds', async () => {
      const hashes = Array.from({ length: 10 }, (_, i) => `h${i}`);
      expect(await store.putRecoverySet({ id: 'r-cat', userid: 'cat@local', description: 'keys', created: NOW, sealedSecret: Buffer.alloc(40, 2), hashes }, false)).toBe(true);
      expect(await store.putRecoverySet({ id: 'r-cat2', userid: 'cat@local', description: 'keys', created: NOW, sealedSecret: Buffer.alloc(40, 2), hashes }, false)).toBe(false);
      const racing = await others(10);
      const results = await Promise.all(racing.map((s) => s.consumeRecoverySlot('r-cat', 3, 'h3', NOW)));
      expect(results.filter(Boolean)).toHaveLength(1);
      const set = await store.getRecoverySet('cat@local');
      expect(set?.slots.filter((h) => h !== null)).toHaveLength(9);
      expect(set?.slots[3]).toBeNull();
    });

    it('counts racing attempts exactly: 30 at once, TOTP locked after its limit of 8', async () => {
      const limits = { totpFailures: 8, failures: 100, lockSeconds: 3600 };
      const racing = await others(10);
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => racing[i % racing.length]!.reserveAttempt('dan@local', true, limits, NOW)));
      expect(results.filter((r) => r !== null)).toHaveLength(8);
      expect(await store.getLockState('dan@local')).toEqual({ totpFailures: 8, totpLocked: true, failures: 8, lockedUntil: 0 });
      await store.recordSuccess('dan@local', true);
      expect(await store.getLockState('dan@local')).toEqual({ totpFailures: 0, totpLocked: false, failures: 0, lockedUntil: 0 });
    });

    it('takes back an attempt that could not be checked, with the lock it set: an attempt not counted locks nobody', async () => {
      const limits = { totpFailures: 8, failures: 3, lockSeconds: 3600 };
      for (let i = 0; i < 2; i++) expect(await store.reserveAttempt('dan@local', false, limits, NOW)).not.toBeNull();
      // The third reaches the limit and locks; the service was down, so it is taken back, lock and all.
      expect(await store.reserveAttempt('dan@local', false, limits, NOW)).toMatchObject({ failures: 3, lockedUntil: NOW + 3600 });
      await store.releaseAttempt('dan@local', false, limits);
      expect(await store.getLockState('dan@local')).toEqual({ totpFailures: 0, totpLocked: false, failures: 2, lockedUntil: 0 });
      // A lock the count still reaches stays (the limit lowered meanwhile, say).
      expect(await store.reserveAttempt('dan@local', false, limits, NOW)).toMatchObject({ lockedUntil: NOW + 3600 });
      await store.releaseAttempt('dan@local', false, { ...limits, failures: 2 });
      expect(await store.getLockState('dan@local')).toMatchObject({ failures: 2, lockedUntil: NOW + 3600 });
      await store.recordSuccess('dan@local', true);
    });

    it('cuts a lock that ends later than given, and changes nothing else of the lock state', async () => {
      await store.setLockState('dan@local', true, NOW + 86_400);
      await store.cutLock('dan@local', NOW + 3600);
      expect(await store.getLockState('dan@local')).toMatchObject({ totpLocked: true, lockedUntil: NOW + 3600 });
      await store.cutLock('dan@local', NOW + 7200);
      expect(await store.getLockState('dan@local')).toMatchObject({ totpLocked: true, lockedUntil: NOW + 3600 });
      await store.unlock('dan@local');
      await store.cutLock('dan@local', NOW + 60);
      expect(await store.getLockState('dan@local')).toEqual({ totpFailures: 0, totpLocked: false, failures: 0, lockedUntil: 0 });
    });

    it('lets racing password checks start only while failures and checks in flight stay under the limit', async () => {
      const limits = { failures: 5, windowSeconds: 300, banSeconds: 600 };
      const racing = await others(10);
      const started = await Promise.all(racing.map((s, i) => s.beginPasswordCheck('ann@local', `check-${i}`, limits, NOW)));
      expect(started.filter((s) => s.status === 'allowed')).toHaveLength(5);
      expect(started.filter((s) => s.status === 'busy')).toHaveLength(5);
      // Five wrong passwords: banned.
      const allowed = started.flatMap((s, i) => (s.status === 'allowed' ? [i] : []));
      let last = null;
      for (const i of allowed) last = await store.finishPasswordCheck('ann@local', `check-${i}`, true, limits, NOW);
      expect(last).toEqual({ failures: 5, bannedUntil: NOW + 600 });
      expect(await store.getPasswordBan('ann@local', NOW)).toBe(NOW + 600);
      expect(await store.beginPasswordCheck('ann@local', 'later', limits, NOW + 1)).toEqual({ status: 'banned', until: NOW + 600 });
    });
  });

  describe('security keys, YubiKeys and factors', () => {
    it('advance a YubiKey counter and a security key counter once, of ten racing connections', async () => {
      expect(await store.insertYubicoFactor({ id: 'y-cat', userid: 'cat@local', description: 'key', created: NOW, publicId: 'cccccccccccc', sealedSecret: Buffer.alloc(40, 3), lastCounter: 10 })).toBe(true);
      expect(await store.insertYubicoFactor({ id: 'y-cat2', userid: 'cat@local', description: 'key', created: NOW, publicId: 'cccccccccccc', sealedSecret: null, lastCounter: null })).toBe(false);
      // What the user's key spent (the ledger records the insert's counter), and nothing of another's.
      expect(await store.yubicoCounterSpent('cat@local', 'cccccccccccc')).toBe(10);
      expect(await store.yubicoCounterSpent('dan@local', 'cccccccccccc')).toBeNull();
      expect(await store.yubicoCounterSpent('cat@local', 'cccccccccccd')).toBeNull();
      const credential = { id: 'w-cat', type: 'webauthn' as const, credentialId: 'Y3JlZA', publicKey: Buffer.alloc(77, 4), algorithm: -7, rpId: 'example.com', counter: 5, transports: ['usb'], userid: 'cat@local', description: 'sk', enabled: true, created: NOW, data: null };
      expect(await store.insertCredentialFactor(credential)).toBe(true);
      expect(await store.insertCredentialFactor({ ...credential, id: 'w-cat2' })).toBe(false);
      expect(await store.credentialHeldByOther('dan@local', 'Y3JlZA')).toBe(true);
      expect(await store.credentialHeldByOther('cat@local', 'Y3JlZA')).toBe(false);
      expect(await store.credentialHeldByOther('dan@local', 'Y3JlZB')).toBe(false);
      const racing = await others(10);
      const yubico = await Promise.all(racing.map((s) => s.advanceYubicoCounter('y-cat', 11, NOW)));
      expect(yubico.filter(Boolean)).toHaveLength(1);
      const keys = await Promise.all(racing.map((s) => s.advanceCredentialCounter('w-cat', 6, NOW)));
      expect(keys.filter(Boolean)).toHaveLength(1);
      expect((await store.getYubicoFactors('cat@local'))[0]).toMatchObject({ id: 'y-cat', lastCounter: 11 });
      expect((await store.getCredentials('cat@local'))[0]).toMatchObject({ id: 'w-cat', counter: 6, transports: ['usb'] });
      expect(await store.countCredentials('webauthn', 'example.com')).toBe(1);
      expect(await store.countCredentials('webauthn', null)).toBe(0);
    });

    it('refuses a write for a user deleted meanwhile as not found (exit 3), not as a damaged store', async () => {
      const credential = { id: 'w-ghost', type: 'webauthn' as const, credentialId: 'Z2hvc3Q', publicKey: Buffer.alloc(77, 4), algorithm: -7, rpId: 'example.com', counter: 0, transports: [], userid: 'ghost@local', description: 'sk', enabled: true, created: NOW, data: null };
      await expect(store.transaction((tx) => tx.insertCredentialFactor(credential))).rejects.toMatchObject({ code: 'not_found', exitCode: 3 });
      expect(await store.getCredentials('ghost@local')).toEqual([]);
    });

    it('disable, rename, list with their users, and delete factors', async () => {
      expect(await store.setFactorDescription('cat@local', 'y-cat', 'the blue key')).toBe(true);
      expect((await store.listFactors('cat@local')).find((f) => f.id === 'y-cat')?.description).toBe('the blue key');
      expect(await store.setFactorDescription('dog@local', 'y-cat', 'not theirs')).toBe(false);
      expect(await store.setFactorEnabled('cat@local', 'y-cat', false)).toBe(true);
      expect(await store.getYubicoFactors('cat@local')).toEqual([]);
      const listed: { userid: string; types: string[] }[] = [];
      for await (const { user, factors } of store.usersWithFactors({})) listed.push({ userid: user.userid, types: factors.map((f) => f.type) });
      expect(listed.find((u) => u.userid === 'cat@local')?.types.sort()).toEqual(['recovery', 'webauthn', 'yubico']);
      expect(await store.deleteFactor('cat@local', 'y-cat')).toBe(true);
      expect(await store.deleteFactor('cat@local', 'y-cat')).toBe(false);
      expect(await store.deleteFactors('cat@local')).toBe(2);
    });

    it('delete a realm with its users and their pending challenges, never the built-in one nor its users', async () => {
      await store.insertRealm({ name: 'temp', comment: null, created: NOW });
      await store.insertUser(user('x@temp', 'temp'));
      await store.insertUser(user('y@temp', 'temp'));
      await store.insertChallenge({ id: 'pending-x', userid: 'x@temp', purpose: 'sign-in', created: NOW, expires: NOW + 120, data: '{}' }, NOW);
      await store.insertChallenge({ id: 'pending-root', userid: 'root@local', purpose: 'sign-in', created: NOW, expires: NOW + 120, data: '{}' }, NOW);
      expect(await store.deleteRealm('temp')).toBe(2);
      expect(await store.getRealm('temp')).toBeUndefined();
      expect(await store.getUser('x@temp')).toBeUndefined();
      // The users' pending challenges go with them, and only theirs.
      expect(await store.liveChallenges('x@temp', 'sign-in', NOW)).toEqual([]);
      expect(await store.liveChallenges('root@local', 'sign-in', NOW)).toHaveLength(1);
      expect(await store.deleteRealm('local')).toBe(0);
      expect(await store.getRealm('local')).toMatchObject({ name: 'local', builtin: true });
      expect(await store.getUser('root@local')).toMatchObject({ admin: true });
    });
  });

  describe('settings, audit, tokens and sessions', () => {
    it('keep settings, one value a key', async () => {
      await store.setSetting('x.a', '1');
      await store.setSetting('x.a', '2');
      expect((await store.getSettings()).get('x.a')).toBe('2');
    });

    it('list audit entries in order, by user, since a time and the latest few', async () => {
      for (let i = 0; i < 5; i++) await store.appendAudit({ ts: NOW + i, actor: i % 2 ? 'ann@local' : null, action: 'test', target: 'ben@local', outcome: 'ok', detail: { i } });
      const all = [];
      for await (const e of store.auditEntries({ since: NOW })) all.push(e);
      expect(all.map((e) => e.detail?.i)).toEqual([0, 1, 2, 3, 4]);
      const latest = [];
      for await (const e of store.auditEntries({ limit: 2 })) latest.push(e.detail?.i);
      expect(latest).toEqual([3, 4]);
      const byAnn = [];
      for await (const e of store.auditEntries({ user: 'ann@local', since: NOW })) byAnn.push(e.detail?.i);
      expect(byAnn).toEqual([1, 3]);
      const between = [];
      for await (const e of store.auditEntries({ since: NOW + 1, until: NOW + 4 })) between.push(e.detail?.i);
      expect(between).toEqual([1, 2, 3]);
      const lastOfThem = [];
      for await (const e of store.auditEntries({ user: 'ann@local', until: NOW + 3, limit: 1 })) lastOfThem.push(e.detail?.i);
      expect(lastOfThem).toEqual([1]);
    });

    it('list audit entries of an action, a group of actions and an outcome, the latest few of those', async () => {
      const entries = [['grp.one', 'ok'], ['grp.two', 'failed'], ['grp', 'failed'], ['grpx.one', 'failed'], ['grp.two', 'refused'], ['grp.two', 'failed']] as const;
      for (const [i, [action, outcome]] of entries.entries()) await store.appendAudit({ ts: NOW + 10 + i, actor: null, action, target: 'ben@local', outcome, detail: { n: i } });
      const read = async (filter: Parameters<typeof store.auditEntries>[0]) => {
        const got = [];
        for await (const e of store.auditEntries({ since: NOW + 10, ...filter })) got.push(e.detail?.n);
        return got;
      };
      expect(await read({ action: 'grp' })).toEqual([0, 1, 2, 4, 5]);
      expect(await read({ action: 'grp.two' })).toEqual([1, 4, 5]);
      expect(await read({ outcome: 'failed' })).toEqual([1, 2, 3, 5]);
      expect(await read({ action: 'grp', outcome: 'failed' })).toEqual([1, 2, 5]);
      expect(await read({ action: 'grp', outcome: 'failed', limit: 2 })).toEqual([2, 5]);
      expect(await read({ action: 'gr' })).toEqual([]);
      // sign-in: login, auth and pam, each with its group, and nothing else.
      const signIns = ['login', 'auth', 'auth.token', 'pam', 'loginx', 'authority.add', 'tfa.add', 'auth.verify'];
      for (const [i, action] of signIns.entries()) await store.appendAudit({ ts: NOW + 30 + i, actor: null, action, target: null, outcome: 'failed', detail: { s: i } });
      const signedIn = [];
      for await (const e of store.auditEntries({ since: NOW + 30, action: 'sign-in', outcome: 'failed' })) signedIn.push(e.detail?.s);
      expect(signedIn).toEqual([0, 1, 2, 3, 7]);
      // The actions there are, each once, in order: of the whole trail, or of one user's entries.
      const actions = await store.auditActions({});
      expect(actions).toEqual(expect.arrayContaining(['grp', 'grp.one', 'grp.two', 'grpx.one']));
      expect(actions).toEqual([...new Set(actions)].sort());
      await store.appendAudit({ ts: NOW + 20, actor: 'cat@local', action: 'mine.did', target: null, outcome: 'ok' });
      await store.appendAudit({ ts: NOW + 21, actor: null, action: 'mine.done', target: 'cat@local', outcome: 'ok' });
      await store.appendAudit({ ts: NOW + 22, actor: 'cat@local', action: 'mine.did', target: 'cat@local', outcome: 'ok' });
      expect(await store.auditActions({ user: 'cat@local' })).toEqual(['mine.did', 'mine.done']);
      expect(await store.auditActions({ user: 'cat@local', since: NOW + 22 })).toEqual(['mine.did']);
    });

    it('prune the oldest entries before a time, a batch at a time, and keep the rest', async () => {
      // The only entries before 100 here, written out of time order (a restore merges older
      // entries in): pruning goes by time, not by id.
      for (const ts of [50, 10, 40, 20, 30, 99, 60]) await store.appendAudit({ ts, actor: null, action: `at.${ts}`, target: null, outcome: 'ok' });
      const left = async () => {
        const actions: string[] = [];
        for await (const e of store.auditEntries({ action: 'at' })) actions.push(e.action);
        return actions;
      };
      expect(await store.countAuditBefore(60)).toBe(5);
      expect(await store.countAuditBefore(10)).toBe(0);
      expect(await store.pruneAudit(60, 2)).toBe(2);
      expect(await left()).toEqual(['at.50', 'at.40', 'at.30', 'at.99', 'at.60']);
      expect(await store.pruneAudit(60, 2)).toBe(2);
      expect(await store.pruneAudit(60, 2)).toBe(1);
      expect(await store.pruneAudit(60, 2)).toBe(0);
      expect(await left()).toEqual(['at.99', 'at.60']);
      expect(await store.countAuditBefore(100)).toBe(2);
    });

    it('keep API tokens and sessions, and drop them with their user, with the challenges pending for them', async () => {
      const token = { userid: 'ben@local', name: 'ci', secretHash: Buffer.alloc(32, 7), privileges: 'read-only' as const, expires: null, comment: null, created: NOW, lastUsed: null };
      expect(await store.insertApiToken(token)).toBe(true);
      expect(await store.insertApiToken(token)).toBe(false);
      expect(await store.getApiToken('ben@local', 'ci')).toEqual(token);
      await store.insertSession({ id: 'sess-1', userid: 'ben@local', state: Buffer.alloc(32, 9), created: NOW, expires: NOW + 7200 });
      expect(await store.getSession('sess-1')).toMatchObject({ userid: 'ben@local', expires: NOW + 7200 });
      await store.insertChallenge({ id: 'pending-key', userid: 'ben@local', purpose: 'registration', created: NOW, expires: NOW + 120, data: '{}' }, NOW);
      expect(await store.deleteUser('ben@local')).toBe(true);
      expect(await store.getApiToken('ben@local', 'ci')).toBeUndefined();
      expect(await store.getSession('sess-1')).toBeUndefined();
      expect(await store.listFactors('ben@local')).toEqual([]);
      // A challenge pending for the user is gone too: not one a user made again under the id could answer.
      expect(await store.liveChallenges('ben@local', 'registration', NOW)).toEqual([]);
    });
  });
});
