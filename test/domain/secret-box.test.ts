import { describe, expect, it } from 'vitest';
import { openedIs, sameSecretBytes, totpSecretMark } from '../../src/domain/secret-box.js';

const KEY = Buffer.alloc(32, 7);
const PARAMS = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

describe('totpSecretMark', () => {
  it('is the same for the same user, secret and parameters under one key, and says nothing of the secret', () => {
    const mark = totpSecretMark(KEY, 'alice@local', SECRET, PARAMS);
    expect(totpSecretMark(KEY, 'alice@local', SECRET, { ...PARAMS })).toBe(mark);
    expect(mark).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(mark).not.toContain(SECRET);
  });

  it('differs for another user, secret, period, digits, algorithm or store key', () => {
    const mark = totpSecretMark(KEY, 'alice@local', SECRET, PARAMS);
    const others = [
      totpSecretMark(KEY, 'bob@local', SECRET, PARAMS),
      totpSecretMark(KEY, 'alice@local', 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXQ', PARAMS),
      totpSecretMark(KEY, 'alice@local', SECRET, { ...PARAMS, period: 60 }),
      totpSecretMark(KEY, 'alice@local', SECRET, { ...PARAMS, digits: 8 }),
      totpSecretMark(KEY, 'alice@local', SECRET, { ...PARAMS, algorithm: 'SHA256' }),
      totpSecretMark(Buffer.alloc(32, 8), 'alice@local', SECRET, PARAMS),
    ];
    expect(new Set([mark, ...others]).size).toBe(others.length + 1);
  });
});

describe('comparing secrets', () => {
  it('is true only for the same bytes; a secret that did not open is none', () => {
    expect(sameSecretBytes(Buffer.from('abc'), Buffer.from('abc'))).toBe(true);
    expect(sameSecretBytes(Buffer.from('abc'), Buffer.from('abd'))).toBe(false);
    expect(sameSecretBytes(Buffer.from('abc'), Buffer.from('abcd'))).toBe(false);
    expect(openedIs(SECRET, SECRET)).toBe(true);
    expect(openedIs(SECRET, `${SECRET}A`)).toBe(false);
    expect(openedIs(null, SECRET)).toBe(false);
  });
});
