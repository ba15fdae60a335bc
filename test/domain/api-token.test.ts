import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTokenValue, newTokenSecret, parseTokenName, parseTokenValue, tokenSecretHash, tokenSecretMatches } from '../../src/domain/api-token.js';
import { hideTokenSecrets } from '../../src/domain/text.js';
import { parseUserId } from '../../src/domain/userid.js';
import { UsageError } from '../../src/errors.js';

const SECRET = newTokenSecret(new Uint8Array(32).fill(7));

describe('parseTokenName', () => {
  it.each(['ci', 'deploy-prod', 'a', 'Backup.2026_x', 'a'.repeat(32)])('accepts %s', (name) => {
    expect(parseTokenName(name)).toBe(name);
  });
  it.each(['', '1ci', '-x', 'a'.repeat(33), 'a b', 'a!b', 'a=b', 'é'])('refuses %j with a usage error', (name) => {
    expect(() => parseTokenName(name)).toThrow(UsageError);
  });
});

describe('parseTokenValue', () => {
  it('reads what formatTokenValue writes, in a file with a newline too', () => {
    expect(parseTokenValue(`${formatTokenValue('alice@corp', 'ci', SECRET)}\n`)).toEqual({ userid: 'alice@corp', name: 'ci', secret: SECRET });
    // A bare name is in realm local, and the user id is read in canonical form.
    expect(parseTokenValue(`ALICE!ci=${SECRET}`)).toEqual({ userid: 'alice@local', name: 'ci', secret: SECRET });
    // "!" and "=" may be in a user's name, apart: the token's name and secret have neither.
    expect(parseTokenValue(`a!b@local!ci=${SECRET}`)).toEqual({ userid: 'a!b@local', name: 'ci', secret: SECRET });
    expect(parseTokenValue(`a=b@local!ci=${SECRET}`)).toEqual({ userid: 'a=b@local', name: 'ci', secret: SECRET });
    // Not as a token's `!NAME=`: such a name is no user id (its "secret" would be shown and audited as a name).
    expect(parseTokenValue(`a!b=c@local!ci=${SECRET}`)).toBeNull();
  });

  it.each(['', 'alice', `alice!ci`, `alice=${SECRET}`, `!ci=${SECRET}`, `alice!=${SECRET}`, `alice!ci=`, `alice!ci=${'x'.repeat(257)}`, `alice!ci=sec ret`, `ali ce!ci=${SECRET}`])('is null for %j', (text) => {
    expect(parseTokenValue(text)).toBeNull();
  });

  it('reads a secret of another shape too, to be refused as a wrong one by the store (audited)', () => {
    expect(parseTokenValue('bob@corp!ci=wrong')).toEqual({ userid: 'bob@corp', name: 'ci', secret: 'wrong' });
    expect(parseTokenValue(`alice!ci=${SECRET}x`)).toEqual({ userid: 'alice@local', name: 'ci', secret: `${SECRET}x` });
  });

  it('never throws, and reads back every token it could have written', () => {
    fc.assert(fc.property(fc.string({ maxLength: 120 }), (text) => {
      const parsed = parseTokenValue(text);
      if (parsed) expect(parseTokenValue(formatTokenValue(parsed.userid, parsed.name, parsed.secret))).toEqual(parsed);
    }));
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9._-]{0,20}$/), fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,31}$/), fc.uint8Array({ minLength: 32, maxLength: 32 }), (user, name, bytes) => {
        const secret = newTokenSecret(bytes);
        expect(parseTokenValue(formatTokenValue(`${user}@local`, name, secret))).toEqual({ userid: `${user}@local`, name, secret });
      }),
    );
  });
});

describe('token secrets', () => {
  it('are 43 base64url characters, kept as SHA-256 and compared whole', () => {
    expect(SECRET).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = tokenSecretHash(SECRET);
    expect(stored).toHaveLength(32);
    expect(tokenSecretMatches(SECRET, stored)).toBe(true);
    expect(tokenSecretMatches(`${SECRET.slice(0, -1)}A`, stored)).toBe(false);
    expect(tokenSecretMatches(SECRET, stored.subarray(0, 31))).toBe(false);
  });
});

describe('a token value where a user id belongs', () => {
  it('is refused by parseUserId, and hideTokenSecrets keeps the secret out of any message that quotes it', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z][a-z0-9._-]{0,20}$/),
        fc.stringMatching(/^[a-z][a-z0-9.-]{1,10}$/),
        fc.stringMatching(/^[A-Za-z][A-Za-z0-9._-]{0,31}$/),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (user, realm, name, bytes) => {
          const secret = newTokenSecret(bytes);
          const value = formatTokenValue(`${user}@${realm}`, name, secret);
          // The realm may be left out (local): refused all the same.
          for (const bare of [`${user}!${name}=${secret}`]) expect(() => parseUserId(bare)).toThrow(/^invalid user id: that is an API token's value/);
          let message = '';
          try {
            parseUserId(value);
          } catch (e) {
            expect(e).toBeInstanceOf(UsageError);
            expect((e as UsageError).code).toBe('invalid_userid');
            message = (e as UsageError).message;
          }
          expect(message).toMatch(/^invalid user id: that is an API token's value/);
          expect(message).not.toContain(secret);
          const quoted = hideTokenSecrets(`no factor "${value}" (see it)`);
          expect(quoted).toBe(`no factor "${user}@${realm}!${name}=…" (see it)`);
        },
      ),
    );
  });

  it('leaves other text alone', () => {
    for (const text of ['key=audit.keep-days, value=', 'alice@local has no factor abc', 'a!b', 'a!=b', 'alice@local!ci (a token id)']) {
      expect(hideTokenSecrets(text)).toBe(text);
    }
  });

  it('hides what the plain pattern (tried at every position) hides, in time linear in the text', () => {
    // The pattern without its lookbehind, as it was: right, but quadratic on a long word.
    const plain = (text: string) => text.replace(/([^\s!"'(]*![A-Za-z][A-Za-z0-9._-]{0,31}=)(?!SECRET\b)[^\s"')]+/g, '$1…');
    fc.assert(
      fc.property(fc.stringMatching(/^[a-c!= "'()@.\n-]{0,40}$/), (text) => {
        expect(hideTokenSecrets(text)).toBe(plain(text));
      }),
    );
    for (const text of ['x!y!ci=abc', '(a!ci=b) "c!d=e"', 'a!b!c!d=e!f=g']) expect(hideTokenSecrets(text)).toBe(plain(text));
    const started = process.hrtime.bigint();
    for (const word of ['a'.repeat(65_536), `${'a'.repeat(65_536)}!`, '!a'.repeat(32_768)]) hideTokenSecrets(`unknown command '${word}'`);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(200);
  });
});
