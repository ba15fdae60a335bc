import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAuditAction } from '../../src/domain/audit-filter.js';
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
});
