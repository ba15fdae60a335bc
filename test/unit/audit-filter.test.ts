import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAuditAction, unknownActionHint, actionGroups } from '../../src/domain/audit-filter.js';
import { UsageError } from '../../src/errors.js';

describe('audit --action', () => {
  it('takes actions and groups as the audit trail names them', () => {
    for (const a of ['login', 'tfa', 'tfa.add', 'realm.set-enforce', 'store.restore', 'auth.verify']) expect(parseAuditAction(a)).toBe(a);
  });

  it('refuses anything else with a usage error, never a LIKE wildcard (property)', () => {
    for (const a of ['', 'Login', 'tfa.', '.tfa', 'tfa..add', 'tfa%', 'tfa_add', 'tfa add', '1tfa', 'x'.repeat(65)]) {
      expect(() => parseAuditAction(a), a).toThrow(UsageError);
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        let taken: string;
        try {
          taken = parseAuditAction(text);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          expect((e as UsageError).code).toBe('invalid_action');
          return;
        }
        expect(taken).toBe(text);
        expect(taken).toMatch(/^[a-z0-9.-]+$/);
      }),
    );
  });

  it('says of an action no entry has the nearest action or group, or the actions there are', () => {
    const actions = ['auth', 'login', 'realm.add', 'tfa.add', 'tfa.delete', 'user.add'];
    expect(unknownActionHint('tfa.add', actions)).toBeNull();
    expect(unknownActionHint('tfa', actions)).toBeNull();
    expect(unknownActionHint('realm', actions)).toBeNull();
    expect(unknownActionHint('tfa.ad', actions)).toBe('no entry of the audit trail has the action "tfa.ad": did you mean tfa.add?');
    expect(unknownActionHint('logon', actions)).toBe('no entry of the audit trail has the action "logon": did you mean login?');
    expect(unknownActionHint('tfaa', actions)).toBe('no entry of the audit trail has the action "tfaa": did you mean tfa?');
    expect(unknownActionHint('backup', actions)).toBe('no entry of the audit trail has the action "backup"; it has auth, login, realm.add, tfa.add, tfa.delete, user.add');
    expect(unknownActionHint('login', [])).toBe('no entry of the audit trail has the action "login"');
    // A group is matched whole: "use" is no group of user.add.
    expect(unknownActionHint('use', actions)).toBe('no entry of the audit trail has the action "use": did you mean user?');
    // sign-in is every sign-in's action: there while any of them is.
    expect(unknownActionHint('sign-in', ['pam.x'])).toBeNull();
    expect(unknownActionHint('sign-in', ['auth.token'])).toBeNull();
    expect(unknownActionHint('sign-in', ['user.add'])).toBe('no entry of the audit trail has the action "sign-in"; it has user.add');
    expect(actionGroups('sign-in')).toEqual(['login', 'auth', 'pam']);
    expect(actionGroups('tfa')).toEqual(['tfa']);
  });
});
