import fc from 'fast-check';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { u2fAnswerKeyHandle, u2fRegistrationFromProxmox, verifyU2fSignIn, type U2fFailure, type U2fRegistration, type U2fSignInCheck } from '../../src/domain/u2f.js';
import { U2fTester, type TesterRegistration, type TesterSignResponse, type TesterAuthentication } from '../fixtures/u2f-tester.js';

const APPID = 'https://pve.example.com:8006';
const OTHER_APPID = 'https://evil.example.com';
/** A challenge as tfactl issues it: random bytes, which the answer names in base64url. */
const CHALLENGE = randomBytes(32);
const OTHER_CHALLENGE = randomBytes(32);
const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

const FAILURES: readonly U2fFailure[] = [
  'malformed-answer',
  'unknown-key-handle',
  'unusable-registration',
  'wrong-type',
  'wrong-challenge',
  'wrong-origin',
  'wrong-appid',
  'bad-signature',
  'user-not-present',
];

/** A registration as Proxmox keeps it (key handle base64url, the point), decoded to bytes. */
const registrationOf = (r: TesterRegistration): U2fRegistration => ({
  keyHandle: Buffer.from(r.keyHandle, 'base64url'),
  publicKey: Buffer.from(r.publicKey, 'base64url'),
});

const check = (registration: U2fRegistration, answer: unknown, overrides: Partial<U2fSignInCheck> = {}): ReturnType<typeof verifyU2fSignIn> =>
  verifyU2fSignIn({ registration, appId: APPID, u2fOrigin: APPID, pageOrigins: [], challenge: CHALLENGE, answer, ...overrides });

/** Changes bytes of a base64url field of an answer. */
function tamper<T extends Record<string, unknown>>(answer: T, field: keyof T & string, change: (bytes: Buffer) => void): T {
  const bytes = Buffer.from(answer[field] as string, 'base64url');
  change(bytes);
  return { ...answer, [field]: b64url(bytes) };
}

/** The browser's client data for a sign-in page on `origin` (as Chromium writes it). */
const browserClientData = (fields: Record<string, unknown> = {}) =>
  b64url(JSON.stringify({ type: 'webauthn.get', challenge: b64url(CHALLENGE), origin: APPID, crossOrigin: false, ...fields }));

/** A browser's AuthenticationResponseJSON for a U2F key asked with the appid extension. */
const browserAnswer = (keyHandle: string, clientDataJSON: string, signed: TesterAuthentication) => ({
  id: keyHandle,
  rawId: keyHandle,
  type: 'public-key',
  response: { clientDataJSON, authenticatorData: signed.authenticatorData, signature: signed.signature },
  clientExtensionResults: { appid: true },
  authenticatorAttachment: 'cross-platform',
});

/** What the browser asks the U2F device for regA to sign: SHA256(clientDataJSON) as the challenge parameter. */
const viaBrowser = (appId: string, clientDataJSON: string) =>
  ({ op: 'authenticate', appId, challengeParameter: b64url(sha256(Buffer.from(clientDataJSON, 'base64url'))), keyHandle: regA.keyHandle }) as const;

/** Our own software device (node:crypto), for answers Authen::U2F::Tester never gives. */
function softDevice() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const registration = {
    keyHandle: randomBytes(64),
    publicKey: Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]),
  };
  const answer = (clientData: Record<string, unknown>, { appId = APPID, flags = 0x01, counter = 9 } = {}) => {
    const data = Buffer.from(JSON.stringify(clientData));
    const flagsAndCounter = Buffer.alloc(5);
    flagsAndCounter[0] = flags;
    flagsAndCounter.writeUInt32BE(counter, 1);
    const signature = sign('sha256', Buffer.concat([sha256(appId), flagsAndCounter, sha256(data)]), privateKey);
    return { keyHandle: b64url(registration.keyHandle), clientData: b64url(data), signatureData: b64url(Buffer.concat([flagsAndCounter, signature])) };
  };
  return { registration, answer };
}

const device = new U2fTester();
let regA: TesterRegistration;
let regB: TesterRegistration;
let answerA: TesterSignResponse;
let answerB: TesterSignResponse;
let answerA2: TesterSignResponse;
let answerOtherAppid: TesterSignResponse;
let answerOtherChallenge: TesterSignResponse;
let webAuthnA: TesterAuthentication;
let webAuthnCreate: TesterAuthentication;
let webAuthnCrossOrigin: TesterAuthentication;
let webAuthnForRpId: TesterAuthentication;

beforeAll(() => {
  // Registered in one call and signed in the next: the device's key handles outlive its process.
  [regA, regB] = device.run<[TesterRegistration, TesterRegistration]>([
    { op: 'register', appId: APPID, challenge: b64url(randomBytes(32)) },
    { op: 'register', appId: APPID, challenge: b64url(randomBytes(32)) },
  ]);
  const challenge = b64url(CHALLENGE);
  type Signed = TesterSignResponse;
  type ViaBrowser = TesterAuthentication;
  [answerA, answerB, answerA2, answerOtherAppid, answerOtherChallenge, webAuthnA, webAuthnCreate, webAuthnCrossOrigin, webAuthnForRpId] = device.run<
    [Signed, Signed, Signed, Signed, Signed, ViaBrowser, ViaBrowser, ViaBrowser, ViaBrowser]
  >([
    { op: 'sign', appId: APPID, challenge, keyHandles: [regA.keyHandle] },
    { op: 'sign', appId: APPID, challenge, keyHandles: [regB.keyHandle] },
    { op: 'sign', appId: APPID, challenge, keyHandles: [regA.keyHandle] },
    { op: 'sign', appId: OTHER_APPID, challenge, keyHandles: [regA.keyHandle] },
    { op: 'sign', appId: APPID, challenge: b64url(OTHER_CHALLENGE), keyHandles: [regA.keyHandle] },
    viaBrowser(APPID, browserClientData()),
    viaBrowser(APPID, browserClientData({ type: 'webauthn.create' })),
    viaBrowser(APPID, browserClientData({ crossOrigin: true })),
    viaBrowser('pve.example.com', browserClientData()),
  ]);
});

describe('a raw U2F answer from a U2F device (Authen::U2F::Tester)', () => {
  it('is accepted for the challenge tfactl issued, with the device counter and user presence', () => {
    expect(check(registrationOf(regA), answerA)).toEqual({ valid: true, format: 'u2f', counter: 1, userPresent: true });
  });

  it('is accepted as JSON text as well as parsed, and names its key handle', () => {
    expect(check(registrationOf(regA), JSON.stringify(answerA))).toMatchObject({ valid: true, counter: 1 });
    expect(u2fAnswerKeyHandle(answerA)).toEqual(registrationOf(regA).keyHandle);
    expect(u2fAnswerKeyHandle(JSON.stringify(answerB))).toEqual(registrationOf(regB).keyHandle);
  });

  it('reports the counter going up with every answer of the device', () => {
    expect(check(registrationOf(regA), answerA2)).toMatchObject({ valid: true, counter: 3 });
    expect(check(registrationOf(regB), answerB)).toMatchObject({ valid: true, counter: 2 });
  });

  it('is refused when it was signed for another appid', () => {
    // The client data names the appid it was made for as its origin; allowing that origin leaves
    // only the signature, over SHA256(appid), to tell.
    expect(check(registrationOf(regA), answerOtherAppid, { u2fOrigin: OTHER_APPID })).toEqual({ valid: false, reason: 'bad-signature' });
    expect(check(registrationOf(regA), answerOtherAppid)).toEqual({ valid: false, reason: 'wrong-origin' });
    expect(check(registrationOf(regA), answerA, { appId: OTHER_APPID })).toEqual({ valid: false, reason: 'bad-signature' });
  });

  it('is refused when its client data names another origin than the allowed ones', () => {
    expect(check(registrationOf(regA), answerA, { u2fOrigin: 'https://pve.example.com' })).toEqual({ valid: false, reason: 'wrong-origin' });
    // A raw answer names the U2F origin, never a web page's: those are for a browser's answers.
    expect(check(registrationOf(regA), answerA, { u2fOrigin: 'https://pve.example.com', pageOrigins: [APPID] })).toEqual({ valid: false, reason: 'wrong-origin' });
    const browser = browserAnswer(regA.keyHandle, browserClientData(), webAuthnA);
    expect(check(registrationOf(regA), browser, { u2fOrigin: 'https://pve.example.com', pageOrigins: [APPID] })).toMatchObject({ valid: true });
  });

  it('is refused when it answers another challenge', () => {
    expect(check(registrationOf(regA), answerOtherChallenge)).toEqual({ valid: false, reason: 'wrong-challenge' });
    expect(check(registrationOf(regA), answerA, { challenge: OTHER_CHALLENGE })).toEqual({ valid: false, reason: 'wrong-challenge' });
  });

  it('is refused when its signature, flags, counter or client data were changed', () => {
    const reg = registrationOf(regA);
    const lastByte = (b: Buffer) => void (b[b.length - 1]! ^= 0x01);
    expect(check(reg, tamper(answerA, 'signatureData', lastByte))).toEqual({ valid: false, reason: 'bad-signature' });
    expect(check(reg, tamper(answerA, 'signatureData', (b) => void (b[4]! += 1)))).toEqual({ valid: false, reason: 'bad-signature' });
    expect(check(reg, tamper(answerA, 'signatureData', (b) => void (b[0] = 0x05)))).toEqual({ valid: false, reason: 'bad-signature' });
    // The same members written differently are other bytes: the signature covers the bytes.
    const clientData = JSON.parse(Buffer.from(answerA.clientData, 'base64url').toString()) as Record<string, unknown>;
    expect(check(reg, { ...answerA, clientData: b64url(JSON.stringify(clientData, null, 1)) })).toEqual({ valid: false, reason: 'bad-signature' });
  });

  it('is refused when it was made with another key handle', () => {
    expect(check(registrationOf(regA), answerB)).toEqual({ valid: false, reason: 'unknown-key-handle' });
    // Another key's signature under this registration's key handle.
    expect(check(registrationOf(regA), { ...answerB, keyHandle: regA.keyHandle })).toEqual({ valid: false, reason: 'bad-signature' });
    expect(check(registrationOf(regB), answerA)).toEqual({ valid: false, reason: 'unknown-key-handle' });
  });

  it('is refused against a registration whose public key is not a P-256 point', () => {
    const reg = registrationOf(regA);
    const offCurve = Buffer.from(reg.publicKey);
    offCurve[64]! ^= 0x01;
    expect(check({ ...reg, publicKey: offCurve }, answerA)).toEqual({ valid: false, reason: 'unusable-registration' });
    expect(check({ ...reg, publicKey: reg.publicKey.subarray(0, 33) }, answerA)).toEqual({ valid: false, reason: 'unusable-registration' });
  });
});

describe("a registration as Proxmox's tfa.cfg keeps it", () => {
  /** The `entry` of a tfa.cfg u2f entry: key handle base64url without padding, the point in standard base64. */
  const proxmoxEntry = (r: TesterRegistration) => ({
    key: { keyHandle: r.keyHandle, version: 'U2F_V2' },
    'public-key': Buffer.from(r.publicKey, 'base64url').toString('base64'),
  });

  it("signs in with the device's answer", () => {
    const registration = u2fRegistrationFromProxmox(proxmoxEntry(regA));
    expect(registration).toEqual(registrationOf(regA));
    expect(check(registration!, answerA)).toMatchObject({ valid: true });
  });

  it('is refused when it is not one: other fields, other encodings, a point off the curve', () => {
    const entry = proxmoxEntry(regA);
    const point = Buffer.from(entry['public-key'], 'base64');
    point[64]! ^= 1;
    for (const bad of [
      null,
      [],
      { ...entry, key: undefined },
      { ...entry, key: { keyHandle: '' } },
      { ...entry, key: { keyHandle: `${regA.keyHandle}+` } },
      { ...entry, 'public-key': regA.publicKey.replace(/^(.)/, '-') },
      { ...entry, 'public-key': point.subarray(1).toString('base64') },
      { ...entry, 'public-key': point.toString('base64') },
    ]) {
      expect(u2fRegistrationFromProxmox(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});

describe('a raw U2F answer the Tester never gives (our node:crypto device)', () => {
  const soft = softDevice();
  const clientData = { typ: 'navigator.id.getAssertion', challenge: b64url(CHALLENGE), origin: APPID, cid_pubkey: 'unused' };

  it('is accepted when well made, whatever the order of the client data members', () => {
    expect(check(soft.registration, soft.answer(clientData, { counter: 0xfffffffe }))).toEqual({ valid: true, format: 'u2f', counter: 0xfffffffe, userPresent: true });
    const { origin, typ, challenge } = clientData;
    expect(check(soft.registration, soft.answer({ origin, challenge, typ }))).toMatchObject({ valid: true });
  });

  it('is refused when the device says the user was not present, though signed', () => {
    expect(check(soft.registration, soft.answer(clientData, { flags: 0x00 }))).toEqual({ valid: false, reason: 'user-not-present' });
    expect(check(soft.registration, soft.answer(clientData, { flags: 0x04 }))).toEqual({ valid: false, reason: 'user-not-present' });
  });

  it('is refused when its client data is of a registration or of WebAuthn', () => {
    expect(check(soft.registration, soft.answer({ ...clientData, typ: 'navigator.id.finishEnrollment' }))).toEqual({ valid: false, reason: 'wrong-type' });
    const { typ: _typ, ...untyped } = clientData;
    expect(check(soft.registration, soft.answer({ ...untyped, type: 'webauthn.get' }))).toEqual({ valid: false, reason: 'wrong-type' });
  });

  it('is refused when its challenge is missing, not base64url or padded into other bytes', () => {
    expect(check(soft.registration, soft.answer({ ...clientData, challenge: undefined }))).toEqual({ valid: false, reason: 'wrong-challenge' });
    expect(check(soft.registration, soft.answer({ ...clientData, challenge: CHALLENGE.toString('base64') + '!' }))).toEqual({ valid: false, reason: 'wrong-challenge' });
    expect(check(soft.registration, soft.answer({ ...clientData, challenge: b64url(Buffer.concat([CHALLENGE, Buffer.from([0])])) }))).toEqual({
      valid: false,
      reason: 'wrong-challenge',
    });
  });
});

describe("a browser's WebAuthn answer with the appid extension", () => {
  it('is accepted: the U2F device signed authenticator data over SHA256(appid) and the client data hash', () => {
    const answer = browserAnswer(regA.keyHandle, browserClientData(), webAuthnA);
    expect(check(registrationOf(regA), answer)).toEqual({ valid: true, format: 'webauthn-appid', counter: 101, userPresent: true });
    expect(check(registrationOf(regA), JSON.stringify(answer))).toMatchObject({ valid: true });
    expect(u2fAnswerKeyHandle(answer)).toEqual(registrationOf(regA).keyHandle);
  });

  it('is accepted with only one of id and rawId, refused when they differ', () => {
    const { id: _id, ...onlyRawId } = browserAnswer(regA.keyHandle, browserClientData(), webAuthnA);
    expect(check(registrationOf(regA), onlyRawId)).toMatchObject({ valid: true });
    const { rawId: _rawId, ...onlyId } = browserAnswer(regA.keyHandle, browserClientData(), webAuthnA);
    expect(check(registrationOf(regA), onlyId)).toMatchObject({ valid: true });
    const answer = browserAnswer(regA.keyHandle, browserClientData(), webAuthnA);
    expect(check(registrationOf(regA), { ...answer, id: regB.keyHandle })).toEqual({ valid: false, reason: 'malformed-answer' });
  });

  it('is refused for another registration, challenge, origin or ceremony', () => {
    const answer = browserAnswer(regA.keyHandle, browserClientData(), webAuthnA);
    expect(check(registrationOf(regB), answer)).toEqual({ valid: false, reason: 'unknown-key-handle' });
    expect(check(registrationOf(regA), answer, { challenge: OTHER_CHALLENGE })).toEqual({ valid: false, reason: 'wrong-challenge' });
    expect(check(registrationOf(regA), answer, { u2fOrigin: 'https://pve.example.com' })).toEqual({ valid: false, reason: 'wrong-origin' });
    expect(check(registrationOf(regA), browserAnswer(regA.keyHandle, browserClientData({ type: 'webauthn.create' }), webAuthnCreate))).toEqual({
      valid: false,
      reason: 'wrong-type',
    });
    expect(check(registrationOf(regA), browserAnswer(regA.keyHandle, browserClientData({ crossOrigin: true }), webAuthnCrossOrigin))).toEqual({
      valid: false,
      reason: 'wrong-origin',
    });
  });

  it('is refused when its authenticator data is for an RP id, not the appid', () => {
    expect(check(registrationOf(regA), browserAnswer(regA.keyHandle, browserClientData(), webAuthnForRpId))).toEqual({ valid: false, reason: 'wrong-appid' });
    expect(check(registrationOf(regA), browserAnswer(regA.keyHandle, browserClientData(), webAuthnA), { appId: 'pve.example.com' })).toEqual({
      valid: false,
      reason: 'wrong-appid',
    });
  });

  it('is refused when its signature, authenticator data or client data were changed', () => {
    const answer = browserAnswer(regA.keyHandle, browserClientData(), webAuthnA);
    const changed = (field: 'signature' | 'authenticatorData' | 'clientDataJSON', change: (b: Buffer) => void) => ({
      ...answer,
      response: tamper(answer.response, field, change),
    });
    expect(check(registrationOf(regA), changed('signature', (b) => void (b[10]! ^= 0x40)))).toEqual({ valid: false, reason: 'bad-signature' });
    expect(check(registrationOf(regA), changed('authenticatorData', (b) => void (b[36]! ^= 0x01)))).toEqual({ valid: false, reason: 'bad-signature' });
    expect(check(registrationOf(regA), changed('authenticatorData', (b) => void (b[32]! ^= 0x04)))).toEqual({ valid: false, reason: 'bad-signature' });
    const spaced = b64url(JSON.stringify(JSON.parse(Buffer.from(answer.response.clientDataJSON, 'base64url').toString()), null, 2));
    expect(check(registrationOf(regA), { ...answer, response: { ...answer.response, clientDataJSON: spaced } })).toEqual({ valid: false, reason: 'bad-signature' });
  });
});

describe('any answer, however broken (property)', () => {
  const isFailure = (r: ReturnType<typeof verifyU2fSignIn>) => r.valid === false && FAILURES.includes(r.reason);

  it('is a typed failure, never an exception: any JSON value, any text, any bytes', () => {
    const reg = () => registrationOf(regA);
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.string(), fc.anything(), fc.uint8Array().map((b) => Buffer.from(b).toString('latin1'))), (answer) => {
        expect(isFailure(check(reg(), answer))).toBe(true);
        const handle = u2fAnswerKeyHandle(answer);
        expect(handle === null || Buffer.isBuffer(handle)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('is a typed failure for answers of the right shape with any field contents', () => {
    const base64urlOf = fc.uint8Array({ maxLength: 120 }).map(b64url);
    const text = fc.oneof(base64urlOf, fc.string(), fc.constant(regA.keyHandle));
    const clientData = fc
      .record({ typ: fc.oneof(fc.constant('navigator.id.getAssertion'), fc.string()), challenge: fc.oneof(fc.constant(b64url(CHALLENGE)), fc.string()), origin: fc.oneof(fc.constant(APPID), fc.string()) }, { requiredKeys: [] })
      .map((cd) => b64url(JSON.stringify(cd)));
    const raw = fc.record({ keyHandle: text, clientData: fc.oneof(clientData, text), signatureData: text }, { requiredKeys: [] });
    const browser = fc.record({
      id: text,
      rawId: text,
      type: fc.oneof(fc.constant('public-key'), fc.string()),
      response: fc.record({ clientDataJSON: fc.oneof(clientData, text), authenticatorData: text, signature: text }, { requiredKeys: [] }),
    });
    fc.assert(
      fc.property(fc.oneof(raw, browser), (answer) => {
        expect(isFailure(check(registrationOf(regA), answer))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('is refused when any one bit of a good answer is flipped', () => {
    const fields = ['keyHandle', 'clientData', 'signatureData'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.nat(), fc.integer({ min: 0, max: 7 }), (field, at, bit) => {
        const bad = tamper(answerA, field, (b) => void (b[at % b.length]! ^= 1 << bit));
        expect(isFailure(check(registrationOf(regA), bad))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
