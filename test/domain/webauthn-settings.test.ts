import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatOriginList, originFitsRpId, parseAppId, parseOrigin, parseOriginList, parseRpId, parseRpName, tightenedCeremony } from '../../src/domain/webauthn-settings.js';
import { UsageError } from '../../src/errors.js';

function usageErrorOf(parse: () => unknown): string {
  try {
    parse();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).code).toBe('invalid_setting');
    expect((e as Error).message).not.toMatch(/[\r\n]/);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('WebAuthn and U2F setting values', () => {
  it('takes an RP id as a lower-case domain name or localhost, in ASCII form', () => {
    expect(parseRpId('PVE.Example.com')).toBe('pve.example.com');
    expect(parseRpId('localhost')).toBe('localhost');
    expect(parseRpId('pve1')).toBe('pve1');
    expect(parseRpId('bücher.example')).toBe('xn--bcher-kva.example');
    expect(usageErrorOf(() => parseRpId('https://pve.example.com'))).toContain('without scheme, port or path');
    expect(usageErrorOf(() => parseRpId('pve.example.com:8006'))).toContain('without scheme, port or path');
    expect(usageErrorOf(() => parseRpId('192.168.1.10'))).toContain('IP address');
    expect(usageErrorOf(() => parseRpId('[::1]'))).toContain('without scheme');
    expect(usageErrorOf(() => parseRpId('a_b.example'))).toContain('not a domain name');
    expect(usageErrorOf(() => parseRpId('example.com.'))).toContain('final dot');
    expect(usageErrorOf(() => parseRpId(''))).toContain('empty');
  });

  it('takes an RP name as one line of text', () => {
    expect(parseRpName(' Example Corp ')).toBe('Example Corp');
    expect(usageErrorOf(() => parseRpName('a\u001b[31mb'))).toContain('U+001B');
    expect(usageErrorOf(() => parseRpName('x'.repeat(129)))).toContain('at most 128');
  });

  it('keeps origins in the form browsers report them', () => {
    expect(parseOrigin('https://PVE.example.com:8006/', 'origin')).toBe('https://pve.example.com:8006');
    expect(parseOrigin('https://pve.example.com:443', 'origin')).toBe('https://pve.example.com');
    expect(parseOrigin('http://localhost:4711', 'origin')).toBe('http://localhost:4711');
    expect(usageErrorOf(() => parseOrigin('http://pve.example.com', 'origin'))).toContain('https://');
    expect(usageErrorOf(() => parseOrigin('https://pve.example.com/login', 'origin'))).toContain('without a path');
    expect(usageErrorOf(() => parseOrigin('https://pve.example.com/?', 'origin'))).toContain('without a path');
    expect(usageErrorOf(() => parseOrigin('https://root@pve.example.com', 'origin'))).toContain('user name');
    expect(usageErrorOf(() => parseOrigin('pve.example.com', 'origin'))).toContain('not a URL');
    expect(usageErrorOf(() => parseOrigin('https://08', 'origin'))).toContain('not a URL');
  });

  it('reads a list of origins separated by white space, without duplicates', () => {
    expect(parseOriginList('https://a.example  https://b.example:8006\thttps://A.example/')).toEqual(['https://a.example', 'https://b.example:8006']);
    expect(parseOriginList('')).toEqual([]);
    expect(usageErrorOf(() => parseOriginList('https://a.example,https://b.example'))).toContain('WebAuthn origin');
  });

  it('keeps an appid exactly as written, since registrations are bound to its hash', () => {
    expect(parseAppId('https://pve.example.com:8006/')).toBe('https://pve.example.com:8006/');
    expect(parseAppId('https://PVE.example.com/app-id.json')).toBe('https://PVE.example.com/app-id.json');
    expect(usageErrorOf(() => parseAppId(' https://pve.example.com'))).toContain('white space');
    expect(usageErrorOf(() => parseAppId('pam://pve'))).toContain('https://');
  });

  it('tells whether an origin may use an RP id', () => {
    expect(originFitsRpId('https://pve.example.com:8006', 'example.com')).toBe(true);
    expect(originFitsRpId('https://pve.example.com:8006', 'pve.example.com')).toBe(true);
    expect(originFitsRpId('https://badexample.com', 'example.com')).toBe(false);
  });

  it('reads back a stored list of origins unchanged', () => {
    // A host name starts with a letter: an all-digit host is an IPv4 number to the URL parser
    // ("https://08" is not a URL at all, and is refused by its own test above).
    const origin = fc
      .tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,9}$/), fc.constantFrom('.example', '.com', ''), fc.option(fc.integer({ min: 1, max: 65535 })), fc.constantFrom('', '/'))
      .map(([name, tld, port, slash]) => `https://${name}${tld}${port === null ? '' : `:${port}`}${slash}`);
    fc.assert(
      fc.property(fc.array(origin, { maxLength: 5 }), fc.constantFrom(' ', '  ', '\t', '\n'), (origins, sep) => {
        const stored = formatOriginList(parseOriginList(origins.join(sep)));
        expect(formatOriginList(parseOriginList(stored))).toBe(stored);
        expect(parseOriginList(stored)).toHaveLength(new Set(origins.map((o) => new URL(o).origin)).size);
      }),
    );
  });

  it('never throws anything but a UsageError, whatever it is given', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (text) => {
        for (const parse of [parseRpId, parseRpName, parseOriginList, parseAppId, (t: string) => parseOrigin(t, 'origin')]) {
          try {
            parse(text);
          } catch (e) {
            expect(e).toBeInstanceOf(UsageError);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('a URL with a user name or password in it', () => {
  it('is refused without being repeated (origins, U2F appids, and what is not a URL)', () => {
    for (const parse of [
      () => parseOrigin('https://u:Pw$ecretZZ9@example.com', 'WebAuthn origin'),
      () => parseOriginList('https://example.com https://u:Pw$ecretZZ9@example.com'),
      () => parseAppId('https://u:Pw$ecretZZ9@example.com'),
      () => parseAppId('ftp://u:Pw$ecretZZ9@example.com'),
      () => parseOrigin('u:Pw$ecretZZ9@', 'WebAuthn origin'),
    ]) {
      const message = usageErrorOf(parse);
      expect(message).not.toContain('Pw$ecret');
      expect(message).toMatch(/of \d+ characters \(not repeated: it holds an @\)/);
    }
  });
});

describe('tightenedCeremony', () => {
  const waiting = { origins: ['https://a.example.com', 'https://b.example.com'], userVerification: 'preferred' as const, rpId: 'example.com' };
  it('drops origins taken out and makes user verification required, never the other way', () => {
    expect(tightenedCeremony(waiting, 'example.com', { origins: ['https://b.example.com', 'https://c.example.com'], userVerification: 'required' })).toEqual({
      ...waiting,
      origins: ['https://b.example.com'],
      userVerification: 'required',
    });
    const strict = { ...waiting, userVerification: 'required' as const };
    expect(tightenedCeremony(strict, 'example.com', { origins: waiting.origins, userVerification: 'preferred' })).toEqual(strict);
  });
  it("keeps the loopback page's http://localhost origins under RP id localhost", () => {
    const loopback = { origins: ['http://localhost:4711'], userVerification: 'preferred' as const };
    expect(tightenedCeremony(loopback, 'localhost', { origins: [], userVerification: 'preferred' }).origins).toEqual(['http://localhost:4711']);
  });
});
