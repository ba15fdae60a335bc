import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRealmName, parseUserId } from '../../src/domain/userid.js';
import { UsageError } from '../../src/errors.js';

describe('parseUserId', () => {
  it('puts a bare name in realm local', () => {
    expect(parseUserId('alice')).toEqual({ name: 'alice', realm: 'local', id: 'alice@local' });
  });

  it('splits name@realm', () => {
    expect(parseUserId('bob@corp')).toEqual({ name: 'bob', realm: 'corp', id: 'bob@corp' });
    expect(parseUserId('j.doe-1@ad.example')).toMatchObject({ name: 'j.doe-1', realm: 'ad.example' });
  });

  it.each(['', '@local', 'a b', 'a@', 'a@b', 'a@1corp', 'a/b', 'a:b', 'x@y@z', 'tab\there', 'x'.repeat(65), 'a@b c'])(
    'rejects %j with a usage error',
    (input) => {
      expect(() => parseUserId(input)).toThrow(UsageError);
    },
  );

  it('never throws anything but a UsageError, and a parsed id parses to itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (input) => {
        try {
          const id = parseUserId(input);
          expect(parseUserId(id.id)).toEqual(id);
          expect(id.id).toBe(`${id.name}@${id.realm}`);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          expect((e as Error).message).not.toContain('\n');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts every name of safe characters in every valid realm', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9._-]{1,64}$/),
        fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{1,31}$/),
        (name, realm) => {
          expect(parseUserId(`${name}@${realm}`)).toEqual({ name, realm, id: `${name}@${realm}` });
        },
      ),
    );
  });
});

describe('parseRealmName', () => {
  it('accepts names like Proxmox realm ids', () => {
    expect(parseRealmName('pve')).toBe('pve');
    expect(parseRealmName('Corp_AD-2.eu')).toBe('Corp_AD-2.eu');
  });

  it('rejects anything else with a one-line usage error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (input) => {
        const valid = /^[A-Za-z][A-Za-z0-9._-]{1,31}$/.test(input);
        if (valid) expect(parseRealmName(input)).toBe(input);
        else expect(() => parseRealmName(input)).toThrow(UsageError);
      }),
      { numRuns: 2000 },
    );
  });
});
