import fc from 'fast-check';
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  samePrivateId,
  counterValue,
  crc16,
  CRC_RESIDUE,
  decryptToken,
  hexToModhex,
  isNewer,
  looksLikeYubicoOtp,
  modhexToHex,
  parseResponse,
  parseYubicoOtp,
  signatureValid,
  signParams,
} from '../../src/domain/yubico.js';
import { UsageError } from '../../src/errors.js';

// Yubico's published OTP test vectors (developers.yubico.com, OTP test vectors; also libyubikey's self-test).
const KEY1 = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const KEY2 = Buffer.alloc(16, 0x88);
const VECTORS: [Buffer, string, string, number, number, number][] = [
  // key, token, private id, use counter, session counter, timestamp (tstph << 16 | tstpl)
  [KEY1, 'dvgtiblfkbgturecfllberrvkinnctnn', '010203040506', 1, 1, 0x010001],
  [KEY1, 'rnibcnfhdninbrdebccrndfhjgnhftee', '010203040506', 1, 2, 0x010001],
  [KEY1, 'iikkijbdknrrdhfdrjltvgrbkkjblcbh', '010203040506', 0xfff, 1, 0x010001],
  [KEY2, 'dcihgvrhjeucvrinhdfddbjhfjftjdei', '888888888888', 0x8888, 0x88, 0x888888],
];

describe('Yubico OTP tokens', () => {
  it.each(VECTORS)('decrypt the published vector %#', (key, token, privateId, use, session, timestamp) => {
    expect(decryptToken(key, token)).toEqual({ privateId, useCounter: use, sessionCounter: session, timestamp });
  });

  it('refuse a token under another key or with one character changed', () => {
    expect(decryptToken(KEY2, 'dvgtiblfkbgturecfllberrvkinnctnn')).toBeNull();
    expect(decryptToken(KEY1, 'dvgtiblfkbgturecfllberrvkinnctnc')).toBeNull();
  });

  it('compute the CRC of libyubikey\'s self-test and leave the residue over a whole token', () => {
    expect(crc16(Uint8Array.from([1, 2, 3, 4, 5, 6, 0x30, 0x75, 0, 9, 0x3d, 0xfa, 0x60, 0xea]))).toBe(35339);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 14, maxLength: 14 }), (body) => {
        const crc = ~crc16(body) & 0xffff;
        const whole = Buffer.concat([Buffer.from(body), Buffer.from([crc & 0xff, crc >> 8])]);
        expect(crc16(whole)).toBe(CRC_RESIDUE);
      }),
    );
  });

  it('round-trip any token encrypted with node:crypto', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ minLength: 14, maxLength: 14 }), (key, body) => {
        const crc = ~crc16(body) & 0xffff;
        const plain = Buffer.concat([Buffer.from(body), Buffer.from([crc & 0xff, crc >> 8])]);
        const cipher = createCipheriv('aes-128-ecb', Buffer.from(key), null).setAutoPadding(false);
        const token = hexToModhex(Buffer.concat([cipher.update(plain), cipher.final()]).toString('hex'));
        const t = decryptToken(Buffer.from(key), token);
        expect(t?.privateId).toBe(Buffer.from(body.slice(0, 6)).toString('hex'));
        expect(t?.useCounter).toBe(plain.readUInt16LE(6));
      }),
    );
  });

  it('order counters by use counter, then session counter', () => {
    expect(isNewer({ useCounter: 1, sessionCounter: 2 }, { useCounter: 1, sessionCounter: 1 })).toBe(true);
    expect(isNewer({ useCounter: 2, sessionCounter: 0 }, { useCounter: 1, sessionCounter: 9 })).toBe(true);
    expect(isNewer({ useCounter: 1, sessionCounter: 1 }, { useCounter: 1, sessionCounter: 1 })).toBe(false);
    expect(isNewer({ useCounter: 0, sessionCounter: 9 }, { useCounter: 1, sessionCounter: 0 })).toBe(false);
  });

  it('ignore the caps-lock flag in bit 15 of the use counter', () => {
    expect(counterValue({ useCounter: 0x8005, sessionCounter: 1 })).toBe(counterValue({ useCounter: 5, sessionCounter: 1 }));
    expect(isNewer({ useCounter: 6, sessionCounter: 0 }, { useCounter: 0x8005, sessionCounter: 9 })).toBe(true);
  });
});

describe('modhex and OTP parsing', () => {
  it('maps modhex to hex and back', () => {
    expect(modhexToHex('dvgtiblfkbgturecfllberrvkinnctnn')).toBe('2f5d71a4915dec304aa13ccf97bb0dbb');
    fc.assert(fc.property(fc.uint8Array({ maxLength: 32 }), (b) => {
      const hex = Buffer.from(b).toString('hex');
      expect(modhexToHex(hexToModhex(hex))).toBe(hex);
    }));
  });

  it('splits a 44-character OTP into a 12-character public id and the token', () => {
    expect(parseYubicoOtp('cccjgjgkhcbbdvgtiblfkbgturecfllberrvkinnctnn')).toEqual({
      otp: 'cccjgjgkhcbbdvgtiblfkbgturecfllberrvkinnctnn',
      publicId: 'cccjgjgkhcbb',
      token: 'dvgtiblfkbgturecfllberrvkinnctnn',
    });
  });

  it('tells OTPs from TOTP codes and recovery keys, and rejects anything else as a usage error', () => {
    expect(looksLikeYubicoOtp('123456')).toBe(false);
    expect(looksLikeYubicoOtp('0123-4567-89ab-cdef')).toBe(false);
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (s) => {
        if (looksLikeYubicoOtp(s)) expect(parseYubicoOtp(s).token).toHaveLength(32);
        else expect(() => parseYubicoOtp(s)).toThrow(UsageError);
      }),
    );
  });
});

describe('validation protocol 2.0 signatures', () => {
  const apiKey = Buffer.from('mG5be6ZJU1qBGz24yPh/ESM3UdU=', 'base64');
  it('sign a request as Yubico\'s published example', () => {
    expect(signParams({ id: '1', otp: 'vvungrrdhvtklknvrtvuvbbkeidikkvgglrvdgrfcdft', nonce: 'jrFwbaYFhn0HoxZIsd9LQ6w2ceU' }, apiKey)).toBe(
      '+ja8S3IjbX593/LAgTBixwPNGX4=',
    );
  });

  it('verify a response as Yubico\'s published example and reject a changed one', () => {
    const body = [
      'h=iCV9uFJDtuyELQsxFPnR80Yj2XU=',
      't=2019-06-06T05:14:15Z0369',
      'otp=cccccckdvvulethkhtvkrtbeukiettvfceekurncllcj',
      'nonce=0123456789abcdef',
      'sl=25',
      'status=OK',
      '',
    ].join('\r\n');
    const fields = parseResponse(body);
    expect(signatureValid(fields, apiKey)).toBe(true);
    expect(signatureValid({ ...fields, status: 'REPLAYED_OTP' }, apiKey)).toBe(false);
    expect(signatureValid({ ...fields, h: 'AAAA' }, apiKey)).toBe(false);
  });
});

describe('samePrivateId', () => {
  it('is true only for the same six bytes, in either case of hex', () => {
    expect(samePrivateId('8792ebfe26cc', '8792EBFE26CC')).toBe(true);
    expect(samePrivateId('8792ebfe26cc', '8792ebfe26cd')).toBe(false);
    expect(samePrivateId('8792ebfe26', '8792ebfe26')).toBe(false);
    expect(samePrivateId('', '')).toBe(false);
  });
});
