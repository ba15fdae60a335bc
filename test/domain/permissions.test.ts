import { describe, expect, it } from 'vitest';
import { decide, type Operation, type Principal } from '../../src/domain/permissions.js';

const root: Principal = { userid: 'root@local', admin: true };
const admin: Principal = { userid: 'admin@local', admin: true };
const user: Principal = { userid: 'user@local', admin: false };

const changes: Operation[] = ['user.modify', 'user.modify-self', 'user.passwd', 'user.delete', 'tfa.manage', 'tfa.unlock'];

describe('decide', () => {
  it('allows root@local everything, including on itself', () => {
    for (const op of [...changes, 'user.read', 'realm.manage', 'store.manage'] as Operation[]) {
      expect(decide(root, op, 'root@local').allowed).toBe(true);
      expect(decide(root, op, 'x@local').allowed).toBe(true);
    }
  });

  it('leaves backing up and restoring the whole store to root@local', () => {
    expect(decide(root, 'store.whole').allowed).toBe(true);
    expect(decide(admin, 'store.whole')).toEqual({ allowed: false, reason: expect.stringContaining('only root@local') });
    expect(decide(user, 'store.whole').allowed).toBe(false);
  });

  it('leaves pruning the audit trail to root@local: the trail is the record of what admins did', () => {
    expect(decide(root, 'audit.prune').allowed).toBe(true);
    expect(decide(admin, 'audit.prune')).toEqual({ allowed: false, reason: 'only root@local may remove audit entries: the trail is the record of what admins did' });
    expect(decide(user, 'audit.prune').allowed).toBe(false);
  });

  it.each(changes)('refuses an admin %s on root@local', (op) => {
    expect(decide(admin, op, 'root@local')).toEqual({ allowed: false, reason: expect.stringContaining('only root@local') });
  });

  it('lets an admin look at root@local and manage everyone else', () => {
    expect(decide(admin, 'user.read', 'root@local').allowed).toBe(true);
    expect(decide(admin, 'tfa.read', 'root@local').allowed).toBe(true);
    for (const op of changes) expect(decide(admin, op, 'other@corp').allowed).toBe(true);
    expect(decide(admin, 'realm.manage').allowed).toBe(true);
  });

  it.each([
    ['user.read', true],
    ['user.modify-self', true],
    ['user.passwd', true],
    ['tfa.read', true],
    ['tfa.manage', true],
    ['user.modify', false],
    ['user.delete', false],
    ['tfa.unlock', false],
  ] as [Operation, boolean][])('lets an ordinary user %s on themselves: %s', (op, allowed) => {
    expect(decide(user, op, 'user@local').allowed).toBe(allowed);
  });

  it('refuses an ordinary user anything on others or store-wide', () => {
    for (const op of [...changes, 'user.read', 'tfa.read'] as Operation[]) {
      expect(decide(user, op, 'other@local').allowed).toBe(false);
      expect(decide(user, op, 'root@local').allowed).toBe(false);
    }
    for (const op of ['user.create', 'realm.read', 'realm.manage', 'audit.read-all', 'store.manage', 'store.read'] as Operation[]) {
      expect(decide(user, op).allowed).toBe(false);
    }
    // A realm is no other user: said as what it is, its own realm too.
    expect(decide(user, 'realm.read', 'local')).toEqual({ allowed: false, reason: `${user.userid} may not look at realms: admins only` });
    expect(decide(user, 'realm.manage', 'corp')).toEqual({ allowed: false, reason: `${user.userid} may not manage realms: admins only` });
  });

  it('leaves every store-wide setting and the built-in realm to root@local', () => {
    expect(decide(root, 'settings.change').allowed).toBe(true);
    expect(decide(root, 'realm.manage', 'local').allowed).toBe(true);
    for (const p of [admin, user]) {
      expect(decide(p, 'settings.change')).toEqual({ allowed: false, reason: expect.stringContaining('only root@local') });
      expect(decide(p, 'realm.manage', 'local')).toEqual({ allowed: false, reason: expect.stringContaining('only root@local') });
    }
    expect(decide(admin, 'realm.manage', 'corp').allowed).toBe(true);
    expect(decide(admin, 'realm.read', 'local').allowed).toBe(true);
  });

  it('lets anyone read the audit entries about themselves, and admins everyone\'s', () => {
    expect(decide(user, 'audit.read-all', 'user@local').allowed).toBe(true);
    expect(decide(user, 'audit.read-all', 'other@local').allowed).toBe(false);
    expect(decide(admin, 'audit.read-all', 'other@local').allowed).toBe(true);
  });
});

describe('decide, for an API token', () => {
  const adminToken: Principal = { ...admin, token: { name: 'ci', privileges: 'inherit' } };
  const userToken: Principal = { ...user, token: { name: 'ci', privileges: 'inherit' } };
  const readOnly: Principal = { ...admin, token: { name: 'ro', privileges: 'read-only' } };
  const rootToken: Principal = { ...root, token: { name: 'ci', privileges: 'inherit' } };

  it('acts as its user', () => {
    expect(decide(adminToken, 'user.create', 'bob@local').allowed).toBe(true);
    expect(decide(adminToken, 'user.passwd', 'bob@local').allowed).toBe(true);
    expect(decide(userToken, 'user.modify-self', 'user@local').allowed).toBe(true);
    expect(decide(userToken, 'user.read', 'bob@local').allowed).toBe(false);
    expect(decide(rootToken, 'store.whole').allowed).toBe(true);
    expect(decide(rootToken, 'audit.prune').allowed).toBe(true);
    expect(decide({ ...rootToken, token: { name: 'ro', privileges: 'read-only' } }, 'audit.prune').allowed).toBe(false);
    // Not root's: it never acts for root@local.
    expect(decide(adminToken, 'user.modify', 'root@local').allowed).toBe(false);
  });

  it('never makes an admin or sets an admin\'s password, which everyone else may as for user.modify and user.passwd', () => {
    for (const p of [adminToken, rootToken]) {
      for (const op of ['user.grant-admin', 'user.passwd-admin'] as const) {
        expect(decide(p, op, 'bob@local')).toMatchObject({ allowed: false, reason: expect.stringMatching(/may not make admins, enable them, change their expiry or set their password/) });
      }
      // What such a token may do: make ordinary users, and set their passwords.
      expect(decide(p, 'user.create', 'bob@local').allowed).toBe(true);
      expect(decide(p, 'user.passwd', 'bob@local').allowed).toBe(true);
    }
    const admin = { userid: 'adm@local', admin: true };
    const user = { userid: 'user@local', admin: false };
    expect(decide(admin, 'user.grant-admin', 'bob@local').allowed).toBe(true);
    expect(decide(admin, 'user.passwd-admin', 'other-admin@local').allowed).toBe(true);
    expect(decide(admin, 'user.passwd-admin', 'root@local').allowed).toBe(false);
    expect(decide(user, 'user.grant-admin', 'user@local')).toEqual(decide(user, 'user.modify', 'user@local'));
    expect(decide(user, 'user.passwd-admin', 'user@local').allowed).toBe(true);
  });

  it('never changes second factors, tokens, or its own password, whatever its user may', () => {
    for (const p of [adminToken, userToken, rootToken]) {
      expect(decide(p, 'tfa.manage', p.userid)).toMatchObject({ allowed: false, reason: expect.stringMatching(/may not change second factors/) });
      expect(decide(p, 'tfa.manage', 'bob@local').allowed).toBe(false);
      expect(decide(p, 'token.manage', p.userid).allowed).toBe(false);
      expect(decide(p, 'user.passwd', p.userid).allowed).toBe(false);
    }
  });

  it('only looks when read-only', () => {
    // store.read: the settings and export users, no secret in them (export totp is store.manage).
    for (const op of ['user.read', 'realm.read', 'tfa.read', 'token.read', 'store.read'] as const) expect(decide(readOnly, op, 'bob@local').allowed).toBe(true);
    expect(decide(readOnly, 'store.manage').allowed).toBe(false);
    for (const op of changes.filter((o) => o !== 'tfa.manage')) expect(decide(readOnly, op, 'bob@local')).toEqual({ allowed: false, reason: 'API token admin@local!ro is read-only' });
    expect(decide(readOnly, 'user.create', 'bob@local').allowed).toBe(false);
  });
});

describe('decide, for a user signed in by a kept session', () => {
  it('refuses changing their own factors or password (no password was given), and nothing else', () => {
    for (const who of [admin, user, root]) {
      const resumed: Principal = { ...who, resumed: true };
      for (const op of ['tfa.manage', 'user.passwd'] as const) {
        expect(decide(resumed, op, who.userid)).toEqual({
          allowed: false,
          reason: 'changing your own second factors, password or API tokens needs your password, which a kept session does not ask for: end the session (logout) and sign in again',
        });
        expect(decide(resumed, op, 'bob@local')).toEqual(decide(who, op, 'bob@local'));
      }
      for (const op of ['user.read', 'user.modify-self', 'tfa.read', 'token.read'] as const) expect(decide(resumed, op, who.userid).allowed).toBe(true);
    }
  });

  it('refuses what an API token may not do either: any token, an admin made, an admin\'s password (credentials that outlive the session)', () => {
    const reason = "making API tokens, making admins, enabling them, changing their expiry or setting an admin's password needs your password, which a kept session does not ask for: end the session (logout) and sign in again";
    for (const who of [admin, user, root]) {
      const resumed: Principal = { ...who, resumed: true };
      for (const op of ['token.manage', 'user.grant-admin', 'user.passwd-admin'] as const) {
        for (const target of [who.userid, 'bob@local']) expect(decide(resumed, op, target)).toEqual({ allowed: false, reason });
      }
    }
  });
});

describe('decide, auth.verify (tfactl serve checking a user for another program)', () => {
  it("is for admins (read-only tokens too), never on root@local but by root@local", () => {
    const readOnly: Principal = { ...admin, token: { name: 'app', privileges: 'read-only' } };
    expect(decide(readOnly, 'auth.verify', 'bob@local').allowed).toBe(true);
    expect(decide(admin, 'auth.verify', 'bob@local').allowed).toBe(true);
    expect(decide(user, 'auth.verify', 'bob@local').allowed).toBe(false);
    expect(decide(user, 'auth.verify', 'user@local').allowed).toBe(false);
    expect(decide(readOnly, 'auth.verify', 'root@local').allowed).toBe(false);
    expect(decide(admin, 'auth.verify', 'root@local').allowed).toBe(false);
    expect(decide({ ...root, token: { name: 'app', privileges: 'read-only' } }, 'auth.verify', 'root@local').allowed).toBe(true);
  });
});
