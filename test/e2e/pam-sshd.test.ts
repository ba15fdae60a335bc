import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SoftAuthenticator } from '../fixtures/soft-authenticator.js';
import { startServe, TempStore } from './harness.js';

/**
 * A real sshd (Debian's openssh-server) on a free loopback port, its PAM service the lines
 * `tfactl pam config sshd` prints, under pam_wrapper (nothing in /etc changes), and a real ssh
 * client driven by python3-pexpect: the key, then tfactl's line, then the code from oathtool, or
 * the line fido2-assert printed for a security key (its stand-in: test/fixtures/fido2-assert-paste.mjs).
 */
const store = new TempStore();
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const dir = join(store.dir, 'sshd');
/** The sshd on the store's lines, and the one on the lines through tfactl serve. */
let direct: Sshd;
let served: Sshd;
let serve: ChildProcess;
let recoveryKeys: string[] = [];
const securityKey = new SoftAuthenticator('ES256');
const PASTE = resolve(import.meta.dirname, '../fixtures/fido2-assert-paste.mjs');

const PAM_DIR = readdirSync('/usr/lib').map((d) => join('/usr/lib', d, 'security')).find((d) => {
  try {
    return readdirSync(d).includes('pam_permit.so');
  } catch {
    return false;
  }
});

const DRIVER = `
import json, pexpect, subprocess, sys
spec = json.loads(sys.argv[1])
child = pexpect.spawn('ssh', ['-p', str(spec['port']), '-i', spec['key'], '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'IdentitiesOnly=yes', '-o', 'NumberOfPasswordPrompts=1', 'root@127.0.0.1', 'echo SIGNED-IN'], encoding='utf-8', timeout=30)
shown = ''
try:
    child.expect('Password:')
    shown = child.before
    if spec.get('paste'):
        answer = subprocess.run(spec['paste'], input=shown, capture_output=True, text=True).stdout.strip() or 'no-line-shown'
    else:
        answer = spec['answer'] or subprocess.run(['oathtool', '--totp', '-b', spec['secret']], capture_output=True, text=True).stdout.strip()
    child.sendline(answer)
    child.expect(pexpect.EOF)
    shown += child.before
except pexpect.TIMEOUT:
    shown += '[timeout]' + str(child.before)
child.close()
print(json.dumps({'output': shown, 'status': child.exitstatus}))
`;

/** Signs in as root with the key, answering `Password:` with `answer`, a TOTP code (null), or a security key's line (`paste`). */
function signIn(sshd: Sshd, answer: string | null, paste?: readonly string[]) {
  const r = spawnSync('/usr/bin/python3', ['-c', DRIVER, JSON.stringify({ port: sshd.port, key: join(dir, 'user_key'), secret: SECRET, answer, paste })], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { output: string; status: number | null };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port: p } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return p;
}

beforeAll(async () => {
  mkdirSync(join(dir, 'pam.d'), { recursive: true });
  // sshd's privilege separation directory (Debian makes it at boot).
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  for (const key of ['host_key', 'user_key']) {
    const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, key)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  }
  copyFileSync(join(dir, 'user_key.pub'), join(dir, 'authorized_keys'));
  chmodSync(join(dir, 'authorized_keys'), 0o600);
  await store.run(['init']);
  await store.run(['realm', 'add', 'corp']);
  const added = await store.run(['user', 'add', 'root@corp', '--no-password', '--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none']);
  expect(added.code, added.stderr).toBe(0);
  // A security key besides the TOTP app, enrolled as a web page would (RP id localhost).
  const begun = await store.run(['tfa', 'add', 'webauthn', 'root@corp', '--begin', '--origin', 'http://localhost:8443', '--json']);
  expect(begun.code, begun.stderr).toBe(0);
  const { challenge, publicKey } = begun.json().result;
  const registration = securityKey.register(publicKey, { origin: 'http://localhost:8443' });
  const enrolled = await store.run(['tfa', 'add', 'webauthn', 'root@corp', '--finish', '--challenge', challenge, '--response', '-', '--json'], { input: `${JSON.stringify(registration)}\n` });
  expect(enrolled.code, enrolled.stderr).toBe(0);
  writeFileSync(join(dir, 'key.pem'), securityKey.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  recoveryKeys = (await store.run(['tfa', 'add', 'recovery', 'root@corp', '--json'])).json().result.keys as string[];
  direct = await startSshd('direct', (await store.run(['pam', 'config', 'sshd', '--realm', 'corp'])).stdout);
  // The same through tfactl serve, with an admin's read-only token, as pam config --server prints the lines.
  const sock = join(store.dir, 'run', 'tfactl.sock');
  serve = (await startServe(sock, store.env)).child;
  await store.run(['user', 'add', 'pamadmin@corp', '--no-password', '--admin']);
  const token = (await store.run(['token', 'add', 'pamadmin@corp', 'pam', '--privileges', 'read-only', '--json'])).json().result.value as string;
  writeFileSync(join(dir, 'pam.token'), `${token}\n`, { mode: 0o600 });
  served = await startSshd('served', (await store.run(['pam', 'config', 'sshd', '--realm', 'corp', '--server', sock, '--token', `@${join(dir, 'pam.token')}`])).stdout);
}, 60_000);
afterAll(() => {
  direct?.process.kill('SIGTERM');
  served?.process.kill('SIGTERM');
  serve?.kill('SIGKILL');
  store.remove();
});

interface Sshd {
  readonly process: ChildProcess;
  readonly port: number;
  log(): string;
}

/** An sshd on a free loopback port whose PAM service sshd is `printed` (the lines pam config printed) with account and session lines. */
async function startSshd(name: string, printed: string): Promise<Sshd> {
  const pamDir = join(dir, `${name}.pam.d`);
  mkdirSync(pamDir);
  writeFileSync(join(pamDir, 'sshd'), printed);
  appendFileSync(join(pamDir, 'sshd'), `account required ${PAM_DIR}/pam_permit.so\nsession required ${PAM_DIR}/pam_permit.so\n`);
  const port = await freePort();
  const settings = printed.split('\n').filter((l) => /^# {3}\S/.test(l)).map((l) => l.slice(4));
  const config = join(dir, `${name}.sshd_config`);
  writeFileSync(
    config,
    [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `PidFile ${join(dir, `${name}.sshd.pid`)}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PasswordAuthentication no', 'PermitRootLogin yes', 'StrictModes no', 'LogLevel VERBOSE', ...settings, ''].join('\n'),
  );
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], {
    env: { PATH: process.env.PATH, LD_PRELOAD: 'libpam_wrapper.so', PAM_WRAPPER: '1', PAM_WRAPPER_SERVICE_DIR: pamDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  sshd.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await new Promise<void>((ready, fail) => {
    const timer = setInterval(() => {
      if (log.includes('Server listening')) {
        clearInterval(timer);
        ready();
      }
    }, 50);
    sshd.on('exit', (code) => {
      clearInterval(timer);
      fail(new Error(`sshd exited ${code}: ${log}`));
    });
  });
  return { process: sshd, port, log: () => log };
}

describe('a real sshd with tfactl as the second factor', () => {
  it('signs in with the key, then the TOTP code, showing what to type first', async () => {
    const r = signIn(direct, null);
    expect(r.output).toMatch(/Second factor for root@corp: type a TOTP code or recovery key \(\d+ left\) at the next prompt\./);
    expect(r.output).toContain('SIGNED-IN');
    expect(r.status).toBe(0);
    // sshd's own account of it: the key first, then PAM (its log may come a moment later).
    for (let i = 0; i < 40 && !/Accepted keyboard-interactive\/pam for root/.test(direct.log()); i++) await new Promise((w) => setTimeout(w, 50));
    expect(direct.log()).toMatch(/Partial publickey for root[\s\S]*Accepted keyboard-interactive\/pam for root/);
    const entry = store.auditRows().filter((a) => a.action === 'pam').at(-1);
    expect(entry?.outcome).toBe('ok');
  });

  it('signs in with the key, then a security key: the line fido2-assert printed, pasted at Password:', () => {
    const r = signIn(direct, null, [process.execPath, PASTE, join(dir, 'key.pem'), '50', 'localhost']);
    expect(r.output).toMatch(/printf '%s\\n' \S+ 'localhost' \S+ \| fido2-assert -G DEVICE \| paste -sd ' '/);
    expect(r.output).toContain('SIGNED-IN');
    expect(r.status).toBe(0);
    const entry = store.auditRows().filter((a) => a.action === 'pam').at(-1);
    expect(entry?.outcome).toBe('ok');
    expect(JSON.parse(entry?.detail ?? '{}').method).toBe('webauthn');
  });

  it('refuses a wrong code after the key', () => {
    const r = signIn(direct, '000000');
    expect(r.output).not.toContain('SIGNED-IN');
    expect(r.status).not.toBe(0);
    const entry = store.auditRows().filter((a) => a.action === 'pam').at(-1);
    expect(entry?.outcome).toBe('failed');
    expect(JSON.parse(entry?.detail ?? '{}').pam).toEqual({ service: 'sshd', rhost: '127.0.0.1', tty: 'ssh' });
  });
});

describe('a real sshd with tfactl as the second factor, through tfactl serve (the shell client asks it)', () => {
  it('signs in with the key, then a recovery key, showing what to type first; a wrong one is refused', async () => {
    expect(readFileSync(join(dir, 'served.pam.d', 'sshd'), 'utf8')).toMatch(/expose_authtok quiet \/bin\/sh -p \S+\/tfactl-pam-curl check --server /);
    const r = signIn(served, recoveryKeys[0]!);
    expect(r.output).toMatch(/Second factor for root@corp: type a TOTP code or recovery key \(\d+ left\) at the next prompt\./);
    expect(r.output).toContain('SIGNED-IN');
    expect(r.status).toBe(0);
    const entry = store.auditRows().filter((a) => a.action === 'pam').at(-1);
    expect(entry?.outcome).toBe('ok');
    expect(JSON.parse(entry?.detail ?? '{}')).toMatchObject({ method: 'recovery', via: 'pamadmin@corp!pam', pam: { service: 'sshd', rhost: '127.0.0.1', tty: 'ssh' } });
    const again = signIn(served, recoveryKeys[0]!);
    expect(again.output).not.toContain('SIGNED-IN');
    expect(again.status).not.toBe(0);
  });

  it('signs in with the key, then a security key: the line fido2-assert printed, pasted at Password:', () => {
    const r = signIn(served, null, [process.execPath, PASTE, join(dir, 'key.pem'), '60', 'localhost']);
    expect(r.output).toMatch(/printf '%s\\n' \S+ 'localhost' \S+ \| fido2-assert -G DEVICE \| paste -sd ' '/);
    expect(r.output).toContain('SIGNED-IN');
    expect(JSON.parse(store.auditRows().filter((a) => a.action === 'pam').at(-1)?.detail ?? '{}').method).toBe('webauthn');
  });
});
