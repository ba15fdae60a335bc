import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { verify } from 'node:crypto';
import { decodeCBOR } from '@levischuck/tiny-cbor';
import { verifyAuthenticationResponse } from '@simplewebauthn/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { u2fCredentialFromProxmox, webauthnCredentialFromProxmox, type WebauthnCredential } from '../../src/domain/proxmox-credentials.js';
import { assertionPublicKey } from '../../src/domain/fido.js';
import { u2fRegistrationFromProxmox, verifyU2fSignIn } from '../../src/domain/u2f.js';
import { UsageError } from '../../src/errors.js';
import { U2fTester, type TesterRegistration, type TesterSignResponse } from '../fixtures/u2f-tester.js';

/**
 * The credentials are made from real key pairs (node:crypto), written the three ways Proxmox wrote
 * them, and checked against independent implementations: @simplewebauthn/server must verify a real
 * signature with the COSE key, node:crypto with the JWK.
 */

const WHERE = 'tfa.cfg: user "alice@pve": webauthn entry "w1"';

type Encoding = 'base64url' | 'array' | 'base64';
const ENCODINGS: readonly Encoding[] = ['base64url', 'array', 'base64'];

/** A byte string as one of webauthn-rs's versions wrote it. */
function encode(bytes: Uint8Array, encoding: Encoding): string | number[] {
  if (encoding === 'array') return [...bytes];
  return Buffer.from(bytes).toString(encoding);
}

const b64url = (bytes: Uint8Array | Buffer): string => Buffer.from(bytes).toString('base64url');
const fromB64url = (text: string): Buffer => Buffer.from(text, 'base64url');

interface TestKey {
  readonly kind: 'ES256' | 'RS256' | 'EDDSA';
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The webauthn-rs `cred.key` object with every byte string written by `enc`. */
  keyJson(enc: (field: string, bytes: Uint8Array) => unknown): Record<string, unknown>;
}

function ecKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    kind: 'ES256',
    privateKey,
    publicKey,
    keyJson: (enc) => ({ EC_EC2: { curve: 'SECP256R1', x: enc('x', fromB64url(jwk.x!)), y: enc('y', fromB64url(jwk.y!)) } }),
  };
}

function rsaKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  // webauthn-rs keeps e as exactly three bytes.
  const e = Buffer.alloc(3);
  fromB64url(jwk.e!).copy(e, 3 - fromB64url(jwk.e!).length);
  return { kind: 'RS256', privateKey, publicKey, keyJson: (enc) => ({ RSA: { n: enc('n', fromB64url(jwk.n!)), e: enc('e', e) } }) };
}

function edKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  return { kind: 'EDDSA', privateKey, publicKey, keyJson: (enc) => ({ EC_OKP: { curve: 'ED25519', x: enc('x', fromB64url(jwk.x!)) } }) };
}

function proxmoxEntry(key: TestKey, credentialId: Uint8Array, enc: (field: string, bytes: Uint8Array) => unknown, more: Record<string, unknown> = {}) {
  return { cred_id: enc('cred_id', credentialId), cred: { type_: key.kind, key: key.keyJson(enc) }, counter: 3, ...more };
}

/** Signs a WebAuthn assertion as an authenticator would, and has @simplewebauthn/server check it. */
async function simpleWebauthnVerifies(key: TestKey, credential: WebauthnCredential, signWith: KeyObject = key.privateKey): Promise<boolean> {
  const rpId = 'pve.example.com';
  const origin = 'https://pve.example.com:8006';
  const challenge = b64url(Buffer.from('a challenge of thirty-two bytes!'));
  const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin, crossOrigin: false }));
  const counter = Buffer.alloc(4);
  counter.writeUInt32BE(5);
  // rpIdHash | flags (user present, user verified) | signature counter
  const authData = Buffer.concat([createHash('sha256').update(rpId).digest(), Buffer.from([0x05]), counter]);
  const signed = Buffer.concat([authData, createHash('sha256').update(clientData).digest()]);
  const signature = sign(key.kind === 'EDDSA' ? null : 'sha256', signed, signWith);
  const id = b64url(credential.credentialId);
  try {
    const result = await verifyAuthenticationResponse({
      response: {
        id,
        rawId: id,
        type: 'public-key',
        response: { clientDataJSON: b64url(clientData), authenticatorData: b64url(authData), signature: b64url(signature) },
        clientExtensionResults: {},
      },
      expectedChallenge: challenge,
      expectedOrigin: origin,
      expectedRPID: rpId,
      credential: { id, publicKey: credential.publicKeyCose, counter: credential.counter },
    });
    if (result.verified) expect(result.authenticationInfo.newCounter).toBe(5);
    return result.verified;
  } catch {
    return false;
  }
}

/** Asserts a UsageError naming the place; returns the message. */
function usageErrorOf(parse: () => unknown): string {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    const message = (e as Error).message;
    expect(message.startsWith(`${WHERE}: `)).toBe(true);
    expect(message).not.toMatch(/[\r\n]/);
    return message;
  }
  throw new Error('expected a UsageError');
}

const KEYS = { ES256: ecKey(), RS256: rsaKey(), EDDSA: edKey() };
const CRED_ID = Uint8Array.from(createHash('sha256').update('credential').digest());

describe('webauthnCredentialFromProxmox', () => {
  it.each(Object.values(KEYS))('gives a COSE key that @simplewebauthn/server verifies a real $kind signature with', async (key) => {
    const credential = webauthnCredentialFromProxmox(proxmoxEntry(key, CRED_ID, (_, b) => encode(b, 'base64url')), WHERE);
    expect(credential.algorithm).toBe({ ES256: -7, RS256: -257, EDDSA: -8 }[key.kind]);
    expect(await simpleWebauthnVerifies(key, credential)).toBe(true);
    // The same check with another key's signature fails: the check above is not vacuous.
    const other = { ES256: ecKey, RS256: rsaKey, EDDSA: edKey }[key.kind]();
    expect(await simpleWebauthnVerifies(key, credential, other.privateKey)).toBe(false);
  });

  it.each(Object.values(KEYS))('gives a JWK node:crypto imports as the very $kind key', (key) => {
    const credential = webauthnCredentialFromProxmox(proxmoxEntry(key, CRED_ID, (_, b) => encode(b, 'array')), WHERE);
    const imported = createPublicKey({ key: credential.publicKeyJwk, format: 'jwk' });
    expect(imported.export({ type: 'spki', format: 'der' })).toEqual(key.publicKey.export({ type: 'spki', format: 'der' }));
    const data = Buffer.from('signed data');
    expect(verify(key.kind === 'EDDSA' ? null : 'sha256', data, imported, sign(key.kind === 'EDDSA' ? null : 'sha256', data, key.privateKey))).toBe(true);
    // The sign-in side's key reader (ES256 and RS256 only) takes it for its algorithm.
    if (key.kind !== 'EDDSA') expect(assertionPublicKey(key.kind, credential.publicKeyJwk)).not.toBeNull();
  });

  it('writes the COSE_Key map of RFC 9053 in deterministic order', () => {
    const es = webauthnCredentialFromProxmox(proxmoxEntry(KEYS.ES256, CRED_ID, (_, b) => encode(b, 'base64')), WHERE);
    const map = decodeCBOR(es.publicKeyCose) as Map<number, unknown>;
    expect([...map.keys()]).toEqual([1, 3, -1, -2, -3]);
    expect([map.get(1), map.get(3), map.get(-1)]).toEqual([2, -7, 1]);
    expect(Buffer.from(es.publicKeyCose.subarray(0, 10)).toString('hex')).toBe('a5010203262001215820');
    const rsa = webauthnCredentialFromProxmox(proxmoxEntry(KEYS.RS256, CRED_ID, (_, b) => encode(b, 'array')), WHERE);
    const rsaMap = decodeCBOR(rsa.publicKeyCose) as Map<number, unknown>;
    expect([...rsaMap.keys()]).toEqual([1, 3, -1, -2]);
    expect([rsaMap.get(1), rsaMap.get(3)]).toEqual([3, -257]);
    // 65537 without the leading zero byte webauthn-rs keeps.
    expect(rsaMap.get(-2)).toEqual(Uint8Array.from([1, 0, 1]));
    const ed = webauthnCredentialFromProxmox(proxmoxEntry(KEYS.EDDSA, CRED_ID, (_, b) => encode(b, 'array')), WHERE);
    const edMap = decodeCBOR(ed.publicKeyCose) as Map<number, unknown>;
    expect([...edMap.entries()].slice(0, 3)).toEqual([[1, 1], [3, -8], [-1, 6]]);
  });

  it('reads the older algorithm name ECDSA_SHA256 as ES256, and the counter and backup flags', () => {
    const entry = proxmoxEntry(KEYS.ES256, CRED_ID, (_, b) => encode(b, 'array'), { counter: 4294967295, backup_eligible: true, backup_state: false });
    const credential = webauthnCredentialFromProxmox({ ...entry, cred: { ...entry.cred, type_: 'ECDSA_SHA256' } }, WHERE);
    expect(credential).toMatchObject({ algorithm: -7, counter: 4294967295, backupEligible: true, backupState: false });
    expect(credential.credentialId).toEqual(CRED_ID);
    const older = webauthnCredentialFromProxmox(proxmoxEntry(KEYS.ES256, CRED_ID, (_, b) => encode(b, 'array')), WHERE);
    expect(older).toMatchObject({ backupEligible: null, backupState: null });
  });

  it('normalises the three encodings of one credential, field by field, to the same result', () => {
    const keys = Object.values(KEYS);
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.func(fc.constantFrom(...ENCODINGS)),
        fc.integer({ min: 0, max: 0xffffffff }),
        (key, credentialId, pick, counter) => {
          const canonical = webauthnCredentialFromProxmox(proxmoxEntry(key, credentialId, (_, b) => encode(b, 'base64url'), { counter }), WHERE);
          const mixed = webauthnCredentialFromProxmox(proxmoxEntry(key, credentialId, (field, b) => encode(b, pick(field)), { counter }), WHERE);
          expect(mixed).toEqual(canonical);
          expect(canonical.credentialId).toEqual(credentialId);
          expect(canonical.counter).toBe(counter);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('takes base64 with or without padding, and refuses text that does not decode to itself', () => {
    const id = Uint8Array.from([0xfb, 0xff, 0xfe, 0x01]);
    const entry = (credId: unknown) => ({ ...proxmoxEntry(KEYS.ES256, CRED_ID, (_, b) => encode(b, 'base64url')), cred_id: credId });
    for (const text of ['-__-AQ', '-__-AQ==', '+//+AQ==', '+//+AQ']) expect(webauthnCredentialFromProxmox(entry(text), WHERE).credentialId).toEqual(id);
    expect(usageErrorOf(() => webauthnCredentialFromProxmox(entry('-__+AQ'), WHERE))).toContain('"cred_id" is not base64');
    expect(usageErrorOf(() => webauthnCredentialFromProxmox(entry('-__-AR'), WHERE))).toContain('spare bits');
    expect(usageErrorOf(() => webauthnCredentialFromProxmox(entry('-__-AQ='), WHERE))).toContain('padding');
    expect(usageErrorOf(() => webauthnCredentialFromProxmox(entry('-__-A'), WHERE))).toContain('wrong length');
    expect(usageErrorOf(() => webauthnCredentialFromProxmox(entry([1, 256]), WHERE))).toContain('byte values');
    expect(usageErrorOf(() => webauthnCredentialFromProxmox(entry(''), WHERE))).toContain('1 to 1023 bytes');
  });

  it('refuses malformed entries naming user, entry and field, never the key material', () => {
    const good = proxmoxEntry(KEYS.ES256, CRED_ID, (_, b) => encode(b, 'base64url'));
    const { x, y } = (good.cred.key as { EC_EC2: { x: string; y: string } }).EC_EC2;
    const offCurve = { ...good, cred: { type_: 'ES256', key: { EC_EC2: { curve: 'SECP256R1', x, y: x } } } };
    const message = usageErrorOf(() => webauthnCredentialFromProxmox(offCurve, WHERE));
    expect(message).toContain('not a point on the P-256 curve');
    expect(message).not.toContain(x);
    const cases: [unknown, string][] = [
      ['text', 'must be an object'],
      [{ ...good, counter: -1 }, '"counter"'],
      [{ ...good, counter: 2 ** 32 }, '"counter"'],
      [{ ...good, counter: undefined }, '"counter"'],
      [{ ...good, backup_state: 'yes' }, '"backup_state"'],
      [{ ...good, cred: { ...good.cred, type_: 'ES384' } }, 'algorithm "ES384" is not supported'],
      [{ ...good, cred: { ...good.cred, type_: 'RS256' } }, 'does not go with a EC_EC2 key'],
      [{ ...good, cred: { type_: 'ES256', key: { EC_EC2: { curve: 'SECP384R1', x, y } } } }, 'SECP256R1'],
      [{ ...good, cred: { type_: 'ES256', key: { EC_EC2: { curve: 'SECP256R1', x: x.slice(0, 20), y } } } }, '32 bytes'],
      [{ ...good, cred: { type_: 'ES256', key: { Symmetric: {} } } }, 'key type "Symmetric" is not supported'],
      [{ ...good, cred: { type_: 'ES256', key: { EC_EC2: {}, RSA: {} } } }, 'one of EC_EC2, EC_OKP or RSA'],
      [{ ...good, cred: { type_: 'RS256', key: { RSA: { n: [1, 0, 1], e: [1, 0, 1] } } } }, '1024 to 16384 bits'],
      [{ ...good, cred: { type_: 'EDDSA', key: { EC_OKP: { curve: 'ED448', x } } } }, 'ED25519'],
    ];
    for (const [entry, expected] of cases) expect(usageErrorOf(() => webauthnCredentialFromProxmox(entry, WHERE))).toContain(expected);
    const rsa = proxmoxEntry(KEYS.RS256, CRED_ID, (_, b) => encode(b, 'array'));
    const n = (rsa.cred.key as { RSA: { n: number[] } }).RSA.n;
    expect(usageErrorOf(() => webauthnCredentialFromProxmox({ ...rsa, cred: { type_: 'RS256', key: { RSA: { n, e: [0, 1, 0] } } } }, WHERE))).toContain('odd exponent');
  });

  it('never throws anything but a UsageError on arbitrary or near-valid entries', () => {
    const good = proxmoxEntry(KEYS.ES256, CRED_ID, (_, b) => encode(b, 'base64url'));
    const anything = fc.jsonValue({ maxDepth: 4 });
    const near = fc.record({
      cred_id: fc.oneof(fc.constant(good.cred_id), fc.string(), fc.array(fc.integer({ min: -1, max: 256 })), anything),
      cred: fc.oneof(
        fc.constant(good.cred),
        fc.record({ type_: fc.oneof(fc.constantFrom('ES256', 'RS256', 'EDDSA', 'ECDSA_SHA256', 'toString', '__proto__'), anything), key: anything }),
        anything,
      ),
      counter: fc.oneof(fc.integer(), fc.double(), anything),
      backup_eligible: fc.oneof(fc.boolean(), anything),
    });
    fc.assert(
      fc.property(fc.oneof(anything, near), (entry) => {
        try {
          webauthnCredentialFromProxmox(entry, WHERE);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          expect((e as Error).message.startsWith(`${WHERE}: `)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('u2fCredentialFromProxmox', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const point = publicKey.export({ type: 'spki', format: 'der' }).subarray(-65);
  const keyHandle = Uint8Array.from(createHash('sha512').update('key handle').digest());
  const entry = (more: Record<string, unknown> = {}) => ({
    key: { keyHandle: b64url(keyHandle), version: 'U2F_V2' },
    'public-key': point.toString('base64'),
    ...more,
  });

  it('reads the key handle and the 65-byte point; its JWK verifies a real U2F signature', () => {
    const registration = u2fCredentialFromProxmox(entry(), WHERE);
    expect(registration.keyHandle).toEqual(keyHandle);
    expect(registration.publicKey).toEqual(Uint8Array.from(point));
    const imported = createPublicKey({ key: registration.publicKeyJwk, format: 'jwk' });
    // What a U2F device signs: SHA256(appid) | user presence | counter | SHA256(client data).
    const signed = Buffer.concat([
      createHash('sha256').update('https://pve.example.com:8006').digest(),
      Buffer.from([1, 0, 0, 0, 7]),
      createHash('sha256').update('{"typ":"navigator.id.getAssertion"}').digest(),
    ]);
    expect(verify('sha256', signed, imported, sign('sha256', signed, privateKey))).toBe(true);
  });

  it("reads a registration of Debian's Authen::U2F::Tester as Proxmox stores it; the sign-in check takes it", () => {
    const appId = 'https://pve.example.com:8006';
    const challenge = randomBytes(32);
    const device = new U2fTester();
    const [registration] = device.run<[TesterRegistration]>([{ op: 'register', appId, challenge: b64url(randomBytes(32)) }]);
    const [answer] = device.run<[TesterSignResponse]>([{ op: 'sign', appId, challenge: b64url(challenge), keyHandles: [registration.keyHandle] }]);
    // Proxmox keeps the key handle base64url and the point in standard base64.
    const stored = { key: { keyHandle: registration.keyHandle, version: 'U2F_V2' }, 'public-key': Buffer.from(registration.publicKey, 'base64url').toString('base64') };
    const credential = u2fCredentialFromProxmox(stored, WHERE);
    // The same bytes as the sign-in side's own reader gives, and a real answer verifies with them.
    const lenient = u2fRegistrationFromProxmox(stored);
    expect(lenient).not.toBeNull();
    expect(Buffer.from(credential.keyHandle)).toEqual(Buffer.from(lenient!.keyHandle));
    expect(Buffer.from(credential.publicKey)).toEqual(Buffer.from(lenient!.publicKey));
    expect(verifyU2fSignIn({ registration: credential, appId, u2fOrigin: appId, pageOrigins: [], challenge, answer })).toMatchObject({ valid: true, format: 'u2f' });
    expect(verifyU2fSignIn({ registration: credential, appId: 'https://other.example.com', u2fOrigin: appId, pageOrigins: [], challenge, answer })).toMatchObject({ valid: false });
  });

  it('refuses a damaged registration, naming the place and never the key', () => {
    const offCurve = Buffer.from(point);
    offCurve[64] = offCurve[64]! ^ 1;
    const cases: [unknown, string][] = [
      [entry({ 'public-key': offCurve.toString('base64') }), 'not a point on the P-256 curve'],
      [entry({ 'public-key': point.subarray(1).toString('base64') }), '65 bytes starting 0x04'],
      [entry({ key: { keyHandle: '', version: 'U2F_V2' } }), '1 to 255 bytes'],
      [entry({ key: 'x' }), '"key" must be an object'],
      [{ 'key-handle': 'kh', 'public-key': 'pk' }, '"key" must be an object'],
      [entry({ 'public-key': 'a!b' }), '"public-key" is not base64'],
    ];
    for (const [value, expected] of cases) {
      const message = usageErrorOf(() => u2fCredentialFromProxmox(value, WHERE));
      expect(message).toContain(expected);
      expect(message).not.toContain(offCurve.toString('base64'));
    }
  });

  it('never throws anything but a UsageError on arbitrary entries', () => {
    const near = fc.record({
      key: fc.oneof(fc.record({ keyHandle: fc.oneof(fc.string(), fc.constant(b64url(keyHandle))), version: fc.jsonValue() }), fc.jsonValue()),
      'public-key': fc.oneof(fc.constant(point.toString('base64')), fc.string(), fc.jsonValue()),
    });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 4 }), near), (value) => {
        try {
          u2fCredentialFromProxmox(value, WHERE);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
    );
  });
});
