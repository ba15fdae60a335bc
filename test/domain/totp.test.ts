import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeSecret, matchTotp, otpauthUri, parseSecret, stepAt, totpCode } from '../../src/domain/totp.js';
import { UsageError } from '../../src/errors.js';
import type { TotpParams } from '../../src/domain/totp-params.js';
import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { createGuardrails, ScureBase32Plugin, verifySync } from 'otplib';
import { RFC4226, RFC6238, RFC6238_SECRETS } from '../fixtures/rfc-vectors.js';

describe('TOTP codes', () => {
  it.each(RFC6238)('match RFC 6238 at %i s (SHA1 %s, SHA256 %s, SHA512 %s)', (epoch, sha1, sha256, sha512) => {
    const at = (algorithm: 'SHA1' | 'SHA256' | 'SHA512') =>
      totpCode(encodeSecret(RFC6238_SECRETS[algorithm]), { algorithm, digits: 8, period: 30 }, epoch);
    expect(at('SHA1')).toBe(sha1);
    expect(at('SHA256')).toBe(sha256);
    expect(at('SHA512')).toBe(sha512);
  });

  it('match RFC 4226 HOTP codes at counter = epoch / 30', () => {
    const secret = encodeSecret(RFC4226.secret);
    RFC4226.codes.forEach((code, counter) => {
      expect(totpCode(secret, { algorithm: 'SHA1', digits: 6, period: 30 }, counter * 30)).toBe(code);
    });
  });

  const params = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
  const secret = encodeSecret(RFC4226.secret);

  it('accept the code of the previous, current and next step and report that step', () => {
    const now = 1_000_000_000;
    for (const offset of [-1, 0, 1]) {
      const code = totpCode(secret, params, now + offset * 30);
      const match = matchTotp(secret, code, params, now);
      expect(match).toEqual({ valid: true, step: stepAt(now, 30) + offset });
    }
  });

  it('refuse a code two steps away, a wrong code and malformed input', () => {
    const now = 1_000_000_000;
    expect(matchTotp(secret, totpCode(secret, params, now - 60), params, now)).toEqual({ valid: false });
    expect(matchTotp(secret, totpCode(secret, params, now + 60), params, now)).toEqual({ valid: false });
    for (const bad of ['', '12345', '1234567', 'abcdef', ' 123456']) expect(matchTotp(secret, bad, params, now).valid).toBe(false);
  });
});

describe('matchTotp against otplib\'s own TOTP verify', () => {
  const crypto = new NodeCryptoPlugin();
  const base32 = new ScureBase32Plugin();
  const guardrails = createGuardrails({ MIN_SECRET_BYTES: 10 });
  const reference = (secret: string, token: string, params: TotpParams, epoch: number) => {
    const r = verifySync({ strategy: 'totp', secret, token, crypto, base32, guardrails, algorithm: params.algorithm.toLowerCase() as 'sha1', digits: params.digits, period: params.period, epoch, epochTolerance: params.period });
    return r.valid && 'timeStep' in r ? { valid: true, step: r.timeStep } : { valid: false };
  };
  const paramsArb = fc.record({ algorithm: fc.constantFrom('SHA1', 'SHA256', 'SHA512') as fc.Arbitrary<TotpParams['algorithm']>, digits: fc.constantFrom(6, 7, 8) as fc.Arbitrary<TotpParams['digits']>, period: fc.constantFrom(15, 30, 60) });

  it('gives the same answer on random secrets, times and codes (its neighbours\' codes, right and wrong)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10, maxLength: 64 }), paramsArb, fc.integer({ min: 0, max: 4_000_000_000 }), fc.integer({ min: -3, max: 3 }), fc.nat(), (bytes, params, epoch, offset, wrong) => {
        const secret = encodeSecret(bytes);
        const near = totpCode(secret, params, Math.max(0, epoch + offset * params.period));
        const other = String(wrong % 10 ** params.digits).padStart(params.digits, '0');
        for (const token of [near, other]) expect(matchTotp(secret, token, params, epoch)).toEqual(reference(secret, token, params, epoch));
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseSecret', () => {
  it('accepts base32 as people type it and returns the canonical form', () => {
    expect(parseSecret('gezd gnbv gy3t qojq gezd gnbv gy3t qojq')).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
    expect(parseSecret('JBSWY3DPEHPK3PXP')).toBe('JBSWY3DPEHPK3PXP');
  });

  it.each(['', 'JBSWY3DPEHPK3PX1', 'JBSWY3DP', 'A'.repeat(200), 'JBSWY3DPEHPK3PX', 'AAAAAAAAAAAAAAAAA3'])('rejects %j', (input) => {
    expect(() => parseSecret(input)).toThrow(UsageError);
  });

  it('says a length that is no whole number of bytes is that, not a length out of range', () => {
    expect(() => parseSecret('JBSWY3DPEHPK3PXPA')).toThrow('invalid TOTP secret: 17 base32 characters are no whole number of bytes (one missing, or one too many?)');
    expect(() => parseSecret('JBSWY3DP')).toThrow('invalid TOTP secret: it must be 80 to 512 bits (16 to 103 base32 characters)');
  });

  it('round-trips every secret of 10 to 64 bytes and never echoes bad input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10, maxLength: 64 }), (bytes) => {
        const b32 = encodeSecret(bytes);
        expect(parseSecret(b32.toLowerCase())).toBe(b32);
      }),
    );
    fc.assert(
      fc.property(fc.oneof(fc.string({ minLength: 4, maxLength: 60 }), fc.stringMatching(/^[A-Z2-7]{16,40}$/)), (input) => {
        try {
          parseSecret(input);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          expect((e as Error).message).not.toContain(input);
        }
      }),
    );
  });
});

describe('otpauthUri', () => {
  it('percent-encodes issuer and account and lists every parameter', () => {
    expect(
      otpauthUri({ issuer: 'tfactl@host a', account: 'bob@corp', secret: 'JBSWY3DPEHPK3PXP', algorithm: 'SHA256', digits: 8, period: 60 }),
    ).toBe('otpauth://totp/tfactl%40host%20a:bob%40corp?secret=JBSWY3DPEHPK3PXP&issuer=tfactl%40host%20a&algorithm=SHA256&digits=8&period=60');
  });
});
