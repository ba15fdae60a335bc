import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseRoute, DEFAULT_SOCKET, type RouteInput, type RouteProbe } from '../../src/remote/route.js';

const probe = (store: 'usable' | 'missing' | 'denied', socket: boolean): RouteProbe => ({ store: () => store, isSocket: (p) => socket && p === DEFAULT_SOCKET });
const input = (over: Partial<RouteInput> = {}): RouteInput => ({ command: 'tfa list', db: undefined, server: undefined, env: {}, uid: 1000, home: '/home/alice', ...over });

describe('where a command goes', () => {
  it('goes to the service --server or TFACTL_SERVER names, whatever the store', () => {
    expect(chooseRoute(input({ server: '/s.sock' }), probe('usable', false))).toEqual({ kind: 'service', address: '/s.sock', why: '--server' });
    expect(chooseRoute(input({ env: { TFACTL_SERVER: 'https://h:8443' } }), probe('usable', false))).toEqual({ kind: 'service', address: 'https://h:8443', why: 'TFACTL_SERVER' });
    expect(chooseRoute(input({ server: '/a.sock', env: { TFACTL_SERVER: '/b.sock' } }), probe('usable', false))).toMatchObject({ address: '/a.sock' });
  });

  it('refuses TFACTL_SERVER set but empty (exit 2), as every other TFACTL_ variable: it was not taken as unset', () => {
    expect(() => chooseRoute(input({ env: { TFACTL_SERVER: '' } }), probe('usable', false))).toThrow(
      expect.objectContaining({ code: 'invalid_server', exitCode: 2, message: 'TFACTL_SERVER is set but empty: name the service (its socket, or https://HOST:PORT), or unset it' }),
    );
    // --db names the store: the variable is not looked at.
    expect(chooseRoute(input({ db: '/x.db', env: { TFACTL_SERVER: '' } }), probe('usable', false))).toEqual({ kind: 'store', path: '/x.db' });
  });

  it('uses the store directly with --db, as root, or when this user can open it', () => {
    expect(chooseRoute(input({ db: '/x.db' }), probe('denied', true))).toEqual({ kind: 'store', path: '/x.db' });
    expect(chooseRoute(input({ uid: 0 }), probe('denied', true))).toEqual({ kind: 'store', path: '/var/lib/tfactl/tfactl.db' });
    expect(chooseRoute(input(), probe('usable', true))).toEqual({ kind: 'store', path: '/home/alice/.local/share/tfactl/tfactl.db' });
  });

  it('falls back to the default socket when the store is missing or not this user\'s, and a service listens', () => {
    expect(chooseRoute(input(), probe('missing', true))).toEqual({ kind: 'service', address: DEFAULT_SOCKET, why: 'there is no store at /home/alice/.local/share/tfactl/tfactl.db' });
    expect(chooseRoute(input({ env: { TFACTL_DB: '/var/lib/tfactl/tfactl.db' } }), probe('denied', true))).toEqual({
      kind: 'service',
      address: DEFAULT_SOCKET,
      why: 'the store /var/lib/tfactl/tfactl.db is not yours to open',
    });
    // No service: the store directly, which then says what is wrong (or is created).
    expect(chooseRoute(input(), probe('denied', false))).toMatchObject({ kind: 'store' });
    expect(chooseRoute(input(), probe('missing', false))).toMatchObject({ kind: 'store' });
  });

  it('keeps init, serve, backup and restore on a store of one\'s own unless a service is named, and completion always here', () => {
    for (const command of ['init', 'serve', 'backup', 'restore']) {
      expect(chooseRoute(input({ command }), probe('missing', true)).kind).toBe('store');
      expect(chooseRoute(input({ command, server: '/s.sock' }), probe('missing', true)).kind).toBe('service');
    }
    for (const command of ['completion', '__complete', 'pam config']) expect(chooseRoute(input({ command, server: '/s.sock' }), probe('missing', true)).kind).toBe('store');
  });

  it('never sends a command to a service unless one is named or the store cannot be opened here', () => {
    fc.assert(
      fc.property(fc.constantFrom('usable', 'missing', 'denied'), fc.boolean(), fc.integer({ min: 0, max: 70000 }), fc.option(fc.string()), (store, socket, uid, db) => {
        let route: ReturnType<typeof chooseRoute>;
        try {
          route = chooseRoute(input({ uid, db: db ?? undefined }), probe(store as 'usable', socket));
        } catch (e) {
          // A --db that is no store at all (empty, another kind of URL, a connection string of
          // another shape, blanks around it, a ~ the shell did not expand) goes nowhere.
          expect(e).toMatchObject({ code: 'invalid_store' });
          const text = db ?? '';
          expect(text === '' || /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text) || text.trim() !== text || /^postgres(ql)?:/i.test(text) || /(^|\s)[a-z]+\s*=/i.test(text) || /^~[^/]*(\/|$)/.test(text)).toBe(true);
          return;
        }
        if (route.kind === 'service') expect(socket && store !== 'usable' && uid !== 0 && db === null).toBe(true);
      }),
    );
  });
});
