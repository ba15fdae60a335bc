import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fido2AssertGetOptions,
  fido2AssertInput,
  parseFido2AssertOutput,
  terminalClientData,
  verifyFido2Assertion,
  type Fido2AssertCredential,
  type Fido2AssertFailure,
} from '../../src/domain/fido2-assert.js';
import { UsageError } from '../../src/errors.js';
import { U2fTester, type TesterAuthentication, type TesterRegistration } from '../fixtures/u2f-tester.js';

const RP_ID = 'pve.example.com';
const APPID = 'https://pve.example.com:8006';
const CHALLENGE = randomBytes(32);
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

const scratch = mkdtempSync(join(tmpdir(), 'tfactl-fido2-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A CBOR byte string (RFC 8949 major type 2), shortest head, as libfido2 writes authenticator data. */
function cborBytes(content: Buffer): Buffer {
  const n = content.length;
  const head =
    n < 24 ? Buffer.from([0x40 | n]) : n < 0x100 ? Buffer.from([0x58, n]) : n < 0x10000 ? Buffer.from([0x59, n >> 8, n & 0xff]) : Buffer.from([0x5a, 0, 0, 0, 0]);
  if (n >= 0x10000) head.writeUInt32BE(n, 1);
  return Buffer.concat([head, content]);
}

/** The lines of what fido2-assert -G read, as it reads them: base64, a string, base64. */
function readInput(input: string) {
  const [cdh, rpId, credentialId] = input.split('\n') as [string, string, string];
  return { clientDataHash: Buffer.from(cdh, 'base64'), rpId, credentialId: Buffer.from(credentialId, 'base64') };
}

/** The four lines fido2-assert -G prints, for authenticator data and a signature made elsewhere. */
const printedLines = (clientDataHash: Buffer, rpId: string, authenticatorData: Buffer, signature: Buffer) =>
  `${b64(clientDataHash)}\n${rpId}\n${b64(cborBytes(authenticatorData))}\n${b64(signature)}\n`;

/** Flips the low bit of byte `at` of the base64 line `index` (0-based) of printed lines. */
function flipInLine(output: string, index: number, at: number): string {
  const lines = output.split('\n');
  const bytes = Buffer.from(lines[index]!, 'base64');
  bytes[at]! ^= 0x01;
  lines[index] = b64(bytes);
  return lines.join('\n');
}

const authenticatorDataFor = (rpId: string, flags: number, counter: number) => {
  const tail = Buffer.alloc(5);
  tail[0] = flags;
  tail.writeUInt32BE(counter, 1);
  return Buffer.concat([sha256(rpId), tail]);
};

/**
 * A software FIDO2 authenticator (node:crypto): answers fido2-assert -G's input as a key would
 * and prints what fido2-assert -G prints. `signedRpId` and `signedClientDataHash` change what it signs.
 */
function softAssert(
  input: string,
  privateKey: KeyObject,
  { flags = 0x01, counter = 7, signedRpId, signedClientDataHash }: { flags?: number; counter?: number; signedRpId?: string; signedClientDataHash?: Buffer } = {},
): string {
  const { clientDataHash, rpId } = readInput(input);
  const authenticatorData = authenticatorDataFor(signedRpId ?? rpId, flags, counter);
  const cdh = signedClientDataHash ?? clientDataHash;
  return printedLines(cdh, rpId, authenticatorData, sign('sha256', Buffer.concat([authenticatorData, cdh]), privateKey));
}

/** libfido2's verdict: fido2-assert -V with the public key in a PEM file. */
function fido2Verify(output: string, publicKey: KeyObject, type: 'es256' | 'rs256', options: string[] = ['-p']): { ok: boolean; stderr: string } {
  const pem = join(scratch, `key-${randomBytes(6).toString('hex')}.pem`);
  writeFileSync(pem, publicKey.export({ format: 'pem', type: 'spki' }));
  const r = spawnSync('fido2-assert', ['-V', ...options, pem, type], { input: output, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { ok: r.status === 0, stderr: r.stderr };
}

/** What fido2-assert -G read from our lines: its debug output, before it gives up on a non-device. */
function fido2ReadInput(input: string, kind: 'webauthn' | 'u2f') {
  const file = join(scratch, `input-${randomBytes(6).toString('hex')}`);
  writeFileSync(file, input);
  const r = spawnSync('fido2-assert', [...fido2AssertGetOptions(kind), '-d', '-i', file, '/dev/null'], { encoding: 'utf8' });
  if (r.error) throw r.error;
  const block = (name: string) => {
    const m = new RegExp(`^${name}:\\n((?:  .*\\n)+)`, 'm').exec(r.stderr);
    return m ? Buffer.from(m[1]!.replace(/\s+/g, ''), 'hex') : undefined;
  };
  return {
    stderr: r.stderr,
    clientDataHash: block('client data hash'),
    rpId: /^relying party id: (.*)$/m.exec(r.stderr)?.[1],
    credentialId: block('credential id'),
  };
}

const es256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rs256 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const CREDENTIAL_ID = randomBytes(64);
const es256Credential: Fido2AssertCredential = { kind: 'webauthn', rpId: RP_ID, algorithm: 'ES256', publicKey: es256.publicKey.export({ format: 'jwk' }) };
const rs256Credential: Fido2AssertCredential = { kind: 'webauthn', rpId: RP_ID, algorithm: 'RS256', publicKey: rs256.publicKey };

const es256Jwk = es256.publicKey.export({ format: 'jwk' });
/** A U2F registration with the ES256 key: its point, as Proxmox stores it. */
const u2fCredential: Fido2AssertCredential = {
  kind: 'u2f',
  appId: APPID,
  registration: { keyHandle: CREDENTIAL_ID, publicKey: Buffer.concat([Buffer.from([4]), Buffer.from(es256Jwk.x!, 'base64url'), Buffer.from(es256Jwk.y!, 'base64url')]) },
};

const ours = (output: string, credential: Fido2AssertCredential, requireUserVerification = false) =>
  verifyFido2Assertion({ assertion: parseFido2AssertOutput(output), challenge: CHALLENGE, credential, requireUserVerification });

describe('the lines tfactl prints for fido2-assert -G', () => {
  it('hash the documented client data, which binds the challenge and the RP id', () => {
    const challenge = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    expect(terminalClientData(challenge, RP_ID).toString()).toBe(
      '{"type":"tfactl.fido2-assert","challenge":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8","rpId":"pve.example.com"}',
    );
    const input = fido2AssertInput({ challenge, rpId: RP_ID, credentialId: Buffer.from([1, 2, 3]) });
    expect(input).toBe(`${b64(sha256(terminalClientData(challenge, RP_ID)))}\npve.example.com\nAQID\n`);
    expect(terminalClientData(challenge, 'other.example.com')).not.toEqual(terminalClientData(challenge, RP_ID));
    expect(terminalClientData(randomBytes(32), RP_ID)).not.toEqual(terminalClientData(challenge, RP_ID));
    // An appid is written as JSON writes it: the bytes say unambiguously which one it was.
    expect(terminalClientData(challenge, 'https://a.example/"x"').toString()).toContain('"rpId":"https://a.example/\\"x\\""');
  });

  it.each([
    ['a WebAuthn credential', 'webauthn', RP_ID, CREDENTIAL_ID],
    ['a U2F registration (-u), named by its appid', 'u2f', APPID, randomBytes(82)],
  ] as const)('are read by fido2-assert -G as the hash, RP id and credential id meant, for %s', (_what, kind, rpId, credentialId) => {
    const read = fido2ReadInput(fido2AssertInput({ challenge: CHALLENGE, rpId, credentialId }), kind);
    expect(read.stderr).not.toContain('input error');
    expect(read.clientDataHash).toEqual(sha256(terminalClientData(CHALLENGE, rpId)));
    expect(read.rpId).toBe(rpId);
    expect(read.credentialId).toEqual(credentialId);
  });

  it('refuse an RP id fido2-assert cannot read as one line', () => {
    for (const rpId of ['', 'a\nb', 'a\rb', 'a\0b']) {
      expect(() => fido2AssertInput({ challenge: CHALLENGE, rpId, credentialId: CREDENTIAL_ID })).toThrow(UsageError);
    }
  });
});

describe('a pasted fido2-assert answer, checked by us and by fido2-assert -V alike', () => {
  const input = () => fido2AssertInput({ challenge: CHALLENGE, rpId: RP_ID, credentialId: CREDENTIAL_ID });

  it('is accepted for an ES256 credential (key as JWK or KeyObject), with its counter', () => {
    const output = softAssert(input(), es256.privateKey, { counter: 41 });
    expect(fido2Verify(output, es256.publicKey, 'es256')).toMatchObject({ ok: true });
    expect(ours(output, es256Credential)).toEqual({ valid: true, counter: 41, userPresent: true, userVerified: false });
    expect(ours(output, { ...es256Credential, publicKey: es256.publicKey } as Fido2AssertCredential)).toMatchObject({ valid: true });
  });

  it('is accepted for an RS256 credential (key as KeyObject or JWK)', () => {
    const output = softAssert(input(), rs256.privateKey, { flags: 0x05 });
    expect(fido2Verify(output, rs256.publicKey, 'rs256')).toMatchObject({ ok: true });
    expect(ours(output, rs256Credential)).toEqual({ valid: true, counter: 7, userPresent: true, userVerified: true });
    expect(ours(output, { ...rs256Credential, publicKey: rs256.publicKey.export({ format: 'jwk' }) } as Fido2AssertCredential)).toMatchObject({ valid: true });
  });

  // Each row: a change to the answer, whether libfido2 accepts it (with -p: user presence), and our verdict.
  const cases: [string, (i: string) => string, string[], Fido2AssertFailure][] = [
    ['a flipped signature bit', (i) => flipInLine(softAssert(i, es256.privateKey), 3, 20), ['-p'], 'bad-signature'],
    ['authenticator data of another RP id', (i) => softAssert(i, es256.privateKey, { signedRpId: 'other.example.com' }), ['-p'], 'wrong-rp-id'],
    ['a changed counter', (i) => flipInLine(softAssert(i, es256.privateKey), 2, 36), ['-p'], 'bad-signature'],
    ['no user presence (signed so)', (i) => softAssert(i, es256.privateKey, { flags: 0x00 }), ['-p'], 'user-not-present'],
    ['no user verification where it is required', (i) => softAssert(i, es256.privateKey, { flags: 0x01 }), ['-p', '-v'], 'user-not-verified'],
    ['a signature by another key', (i) => softAssert(i, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey), ['-p'], 'bad-signature'],
  ];
  it.each(cases)('is refused for %s, by both', (_what, make, options, reason) => {
    const output = make(input());
    expect(fido2Verify(output, es256.publicKey, 'es256', options)).toMatchObject({ ok: false, stderr: expect.stringContaining('fido_assert_verify: ') });
    expect(ours(output, es256Credential, options.includes('-v'))).toEqual({ valid: false, reason });
  });

  it('with user verification, is accepted by both where it is required', () => {
    const output = softAssert(input(), es256.privateKey, { flags: 0x05 });
    expect(fido2Verify(output, es256.publicKey, 'es256', ['-p', '-v'])).toMatchObject({ ok: true });
    expect(ours(output, es256Credential, true)).toMatchObject({ valid: true, userVerified: true });
  });

  it('is refused when line 2 names another RP id than it was signed for, by both', () => {
    const lines = softAssert(input(), es256.privateKey).split('\n');
    lines[1] = 'other.example.com';
    expect(fido2Verify(lines.join('\n'), es256.publicKey, 'es256')).toMatchObject({ ok: false });
    expect(ours(lines.join('\n'), es256Credential)).toEqual({ valid: false, reason: 'wrong-rp-id' });
  });

  it('is refused when made for another challenge, which fido2-assert -V cannot know (tfactl binds it)', () => {
    const other = fido2AssertInput({ challenge: randomBytes(32), rpId: RP_ID, credentialId: CREDENTIAL_ID });
    const output = softAssert(other, es256.privateKey);
    expect(fido2Verify(output, es256.publicKey, 'es256')).toMatchObject({ ok: true });
    expect(ours(output, es256Credential)).toEqual({ valid: false, reason: 'wrong-challenge' });
  });

  it('is refused when its authenticator data is not CBOR-wrapped: fido2-assert -V refuses it, we name line 3', () => {
    const lines = softAssert(input(), es256.privateKey).split('\n');
    lines[2] = b64(authenticatorDataFor(RP_ID, 0x01, 7));
    expect(fido2Verify(lines.join('\n'), es256.publicKey, 'es256')).toMatchObject({ ok: false, stderr: expect.stringContaining('fido_assert_set: ') });
    expect(() => parseFido2AssertOutput(lines.join('\n'))).toThrow(/line 3 \(authenticator data\)/);
  });

  it('is refused when the credential\'s key is not of its algorithm', () => {
    const output = softAssert(input(), es256.privateKey);
    expect(ours(output, { ...es256Credential, algorithm: 'RS256' } as Fido2AssertCredential)).toEqual({ valid: false, reason: 'unusable-credential' });
    expect(ours(output, { ...rs256Credential, algorithm: 'ES256' } as Fido2AssertCredential)).toEqual({ valid: false, reason: 'unusable-credential' });
    expect(ours(output, { ...es256Credential, publicKey: { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' } } as Fido2AssertCredential)).toEqual({
      valid: false,
      reason: 'unusable-credential',
    });
  });
});

describe('a pasted fido2-assert -u answer from a U2F device (Authen::U2F::Tester)', () => {
  const device = new U2fTester();
  let registration: TesterRegistration;
  let credential: Fido2AssertCredential;
  let output: string;
  let otherAppid: string;

  beforeAll(() => {
    registration = device.register(APPID, randomBytes(32).toString('base64url'));
    const point = Buffer.from(registration.publicKey, 'base64url');
    credential = { kind: 'u2f', appId: APPID, registration: { keyHandle: Buffer.from(registration.keyHandle, 'base64url'), publicKey: point } };
    const input = fido2AssertInput({ challenge: CHALLENGE, rpId: APPID, credentialId: credential.registration.keyHandle });
    const { clientDataHash } = readInput(input);
    // libfido2 in U2F mode sends the client data hash as the challenge parameter and the SHA-256 of
    // the appid as the application parameter, then prints SHA256(appid) | flags | counter as
    // authenticator data, CBOR-wrapped.
    const [signed, forOtherAppid] = device.run<[TesterAuthentication, TesterAuthentication]>([
      { op: 'authenticate', appId: APPID, challengeParameter: clientDataHash.toString('base64url'), keyHandle: registration.keyHandle },
      { op: 'authenticate', appId: 'https://other.example.com', challengeParameter: clientDataHash.toString('base64url'), keyHandle: registration.keyHandle },
    ]);
    const print = (s: TesterAuthentication) =>
      printedLines(clientDataHash, APPID, Buffer.from(s.authenticatorData, 'base64url'), Buffer.from(s.signature, 'base64url'));
    output = print(signed);
    otherAppid = print(forOtherAppid);
  });

  /** The registration's key as fido2-assert -V takes it: from the stored point, as PEM. */
  const pointKey = () => {
    const point = Buffer.from(registration.publicKey, 'base64url');
    const [x, y] = [point.subarray(1, 33), point.subarray(33)].map((c) => c.toString('base64url'));
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  };

  it('is accepted by fido2-assert -V with the registration\'s key, and by us', () => {
    expect(fido2Verify(output, pointKey(), 'es256')).toMatchObject({ ok: true });
    expect(ours(output, credential)).toEqual({ valid: true, counter: 101, userPresent: true, userVerified: false });
  });

  it('is refused when signed for another appid, by both', () => {
    expect(fido2Verify(otherAppid, pointKey(), 'es256')).toMatchObject({ ok: false });
    expect(ours(otherAppid, credential)).toEqual({ valid: false, reason: 'wrong-rp-id' });
  });

  it('is refused for another registration or appid', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    const otherPoint = Buffer.concat([Buffer.from([4]), Buffer.from(other.x!, 'base64url'), Buffer.from(other.y!, 'base64url')]);
    if (credential.kind !== 'u2f') throw new Error('a U2F credential');
    expect(ours(output, { ...credential, registration: { ...credential.registration, publicKey: otherPoint } })).toEqual({ valid: false, reason: 'bad-signature' });
    expect(ours(output, { ...credential, appId: 'https://pve.example.com' })).toEqual({ valid: false, reason: 'wrong-rp-id' });
  });
});

describe('parsing what the user pasted', () => {
  const good = () => softAssert(fido2AssertInput({ challenge: CHALLENGE, rpId: RP_ID, credentialId: CREDENTIAL_ID }), es256.privateKey);
  const withLine = (index: number, line: string) => {
    const lines = good().trimEnd().split('\n');
    lines[index] = line;
    return lines.join('\n');
  };

  it('takes the lines as a terminal gives them: CRLF, blanks around lines, blank lines before and after', () => {
    const output = good();
    const pasted = `\n\n  ${output.trimEnd().split('\n').join('  \r\n\t')}\r\n\n`;
    expect(parseFido2AssertOutput(pasted)).toEqual(parseFido2AssertOutput(output));
    expect(ours(pasted, es256Credential)).toMatchObject({ valid: true });
  });

  it('takes the four fields on one line, as `| paste -sd " "` joins them for a one-line prompt', () => {
    const output = good();
    expect(parseFido2AssertOutput(` ${output.trimEnd().split('\n').join(' \t ')} \r`)).toEqual(parseFido2AssertOutput(output));
    expect(() => parseFido2AssertOutput(output.trimEnd().split('\n').slice(0, 3).join(' '))).toThrow(/line 4 \(signature\) is missing/);
  });

  it.each([
    ['nothing', '', /^fido2-assert output: nothing was pasted/],
    ['blank lines only', '\n \r\n\n', /^fido2-assert output: nothing was pasted/],
    ['three lines', () => good().trimEnd().split('\n').slice(0, 3).join('\n'), /line 4 \(signature\) is missing/],
    ['one line', () => good().split('\n')[0]!, /line 2 \(relying party id\) is missing/],
    ['a fifth line (fido2-assert -r prints the user id)', () => `${good()}AQID\n`, /line 5 is one too many/],
    ['an empty line 2', () => withLine(1, ''), /line 2 \(relying party id\) is empty/],
    ['line 1 not base64', () => withLine(0, 'not base64!'), /line 1 \(client data hash\) is not base64/],
    ['line 1 base64url', () => withLine(0, '_'.repeat(43)), /line 1 \(client data hash\) is not base64/],
    ['line 1 of 16 bytes', () => withLine(0, b64(randomBytes(16))), /line 1 \(client data hash\) is 16 bytes/],
    ['line 1 wrongly padded', () => withLine(0, `${b64(randomBytes(32)).slice(0, 43)}==`), /line 1 \(client data hash\) is not base64/],
    ['control characters in line 2', () => withLine(1, 'pve\u001b[31m.example.com'), /line 2 \(relying party id\) has control characters/],
    ['line 3 not base64', () => withLine(2, '%%%'), /line 3 \(authenticator data\) is not base64/],
    ['line 3 raw, not CBOR', () => withLine(2, b64(Buffer.concat([Buffer.from([0x58, 0x25]), randomBytes(36)]))), /line 3 \(authenticator data\) is not a CBOR byte string/],
    ['line 3 with bytes after the CBOR', () => withLine(2, b64(Buffer.concat([cborBytes(randomBytes(37)), Buffer.from([0])]))), /line 3 \(authenticator data\) is not a CBOR byte string/],
    ['line 3 an indefinite-length string', () => withLine(2, b64(Buffer.concat([Buffer.from([0x5f]), cborBytes(randomBytes(37)), Buffer.from([0xff])]))), /line 3 .*not a CBOR byte string/],
    ['line 3 too short', () => withLine(2, b64(cborBytes(randomBytes(10)))), /line 3 \(authenticator data\) is 10 bytes, less than the 37/],
    ['line 4 not base64', () => withLine(3, 'MEUCIQ-'), /line 4 \(signature\) is not base64/],
  ] as const)('refuses %s with a usage error naming the line', (_what, paste, message) => {
    const text = typeof paste === 'function' ? paste() : paste;
    let error: unknown;
    try {
      parseFido2AssertOutput(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).code).toBe('invalid_assertion');
    expect((error as UsageError).message).toMatch(message);
  });

  it('never repeats what was pasted in its errors', () => {
    expect(() => parseFido2AssertOutput(withLine(1, 'my-secret-host\u0007'))).toThrow(/^fido2-assert output: line 2 \(relying party id\) has control characters$/);
    expect(() => parseFido2AssertOutput(withLine(0, 'hunter2hunter2!'))).toThrow(/^fido2-assert output: line 1 \(client data hash\) is not base64$/);
  });

  it('accepts authenticator data of any length, whatever CBOR head gives it', () => {
    for (const length of [37, 255, 256, 70000]) {
      const data = randomBytes(length);
      expect(parseFido2AssertOutput(withLine(2, b64(cborBytes(data)))).authenticatorData.equals(data)).toBe(true);
    }
    // A longer head than needed still says how long the string is.
    const data = randomBytes(40);
    const head = Buffer.from([0x5a, 0, 0, 0, 40]);
    expect(parseFido2AssertOutput(withLine(2, b64(Buffer.concat([head, data])))).authenticatorData).toEqual(data);
  });
});

describe('parsing and checking any paste (property)', () => {
  const base64Of = (arb: fc.Arbitrary<Uint8Array>) => arb.map((b) => b64(b));
  const line = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    base64Of(fc.uint8Array({ maxLength: 80 })),
    base64Of(fc.uint8Array({ minLength: 32, maxLength: 32 })),
    fc.uint8Array({ maxLength: 90 }).map((b) => b64(cborBytes(Buffer.from(b)))),
    fc.constantFrom('', ' ', '\r', RP_ID, '='),
  );
  const isUsage = (e: unknown) => e instanceof UsageError && e.code === 'invalid_assertion' && /^fido2-assert output: (line [1-5] |nothing was pasted)/.test(e.message);

  it('is either an assertion or a usage error naming a line, never a crash: any text, any lines', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.array(line, { maxLength: 7 }).map((ls) => ls.join('\n'))), (text) => {
        try {
          const assertion = parseFido2AssertOutput(text);
          expect(assertion.clientDataHash).toHaveLength(32);
          // Whatever parses is checked without an exception, and is no valid answer.
          for (const credential of [es256Credential, rs256Credential, u2fCredential]) {
            const result = verifyFido2Assertion({ assertion, challenge: CHALLENGE, credential });
            expect(result.valid).toBe(false);
          }
        } catch (e) {
          expect(isUsage(e), String(e)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('gives back the four values fido2-assert printed, whatever they are', () => {
    const rpId = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }).filter((s) => s.trim() === s && s !== '' && !/[\u0000-\u001f\u007f]/.test(s));
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        rpId,
        fc.uint8Array({ minLength: 37, maxLength: 600 }),
        fc.uint8Array({ minLength: 1, maxLength: 512 }),
        (cdh, rp, authenticatorData, signature) => {
          const parsed = parseFido2AssertOutput(printedLines(Buffer.from(cdh), rp, Buffer.from(authenticatorData), Buffer.from(signature)));
          expect(parsed).toEqual({ clientDataHash: Buffer.from(cdh), rpId: rp, authenticatorData: Buffer.from(authenticatorData), signature: Buffer.from(signature) });
        },
      ),
    );
  });
});
