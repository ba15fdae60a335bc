import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CEREMONY_RESOURCES,
  ceremonyUrl,
  checkCeremonyAnswer,
  isJsonMediaType,
  loopbackOrigin,
  routeCeremonyRequest,
  type CeremonyRequest,
} from '../../src/domain/loopback-ceremony.js';

const PORT = 43117;
const TOKEN = 'q3Vx7T2mZr5bWcH9kLpA0sYeUiOjNfGdCvBxQzRtMwE';
const matches = (segment: string) => segment === TOKEN;
const route = (req: Partial<CeremonyRequest>) =>
  routeCeremonyRequest({ method: 'GET', target: `/${TOKEN}/`, host: `localhost:${PORT}`, origin: undefined, ...req }, PORT, matches);

describe('the loopback page: where it is', () => {
  it('is at http://localhost:PORT/TOKEN/, the port part of the origin', () => {
    expect(loopbackOrigin(PORT)).toBe('http://localhost:43117');
    expect(ceremonyUrl(PORT, TOKEN)).toBe(`http://localhost:43117/${TOKEN}/`);
  });
});

describe('routeCeremonyRequest', () => {
  it('serves the page, its script, the library, the options (GET) and takes the answer (POST) under the token', () => {
    expect(route({})).toEqual({ serve: 'page' });
    expect(route({ target: `/${TOKEN}/page.js` })).toEqual({ serve: 'script' });
    expect(route({ target: `/${TOKEN}/simplewebauthn-browser.js` })).toEqual({ serve: 'library' });
    expect(route({ target: `/${TOKEN}/options`, origin: `http://localhost:${PORT}` })).toEqual({ serve: 'options' });
    expect(route({ target: `/${TOKEN}/options?x=1` })).toEqual({ serve: 'options' });
    expect(route({ method: 'POST', target: `/${TOKEN}/response`, origin: `http://localhost:${PORT}` })).toEqual({ serve: 'response' });
    expect(route({ target: `/${TOKEN}` })).toEqual({ redirect: `/${TOKEN}/` });
  });

  it.each([
    ['Host 127.0.0.1', { host: `127.0.0.1:${PORT}` }],
    ['Host [::1]', { host: `[::1]:${PORT}` }],
    ['Host of another port', { host: `localhost:${PORT + 1}` }],
    ['Host of another name', { host: `attacker.example:${PORT}` }],
    ['Host in capitals', { host: `LOCALHOST:${PORT}` }],
    ['no Host', { host: undefined }],
    ['Origin of another port', { origin: `http://localhost:${PORT + 1}` }],
    ['Origin https', { origin: `https://localhost:${PORT}` }],
    ['Origin null', { origin: 'null' }],
    ['Origin with a path', { origin: `http://localhost:${PORT}/` }],
    ['a POST without Origin', { method: 'POST', target: `/${TOKEN}/response` }],
  ] as [string, Partial<CeremonyRequest>][])('refuses %s (403), before looking at the path', (_what, req) => {
    expect(route(req)).toMatchObject({ refuse: 403 });
    expect(route({ ...req, target: '/nothing' })).toMatchObject({ refuse: 403 });
  });

  it.each([
    ['/', 404],
    ['/favicon.ico', 404],
    [`/${TOKEN}x/`, 404],
    [`/${TOKEN}/index.html`, 404],
    [`/${TOKEN}/options/`, 404],
    [`/${TOKEN}//options`, 404],
    [`/${TOKEN}/../${TOKEN}/options`, 404],
    [`/${TOKEN}/%6fptions`, 404],
    [`/x/${TOKEN}/`, 404],
    [`http://localhost:${PORT}/${TOKEN}/`, 404],
  ])('refuses %s with %i', (target, status) => {
    expect(route({ target })).toMatchObject({ refuse: status });
  });

  it('takes each resource by its one method only (405)', () => {
    expect(route({ method: 'POST', target: `/${TOKEN}/options`, origin: `http://localhost:${PORT}` })).toMatchObject({ refuse: 405 });
    expect(route({ target: `/${TOKEN}/response` })).toMatchObject({ refuse: 405 });
    expect(route({ method: 'HEAD' })).toMatchObject({ refuse: 405 });
    expect(route({ method: 'OPTIONS', target: `/${TOKEN}/response` })).toMatchObject({ refuse: 405 });
    expect(route({ method: 'POST', target: `/${TOKEN}` , origin: `http://localhost:${PORT}` })).toMatchObject({ refuse: 404 });
  });

  it('serves nothing to any request whose Host, Origin or path is not exactly its own (property)', () => {
    const served = new Set(Object.values(CEREMONY_RESOURCES).map((r) => `/${TOKEN}/${r}`));
    const text = fc.string({ unit: fc.constantFrom(...'/.%?:-_azAZ09'.split(''), TOKEN, 'localhost', `${PORT}`, 'options', 'response', 'page.js'), maxLength: 8 });
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'POST', 'PUT', 'HEAD', 'OPTIONS', 'get'),
        text,
        fc.option(text, { nil: undefined }),
        fc.option(text, { nil: undefined }),
        (method, target, host, origin) => {
          const r = routeCeremonyRequest({ method, target, host, origin }, PORT, matches);
          if (!('serve' in r)) return;
          expect(host).toBe(`localhost:${PORT}`);
          expect(origin === undefined || origin === `http://localhost:${PORT}`).toBe(true);
          expect(served.has(target.split('?')[0]!)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never throws, whatever a client sends (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.option(fc.string(), { nil: undefined }), fc.option(fc.string(), { nil: undefined }), (method, target, host, origin) => {
        const r = routeCeremonyRequest({ method, target, host, origin }, PORT, matches);
        expect(Object.keys(r).length).toBeGreaterThan(0);
      }),
    );
  });
});

describe('isJsonMediaType', () => {
  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['Application/JSON', true],
    ['text/plain', false],
    ['application/jsonx', false],
    ['', false],
    [undefined, false],
  ])('%s -> %s', (type, json) => expect(isJsonMediaType(type)).toBe(json));
});

const registration = {
  id: 'AbC-_1',
  rawId: 'AbC-_1',
  type: 'public-key',
  clientExtensionResults: {},
  response: { clientDataJSON: 'eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIn0', attestationObject: 'o2NmbXRkbm9uZQ', transports: ['usb'] },
};
const authentication = {
  id: 'AbC-_1',
  rawId: 'AbC-_1',
  type: 'public-key',
  clientExtensionResults: {},
  response: { clientDataJSON: 'eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0', authenticatorData: 'SZYN5YgO', signature: 'MEUCIQ', userHandle: 'dXNlcg' },
};

describe('checkCeremonyAnswer', () => {
  it('accepts a RegistrationResponseJSON for a registration and an AuthenticationResponseJSON for a sign-in', () => {
    expect(checkCeremonyAnswer('registration', registration)).toEqual({ ok: true });
    expect(checkCeremonyAnswer('authentication', authentication)).toEqual({ ok: true });
  });

  it('refuses the one for the other', () => {
    expect(checkCeremonyAnswer('registration', authentication)).toEqual({ ok: false, reason: "the answer's response.attestationObject is not base64url" });
    expect(checkCeremonyAnswer('authentication', registration)).toEqual({ ok: false, reason: "the answer's response.authenticatorData is not base64url" });
  });

  it.each([
    ['not an object', [], 'the answer is not a JSON object'],
    ['null', null, 'the answer is not a JSON object'],
    ['another type', { ...registration, type: 'password' }, 'the answer is not a public-key credential'],
    ['an id that is not base64url', { ...registration, id: 'a+b/c=' }, "the answer's id is not base64url"],
    ['an empty rawId', { ...registration, rawId: '' }, "the answer's rawId is not base64url"],
    ['no response', { ...registration, response: 'x' }, 'the answer has no response object'],
    ['clientDataJSON a number', { ...registration, response: { ...registration.response, clientDataJSON: 1 } }, "the answer's response.clientDataJSON is not base64url"],
    ['extension results not an object', { ...registration, clientExtensionResults: [] }, "the answer's clientExtensionResults is not an object"],
  ])('refuses %s', (_what, value, reason) => {
    expect(checkCeremonyAnswer('registration', value)).toEqual({ ok: false, reason });
  });

  it('never throws on any JSON value (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom('registration', 'authentication') as fc.Arbitrary<'registration' | 'authentication'>, fc.jsonValue(), (kind, value) => {
        expect(typeof checkCeremonyAnswer(kind, value).ok).toBe('boolean');
      }),
    );
  });
});
