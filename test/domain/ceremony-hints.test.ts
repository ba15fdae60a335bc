import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ceremonyHints, type CeremonyHintsInput } from '../../src/domain/ceremony-hints.js';

const URL = 'http://localhost:43117/TOKEN/';
const hints = (env: CeremonyHintsInput['env'], { platform = 'linux', open = true } = {}) => ceremonyHints({ url: URL, port: 43117, env, platform, open });
const LINE = 'ssh -L 43117:127.0.0.1:43117';

describe('ceremonyHints: the SSH tunnel', () => {
  it.each([
    ['the server address and user from SSH_CONNECTION', { SSH_CONNECTION: '198.51.100.7 50022 203.0.113.5 22', USER: 'alice' }, `${LINE} alice@203.0.113.5`, true],
    ['LOGNAME when USER is not set', { SSH_CONNECTION: '198.51.100.7 50022 203.0.113.5 22', LOGNAME: 'bob' }, `${LINE} bob@203.0.113.5`, true],
    ['no user when none is set', { SSH_CONNECTION: '198.51.100.7 50022 203.0.113.5 22' }, `${LINE} 203.0.113.5`, true],
    ['-p for a port other than 22', { SSH_CONNECTION: '198.51.100.7 50022 203.0.113.5 2222', USER: 'alice' }, `${LINE} -p 2222 alice@203.0.113.5`, true],
    ['an IPv6 server address', { SSH_CONNECTION: '2001:db8::7 50022 2001:DB8::5 22', USER: 'alice' }, `${LINE} alice@2001:db8::5`, true],
    ['an IPv4-mapped IPv6 address as IPv4', { SSH_CONNECTION: '::ffff:198.51.100.7 50022 ::ffff:203.0.113.5 22' }, `${LINE} 203.0.113.5`, true],
    ['a placeholder for a loopback address (a tunnel or jump)', { SSH_CONNECTION: '127.0.0.1 50022 127.0.0.1 22', USER: 'alice' }, `${LINE} HOST`, false],
    ['a placeholder for ::1', { SSH_CONNECTION: '::1 50022 ::1 22' }, `${LINE} HOST`, false],
    ['a placeholder for a link-local address', { SSH_CONNECTION: 'fe80::1%eth0 50022 fe80::2%eth0 22' }, `${LINE} HOST`, false],
    ['a placeholder and the port from SSH_CLIENT alone', { SSH_CLIENT: '198.51.100.7 50022 2222', USER: 'alice' }, `${LINE} -p 2222 HOST`, false],
    ['a placeholder for a malformed SSH_CONNECTION', { SSH_CONNECTION: 'garbage', USER: 'alice' }, `${LINE} HOST`, false],
    ['a placeholder for an address that is not one', { SSH_CONNECTION: '1.2.3.4 1 host;rm -rf ~ 22' }, `${LINE} HOST`, false],
    ['no user that would need quoting', { SSH_CONNECTION: '198.51.100.7 50022 203.0.113.5 22', USER: 'a b$(x)' }, `${LINE} 203.0.113.5`, true],
  ] as [string, Record<string, string>, string, boolean][])('uses %s', (_what, env, command, hostKnown) => {
    expect(hints(env).sshTunnel).toEqual({ command, hostKnown });
  });

  it('says nothing of SSH outside a session', () => {
    expect(hints({ DISPLAY: ':0', SSH_CONNECTION: '', USER: 'alice' }).sshTunnel).toBeNull();
  });

  it('puts only characters a shell takes literally in the line, whatever the environment holds (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string(), { nil: undefined }), fc.option(fc.string(), { nil: undefined }), (connection, client, user) => {
        const tunnel = hints({ SSH_CONNECTION: `x ${connection}`, SSH_CLIENT: client, USER: user }).sshTunnel;
        expect(tunnel?.command).toMatch(/^ssh -L 43117:127\.0\.0\.1:43117( -p \d{1,5})? ([A-Za-z0-9_.-]+@)?[A-Za-z0-9.:]+$/);
      }),
    );
  });
});

describe('ceremonyHints: opening a browser', () => {
  it.each([
    ['an X desktop', { DISPLAY: ':0' }, 'linux', true, { program: 'xdg-open', args: [URL] }],
    ['a Wayland desktop', { WAYLAND_DISPLAY: 'wayland-0' }, 'linux', true, { program: 'xdg-open', args: [URL] }],
    ['macOS', {}, 'darwin', true, { program: 'open', args: [URL] }],
    ['no desktop', {}, 'linux', true, null],
    ['an empty DISPLAY', { DISPLAY: '' }, 'linux', true, null],
    ['--no-open on a desktop', { DISPLAY: ':0' }, 'linux', false, null],
    ['--no-open on macOS', {}, 'darwin', false, null],
    ['an SSH session with a forwarded X display (the browser would run far from the key)', { DISPLAY: 'localhost:10.0', SSH_CONNECTION: '1.2.3.4 5 6.7.8.9 22' }, 'linux', true, null],
    ['an SSH session into a Mac', { SSH_CLIENT: '1.2.3.4 5 22' }, 'darwin', true, null],
  ] as [string, Record<string, string>, string, boolean, unknown][])('%s', (_what, env, platform, open, browser) => {
    const h = hints(env, { platform, open });
    expect(h.browser).toEqual(browser);
    expect(h.url).toBe(URL);
  });
});
