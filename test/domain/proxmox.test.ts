import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDatacenterCfg, parseDomainsCfg, parseTfaCfg, parseUserCfg, PROXMOX_YUBICO_URL } from '../../src/domain/proxmox.js';
import { unsafeCodePoint } from '../../src/domain/text.js';
import { findRecoverySlot } from '../../src/domain/recovery.js';
import { UsageError } from '../../src/errors.js';

/** Asserts that `parse` throws a one-line UsageError and returns its message. */
function usageErrorOf(parse: () => unknown): string {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    const message = (e as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a UsageError');
}

/** Runs a parser on arbitrary input: it may succeed or throw a one-line UsageError, nothing else. */
function onlyUsageErrors(parse: () => unknown): void {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).not.toMatch(/[\r\n]/);
  }
}

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const RECOVERY_SECRET = '0011223344556677';
// Proxmox's published example: HMAC of key 0123-4567-89ab-cdef under the secret above.
const RECOVERY_HASH = '6ddff9ef3a11c7a64439faffddf663ac89b4a5e6bf5b14bd7189211ce71003a7';
const OTHER_HASH = 'a'.repeat(64);

// A real P-256 public key, for WebAuthn and U2F entries as Proxmox writes them.
const P256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
const POINT = Buffer.concat([Buffer.from([4]), Buffer.from(P256.x!, 'base64url'), Buffer.from(P256.y!, 'base64url')]);
/** A PVE 9 WebAuthn entry (webauthn-rs 0.5: base64url byte strings). */
const WEBAUTHN_ENTRY = { cred_id: 'AQIDBA', cred: { type_: 'ES256', key: { EC_EC2: { curve: 'SECP256R1', x: P256.x, y: P256.y } } }, counter: 3 };
const U2F_ENTRY = { key: { keyHandle: 'a2V5LWhhbmRsZQ', version: 'U2F_V2' }, 'public-key': POINT.toString('base64') };

function tfaCfg(users: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...extra, users }, null, 2);
}

function entry(id: string, value: unknown, more: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, description: `factor ${id}`, created: 1700000000, entry: value, ...more };
}

describe('parseTfaCfg', () => {
  const uri = `otpauth://totp/Proxmox%20VE%20-%20pve1:alice%40pve?secret=${SECRET}&digits=6&algorithm=SHA1&period=30&issuer=Proxmox%20VE%20-%20pve1`;

  it('reads a user with every kind of factor and lock state', () => {
    const text = tfaCfg(
      {
        'alice@pve': {
          totp: [entry('t1', uri), entry('t2', { totp: uri, 'last-count': 56666666 }, { enable: false })],
          webauthn: [entry('w1', WEBAUTHN_ENTRY)],
          u2f: [entry('u1', U2F_ENTRY)],
          yubico: [entry('y1', 'cccccccbcjdk')],
          recovery: { secret: RECOVERY_SECRET, entries: [RECOVERY_HASH, null, OTHER_HASH], created: 1700000100 },
          'totp-locked': true,
          'tfa-locked-until': 1700003700,
        },
      },
      { webauthn: { rp: 'pve1', origin: 'https://pve1:8006', id: 'pve1' } },
    );
    const cfg = parseTfaCfg(text);
    expect(cfg.webauthnConfig).toEqual({ rp: 'pve1', origin: 'https://pve1:8006', id: 'pve1' });
    expect(cfg.webauthn).toEqual({ rpId: 'pve1', rpName: 'pve1', origin: 'https://pve1:8006', allowSubdomains: null, source: 'tfa.cfg' });
    expect(cfg.u2fConfig).toBeNull();
    expect(cfg.u2f).toBeNull();
    expect(cfg.users).toHaveLength(1);
    const alice = cfg.users[0]!;
    expect(alice.userid).toBe('alice@pve');
    expect(alice.totp).toEqual([
      {
        id: 't1',
        description: 'factor t1',
        created: 1700000000,
        enabled: true,
        secret: SECRET,
        params: { algorithm: 'SHA1', digits: 6, period: 30 },
        issuer: 'Proxmox VE - pve1',
        account: 'alice@pve',
        lastCount: null,
      },
      expect.objectContaining({ id: 't2', enabled: false, secret: SECRET, lastCount: 56666666 }),
    ]);
    expect(alice.webauthn[0]).toMatchObject({ id: 'w1', description: 'factor w1', created: 1700000000, enabled: true, entry: WEBAUTHN_ENTRY });
    expect(alice.webauthn[0]?.credential).toMatchObject({ credentialId: Uint8Array.from([1, 2, 3, 4]), algorithm: -7, counter: 3 });
    expect(alice.u2f[0]?.entry).toEqual(U2F_ENTRY);
    expect(alice.u2f[0]?.registration).toMatchObject({ keyHandle: Uint8Array.from(Buffer.from('key-handle')), publicKey: Uint8Array.from(POINT) });
    expect(alice.yubico).toEqual([{ id: 'y1', description: 'factor y1', created: 1700000000, enabled: true, publicId: 'cccccccbcjdk' }]);
    expect(alice.recovery).toEqual({ secret: RECOVERY_SECRET, slots: [RECOVERY_HASH, null, OTHER_HASH], created: 1700000100 });
    expect(alice.totpLocked).toBe(true);
    expect(alice.tfaLockedUntil).toBe(1700003700);
  });

  it('keeps imported recovery hashes working with tfactl recovery keys', () => {
    const cfg = parseTfaCfg(tfaCfg({ 'bob@pam': { recovery: { secret: RECOVERY_SECRET, entries: [null, RECOVERY_HASH], created: 1 } } }));
    const set = cfg.users[0]!.recovery!;
    expect(findRecoverySlot(set.secret, '0123-4567-89ab-cdef', set.slots)).toBe(1);
  });

  it('takes the defaults SHA1, 6 digits and 30 s when the URI gives only the secret', () => {
    const cfg = parseTfaCfg(tfaCfg({ 'a@pve': { totp: [entry('t', `otpauth://totp/a?secret=${SECRET.toLowerCase()}`)] } }));
    expect(cfg.users[0]!.totp[0]).toMatchObject({
      secret: SECRET,
      params: { algorithm: 'SHA1', digits: 6, period: 30 },
      issuer: null,
      account: 'a',
    });
  });

  it('reads other algorithms, digits and periods, and an issuer only in the label', () => {
    const cfg = parseTfaCfg(
      tfaCfg({ 'a@pve': { totp: [entry('t', `otpauth://totp/ACME%3Aa%40pve?period=60&algorithm=SHA256&digits=8&secret=${SECRET}&image=x`)] } }),
    );
    expect(cfg.users[0]!.totp[0]).toMatchObject({ params: { algorithm: 'SHA256', digits: 8, period: 60 }, issuer: 'ACME', account: 'a@pve' });
  });

  it('splits the label at the literal colon, so an issuer may contain an encoded one', () => {
    const cfg = parseTfaCfg(tfaCfg({ 'a@pve': { totp: [entry('t', `otpauth://totp/Lab%3A%20East:a%40pve?secret=${SECRET}`)] } }));
    expect(cfg.users[0]!.totp[0]).toMatchObject({ issuer: 'Lab: East', account: 'a@pve' });
  });

  it('refuses an issuer that breaks the text rule, naming the entry: it is kept and exported', () => {
    for (const issuer of ['ACME%1B%5B2J', 'ACME%E2%80%AE', 'line%0Atwo']) {
      expect(() => parseTfaCfg(tfaCfg({ 'a@pve': { totp: [entry('t', `otpauth://totp/a?secret=${SECRET}&issuer=${issuer}`)] } }))).toThrow(/a@pve.*issuer.*U\+/);
    }
    expect(() => parseTfaCfg(tfaCfg({ 'a@pve': { totp: [entry('t', `otpauth://totp/Bad%07Lab:a?secret=${SECRET}`)] } }))).toThrow(/issuer.*U\+0007/);
  });

  it('ignores the spare bits of a secret\'s last character, as authenticator apps do', () => {
    const cfg = parseTfaCfg(tfaCfg({ 'a@pve': { totp: [entry('t', 'otpauth://totp/a?secret=AAAAAAAAAAAAAAAAA3')] } }));
    expect(cfg.users[0]!.totp[0]?.secret).toBe('AAAAAAAAAAAAAAAAAY');
  });

  it('treats an empty file or a user without factors as nothing to import', () => {
    expect(parseTfaCfg('')).toEqual({ users: [], webauthnConfig: null, u2fConfig: null, webauthn: null, u2f: null });
    expect(parseTfaCfg('{"users":{"c@pve":{}}}').users[0]).toEqual({
      userid: 'c@pve',
      totp: [],
      webauthn: [],
      u2f: [],
      yubico: [],
      recovery: null,
      totpLocked: false,
      tfaLockedUntil: null,
    });
  });

  it('reports broken JSON with its line but never the text around it', () => {
    const text = `{"users": {\n"a@pve": {"totp": [\n{"id": "t", "created": 1, "entry": "otpauth://totp/a?secret=${SECRET}" ,, ]}}}`;
    const message = usageErrorOf(() => parseTfaCfg(text));
    expect(message).toMatch(/^tfa\.cfg is not valid JSON/);
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain('otpauth');
  });

  it('names the user, never the secret, when a TOTP secret is damaged', () => {
    const damaged = 'JBSWY3DPEH1K3PXP';
    const message = usageErrorOf(() => parseTfaCfg(tfaCfg({ 'alice@pve': { totp: [entry('t', `otpauth://totp/a?secret=${damaged}`)] } })));
    expect(message).toContain('"alice@pve"');
    expect(message).toContain('totp entry #1');
    expect(message).not.toContain(damaged);
  });

  it.each([
    ['an unknown factor type', { 'a@pve': { totp: [], sms: [] } }, 'unknown field "sms"'],
    ['a user id without realm', { alice: {} }, 'has no @realm'],
    ['an invalid user id', { 'a b@pve': {} }, 'invalid user id'],
    ['a URI that is not TOTP', { 'a@pve': { totp: [entry('t', `otpauth://hotp/a?secret=${SECRET}`)] } }, 'otpauth://totp/'],
    ['a URI without secret', { 'a@pve': { totp: [entry('t', 'otpauth://totp/a?digits=6')] } }, 'no secret'],
    ['9 digits', { 'a@pve': { totp: [entry('t', `otpauth://totp/a?secret=${SECRET}&digits=9`)] } }, 'invalid digits "9"'],
    ['a broken percent-encoding', { 'a@pve': { totp: [entry('t', `otpauth://totp/a%E0?secret=${SECRET}`)] } }, 'percent-encoding'],
    ['a last-count that is not a number', { 'a@pve': { totp: [entry('t', { totp: `otpauth://totp/a?secret=${SECRET}`, 'last-count': '5' })] } }, 'last-count'],
    ['an entry without id', { 'a@pve': { totp: [{ created: 1, entry: `otpauth://totp/a?secret=${SECRET}` }] } }, '"id"'],
    ['an entry without created', { 'a@pve': { yubico: [{ id: 'y', entry: 'cccccccbcjdk' }] } }, '"created"'],
    ['a bad YubiKey id', { 'a@pve': { yubico: [entry('y', 'cccccccbcjd')] } }, 'YubiKey public id'],
    ['two entries with one id', { 'a@pve': { yubico: [entry('y', 'cccccccbcjdk'), entry('y', 'cccccccbcjdl')] } }, 'share the id'],
    ['a damaged recovery hash', { 'a@pve': { recovery: { secret: RECOVERY_SECRET, entries: ['abc'], created: 1 } } }, 'entry #1'],
    ['a damaged recovery secret', { 'a@pve': { recovery: { secret: 'xyz', entries: [null], created: 1 } } }, '"secret"'],
    ['a description of 257 characters', { 'a@pve': { yubico: [{ ...entry('y', 'cccccccbcjdk'), description: 'd'.repeat(257) }] } }, 'yubico entry #1: invalid description: at most 256 characters'],
    ['an issuer of 257 characters', { 'a@pve': { totp: [entry('t', `otpauth://totp/a?secret=${SECRET}&issuer=${'i'.repeat(257)}`)] } }, "invalid the URI's issuer: at most 256 characters"],
    ['a recovery set of 101 keys (read whole at every sign-in)', { 'a@pve': { recovery: { secret: RECOVERY_SECRET, entries: Array.from({ length: 101 }, () => null), created: 1 } } }, '"entries" has 101 keys (Proxmox makes 10; at most 100 are taken)'],
    ['a lock time that is not a number', { 'a@pve': { 'tfa-locked-until': 'soon' } }, 'tfa-locked-until'],
    ['a description with ESC', { 'a@pve': { yubico: [{ ...entry('y', 'cccccccbcjdk'), description: 'key\u001b[2J' }] } }, 'yubico entry #1: invalid description: it holds U+001B'],
    ['a description with a newline', { 'a@pve': { totp: [{ ...entry('t', `otpauth://totp/a?secret=${SECRET}`), description: 'a\nb' }] } }, 'totp entry #1: invalid description: it holds U+000A'],
    ['a description with a bidi isolate', { 'a@pve': { webauthn: [{ ...entry('w', { cred: 1 }), description: '\u2066x' }] } }, 'invalid description: it holds U+2066'],
    ['a description with a lone surrogate', { 'a@pve': { u2f: [{ ...entry('u', { key: 1 }), description: '\ud800' }] } }, 'invalid description: it holds U+D800'],
  ])('refuses %s, naming the user', (_, users, expected) => {
    const message = usageErrorOf(() => parseTfaCfg(tfaCfg(users)));
    expect(message).toContain(expected);
    expect(message).toMatch(/^tfa\.cfg: /);
  });

  it('puts user ids in canonical form, and refuses two keys that are one user', () => {
    expect(parseTfaCfg(tfaCfg({ 'Alice@PVE': {} })).users.map((u) => u.userid)).toEqual(['alice@pve']);
    expect(usageErrorOf(() => parseTfaCfg(tfaCfg({ 'Alice@pve': {}, 'alice@PVE': {} })))).toContain('are the user "alice@pve"');
  });

  it('refuses a user given twice (JSON would keep only the last, dropping the factors of the first)', () => {
    const text = `{"users":{"alice@pve":${JSON.stringify({ totp: [entry('t1', `otpauth://totp/x?secret=${SECRET}`)] })},"alice@pve":{}}}`;
    expect(usageErrorOf(() => parseTfaCfg(text))).toBe('tfa.cfg: the key "alice@pve" is given twice in one object (only the last would count)');
  });

  it('refuses times no date can show (before 1970, after 9999), as it refuses what is no time', () => {
    const totp = (more: Record<string, unknown>) => tfaCfg({ 'alice@pve': { totp: [entry('t1', `otpauth://totp/x?secret=${SECRET}`, more)] } });
    expect(usageErrorOf(() => parseTfaCfg(totp({ created: 9_000_000_000_000 })))).toContain('"created" must be epoch seconds');
    expect(usageErrorOf(() => parseTfaCfg(totp({ created: Number.MAX_SAFE_INTEGER })))).toContain('"created" must be epoch seconds');
    expect(usageErrorOf(() => parseTfaCfg(tfaCfg({ 'alice@pve': { 'tfa-locked-until': 10_000_000_000_000 } })))).toContain('"tfa-locked-until" must be epoch seconds');
    expect(usageErrorOf(() => parseTfaCfg(totp({ created: 253_402_300_800 })))).toContain('"created" must be epoch seconds (1970 to 9999)');
    expect(usageErrorOf(() => parseTfaCfg(totp({ created: -1 })))).toContain('"created" must be epoch seconds (1970 to 9999)');
    expect(parseTfaCfg(totp({ created: 253_402_300_799 })).users[0]?.totp[0]?.created).toBe(253_402_300_799);
  });

  it('refuses a file that is JSON but not a tfa.cfg', () => {
    expect(usageErrorOf(() => parseTfaCfg('[1,2]'))).toContain('expected a JSON object');
    expect(usageErrorOf(() => parseTfaCfg('{"users":[]}'))).toContain('"users" must be an object');
    expect(usageErrorOf(() => parseTfaCfg('{"users":{},"oath":{}}'))).toContain('unknown field "oath"');
  });

  it('refuses a damaged WebAuthn or U2F entry, naming the user and the entry id', () => {
    const damaged = { ...WEBAUTHN_ENTRY, cred: { type_: 'ES256', key: { EC_EC2: { curve: 'SECP256R1', x: P256.x, y: P256.x } } } };
    const message = usageErrorOf(() => parseTfaCfg(tfaCfg({ 'bob@pve': { webauthn: [entry('9f1c-key', damaged)] } })));
    expect(message).toBe('tfa.cfg: user "bob@pve": webauthn entry "9f1c-key": "cred.key.EC_EC2" is not a point on the P-256 curve');
    expect(message).not.toContain(P256.x);
    const u2f = usageErrorOf(() => parseTfaCfg(tfaCfg({ 'bob@pve': { u2f: [entry('u-7', { ...U2F_ENTRY, 'public-key': 'AAAA' })] } })));
    expect(u2f).toMatch(/^tfa\.cfg: user "bob@pve": u2f entry "u-7": "public-key" must be an uncompressed P-256 point/);
  });

  it("reads tfa.cfg's own WebAuthn and U2F settings (PVE 7.0 and 7.1 kept them there)", () => {
    const cfg = parseTfaCfg(tfaCfg({}, { webauthn: { rp: 'PVE', id: 'PVE.Example.com', 'allow-subdomains': false }, u2f: { appid: 'https://pve.example.com:8006' } }));
    expect(cfg.webauthn).toEqual({ rpId: 'pve.example.com', rpName: 'PVE', origin: null, allowSubdomains: false, source: 'tfa.cfg' });
    expect(cfg.u2f).toEqual({ appId: 'https://pve.example.com:8006', origin: null, source: 'tfa.cfg' });
    expect(usageErrorOf(() => parseTfaCfg(tfaCfg({}, { webauthn: { rp: 'PVE', origin: 'https://pve' } })))).toContain('tfa.cfg: webauthn: no id');
    expect(usageErrorOf(() => parseTfaCfg(tfaCfg({}, { webauthn: { id: 'pve', extra: 1 } })))).toContain('unknown field "extra"');
    expect(usageErrorOf(() => parseTfaCfg(tfaCfg({}, { u2f: { origin: 'https://pve' } })))).toContain('"appid" must be a string');
  });

  it('never throws anything but a UsageError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => onlyUsageErrors(() => parseTfaCfg(text))),
      { numRuns: 1000 },
    );
  });

  it('never throws anything but a UsageError on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => onlyUsageErrors(() => parseTfaCfg(JSON.stringify(value)))),
      { numRuns: 1000 },
    );
  });

  it('never throws anything but a UsageError on near-valid files', () => {
    const anything = fc.jsonValue({ maxDepth: 3 });
    const uriText = fc.oneof(
      fc.constant(uri),
      fc
        .tuple(fc.string({ maxLength: 12 }), fc.string({ unit: fc.constantFrom(...'ABCXYZ234567=%a1'), maxLength: 40 }), fc.string({ maxLength: 20 }))
        .map(([label, secret, tail]) => `otpauth://totp/${label}?secret=${secret}&${tail}`),
    );
    const entryValue = fc.oneof(uriText, fc.record({ totp: uriText, 'last-count': fc.oneof(fc.integer(), anything) }), anything);
    const oneEntry = fc.record(
      {
        id: fc.oneof(fc.uuid(), anything),
        description: fc.oneof(fc.string(), anything),
        created: fc.oneof(fc.integer(), anything),
        enable: fc.oneof(fc.boolean(), anything),
        entry: entryValue,
      },
      { requiredKeys: [] },
    );
    const userTfa = fc.record(
      {
        totp: fc.array(oneEntry, { maxLength: 3 }),
        webauthn: fc.array(oneEntry, { maxLength: 2 }),
        yubico: fc.array(fc.oneof(oneEntry, fc.constant(entry('y', 'cccccccbcjdk'))), { maxLength: 2 }),
        recovery: fc.oneof(
          anything,
          fc.record({
            secret: fc.oneof(fc.constant(RECOVERY_SECRET), anything),
            entries: fc.array(fc.oneof(fc.constant(RECOVERY_HASH), fc.constant(null), anything)),
            created: fc.integer(),
          }),
        ),
        'totp-locked': fc.oneof(fc.boolean(), anything),
        'tfa-locked-until': fc.oneof(fc.integer(), anything),
      },
      { requiredKeys: [] },
    );
    const users = fc.dictionary(fc.oneof(fc.constantFrom('alice@pve', 'root@pam', 'x@corp'), fc.string({ maxLength: 12 })), userTfa, { maxKeys: 3 });
    fc.assert(
      fc.property(users, (u) => onlyUsageErrors(() => parseTfaCfg(tfaCfg(u)))),
      { numRuns: 1000 },
    );
  });

  it('never repeats a TOTP secret it refuses', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ2345670189'), minLength: 8, maxLength: 120 }), (secret) => {
        try {
          parseTfaCfg(tfaCfg({ 'a@pve': { totp: [entry('t', `otpauth://totp/a?secret=${secret}`)] } }));
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          expect((e as Error).message).not.toContain(secret);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseUserCfg', () => {
  it('reads the reference user line: factors in tfa.cfg', () => {
    expect(parseUserCfg('user:joe@pve:1:0:Joe:Doe:joe@x.y::x:\n').users).toEqual([
      {
        userid: 'joe@pve',
        enabled: true,
        expire: null,
        firstname: 'Joe',
        lastname: 'Doe',
        email: 'joe@x.y',
        comment: null,
        keys: { kind: 'in-tfa-cfg' },
        line: 1,
      },
    ]);
  });

  it('reads a whole user.cfg, skipping groups, pools, roles, ACLs and tokens', () => {
    const text = [
      'user:root@pam:1:0:::root@example.com:::',
      'user:anna@pve:0:1767225599:Anna:M%C3%BCller:anna@example.com:Ops%3A on call %E2%80%94 EU:x!oath:',
      'token:root@pam!ci:0:1::',
      '',
      'group:admins:root@pam,anna@pve::',
      '',
      'pool:lab::vm:100:',
      'role:Auditor2:VM.Audit:',
      '',
      'acl:1:/:@admins:Administrator:',
      '',
    ].join('\n');
    const { users } = parseUserCfg(text);
    expect(users.map((u) => u.userid)).toEqual(['root@pam', 'anna@pve']);
    expect(users[0]).toMatchObject({ enabled: true, expire: null, firstname: null, email: 'root@example.com', keys: { kind: 'none' } });
    expect(users[1]).toEqual({
      userid: 'anna@pve',
      enabled: false,
      expire: '2025-12-31',
      firstname: 'Anna',
      lastname: 'Müller',
      email: 'anna@example.com',
      comment: 'Ops: on call — EU',
      keys: { kind: 'in-tfa-cfg' },
      line: 2,
    });
  });

  it('reads legacy realm keys: base32 and hex TOTP secrets and YubiKey ids', () => {
    const line = 'user:bob@corp:1:0:::::JBSWY3DPEHPK3PXP,3132333435363738393031323334353637383930 cccccccbcjdk;CCCCCCBCJDKF:';
    expect(parseUserCfg(line).users[0]?.keys).toEqual({
      kind: 'legacy',
      totpSecrets: ['JBSWY3DPEHPK3PXP', 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'],
      yubicoIds: ['cccccccbcjdk', 'ccccccbcjdkf'],
    });
  });

  it('accepts CRLF line ends, surrounding white space and comments', () => {
    const { users } = parseUserCfg('# exported\r\n  user: carl@pve : 1 : 0 : Carl ::::\r\n');
    expect(users[0]).toMatchObject({ userid: 'carl@pve', enabled: true, firstname: 'Carl', line: 2 });
  });

  it.each([
    ['an unknown line type', 'user:a@pve:1:0::::::\nfoo:bar\n', 'line 2: not a user'],
    ['a user id without realm', 'user:alice:1:0::::::', 'line 1: user id "alice" has no @realm'],
    ['an enable flag that is not 0 or 1', 'user:a@pve:yes:0::::::', 'line 1: enable must be 0 or 1'],
    ['an expiry that is not epoch seconds', 'user:a@pve:1:2025-01-01::::::', 'line 1: expire must be epoch seconds'],
    ['an expiry past year 9999', 'user:a@pve:1:99999999999999::::::', 'line 1: expire'],
    ['too many fields', 'user:a@pve:1:0:a:b:c:d:e:f:', 'line 1: too many fields'],
    ['a user defined twice', 'user:a@pve:1:0::::::\n\nuser:a@pve:0:0::::::', 'line 3: user "a@pve" is already defined on line 1'],
    ['a key of unknown shape', 'user:a@pve:1:0:::::x1y2z3!:', 'line 1: key #1 is neither'],
    ['a base32 key too short', 'user:a@pve:1:0:::::cccccccbcjdk,ABCDEFGH:', 'line 1: key #2: invalid TOTP secret'],
  ])('refuses %s, naming the line', (_, text, expected) => {
    const message = usageErrorOf(() => parseUserCfg(text));
    expect(message).toContain(`user.cfg ${expected}`);
  });

  it('never repeats a key it refuses', () => {
    const message = usageErrorOf(() => parseUserCfg('user:a@pve:1:0:::::JBSWY3DPEHPK3PX!:'));
    expect(message).not.toContain('JBSWY3DPEHPK3PX');
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ABCXYZ2345670189abcdefcbdlnrtuv!='), minLength: 6, maxLength: 60 }), (key) => {
        try {
          parseUserCfg(`user:a@pve:1:0:::::${key}:`);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          expect((e as Error).message).not.toContain(key);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('decodes names and comments exactly as Proxmox encoded them', () => {
    // PVE::Tools::encode_text: uri_escape of the UTF-8 bytes outside 0x20-0x7e, and of ':'.
    const encodeText = (text: string): string =>
      [...new TextEncoder().encode(text)]
        .map((b) => (b >= 0x20 && b <= 0x7e && b !== 0x3a ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
        .join('');
    // encode_text leaves '%' alone, so text with '%' does not survive the trip, in Proxmox either;
    // the line parser trims spaces at the ends of fields.
    const freeText = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
      .filter((s) => !s.includes('%') && s.trim() === s && s !== '' && unsafeCodePoint(s) === null);
    fc.assert(
      fc.property(freeText, freeText, freeText, (first, last, comment) => {
        const line = `user:u@pve:1:0:${encodeText(first)}:${encodeText(last)}:u@x.y:${encodeText(comment)}::`;
        expect(parseUserCfg(line).users[0]).toMatchObject({ firstname: first, lastname: last, comment });
      }),
      { numRuns: 500 },
    );
  });

  it.each([
    ['a comment with ESC', 'user:u@pve:1:0:::u@x.y:red%1B[31m::', /line 1: invalid comment: it holds U\+001B/],
    ['a comment with a newline', 'user:u@pve:1:0:::u@x.y:two%0Alines::', /line 1: invalid comment: it holds U\+000A/],
    ['a first name with a bidi override', 'user:u@pve:1:0:%E2%80%AEevil::u@x.y:::', /line 1: invalid first name: it holds U\+202E/],
    ['a last name that is not UTF-8', 'user:u@pve:1:0::%C3(::::', /line 1: invalid last name: it holds U\+DCC3 \(a lone surrogate/],
    ['an email address with ESC', 'user:u@pve:1:0:::u\x1b@x.y:::', /line 1: invalid email address: it holds U\+001B/],
    // As user add takes them: listings pad every row to the widest cell.
    ['an email address of 300 characters', `user:u@pve:1:0:::${'e'.repeat(290)}@x.org:::`, /line 1: invalid email address: at most 254 characters/],
    // A line short of two fields: its legacy TOTP key stands where the address goes.
    ['a key where the email address goes', 'user:pxb@pve:1:0:A:B:JBSWY3DPEHPK3PXPlines:', /^user.cfg line 1: invalid email address of 21 characters$/],
    // A line short of one, three or four fields: its keys stand in the comment or a name.
    ['a key where the comment goes', 'user:carol@pve:1:0::::GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ:', /^user.cfg line 1: the comment looks like a TOTP secret \(is the line short of a field\?\); not imported, not repeated$/],
    ['keys where the last name goes', 'user:dave@pve:1:0::GEZDGNBVGY3TQOJQ,3132333435363738393031323334353637383930:', /^user.cfg line 1: the last name looks like a TOTP secret/],
    ['a key where the first name goes', 'user:erin@pve:1:0:GEZDGNBVGY3TQOJQ:', /^user.cfg line 1: the first name looks like a TOTP secret/],
  ])('refuses %s, naming the line and never echoing the text', (_what, line, message) => {
    expect(() => parseUserCfg(line)).toThrow(message);
    try {
      parseUserCfg(line);
    } catch (e) {
      expect((e as Error).message).not.toMatch(/[\x1b\n\u202e]|red|evil|lines|GEZDG|313233/);
    }
  });

  it('never throws anything but a UsageError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => onlyUsageErrors(() => parseUserCfg(text))),
      { numRuns: 1000 },
    );
  });

  it('never throws anything but a UsageError on lines made of user.cfg pieces', () => {
    const field = fc.oneof(
      fc.constantFrom('user', 'group', 'x', 'x!oath', '1', '0', '', 'a@pve', '1767225599', '%C3%BC', '%E0%'),
      fc.constantFrom('JBSWY3DPEHPK3PXP', 'cccccccbcjdk', '3132333435363738393031323334353637383930', 'JBSWY3DP,cccccccbcjdk'),
      fc.string({ maxLength: 10 }),
    );
    const line = fc.array(field, { maxLength: 11 }).map((fields) => fields.join(':'));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), (lines) => onlyUsageErrors(() => parseUserCfg(lines.join('\n')))),
      { numRuns: 1000 },
    );
  });
});

describe('parseDomainsCfg', () => {
  const API_KEY = 'c2VjcmV0LWFwaS1rZXktMDEyMzQ1Njc4OQ==';

  it('reads realms with their types, comments and TFA enforcement', () => {
    const text = [
      'pam: pam',
      '\tcomment Linux PAM standard authentication',
      '',
      '# the default realm',
      'pve: pve',
      '\tcomment Proxmox VE authentication server',
      '\tdefault 1',
      '\ttfa type=oath,digits=8,step=60',
      '',
      'ad: corp',
      '\tdomain corp.example',
      '\tserver1 10.0.0.1',
      `\ttfa type=yubico,id=12345,key=${API_KEY},url=https://yubico.corp.example/wsapi/2.0/verify`,
      '',
      'ldap: lab',
      '\tbase_dn dc=lab',
      '\tuser_attr uid',
      '',
    ].join('\n');
    expect(parseDomainsCfg(text)).toEqual([
      { name: 'pam', type: 'pam', comment: 'Linux PAM standard authentication', enforcement: { kind: 'none' }, line: 1 },
      {
        name: 'pve',
        type: 'pve',
        comment: 'Proxmox VE authentication server',
        enforcement: { kind: 'totp', params: { algorithm: 'SHA1', digits: 8, period: 60 } },
        line: 5,
      },
      {
        name: 'corp',
        type: 'ad',
        comment: null,
        enforcement: { kind: 'yubico', apiId: '12345', apiKey: API_KEY, url: 'https://yubico.corp.example/wsapi/2.0/verify' },
        line: 10,
      },
      { name: 'lab', type: 'ldap', comment: null, enforcement: { kind: 'none' }, line: 15 },
    ]);
  });

  it('puts realm names in lower case, one realm however it is spelt', () => {
    expect(parseDomainsCfg('pve: PVE\n').map((r) => r.name)).toEqual(['pve']);
    expect(usageErrorOf(() => parseDomainsCfg('pve: PVE\n\npam: pve\n'))).toContain('realm "pve" is already defined on line 1');
  });

  it('refuses a realm comment or a validation URL with control characters, naming the line', () => {
    expect(usageErrorOf(() => parseDomainsCfg('pve: pve\n\tcomment a\u001b]0;pwned\u0007\n'))).toMatch(/^domains\.cfg line 2: invalid comment: it holds U\+001B/);
    const url = `pve: pve\n\ttfa type=yubico,id=1,key=${API_KEY},url=https://x.example/\u202everify\n`;
    expect(usageErrorOf(() => parseDomainsCfg(url))).toMatch(/^domains\.cfg line 2: invalid tfa url: it holds U\+202E/);
  });

  it('reads the reference tfa line, and fills in Proxmox defaults', () => {
    expect(parseDomainsCfg('pve: pve\n\ttfa type=oath,digits=6,step=30\n')[0]?.enforcement).toEqual({
      kind: 'totp',
      params: { algorithm: 'SHA1', digits: 6, period: 30 },
    });
    expect(parseDomainsCfg('pve: pve\n  tfa type=oath\n')[0]?.enforcement).toEqual({
      kind: 'totp',
      params: { algorithm: 'SHA1', digits: 6, period: 30 },
    });
    expect(parseDomainsCfg('pve: pve\n\ttfa oath,step=45,algorithm=SHA512\n')[0]?.enforcement).toEqual({
      kind: 'totp',
      params: { algorithm: 'SHA512', digits: 6, period: 45 },
    });
    expect(parseDomainsCfg(`pve: pve\n\ttfa type=yubico,id=1,key="${API_KEY}"\n`)[0]?.enforcement).toEqual({
      kind: 'yubico',
      apiId: '1',
      apiKey: API_KEY,
      url: PROXMOX_YUBICO_URL,
    });
  });

  it('ignores options of the other factor type, as Proxmox does', () => {
    expect(parseDomainsCfg(`pve: pve\n\ttfa type=oath,id=1,key=${API_KEY},digits=6\n`)[0]?.enforcement).toMatchObject({ kind: 'totp' });
  });

  it.each([
    ['an unknown realm type', 'pve: pve\n\nradius: r1\n', 'line 3: unknown realm type "radius"'],
    ['an invalid realm name', 'pve: 1pve\n', 'line 1: invalid realm name'],
    ['a realm defined twice', 'pve: pve\n\npve: pve\n', 'line 3: realm "pve" is already defined on line 1'],
    ['a property outside a section', 'pve: pve\n\n\tcomment x\n', 'line 3: a "key value" line outside'],
    ['a line that is neither header nor property', 'pve: pve\ncomment x\n', 'line 2: expected a "type: name" section header'],
    ['a property set twice', 'pve: pve\n\ttfa type=oath\n\ttfa type=oath\n', 'line 3: "tfa" is already set on line 2'],
    ['an unknown tfa type', 'pve: pve\n\ttfa type=sms\n', 'line 2: tfa type must be oath or yubico'],
    ['an unknown tfa option', 'pve: pve\n\ttfa type=oath,window=2\n', 'line 2: unknown tfa option "window"'],
    ['9 digits', 'pve: pve\n\ttfa type=oath,digits=9\n', 'line 2: invalid digits "9"'],
    ['a step below 10 s', 'pve: pve\n\ttfa type=oath,step=5\n', 'line 2: invalid period "5"'],
    ['a tfa option given twice', 'pve: pve\n\ttfa type=oath,step=30,step=60\n', 'line 2: tfa option "step" is given twice'],
    ['a yubico realm without id', `pve: pve\n\ttfa type=yubico,key=${API_KEY}\n`, 'line 2: tfa type=yubico needs the API id'],
    ['a malformed option list', 'pve: pve\n\ttfa type="oath"x\n', 'line 2: the tfa option list is malformed'],
    ['a yubico url with a password in it', `pve: pve\n\ttfa type=yubico,id=1,key=${API_KEY},url=https://u:pw@otp.example/wsapi/2.0/verify\n`, 'line 2: tfa url may not hold a user or password'],
  ])('refuses %s, naming the line', (_, text, expected) => {
    expect(usageErrorOf(() => parseDomainsCfg(text))).toContain(`domains.cfg ${expected}`);
  });

  it('never repeats a Yubico API key it refuses', () => {
    const message = usageErrorOf(() => parseDomainsCfg('ad: corp\n\ttfa type=yubico,id=1,key=c2VjcmV0!\n'));
    expect(message).toContain('base64 API key');
    expect(message).not.toContain('c2VjcmV0');
  });

  it('never throws anything but a UsageError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => onlyUsageErrors(() => parseDomainsCfg(text))),
      { numRuns: 1000 },
    );
  });

  it('never throws anything but a UsageError on lines made of domains.cfg pieces', () => {
    const option = fc.oneof(
      fc.constantFrom('type=oath', 'type=yubico', 'oath', 'digits=6', 'digits=9', 'step=30', 'step=x', 'algorithm=SHA256'),
      fc.constantFrom('id=1', `key=${API_KEY}`, 'url=https://x', 'url="https://x/a,b"', '"', '=', ''),
      fc.string({ maxLength: 8 }),
    );
    const line = fc.oneof(
      fc.constantFrom('pve: pve', 'pam: pam', 'ad: corp', 'openid: sso', '', '# comment', '\tcomment hello'),
      fc.array(option, { maxLength: 6 }).map((options) => `\ttfa ${options.join(',')}`),
      fc.string({ maxLength: 20 }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), (lines) => onlyUsageErrors(() => parseDomainsCfg(lines.join('\n')))),
      { numRuns: 1000 },
    );
  });
});

describe('parseDatacenterCfg', () => {
  const reference = [
    'keyboard: en-us',
    '# the description of the cluster',
    'webauthn: rp=pve.example.com,origin=https://pve.example.com:8006,id=pve.example.com',
    'u2f: appid=https://pve.example.com:8006,origin=https://pve.example.com:8006',
    'migration: secure,network=10.1.2.0/24',
    '',
  ].join('\n');

  it('reads the webauthn and u2f lines, and passes over the rest', () => {
    expect(parseDatacenterCfg(reference)).toEqual({
      webauthn: { rpId: 'pve.example.com', rpName: 'pve.example.com', origin: 'https://pve.example.com:8006', allowSubdomains: null, source: 'datacenter.cfg line 3' },
      u2f: { appId: 'https://pve.example.com:8006', origin: 'https://pve.example.com:8006', source: 'datacenter.cfg line 4' },
    });
    expect(parseDatacenterCfg('keyboard: de\nno colon here\n')).toEqual({ webauthn: null, u2f: null });
    expect(parseDatacenterCfg('')).toEqual({ webauthn: null, u2f: null });
  });

  it('reads quoted values, allow-subdomains and CRLF line ends; an appid defaults to the origin as written', () => {
    const cfg = parseDatacenterCfg('  webauthn: id=PVE.example.com, rp="PVE, main", allow-subdomains=0 \r\nu2f: origin=https://pve.example.com:8006/\r\n');
    expect(cfg.webauthn).toEqual({ rpId: 'pve.example.com', rpName: 'PVE, main', origin: null, allowSubdomains: false, source: 'datacenter.cfg line 1' });
    // The registrations are bound to the appid string Proxmox used: the origin exactly as written.
    expect(cfg.u2f).toEqual({ appId: 'https://pve.example.com:8006/', origin: 'https://pve.example.com:8006', source: 'datacenter.cfg line 2' });
    expect(parseDatacenterCfg('webauthn: id=pve,allow-subdomains=yes').webauthn?.allowSubdomains).toBe(true);
  });

  it('refuses a bad webauthn or u2f line, naming its line', () => {
    const cases: [string, string][] = [
      ['webauthn: rp=pve,origin=https://pve', 'datacenter.cfg line 2: webauthn: no id'],
      ['webauthn: id=pve,color=red', 'datacenter.cfg line 2: unknown webauthn option "color"'],
      ['webauthn: id=pve,id=pve', 'datacenter.cfg line 2: webauthn option "id" is given twice'],
      ['webauthn: pve', 'datacenter.cfg line 2: a webauthn option without a name'],
      ['webauthn: id=https://pve', 'datacenter.cfg line 2: webauthn: invalid WebAuthn RP id'],
      ['webauthn: id=10.0.0.1', 'an IP address cannot be an RP id'],
      ['webauthn: id=pve,origin=http://pve:8006', 'datacenter.cfg line 2: webauthn: invalid origin "http://pve:8006": an origin must be https://'],
      ['webauthn: id=pve,origin=https://pve/ui', 'without a path'],
      ['webauthn: id=pve,allow-subdomains=maybe', 'datacenter.cfg line 2: allow-subdomains: expected 0 or 1'],
      ['u2f: appid=ftp://pve', 'datacenter.cfg line 2: u2f: invalid U2F appid "ftp://pve"'],
      ['u2f: ', 'datacenter.cfg line 2: u2f: neither appid nor origin is given'],
      ['webauthn: id=pve,rp="unterminated', 'datacenter.cfg line 2: the webauthn option list is malformed'],
    ];
    for (const [line, expected] of cases) expect(usageErrorOf(() => parseDatacenterCfg(`keyboard: en-us\n${line}\n`))).toContain(expected);
    expect(usageErrorOf(() => parseDatacenterCfg('u2f: appid=https://a\n#x\nu2f: appid=https://b\n'))).toBe('datacenter.cfg line 3: u2f is already set on line 1');
  });

  it('keeps any RP id, origin and appid it accepts in canonical form (reading it again changes nothing)', () => {
    const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
    const host = fc.tuple(fc.array(label, { minLength: 1, maxLength: 3 }), fc.constantFrom('com', 'org', 'example', 'localdomain')).map(([l, tld]) => [...l, tld].join('.'));
    const upper = (text: string, flips: boolean[]) => [...text].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c)).join('');
    fc.assert(
      fc.property(host, fc.option(fc.integer({ min: 1, max: 65535 })), fc.array(fc.boolean(), { minLength: 1 }), (name, port, flips) => {
        const origin = `https://${upper(name, flips)}${port === null ? '' : `:${port}`}`;
        const cfg = parseDatacenterCfg(`webauthn: id=${upper(name, flips)},origin=${origin}\nu2f: appid=${origin}`);
        expect(cfg.webauthn?.rpId).toBe(name);
        expect(cfg.webauthn?.origin).toBe(`https://${name}${port === null || port === 443 ? '' : `:${port}`}`);
        expect(cfg.u2f?.appId).toBe(origin);
        const again = parseDatacenterCfg(`webauthn: id=${cfg.webauthn?.rpId},origin=${cfg.webauthn?.origin}`);
        expect(again.webauthn).toEqual({ ...cfg.webauthn, source: 'datacenter.cfg line 1' });
      }),
    );
  });

  it('never throws anything but a UsageError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => onlyUsageErrors(() => parseDatacenterCfg(text))),
      { numRuns: 1000 },
    );
  });

  it('never throws anything but a UsageError on lines made of datacenter.cfg pieces', () => {
    const option = fc.oneof(
      fc.constantFrom('id=pve.example.com', 'rp=PVE', 'origin=https://pve:8006', 'origin=http://x', 'appid=https://pve:8006', 'allow-subdomains=1'),
      fc.constantFrom('id=', 'id=a..b', 'origin=', 'origin="https://a,b"', '"', '=', '', 'appid=pam://x', 'origin=https://[::1]'),
      fc.string({ maxLength: 12 }),
    );
    const line = fc.oneof(
      fc.constantFrom('keyboard: en-us', '', '# comment', 'u2f:', 'webauthn:'),
      fc.tuple(fc.constantFrom('webauthn', 'u2f'), fc.array(option, { maxLength: 5 })).map(([key, options]) => `${key}: ${options.join(',')}`),
      fc.string({ maxLength: 20 }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), (lines) => onlyUsageErrors(() => parseDatacenterCfg(lines.join('\n')))),
      { numRuns: 1000 },
    );
  });
});
