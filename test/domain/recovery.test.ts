import { describe, expect, it } from 'vitest';
import {
  findRecoverySlot,
  formatRecoveryKey,
  hashRecoveryKey,
  looksLikeRecoveryKey,
  newRecoverySet,
  parseRecoveryKey,
} from '../../src/domain/recovery.js';
import { open, seal, secretContext } from '../../src/domain/secret-box.js';
import fc from 'fast-check';

describe('recovery keys', () => {
  it('hash exactly as Proxmox does (its published example)', () => {
    expect(hashRecoveryKey('0011223344556677', '0123-4567-89ab-cdef')).toBe(
      '6ddff9ef3a11c7a64439faffddf663ac89b4a5e6bf5b14bd7189211ce71003a7',
    );
  });

  it('come as ten xxxx-xxxx-xxxx-xxxx keys with a 16-hex-character secret', () => {
    let n = 0;
    const set = newRecoverySet((len) => Uint8Array.from({ length: len }, () => n++ & 0xff));
    expect(set.secret).toMatch(/^[0-9a-f]{16}$/);
    expect(set.keys).toHaveLength(10);
    for (const k of set.keys) expect(k).toMatch(/^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/);
    expect(new Set(set.keys).size).toBe(10);
  });

  it('find the slot of an unused key and nothing for used or wrong keys', () => {
    const secret = '0011223344556677';
    const keys = ['0123-4567-89ab-cdef', '1111-2222-3333-4444', 'aaaa-bbbb-cccc-dddd'];
    const slots: (string | null)[] = keys.map((k) => hashRecoveryKey(secret, k));
    expect(findRecoverySlot(secret, keys[1]!, slots)).toBe(1);
    slots[1] = null;
    expect(findRecoverySlot(secret, keys[1]!, slots)).toBeNull();
    expect(findRecoverySlot(secret, 'ffff-ffff-ffff-ffff', slots)).toBeNull();
  });

  it('are parsed with or without dashes in any case, and nothing else is', () => {
    expect(parseRecoveryKey('0123456789ABCDEF')).toBe('0123-4567-89ab-cdef');
    expect(looksLikeRecoveryKey('0123-4567-89ab-cdef')).toBe(true);
    expect(looksLikeRecoveryKey('123456')).toBe(false);
    // Read out from paper with spaces for dashes, as authenticator codes are typed.
    expect(parseRecoveryKey(' 0123 4567 89ab CDEF ')).toBe('0123-4567-89ab-cdef');
    expect(looksLikeRecoveryKey('0123 4567 89ab cdef')).toBe(true);
    // One separator throughout, once between groups: anything else is not a key as printed.
    for (const odd of ['0123-4567 89ab-cdef', '0123  4567  89ab  cdef', '0-123456789abcdef', '0123\t4567\t89ab\tcdef']) {
      expect(looksLikeRecoveryKey(odd), odd).toBe(false);
      expect(parseRecoveryKey(odd), odd).toBeNull();
    }
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 8 }), (b) => {
        const key = formatRecoveryKey(b);
        expect(parseRecoveryKey(key.toUpperCase())).toBe(key);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 25 }), (s) => {
        if (looksLikeRecoveryKey(s)) expect(parseRecoveryKey(s)).toMatch(/^[0-9a-f-]{19}$/);
        else expect(parseRecoveryKey(s)).toBeNull();
      }),
    );
  });
});

describe('secret box', () => {
  const key = Buffer.alloc(32, 7);
  const nonce = Buffer.alloc(12, 1);
  it('opens what it sealed in the same context only', () => {
    const ctx = secretContext('alice@local', 'f1', 'totp');
    const sealed = seal(key, nonce, 'JBSWY3DPEHPK3PXP', ctx);
    expect(sealed.toString('latin1')).not.toContain('JBSWY3DP');
    expect(open(key, sealed, ctx)).toBe('JBSWY3DPEHPK3PXP');
    expect(open(key, sealed, secretContext('bob@local', 'f1', 'totp'))).toBeNull();
    expect(open(key, sealed, secretContext('alice@local', 'f2', 'totp'))).toBeNull();
    expect(open(Buffer.alloc(32, 8), sealed, ctx)).toBeNull();
    const tampered = Buffer.from(sealed);
    tampered[20] = (tampered[20] ?? 0) ^ 1;
    expect(open(key, tampered, ctx)).toBeNull();
  });
});
