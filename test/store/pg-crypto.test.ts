import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as ours from '../../src/store/pg-crypto.js';

// src/store/pg-crypto.ts stands in for node-postgres's own pg/lib/crypto/utils.js (WebCrypto) in
// dist/pg.cjs. Held to RFC 7677's example and to pg's module itself, function by function.
const theirs = createRequire(import.meta.url)('pg/lib/crypto/utils.js') as Record<keyof typeof ours, (...args: never[]) => unknown>;
const bytes = (v: unknown): Buffer => Buffer.from(v as ArrayBuffer);

describe("node-postgres's SCRAM hashes on node:crypto", () => {
  it("computes RFC 7677's SCRAM-SHA-256 exchange: the client's proof and the server's signature", async () => {
    // RFC 7677, section 3: user "user", password "pencil".
    const clientFirstBare = 'n=user,r=rOprNGfwEbeRWgbNEkqO';
    const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
    const clientFinalWithoutProof = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const authMessage = `${clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
    const salted = await ours.deriveKey('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
    const clientKey = await ours.hmacSha256(salted, 'Client Key');
    const signature = await ours.hmacSha256(await ours.sha256(clientKey), authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    expect(proof.toString('base64')).toBe('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    const serverSignature = await ours.hmacSha256(await ours.hmacSha256(salted, 'Server Key'), authMessage);
    expect(serverSignature.toString('base64')).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });

  it("has every function of pg's module, and each gives what pg's gives", async () => {
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    await fc.assert(
      // WebCrypto refuses an empty HMAC key; SCRAM's keys are 32 bytes.
      fc.asyncProperty(fc.string(), fc.string(), fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.integer({ min: 1, max: 64 }), async (a, b, data, iterations) => {
        expect(bytes(await ours.deriveKey(a, data, iterations))).toEqual(bytes(await theirs.deriveKey(a as never, data as never, iterations as never)));
        expect(bytes(await ours.hmacSha256(data, a))).toEqual(bytes(await theirs.hmacSha256(data as never, a as never)));
        expect(bytes(await ours.sha256(data))).toEqual(bytes(await theirs.sha256(data as never)));
        for (const name of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512']) {
          expect(bytes(await ours.hashByName(name, data))).toEqual(bytes(await theirs.hashByName(name as never, data as never)));
        }
        expect(await ours.md5(a)).toBe(await theirs.md5(a as never));
        const salt = Buffer.from(data.slice(0, 4));
        expect(await ours.postgresMd5PasswordHash(a, b, salt)).toBe(await theirs.postgresMd5PasswordHash(a as never, b as never, salt as never));
      }),
      { numRuns: 50 },
    );
    // Names pg's certificate code gives that WebCrypto lacks (channel binding over TLS).
    expect(await ours.hashByName('SHA-224', Buffer.from('abc'))).toEqual(createHash('sha224').update('abc').digest());
    expect(await ours.hashByName('SHA512-256', Buffer.from('abc'))).toEqual(createHash('sha512-256').update('abc').digest());
    expect(ours.randomBytes(18)).toHaveLength(18);
    expect(ours.randomBytes(18)).not.toEqual(ours.randomBytes(18));
  });

  it('is what dist/pg.cjs holds, not WebCrypto', () => {
    const bundle = readFileSync(join(import.meta.dirname, '..', '..', 'dist', 'pg.cjs'), 'utf8');
    expect(bundle).toContain('src/store/pg-crypto.ts');
    expect(bundle).not.toMatch(/\bsubtle\b/);
    expect(bundle).not.toMatch(/require\("dns"\)/);
  });
});
