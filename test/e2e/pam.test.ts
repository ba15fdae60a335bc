import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SoftAuthenticator } from '../fixtures/soft-authenticator.js';
import { BIN, nowSeconds, oathtool, oneLineError, runBin, startServe, TempStore } from './harness.js';

/**
 * tfactl as the second factor of a PAM stack: the lines `tfactl pam config` prints, pasted as
 * printed into a service file, run by Debian's pamtester under pam_wrapper (no change to /etc):
 * pam_exec.so runs the built CLI, which reads the answer pam_exec passes on standard input.
 */
const store = new TempStore();
const PW = 'pam test password';
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const LOCKED_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const ERIN_SECRET = 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U';
let erinKeys: string[] = [];
const RP_ID = 'bastion.example.com';
const fayKey = new SoftAuthenticator('ES256', { counter: 3 });
const PASTE = resolve(import.meta.dirname, '../fixtures/fido2-assert-paste.mjs');
const services = join(store.dir, 'pam.d');
let recoveryKeys: string[] = [];
afterAll(() => store.remove());

/** The lines `tfactl pam config sshd` prints for this store, written as PAM service `name`. */
async function installService(name: string, extra: string[] = [], service = 'sshd'): Promise<string[]> {
  const r = await store.run(['pam', 'config', service, '--realm', 'corp', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  writeFileSync(join(services, name), r.stdout);
  return r.stdout.split('\n');
}

/** pamtester authenticating `user` on service `name`, answering PAM's prompt with `answer`. */
function pamtester(name: string, user: string, answer: string) {
  const r = spawnSync('pamtester', ['-v', '-I', 'rhost=198.51.100.7', '-I', 'tty=pts/3', name, user, 'authenticate'], {
    input: `${answer}\n`,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, LD_PRELOAD: 'libpam_wrapper.so', PAM_WRAPPER: '1', PAM_WRAPPER_SERVICE_DIR: services },
    timeout: 30_000,
  });
  return { ok: r.status === 0 && /successfully authenticated/.test(r.stdout + r.stderr), output: `${r.stdout}${r.stderr}` };
}

/**
 * pamtester on a terminal (python3-pexpect), for an answer that depends on what `pam prompt`
 * showed: `answer` is given, or made by the fido2-assert stand-in from the line shown (a person
 * running it where their key is plugged in, and pasting its one line at `Password:`).
 */
const PTY_DRIVER = `
import json, pexpect, subprocess, sys
spec = json.loads(sys.argv[1])
child = pexpect.spawn('pamtester', ['-v', spec['service'], spec['user'], 'authenticate'], env=spec['env'], encoding='utf-8', timeout=30)
child.expect('Password:')
shown = child.before
answer = spec['answer']
if answer is None:
    made = subprocess.run(spec['paste'], input=shown, capture_output=True, text=True)
    answer = made.stdout.strip() if made.returncode == 0 else 'no-line-shown'
child.sendline(answer)
child.expect(pexpect.EOF)
child.close()
print(json.dumps({'shown': shown, 'answer': answer, 'output': shown + child.before, 'status': child.exitstatus}))
`;
function pamtesterOnTerminal(name: string, user: string, answer: string | null, counter: number) {
  const env = { PATH: process.env.PATH, LD_PRELOAD: 'libpam_wrapper.so', PAM_WRAPPER: '1', PAM_WRAPPER_SERVICE_DIR: services };
  const paste = [process.execPath, PASTE, join(store.dir, 'fay.pem'), String(counter), RP_ID];
  const r = spawnSync('/usr/bin/python3', ['-c', PTY_DRIVER, JSON.stringify({ service: name, user, env, answer, paste })], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as { shown: string; answer: string; output: string; status: number };
  return { ...out, ok: out.status === 0 && /successfully authenticated/.test(out.output) };
}

const lastPamEntry = (target: string) => {
  const rows = store.auditRows().filter((a) => a.action === 'pam' && a.target === target);
  const last = rows.at(-1);
  return last && { outcome: last.outcome, detail: JSON.parse(last.detail ?? '{}') as Record<string, unknown> };
};

beforeAll(async () => {
  mkdirSync(services);
  await store.run(['init']);
  await store.run(['realm', 'add', 'corp']);
  await store.addUser('alice@corp', PW, ['--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none']);
  recoveryKeys = (await store.run(['tfa', 'add', 'recovery', 'alice@corp', '--json'])).json().result.keys;
  await store.addUser('bob@corp', PW);
  await store.addUser('carl@corp', PW, ['--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none', '--disabled']);
  await store.addUser('dora@corp', PW, ['--tfa', 'totp', '--totp-secret', LOCKED_SECRET, '--no-verify', '--qr', 'none']);
  await store.addUser('erin@corp', PW, ['--tfa', 'totp', '--totp-secret', ERIN_SECRET, '--no-verify', '--qr', 'none']);
  erinKeys = (await store.run(['tfa', 'add', 'recovery', 'erin@corp', '--json'])).json().result.keys;
  // fay's security key, imported from Proxmox VE as a site moving to tfactl would bring it.
  const files = { tfa: join(store.dir, 'tfa.cfg'), user: join(store.dir, 'user.cfg'), datacenter: join(store.dir, 'datacenter.cfg') };
  writeFileSync(files.tfa, JSON.stringify({ users: { 'fay@corp': { webauthn: [{ id: 'w-fay', description: 'fay key', created: 1700000000, entry: fayKey.proxmoxEntry() }] } } }));
  writeFileSync(files.user, 'user:fay@corp:1:0:::::\n');
  writeFileSync(files.datacenter, `webauthn: rp=Bastion,origin=https://${RP_ID},id=${RP_ID}\n`);
  const imported = await store.run(['import', 'proxmox', '--tfa-cfg', files.tfa, '--user-cfg', files.user, '--datacenter-cfg', files.datacenter]);
  expect(imported.code, imported.stderr).toBe(0);
  writeFileSync(join(store.dir, 'fay.pem'), fayKey.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  await installService('tfactl-sshd');
  await installService('tfactl-nullok', ['--nullok']);
  await installService('tfactl-sudo', [], 'sudo');
  await installService('tfactl-sudo-nullok', ['--nullok'], 'sudo');
}, 60_000);

describe('tfactl pam config', () => {
  it('prints absolute paths, this store and the options given, and the sshd settings as comments', async () => {
    const lines = await installService('printed', ['--nullok']);
    const rules = lines.filter((l) => l.startsWith('auth '));
    expect(rules).toHaveLength(3);
    for (const rule of rules) expect(rule.split(' ')[2]).toMatch(/^\/.*\/pam_(exec|permit)\.so$/);
    expect(rules[0]).toMatch(new RegExp(`^auth requisite \\S+ stdout quiet /\\S+ /\\S+ --db ${store.db} pam prompt --realm corp --nullok$`));
    expect(rules[1]).toMatch(new RegExp(`^auth required \\S+ expose_authtok quiet /\\S+ /\\S+ --db ${store.db} pam check --realm corp --nullok$`));
    expect(lines).toContain('#   AuthenticationMethods publickey,keyboard-interactive');
    expect(lines.join('\n')).toMatch(/keep a root shell open/);
  });

  it("warns, for realm local, that the login name root is root@local and is refused while it has no second factor", async () => {
    const r = await store.run(['pam', 'config']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("warning: the login name root is root@local, who has no second factor: root's sign-ins through these lines are refused until it has one (tfactl tfa add totp root@local)\n");
    expect((await store.run(['pam', 'config', '--nullok'])).stderr).toBe('');
    expect((await store.run(['pam', 'config', '--realm', 'corp'])).stderr).toBe('');
  });

  it('refuses a --realm no user id can be in, as pam check would (exit 2), printing nothing raw', async () => {
    for (const realm of ['', '\u001b]0;PWNED\u0007', 'x'.repeat(100)]) {
      const r = await store.run(['pam', 'config', '--realm', realm]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(oneLineError(r)).toMatch(/^error: invalid realm name ".*": use 2 to 32 letters, digits, '\.', '-' or '_', starting with a letter$/);
      expect(r.stderr).not.toContain('\u001b');
    }
  });

  it('prints no lines for a store the lines would refuse: not there, open to others, its key file missing or where they will not look (exit 6)', async () => {
    const dir = join(store.dir, 'refused-stores');
    mkdirSync(dir, { mode: 0o700 });
    const db = join(dir, 'tfactl.db');
    const config = (env: Record<string, string> = {}) => {
      const r = spawnSync(process.execPath, [BIN, '--db', db, 'pam', 'config', '--json'], { encoding: 'utf8', env: { ...process.env, TFACTL_DB: '', ...env } });
      return { code: r.status, error: r.stdout === '' ? r.stderr : (JSON.parse(r.stdout) as { error?: { code: string; message: string } }).error };
    };
    expect(config()).toEqual({ code: 6, error: { code: 'store_missing', message: `there is no tfactl store at ${db} (its owner makes one with tfactl --db ${db} init)` } });
    expect(spawnSync(process.execPath, [BIN, '--db', db, 'init'], { encoding: 'utf8', env: { ...process.env, TFACTL_KEY_FILE: join(dir, 'moved.key') } }).status).toBe(0);
    // Made with its key file elsewhere: PAM passes the lines no TFACTL_KEY_FILE.
    expect(config({ TFACTL_KEY_FILE: join(dir, 'moved.key') })).toEqual({
      code: 6,
      error: { code: 'key_elsewhere', message: `the store's key file is ${join(dir, 'moved.key')} (TFACTL_KEY_FILE), but the lines would read ${db}.key: PAM passes them no TFACTL_* variable; move the key file there` },
    });
    expect(config()).toMatchObject({ code: 6, error: { code: 'key_file' } });
    renameSync(join(dir, 'moved.key'), `${db}.key`);
    expect(config()).toMatchObject({ code: 0, error: undefined });
    chmodSync(db, 0o644);
    expect(config()).toMatchObject({ code: 6, error: { message: `the store ${db} is readable by others (mode 0644): run 'chmod 600 ${db}'` } });
    chmodSync(db, 0o600);
  });
});

describe('tfactl pam check under pamtester', () => {
  it('accepts a good TOTP code once, with the PAM service, remote host and terminal in the audit entry', () => {
    const code = oathtool(SECRET);
    const r = pamtester('tfactl-sshd', 'alice', code);
    expect(r.ok, r.output).toBe(true);
    expect(lastPamEntry('alice@corp')).toEqual({ outcome: 'ok', detail: { method: 'totp', factor: expect.any(String), pam: { service: 'tfactl-sshd', rhost: '198.51.100.7', tty: 'pts/3' } } });
    // The same code again: a replay.
    const again = pamtester('tfactl-sshd', 'alice', code);
    expect(again.ok).toBe(false);
    expect(lastPamEntry('alice@corp')?.outcome).toBe('failed');
  });

  it('refuses a wrong code, and takes a recovery key once', () => {
    expect(pamtester('tfactl-sshd', 'alice', '000000').ok).toBe(false);
    const key = recoveryKeys[0] as string;
    expect(pamtester('tfactl-sshd', 'alice', key).ok).toBe(true);
    expect(lastPamEntry('alice@corp')?.detail.method).toBe('recovery');
    expect(pamtester('tfactl-sshd', 'alice', key).ok).toBe(false);
  });

  it('refuses an unknown user and a disabled one, whatever they type', () => {
    expect(pamtester('tfactl-sshd', 'mallory', oathtool(SECRET)).ok).toBe(false);
    expect(lastPamEntry('mallory@corp')).toEqual({ outcome: 'failed', detail: expect.objectContaining({ reason: 'unknown user' }) });
    expect(pamtester('tfactl-sshd', 'carl', oathtool(SECRET)).ok).toBe(false);
    expect(lastPamEntry('carl@corp')?.detail.reason).toBe('account disabled');
  });

  it('refuses a locked user even with the right code, as login does', async () => {
    for (let i = 0; i < 8; i++) pamtester('tfactl-sshd', 'dora', String(100000 + i));
    const list = (await store.run(['tfa', 'list', 'dora@corp', '--json'])).json().result[0];
    expect(list.lock.totp).toBe(true);
    expect(pamtester('tfactl-sshd', 'dora', oathtool(LOCKED_SECRET)).ok).toBe(false);
    expect(lastPamEntry('dora@corp')?.detail.reason).toBe('totp locked');
    // Every factor locked: the prompt says so and until when, not what to type.
    await store.addUser('lou@corp', PW, ['--tfa', 'totp', '--totp-secret', ERIN_SECRET, '--no-verify', '--qr', 'none']);
    await store.run(['tfa', 'add', 'recovery', 'lou@corp']);
    expect((await store.run(['settings', 'set', 'lockout.failures', '3'])).code).toBe(0);
    try {
      for (let i = 0; i < 3; i++) pamtester('tfactl-sshd', 'lou', 'zzzz-zzzz-zzzz');
      const locked = await store.run(['--db', store.db, 'pam', 'prompt', '--realm', 'corp'], { env: { PAM_USER: 'lou' } });
      expect(locked.stdout).toMatch(/^Second factor for lou@corp: every second factor is locked until \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?Z? after too many failures: ask an admin \(every answer is refused until then\)\.\n$/);
    } finally {
      await store.run(['settings', 'unset', 'lockout.failures']);
      await store.run(['tfa', 'unlock', 'lou@corp']);
    }
    // The prompt says what is so: TOTP locked (no security key, no recovery key in it).
    const prompt = await store.run(['--db', store.db, 'pam', 'prompt', '--realm', 'corp'], { env: { PAM_USER: 'dora' } });
    expect(prompt.stdout).toBe('Second factor for dora@corp: TOTP is locked after too many failures: ask an admin to unlock it.\n');
  });

  it('lets a user without second factors in only with --nullok, and the prompt says which it is', () => {
    const refused = pamtester('tfactl-sshd', 'bob', '');
    expect(refused.ok).toBe(false);
    expect(refused.output).toContain('No second factor is set for bob@corp, and one is needed here: ask an admin to add one (pressing Enter at the next prompt is refused).');
    expect(lastPamEntry('bob@corp')?.detail.reason).toBe('no second factor (without --nullok)');
    const passed = pamtester('tfactl-nullok', 'bob', '');
    expect(passed.ok).toBe(true);
    expect(passed.output).toContain('No second factor is set for bob@corp: press Enter at the next prompt.');
    // root@local has no admin above it: the prompt says who adds one, and how.
    const root = spawnSync(process.execPath, [BIN, '--db', store.db, 'pam', 'prompt'], { encoding: 'utf8', env: { ...process.env, ...store.env, PAM_USER: 'root', PAM_TYPE: 'auth' } });
    expect(root.stdout).toBe(`No second factor is set for root@local, and one is needed here: the store's owner adds one on its host (tfactl --db ${store.db} tfa add totp root@local) (pressing Enter at the next prompt is refused).\n`);
    expect(lastPamEntry('bob@corp')).toEqual({ outcome: 'ok', detail: { method: 'none', nullok: true, pam: expect.objectContaining({ service: 'tfactl-nullok' }) } });
    // --nullok is no way around a factor a user has.
    expect(pamtester('tfactl-nullok', 'alice', '').ok).toBe(false);
  });

  it('never makes a store: a line whose store is not there fails (exit 6), saying so', async () => {
    const missing = join(store.dir, 'not-here', 'tfactl.db');
    for (const command of [['pam', 'check'], ['pam', 'prompt']]) {
      const r = await runBin(['--db', missing, ...command], { env: { PAM_USER: 'alice', PAM_TYPE: 'auth', PAM_SERVICE: 'sshd' }, input: '123456\n' });
      expect(r.code, r.stderr).toBe(6);
      expect(oneLineError(r)).toBe(`error: there is no tfactl store at ${missing} (its owner makes one with tfactl --db ${missing} init)`);
    }
    expect(existsSync(dirname(missing))).toBe(false);
  });

  it('says where the key file must be when it is not beside the store: what PAM runs reads no TFACTL_KEY_FILE', async () => {
    const dir = join(store.dir, 'keyless');
    mkdirSync(dir, { mode: 0o700 });
    const db = join(dir, 'tfactl.db');
    copyFileSync(store.db, db);
    const r = await runBin(['--db', db, 'pam', 'check', '--realm', 'corp'], { env: { PAM_USER: 'alice', PAM_TYPE: 'auth', PAM_SERVICE: 'sshd', TFACTL_KEY_FILE: store.keyFile }, input: '123456\n' });
    expect(r.code, r.stderr).toBe(6);
    expect(oneLineError(r)).toBe(
      `error: key file ${db}.key is missing: the secrets in this store cannot be read without it (restore it there: what PAM runs reads no TFACTL_* variable, so its key file is the one beside the store or the key-file of /etc/tfactl/config)`,
    );
  });
});

describe('what tfactl pam answers with', () => {
  it('is refused (exit 6) when another user could replace the store or key file: a directory others may write, a file of theirs', async () => {
    const pam = { PAM_USER: 'alice', PAM_TYPE: 'auth', PAM_SERVICE: 'sshd' };
    const check = (db: string, env: Record<string, string> = {}) => runBin(['--db', db, 'pam', 'check'], { env: { ...pam, ...env }, input: '123456\n' });
    const place = (name: string, mode: number) => {
      const dir = join(store.dir, name);
      mkdirSync(dir);
      chmodSync(dir, mode);
      const db = join(dir, 'tfactl.db');
      copyFileSync(store.db, db);
      copyFileSync(store.keyFile, `${db}.key`);
      return db;
    };
    const open = place('open-dir', 0o777);
    const r = await check(open);
    expect(r.code, r.stderr).toBe(6);
    expect(oneLineError(r)).toBe(`error: refusing the store ${open}: the directory ${dirname(open)} is writable by others (mode 0777), so another user could put something else in its place; keep it where only root may write`);
    // Above the store, a sticky directory (as /tmp is) lets no one replace what is not theirs:
    // answered as usual. As the store's own directory it is refused: others could plant its journals.
    const sticky = place('sticky-dir', 0o1777);
    expect(oneLineError(await check(sticky))).toBe(`error: refusing the store ${sticky}: the directory ${dirname(sticky)} is writable by others (mode 01777), so another user could put something else in its place; keep it where only root may write`);
    mkdirSync(join(dirname(sticky), 'private'), { mode: 0o700 });
    const below = join(dirname(sticky), 'private', 'tfactl.db');
    copyFileSync(store.db, below);
    copyFileSync(store.keyFile, `${below}.key`);
    expect((await check(below)).code).toBe(5);
    // A symlink another user made in a sticky directory, though it points at the right store:
    // they could point it elsewhere at any time.
    const planted = join(dirname(sticky), 'planted.db');
    symlinkSync(below, planted);
    spawnSync('chown', ['-h', '65534:65534', planted]);
    copyFileSync(store.keyFile, `${planted}.key`);
    expect(oneLineError(await check(planted))).toBe(`error: refusing the store ${planted}: the symlink ${planted} belongs to uid 65534, so another user could put something else in its place; keep it where only root may write`);
    // A store file of another user's; a key file in a directory others may write.
    const theirs = place('theirs', 0o700);
    chownSync(theirs, 65534, 65534);
    expect(oneLineError(await check(theirs))).toBe(`error: refusing the store ${theirs}: it belongs to uid 65534, so another user could put something else in its place; keep it where only root may write`);
    const keyDir = join(store.dir, 'open-keys');
    mkdirSync(keyDir);
    chmodSync(keyDir, 0o777);
    copyFileSync(store.keyFile, join(keyDir, 'k'));
    const keyed = place('keyed', 0o700);
    rmSync(`${keyed}.key`);
    symlinkSync(join(keyDir, 'k'), `${keyed}.key`);
    const byKey = await check(keyed);
    expect(byKey.code).toBe(6);
    expect(oneLineError(byKey)).toBe(`error: refusing the key file ${keyed}.key: the directory ${keyDir} is writable by others (mode 0777), so another user could put something else in its place; keep it where only root may write`);
    // A symlink in a safe place to a store in an unsafe one is judged by where the store is.
    const link = join(store.dir, 'link.db');
    symlinkSync(open, link);
    copyFileSync(store.keyFile, `${link}.key`);
    expect((await check(link)).code).toBe(6);
  });
});

describe('a security key at the PAM prompt (fido2-assert), under pamtester on a terminal', () => {
  it('shows the line for fido2-assert, and signs in with what it printed, pasted as one line', () => {
    const r = pamtesterOnTerminal('tfactl-sshd', 'fay', null, 10);
    expect(r.shown).toContain('Second factor for fay@corp: your security key.');
    // Line by line, the fido2-assert line on one of its own (not joined by escaped line ends).
    expect(r.shown).not.toContain('your security key.\\n');
    expect(r.shown).toMatch(/^\s*printf '%s\\n' /m);
    expect(r.shown).toMatch(new RegExp(`printf '%s\\\\n' \\S+ '${RP_ID.replace(/\./g, '\\.')}' \\S+ \\| fido2-assert -G DEVICE \\| paste -sd ' '`));
    expect(r.ok, r.output).toBe(true);
    expect(lastPamEntry('fay@corp')).toEqual({ outcome: 'ok', detail: { method: 'webauthn', factor: expect.any(String), pam: expect.objectContaining({ service: 'tfactl-sshd' }) } });
  });

  it('refuses the same answer again: its challenge was taken, and the next prompt issued another', () => {
    const first = pamtesterOnTerminal('tfactl-sshd', 'fay', null, 20);
    expect(first.ok, first.output).toBe(true);
    const replay = pamtesterOnTerminal('tfactl-sshd', 'fay', first.answer, 0);
    expect(replay.ok).toBe(false);
    expect(lastPamEntry('fay@corp')).toEqual({ outcome: 'failed', detail: expect.objectContaining({ method: 'webauthn' }) });
  });

  it('refuses an answer whose signature counter did not grow (a cloned key)', () => {
    const r = pamtesterOnTerminal('tfactl-sshd', 'fay', null, 5);
    expect(r.ok).toBe(false);
    expect(lastPamEntry('fay@corp')?.detail.reason).toMatch(/signature counter did not grow/);
  });
});

describe('tfactl pam check --password (sudo: no other first factor) under pamtester', () => {
  it('takes the tfactl password with the code typed right after it, and nothing less', () => {
    const code = oathtool(ERIN_SECRET);
    expect(pamtester('tfactl-sudo', 'erin', `wrong password${code}`).ok).toBe(false);
    expect(lastPamEntry('erin@corp')?.detail.reason).toBe('wrong password');
    expect(pamtester('tfactl-sudo', 'erin', `${PW}000000`).ok).toBe(false);
    expect(pamtester('tfactl-sudo', 'erin', PW).ok).toBe(false);
    const r = pamtester('tfactl-sudo', 'erin', `${PW}${code}`);
    expect(r.ok, r.output).toBe(true);
    expect(lastPamEntry('erin@corp')).toEqual({ outcome: 'ok', detail: expect.objectContaining({ method: 'totp', pam: expect.objectContaining({ service: 'tfactl-sudo' }) }) });
    expect(pamtester('tfactl-sudo', 'erin', `${PW}${erinKeys[0]}`).ok).toBe(true);
    expect(lastPamEntry('erin@corp')?.detail.method).toBe('recovery');
  });

  it('lets a user without second factors in with the password alone only with --nullok', () => {
    expect(pamtester('tfactl-sudo', 'bob', PW).ok).toBe(false);
    expect(pamtester('tfactl-sudo-nullok', 'bob', 'not the password').ok).toBe(false);
    expect(pamtester('tfactl-sudo-nullok', 'bob', PW).ok).toBe(true);
    expect(lastPamEntry('bob@corp')).toEqual({ outcome: 'ok', detail: expect.objectContaining({ method: 'password' }) });
  });

  it('prints lines for sudo that carry --password, without sshd settings', async () => {
    const r = await store.run(['pam', 'config', 'sudo', '--json']);
    const { lines, sshdConfig } = r.json().result as { lines: string[]; sshdConfig: string[] };
    expect(lines[0]).toMatch(/ pam prompt --realm local --password$/);
    expect(lines[1]).toMatch(/ pam check --realm local --password$/);
    expect(sshdConfig).toEqual([]);
    const prompt = await store.run(['--db', store.db, 'pam', 'prompt', '--realm', 'corp', '--password'], { env: { PAM_USER: 'erin' } });
    // Before the password, nothing about the account: the same words for anyone.
    expect(prompt.stdout).toBe('Password and second factor for erin@corp: at the next prompt, type your tfactl password and right after it (no space) the code of your second factor (a TOTP code, a recovery key or a YubiKey OTP).\n');
    const stranger = await store.run(['--db', store.db, 'pam', 'prompt', '--realm', 'corp', '--password'], { env: { PAM_USER: 'nobody-here' } });
    expect(stranger.stdout).toBe(prompt.stdout.replace('erin@corp', 'nobody-here@corp'));
  });
});

describe('tfactl pam through tfactl serve', () => {
  const sock = join(store.dir, 'run', 'tfactl.sock');
  const tokenFile = join(store.dir, 'pam.token');
  let serve: ChildProcess;
  beforeAll(async () => {
    serve = (await startServe(sock, { TFACTL_DB: store.db })).child;
    await store.addUser('pamadmin@corp', PW, ['--admin']);
    const token = (await store.run(['token', 'add', 'pamadmin@corp', 'pam', '--privileges', 'read-only', '--json'])).json().result.value as string;
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  }, 30_000);
  afterAll(() => void serve.kill('SIGKILL'));

  it('checks with an admin token at the service the lines name, auditing the token', async () => {
    const lines = await installService('tfactl-via-serve', ['--server', sock, '--token', `@${tokenFile}`, '--client', 'node']);
    expect(lines.filter((l) => l.startsWith('auth required'))[0]).toContain(` --server ${sock} --token @${tokenFile} pam check --realm corp`);
    const r = pamtester('tfactl-via-serve', 'erin', `${erinKeys[1]}`);
    expect(r.ok, r.output).toBe(true);
    expect(lastPamEntry('erin@corp')).toEqual({ outcome: 'ok', detail: expect.objectContaining({ method: 'recovery', via: 'pamadmin@corp!pam', pam: expect.objectContaining({ service: 'tfactl-via-serve', rhost: '198.51.100.7' }) }) });
    expect(pamtester('tfactl-via-serve', 'erin', '000000').ok).toBe(false);
  });

  it('runs the lines PAM runs from the small PAM bundle alone: no command tree, store or node:crypto', () => {
    // bin/tfactl.cjs beside dist/tfactl-pam.cjs and nothing else: the main bundle is not there to fall back on.
    const pkg = join(store.dir, 'pam-only');
    mkdirSync(join(pkg, 'bin'), { recursive: true });
    mkdirSync(join(pkg, 'dist'));
    copyFileSync(BIN, join(pkg, 'bin', 'tfactl.cjs'));
    copyFileSync(join(dirname(BIN), '..', 'dist', 'tfactl-pam.cjs'), join(pkg, 'dist', 'tfactl-pam.cjs'));
    const line = ['--server', sock, '--token', `@${tokenFile}`, 'pam', 'check', '--realm', 'corp'];
    const run = (argv: string[], input: string) =>
      spawnSync(process.execPath, [join(pkg, 'bin', 'tfactl.cjs'), ...argv], { input, encoding: 'utf8', env: { PATH: process.env.PATH, PAM_USER: 'erin', PAM_SERVICE: 'sshd' } });
    const ok = run(line, `${erinKeys[2]}`);
    expect({ code: ok.status, stdout: ok.stdout, stderr: ok.stderr }).toEqual({ code: 0, stdout: 'erin@corp: second factor accepted (recovery)\n', stderr: '' });
    const replayed = run(line, `${erinKeys[2]}`);
    expect(replayed.status).toBe(5);
    expect(replayed.stderr).toBe('error: authentication failed: invalid or already used recovery key\n');
    // Anything else is the whole tfactl's, which is not there.
    expect(run([...line.slice(0, -2), '--realm=corp'], `${erinKeys[3]}`).stderr).toMatch(/dist\/tfactl\.cjs is missing/);
  });

  it('answers exactly as the whole tfactl does, line for line and code for code', async () => {
    // --realm=corp is the same line to commander, but not one the PAM bundle takes: main() runs it.
    const via = (realm: string[], env: Record<string, string>, input: string, json: string[] = []) =>
      store.run([...json, '--server', sock, '--token', `@${tokenFile}`, 'pam', 'check', ...realm], { env: { TFACTL_DB: undefined, ...env }, input });
    const cases: [Record<string, string>, string][] = [
      [{ PAM_USER: 'nobody-here' }, '123456'],
      [{ PAM_USER: 'bob' }, '123456'],
      [{ PAM_USER: 'alice', PAM_TYPE: 'account' }, '123456'],
      [{}, '123456'],
      [{ PAM_USER: 'carl' }, ''],
    ];
    for (const [env, input] of cases) {
      for (const json of [[], ['--json']]) {
        const small = await via(['--realm', 'corp'], env, input, json);
        const whole = await via(['--realm=corp'], env, input, json);
        expect({ code: small.code, stdout: small.stdout, stderr: small.stderr }, JSON.stringify(env)).toEqual({ code: whole.code, stdout: whole.stdout, stderr: whole.stderr });
        expect(small.code).not.toBe(0);
      }
    }
  });
  describe('asked by a shell and curl (bin/tfactl-pam-curl), what pam config prints when curl is there', () => {
    const CLIENT = resolve(dirname(BIN), 'tfactl-pam-curl');
    /** The shell client's line, as pam_exec runs it: PAM's items in the environment, the answer on standard input. */
    const viaCurl = (command: 'check' | 'prompt', options: string[], env: Record<string, string>, input = '', token = tokenFile) => {
      const r = spawnSync('/bin/sh', ['-p', CLIENT, command, '--server', sock, '--token', `@${token}`, ...options], { input, encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    /** tfactl's own client on the same service. */
    const viaNode = async (command: 'check' | 'prompt', options: string[], env: Record<string, string>, input = '', token = tokenFile) => {
      const r = await store.run(['--server', sock, '--token', `@${token}`, 'pam', command, ...options], { env: { TFACTL_DB: undefined, ...env }, input });
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    };

    const GUS_SECRET = 'ONSWG4TFORSXG5BAMZXXEIDHOVZQ====';
    let hankKeys: string[] = [];
    beforeAll(async () => {
      // Users of these tests alone: a TOTP code is taken once per user and step, recovery keys once.
      await store.addUser('gus@corp', PW, ['--tfa', 'totp', '--totp-secret', GUS_SECRET, '--no-verify', '--qr', 'none']);
      await store.addUser('hank@corp', PW);
      hankKeys = (await store.run(['tfa', 'add', 'recovery', 'hank@corp', '--json'])).json().result.keys as string[];
    }, 30_000);

    it('prints lines that run the shell client, and signs in through them: a code once, a recovery key once', async () => {
      const lines = await installService('tfactl-via-curl', ['--server', sock, '--token', `@${tokenFile}`]);
      const rules = lines.filter((l) => l.startsWith('auth'));
      expect(rules[0]).toMatch(/^auth requisite \/\S+\/pam_exec\.so stdout quiet /);
      expect(rules[0]!.endsWith(` quiet /bin/sh -p ${CLIENT} prompt --server ${sock} --token @${tokenFile} --realm corp`)).toBe(true);
      expect(rules[1]).toMatch(/^auth required \/\S+\/pam_exec\.so expose_authtok quiet /);
      expect(rules[1]!.endsWith(` quiet /bin/sh -p ${CLIENT} check --server ${sock} --token @${tokenFile} --realm corp`)).toBe(true);
      const code = oathtool(GUS_SECRET);
      const first = pamtester('tfactl-via-curl', 'gus', code);
      expect(first.ok, first.output).toBe(true);
      expect(lastPamEntry('gus@corp')).toEqual({ outcome: 'ok', detail: expect.objectContaining({ method: 'totp', via: 'pamadmin@corp!pam', pam: { service: 'tfactl-via-curl', rhost: '198.51.100.7', tty: 'pts/3' } }) });
      expect(pamtester('tfactl-via-curl', 'gus', code).ok).toBe(false);
      expect(lastPamEntry('gus@corp')?.outcome).toBe('failed');
      expect(pamtester('tfactl-via-curl', 'erin', `${erinKeys[4]}`).ok).toBe(true);
      expect(pamtester('tfactl-via-curl', 'erin', `${erinKeys[4]}`).ok).toBe(false);
      expect(pamtester('tfactl-via-curl', 'carl', code).ok).toBe(false);
      expect(pamtester('tfactl-via-curl', 'nobody-here', code).ok).toBe(false);
      expect(pamtester('tfactl-via-curl', 'bob', '').ok).toBe(false);
      await installService('tfactl-via-curl-nullok', ['--server', sock, '--token', `@${tokenFile}`, '--nullok']);
      expect(pamtester('tfactl-via-curl-nullok', 'bob', '').ok).toBe(true);
    });

    it('answers exactly as tfactl does through the same service, line for line and code for code', async () => {
      const cases: ['check' | 'prompt', string[], Record<string, string>, string][] = [
        // A recovery key each (the node client's is the next one), then each spent again.
        ['check', ['--realm', 'corp'], { PAM_USER: 'erin', PAM_SERVICE: 'sshd' }, `${erinKeys[5]}`],
        ['check', ['--realm', 'corp'], { PAM_USER: 'erin' }, `${erinKeys[5]}`],
        ['check', ['--realm', 'corp'], { PAM_USER: 'nobody-here' }, '123456'],
        ['check', ['--realm', 'corp'], { PAM_USER: 'bob' }, '123456'],
        ['check', ['--realm', 'corp', '--nullok'], { PAM_USER: 'bob' }, ''],
        ['check', ['--realm', 'corp'], { PAM_USER: 'alice', PAM_TYPE: 'account' }, '123456'],
        ['check', ['--realm', 'corp'], { PAM_USER: 'alice', PAM_TYPE: '' }, '123456'],
        ['check', ['--realm', 'corp'], {}, '123456'],
        ['check', ['--realm', 'corp'], { PAM_USER: 'alice@corp' }, '123456'],
        ['check', ['--realm', 'corp'], { PAM_USER: 'carl' }, ''],
        ['check', ['--realm', 'no-such-realm'], { PAM_USER: 'alice' }, '123456'],
        ['check', ['--realm', 'corp', '--password'], { PAM_USER: 'alice' }, 'wrong password123456'],
        ['check', [], { PAM_USER: 'alice' }, `123456\0`],
        ['prompt', ['--realm', 'corp'], { PAM_USER: 'alice' }, ''],
        ['prompt', ['--realm', 'corp'], { PAM_USER: 'mallory' }, ''],
        ['prompt', ['--realm', 'corp'], { PAM_USER: 'bob' }, ''],
        ['prompt', ['--realm', 'corp', '--nullok'], { PAM_USER: 'bob' }, ''],
        ['prompt', ['--realm', 'corp', '--password'], { PAM_USER: 'alice' }, ''],
        ['prompt', [], {}, ''],
      ];
      for (const [command, options, env, input] of cases) {
        const shell = viaCurl(command, options, env, input);
        // The same answer twice is refused the second time: tfactl's own client checks one just as good.
        const node = await viaNode(command, options, env, input === `${erinKeys[5]}` ? `${erinKeys[6]}` : input);
        expect(shell, `${command} ${options.join(' ')} ${JSON.stringify(env)}`).toEqual(node);
      }
    });

    it('prints the lines of tfactl itself where the shell client cannot serve: --client node, a URL, a token path with =, no client beside tfactl', async () => {
      const line = async (extra: string[], bin = BIN) => {
        const r = spawnSync(process.execPath, [bin, 'pam', 'config', 'sshd', '--json', ...extra], { encoding: 'utf8', env: { ...process.env, TFACTL_DB: store.db } });
        expect(r.status, r.stderr).toBe(0);
        return JSON.parse(r.stdout).result as { client: string; lines: string[] };
      };
      const via = ['--server', sock, '--token', `@${tokenFile}`];
      expect((await line(via)).client).toBe('curl');
      expect((await line([...via, '--client', 'node'])).lines[1]).toContain(` ${process.execPath} ${BIN} --server ${sock} --token @${tokenFile} pam check `);
      expect((await line(['--server', 'https://127.0.0.1:8443', '--token', `@${tokenFile}`])).client).toBe('node');
      // A CA this shell's Node trusts and pam_exec's lines will not: said, whatever the probe of the service found.
      for (const ca of ['', '/etc/ssl/private-ca.pem']) {
        const r = spawnSync(process.execPath, [BIN, 'pam', 'config', 'sshd', '--json', '--server', 'https://127.0.0.1:1', '--token', `@${tokenFile}`], {
          encoding: 'utf8',
          env: { ...process.env, TFACTL_DB: store.db, NODE_EXTRA_CA_CERTS: ca },
        });
        const said = (JSON.parse(r.stdout).warnings as string[]).some((w) => w.startsWith('NODE_EXTRA_CA_CERTS is set here, but PAM runs these lines without it'));
        expect(said).toBe(ca !== '');
      }
      copyFileSync(tokenFile, `${store.dir}/a=b.token`);
      expect((await line(['--server', sock, '--token', `@${store.dir}/a=b.token`])).client).toBe('node');
      // tfactl without bin/tfactl-pam-curl beside it (a partial copy).
      const copy = join(store.dir, 'no-shell-client');
      mkdirSync(join(copy, 'bin'), { recursive: true });
      mkdirSync(join(copy, 'dist'), { recursive: true });
      copyFileSync(BIN, join(copy, 'bin', 'tfactl.cjs'));
      for (const f of ['tfactl.cjs', 'tfactl.cjs.cache']) copyFileSync(join(dirname(BIN), '..', 'dist', f), join(copy, 'dist', f));
      expect((await line(via, join(copy, 'bin', 'tfactl.cjs'))).client).toBe('node');
      const asked = spawnSync(process.execPath, [join(copy, 'bin', 'tfactl.cjs'), 'pam', 'config', ...via, '--client', 'curl'], { encoding: 'utf8', env: { ...process.env, TFACTL_DB: store.db } });
      expect({ code: asked.status, stderr: asked.stderr }).toEqual({ code: 2, stderr: 'error: bin/tfactl-pam-curl is missing beside this tfactl: its installation is incomplete (or leave out --client)\n' });
    });

    it('warns when the --realm the lines name is not in the store (every sign-in would fail as an unknown user)', async () => {
      const r = spawnSync(process.execPath, [BIN, 'pam', 'config', 'sshd', '--realm', 'nosuchrealm', '--json'], { encoding: 'utf8', env: { ...process.env, ...store.env } });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).warnings).toEqual(["realm nosuchrealm does not exist: 'tfactl realm list' shows those there are: every sign-in through these lines fails until it is there"]);
      const known = spawnSync(process.execPath, [BIN, 'pam', 'config', 'sshd', '--realm', 'corp', '--json'], { encoding: 'utf8', env: { ...process.env, ...store.env } });
      expect(JSON.parse(known.stdout).warnings).toEqual([]);
    });

    it('asks the service with the token, as the lines will: warns of no service there, a token it refuses, a user no admin, a missing realm, an end date', async () => {
      const config = (file: string, extra: string[] = [], server = sock) => {
        const r = spawnSync(process.execPath, [BIN, 'pam', 'config', 'sshd', '--server', server, '--token', `@${file}`, '--json', ...extra], { encoding: 'utf8', env: { ...process.env, TFACTL_DB: store.db } });
        return { code: r.status, warnings: r.status === 0 ? (JSON.parse(r.stdout).warnings as string[]) : r.stderr };
      };
      const tokenOf = async (userid: string, name: string, extra: string[] = []) => {
        const file = join(store.dir, `${name}.token`);
        writeFileSync(file, `${(await store.run(['token', 'add', userid, name, '--json', ...extra])).json().result.value}\n`, { mode: 0o600 });
        return file;
      };
      const fails = 'every sign-in through these lines fails';
      // root@local has no second factor here: root's SSH sign-ins would be refused, as pam config on the store says too.
      const rootWarning = `the login name root is root@local, who has no second factor: root's sign-ins through these lines are refused until it has one (tfactl --server ${sock} tfa add totp root@local)`;
      expect(config(tokenFile)).toEqual({ code: 0, warnings: [rootWarning] });
      expect(config(tokenFile, ['--nullok'])).toEqual({ code: 0, warnings: [] });
      // The command it suggests asks the service named on the command line, as this one did.
      expect(config(tokenFile, ['--realm', 'nosuchrealm'])).toEqual({ code: 0, warnings: [`realm nosuchrealm does not exist: 'tfactl --server ${sock} realm list' shows those there are: ${fails} until it is there`] });
      expect(config(tokenFile, [], join(store.dir, 'run', 'none.sock'))).toEqual({ code: 0, warnings: [`no tfactl service answers at ${join(store.dir, 'run', 'none.sock')}: no such file or directory (ENOENT); ${fails} until one does`] });
      await store.addUser('pamuser@corp', PW);
      expect(config(await tokenOf('pamuser@corp', 'mine'))).toEqual({ code: 0, warnings: ["the token acts for pamuser@corp, who is not an admin: the service refuses every check through these lines (give an admin's token)"] });
      expect(config(await tokenOf('pamadmin@corp', 'until', ['--expire', '2099-01-01']))).toEqual({ code: 0, warnings: [`the token pamadmin@corp!until expires after 2099-01-01: ${fails} from then on`, rootWarning] });
      const wrong = join(store.dir, 'wrong.token');
      writeFileSync(wrong, `pamadmin@corp!pam=${'A'.repeat(43)}\n`, { mode: 0o600 });
      const refused = config(wrong);
      expect(refused).toEqual({ code: 0, warnings: [expect.stringMatching(new RegExp(`^the service at ${sock} refuses the token: authentication failed: .*; ${fails}$`))] });
      expect(refused.warnings[0]).not.toContain('A'.repeat(43));
      // Plain HTTP (or any other scheme) is no place for the token.
      expect(config(tokenFile, [], 'http://127.0.0.1:8080')).toEqual({ code: 2, warnings: "error: --server takes the service's socket path or https://HOST:PORT, not http://127.0.0.1:8080: the lines send an admin's token there\n" });
      // A file without a token in it is refused: nothing the lines could sign in with.
      const garbage = join(store.dir, 'garbage.token');
      writeFileSync(garbage, 'not a token\n', { mode: 0o600 });
      expect(config(garbage)).toEqual({ code: 2, warnings: `error: the --token file ${garbage} does not hold an API token (USERID!NAME=SECRET): every sign-in through these lines would fail\n` });
    });

    it('refuses to print lines that would run, as root, a tfactl, its native addons or a shell client another user could change', async () => {
      const copy = join(store.dir, 'users-copy');
      mkdirSync(join(copy, 'bin'), { recursive: true });
      mkdirSync(join(copy, 'dist'), { recursive: true });
      copyFileSync(BIN, join(copy, 'bin', 'tfactl.cjs'));
      copyFileSync(join(dirname(BIN), 'tfactl-pam-curl'), join(copy, 'bin', 'tfactl-pam-curl'));
      for (const f of ['tfactl.cjs', 'tfactl.cjs.cache', 'tfactl-pam.cjs', 'pg.cjs', 'webauthn-server.cjs']) copyFileSync(join(dirname(BIN), '..', 'dist', f), join(copy, 'dist', f));
      // With SQLite's addon, as the bundle loads it (the lines open the store with it).
      const addonDir = join(copy, 'node_modules', 'better-sqlite3');
      const realAddon = join(dirname(BIN), '..', 'node_modules', 'better-sqlite3');
      mkdirSync(join(addonDir, 'build', 'Release'), { recursive: true });
      copyFileSync(join(realAddon, 'package.json'), join(addonDir, 'package.json'));
      const addon = join(addonDir, 'build', 'Release', 'better_sqlite3.node');
      copyFileSync(join(realAddon, 'build', 'Release', 'better_sqlite3.node'), addon);
      const config = (extra: string[]) => spawnSync(process.execPath, [join(copy, 'bin', 'tfactl.cjs'), 'pam', 'config', 'sshd', ...extra], { encoding: 'utf8', env: { ...process.env, TFACTL_DB: store.db } });
      // Root's own copy: the lines are printed.
      expect(config([]).status).toBe(0);
      // A user's (as after chown -R, or an install in a home directory): refused, naming what and why.
      const bundle = join(copy, 'dist', 'tfactl.cjs');
      const tail = 'belongs to uid 1000, so another user could put something else in its place; keep it where only root may write';
      for (const [path, refusals] of [
        // The bundle itself, which the shell client never runs; and one it loads later (security keys).
        [bundle, [`refusing the program PAM would run as root ${bundle}: it ${tail}`, null]],
        [join(copy, 'dist', 'webauthn-server.cjs'), [`refusing the program PAM would run as root ${join(copy, 'dist', 'webauthn-server.cjs')}: it ${tail}`, null]],
        // The directory both are in.
        [join(copy, 'bin'), [`refusing the program PAM would run as root ${join(copy, 'bin', 'tfactl.cjs')}: the directory ${join(copy, 'bin')} ${tail}`, `refusing the program PAM would run as root ${join(copy, 'bin', 'tfactl-pam-curl')}: the directory ${join(copy, 'bin')} ${tail}`]],
      ] as const) {
        chownSync(path, 1000, 1000);
        // Realm corp through the service: root's sign-ins (realm local) are not what is looked at here.
        for (const [extra, refusal] of [[[], refusals[0]], [['--server', sock, '--token', `@${tokenFile}`, '--realm', 'corp'], refusals[1]]] as const) {
          const r = config([...extra]);
          expect({ code: r.status, stderr: r.stderr }).toEqual(refusal === null ? { code: 0, stderr: '' } : { code: 6, stderr: `error: ${refusal}\n` });
        }
        chownSync(path, 0, 0);
      }
      // A native addon the bundle loads from node_modules runs in the same root process.
      for (const path of [addon, join(addonDir, 'package.json'), join(addonDir, 'build')]) {
        chownSync(path, 1000, 1000);
        const r = config([]);
        const what = path === join(addonDir, 'build') ? `${addon}: the directory ${path}` : `${path}: it`;
        expect({ code: r.status, stderr: r.stderr }).toEqual({ code: 6, stderr: `error: refusing the program PAM would run as root ${what} ${tail}\n` });
        // The shell client loads no addon.
        expect(config(['--server', sock, '--token', `@${tokenFile}`]).status).toBe(0);
        chownSync(path, 0, 0);
      }
      // A socket in a root-owned 0700 directory in /tmp (sticky): printed.
      const privateRun = join('/tmp', `tfactl-pam-run-${process.pid}`);
      mkdirSync(privateRun, { mode: 0o700 });
      try {
        expect(config(['--server', join(privateRun, 'tfactl.sock'), '--token', `@${tokenFile}`]).status).toBe(0);
      } finally {
        rmSync(privateRun, { recursive: true });
      }
      // A socket in a directory others may write: anyone could put theirs in its place.
      const open = join(store.dir, 'open-run');
      mkdirSync(open);
      chmodSync(open, 0o777);
      const r = config(['--server', join(open, 'tfactl.sock'), '--token', `@${tokenFile}`]);
      expect({ code: r.status, stderr: r.stderr }).toEqual({
        code: 6,
        stderr: `error: refusing the socket PAM would send the token to ${join(open, 'tfactl.sock')}: its directory ${open} is writable by others (mode 0777), so another user could put something else in its place; keep it where only root may write\n`,
      });
    });

    it("refuses, as tfactl's own client does, a token file others may read or replace when the line runs", async () => {
      const dir = join(store.dir, 'tokens-at-check');
      mkdirSync(dir, { mode: 0o700 });
      const file = (name: string, mode: number, owner = 0) => {
        const path = join(dir, name);
        copyFileSync(tokenFile, path);
        chmodSync(path, mode);
        chownSync(path, owner, owner);
        return path;
      };
      const inDirectory = (name: string, mode: number) => {
        mkdirSync(join(dir, name), { mode });
        chmodSync(join(dir, name), mode);
        return file(`${name}/pam.token`, 0o600);
      };
      const good = file('good.token', 0o600);
      const linkIn = (name: string, mode: number, owner = 0) => {
        mkdirSync(join(dir, name), { mode });
        chmodSync(join(dir, name), mode);
        chownSync(join(dir, name), owner, owner);
        symlinkSync(good, join(dir, name, 'pam.token'));
        return join(dir, name, 'pam.token');
      };
      const readable = file('readable.token', 0o644);
      symlinkSync(readable, join(dir, 'link.token'));
      const cases: [string, number, string][] = [
        [readable, 2, `error: the --token file ${readable} is readable by others (mode 0644): run 'chmod 600 ${readable}'`],
        [file('group.token', 0o640), 2, 'is readable by its group (mode 0640)'],
        [file("it's.token", 0o604), 2, `run chmod 600 '${dir}/it'\\''s.token'`],
        [join(dir, 'link.token'), 2, 'is readable by others (mode 0644)'],
        [file('writable.token', 0o620), 6, 'it is writable by its group (mode 0620), so another user could put something else in its place; keep it where only root may write'],
        [file('nobody.token', 0o600, 65534), 6, 'it belongs to uid 65534'],
        [inDirectory('open', 0o777), 6, `the directory ${dir}/open is writable by others (mode 0777)`],
        [inDirectory('sticky', 0o1777), 6, `the directory ${dir}/sticky is writable by others (mode 01777)`],
        [file('group-writable.token', 0o664), 6, 'it is writable by its group (mode 0664)'],
        [inDirectory('group', 0o775), 6, `the directory ${dir}/group is writable by its group (mode 0775)`],
        // A link to a good file, itself in a directory anyone may write to: another link could be put there.
        [linkIn('open-links', 0o777), 6, `the directory ${dir}/open-links is writable by others (mode 0777)`],
        [linkIn('nobodys-links', 0o755, 65534), 6, `the directory ${dir}/nobodys-links belongs to uid 65534`],
      ];
      // In a sticky directory (as /tmp) a link of root's is not another user's to replace.
      const stickyLink = linkIn('sticky-links', 0o1777);
      for (const command of ['check', 'prompt'] as const) {
        const node = await viaNode(command, [], { PAM_USER: 'gus' }, '', stickyLink);
        expect(viaCurl(command, [], { PAM_USER: 'gus' }, '', stickyLink).code, stickyLink).toBe(node.code);
        expect(node.stderr).not.toContain('refusing');
      }
      for (const [token, code, text] of cases) {
        for (const command of ['check', 'prompt'] as const) {
          const node = await viaNode(command, [], { PAM_USER: 'gus' }, '123456', token);
          expect(node, `${command} ${token}`).toEqual({ code, stdout: '', stderr: expect.stringContaining(text) });
          expect(node.stderr).toMatch(/^error: [^\n]+\n$/);
          expect(viaCurl(command, [], { PAM_USER: 'gus' }, '123456', token), `${command} ${token}`).toEqual(node);
        }
      }
    });

    it('prints no lines with a token file others may read or replace, or one not there', () => {
      const config = (file: string) => spawnSync(process.execPath, [BIN, 'pam', 'config', 'sshd', '--server', sock, '--token', `@${file}`], { encoding: 'utf8', env: { ...process.env, TFACTL_DB: store.db } });
      const readable = join(store.dir, 'readable.token');
      copyFileSync(tokenFile, readable);
      chmodSync(readable, 0o644);
      const open = join(store.dir, 'open-tokens');
      mkdirSync(open, { mode: 0o777 });
      chmodSync(open, 0o777);
      copyFileSync(tokenFile, join(open, 'pam.token'));
      for (const [file, message] of [
        [readable, `error: the --token file ${readable} is readable by others (mode 0644): run 'chmod 600 ${readable}'\n`],
        [join(open, 'pam.token'), `error: refusing the --token file ${join(open, 'pam.token')}: the directory ${open} is writable by others (mode 0777), so another user could put something else in its place; keep it where only root may write\n`],
        [join(store.dir, 'none.token'), `error: cannot read the --token file ${join(store.dir, 'none.token')}: no such file or directory (ENOENT)\n`],
      ] as const) {
        const r = config(file);
        expect({ code: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: expect.any(Number), stdout: '', stderr: message });
        expect(r.status).not.toBe(0);
      }
    });

    it('prints a warning after the result, where tfactl writes it on standard error', async () => {
      // hank's keys spent down to 4: the next leaves 3, under the mark where tfactl warns.
      for (const key of hankKeys.slice(0, -4)) expect((await store.run(['--db', store.db, 'pam', 'check', '--realm', 'corp'], { env: { PAM_USER: 'hank' }, input: key })).code).toBe(0);
      const [third, second] = hankKeys.slice(-4);
      expect(viaCurl('check', ['--realm', 'corp'], { PAM_USER: 'hank' }, `${third}`)).toEqual({
        code: 0,
        stdout: "hank@corp: second factor accepted (recovery)\nwarning: only 3 recovery keys left for hank@corp: consider 'tfactl tfa add recovery hank@corp --regenerate'\n",
        stderr: '',
      });
      expect(await viaNode('check', ['--realm', 'corp'], { PAM_USER: 'hank' }, `${second}`)).toEqual({
        code: 0,
        stdout: 'hank@corp: second factor accepted (recovery)\n',
        stderr: "warning: only 2 recovery keys left for hank@corp: consider 'tfactl tfa add recovery hank@corp --regenerate'\n",
      });
    });

    it('says in one line what is wrong with its own command line, exit 2, and that the service is gone, exit 6', () => {
      const env = { PAM_USER: 'alice' };
      const emptyFile = join(store.dir, 'empty.token');
      writeFileSync(emptyFile, '', { mode: 0o600 });
      const run = (args: string[]) => spawnSync('/bin/sh', ['-p', CLIENT, ...args], { input: '123456', encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
      const token = ['--token', `@${tokenFile}`];
      const cases: [string[], RegExp][] = [
        [[], /say check or prompt/],
        [['login'], /check or prompt, not login/],
        [['check', ...token], /--server SOCKET is needed/],
        [['check', '--server', 'tfactl.sock', ...token], /an absolute path, not tfactl\.sock/],
        [['check', '--server', sock], /--token @FILE is needed/],
        [['check', '--server', sock, '--token', 'alice!pam=secret'], /a token on the command line would show in ps/],
        [['check', '--server', sock, '--token', '@/a=b'], /with no = in its path/],
        [['check', '--server', sock, '--token', '@-'], /by its absolute path, not @-/],
        [['check', '--server', sock, '--token', '@pam.token'], /by its absolute path, not @pam\.token/],
        [['check', '--server', sock, '--token', `@${emptyFile}`], /^error: the --token file \S+ is empty$/],
        [['check', '--server', sock, '--token', `@${tokenFile}.gone`], /cannot read the --token file/],
        [['check', '--server', sock, ...token, '--realm'], /--realm needs a value/],
        [['check', '--server', sock, ...token, '--realm', '--nullok'], /--realm needs a value, not --nullok/],
        [['check', '--server', sock, ...token, '--nullok', '--nullok'], /--nullok is given twice/],
        [['check', '--server', sock, ...token, '--db', '/x'], /unknown option --db/],
      ];
      for (const [args, message] of cases) {
        const r = run(args);
        expect({ code: r.status, stdout: r.stdout }, args.join(' ')).toEqual({ code: 2, stdout: '' });
        expect(r.stderr.split('\n').filter(Boolean), args.join(' ')).toEqual([expect.stringMatching(message)]);
      }
      const gone = run(['check', '--server', `${sock}.gone`, ...token]);
      expect({ code: gone.status, stderr: gone.stderr }).toEqual({ code: 6, stderr: `error: no tfactl service at ${sock}.gone (ENOENT): start it with tfactl serve (or systemctl start tfactl.socket)\n` });
    });
  });
});

describe('tfactl pam prompt and check, run by hand', () => {
  it('says an answer longer than any code is too long (not that none came), and keeps a long PAM_RHOST to 255 characters', async () => {
    const long = await store.run(['--db', store.db, 'pam', 'check', '--realm', 'corp', '--json'], { env: { PAM_USER: 'bob' }, input: `${'1'.repeat(20_000)}\n` });
    expect({ code: long.code, error: long.json().error }).toEqual({ code: 2, error: { code: 'answer_too_long', message: 'the answer on standard input is longer than 16384 bytes: no code, key or password is' } });
    const host = 'h'.repeat(1000);
    const r = await store.run(['--db', store.db, 'pam', 'check', '--realm', 'corp', '--nullok'], { env: { PAM_USER: 'bob', PAM_RHOST: host }, input: '\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(lastPamEntry('bob@corp')?.detail.pam).toMatchObject({ rhost: `${'h'.repeat(255)}…` });
  });

  it('tells the user what to type: their factors and recovery keys left, no more for a stranger', async () => {
    const r = await store.run(['--db', store.db, 'pam', 'prompt', '--realm', 'corp', '--json'], { env: { PAM_USER: 'alice' } });
    expect(r.json().result).toEqual({ userid: 'alice@corp', kinds: ['totp', 'recovery'], recoveryKeysLeft: 9, fido2: [], text: 'Second factor for alice@corp: type a TOTP code or recovery key (9 left) at the next prompt.' });
    const stranger = await store.run(['--db', store.db, 'pam', 'prompt', '--realm', 'corp'], { env: { PAM_USER: 'mallory' } });
    expect(stranger.stdout).toBe('Second factor for mallory@corp: type a TOTP code, a recovery key or a YubiKey OTP at the next prompt.\n');
  });

  it('takes no TFACTL_ variable from the environment PAM passes (it may come from the user): only its command line', async () => {
    const env = { PAM_USER: 'alice', TFACTL_TOKEN: 'not a token', TFACTL_AS: 'mallory', TFACTL_SERVER: '/nowhere.sock', TFACTL_KEY_FILE: '/nowhere.key' };
    const r = await store.run(['--db', store.db, 'pam', 'prompt', '--realm', 'corp'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Second factor for alice@corp/);
  });

  it('says what is wrong in one line, exit 2, without PAM_USER, with a user id or a login name tfactl would fold', async () => {
    const before = store.snapshot();
    const none = await store.run(['--db', store.db, 'pam', 'check']);
    expect(none.code).toBe(2);
    expect(oneLineError(none)).toMatch(/PAM_USER is not set/);
    const at = await store.run(['--db', store.db, 'pam', 'check'], { env: { PAM_USER: 'alice@corp' } });
    expect(oneLineError(at)).toMatch(/holds an @/);
    // Other accounts to the system (useradd --badname), not alice: their codes are not checked as hers.
    for (const [login, shown] of [['ALICE', '"ALICE"'], ['\uff41lice', '"\uff41lice"'], ['Alice', '"Alice"']]) {
      for (const command of ['check', 'prompt']) {
        const folded = await store.run(['--db', store.db, 'pam', command, '--realm', 'corp'], { env: { PAM_USER: login! }, input: '123456' });
        expect(folded.code).toBe(2);
        expect(oneLineError(folded)).toBe(`error: PAM_USER ${shown} is not a tfactl user name as it stands: tfactl reads it as alice, another login name, so it is refused`);
      }
    }
    const account = await store.run(['--db', store.db, 'pam', 'check'], { env: { PAM_USER: 'alice', PAM_TYPE: 'account' } });
    expect(oneLineError(account)).toMatch(/for the auth step, not account/);
    expect(store.snapshot()).toBe(before);
  });

  it('refuses an empty answer (Enter pressed), exit 2, audited as a failed sign-in that counts toward no lockout', async () => {
    const locks = async () => (await store.run(['--db', store.db, 'user', 'show', 'alice@corp', '--json'])).json().result.lock;
    const before = await locks();
    expect(before).toMatchObject({ secondFactorFailures: expect.any(Number) });
    const empty = await store.run(['--db', store.db, 'pam', 'check', '--realm', 'corp'], { env: { PAM_USER: 'alice', PAM_SERVICE: 'sshd' }, input: '\0' });
    expect(empty.code).toBe(2);
    expect(oneLineError(empty)).toMatch(/nothing on standard input/);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'pam', target: 'alice@corp', outcome: 'failed' });
    expect(JSON.parse(store.auditRows().at(-1)!.detail!)).toMatchObject({ reason: 'no answer', pam: { service: 'sshd' } });
    expect(await locks()).toEqual(before);
  });
});

describe('password failures and a PAM sign-in', () => {
  it('are not forgiven by a sign-in with a second factor alone (PAM after sshd checked the password): only one that checked the password clears them', async () => {
    await store.addUser('ssh', PW);
    const secret = (await store.run(['tfa', 'add', 'totp', 'ssh', '--no-verify', '--json'])).json().result.secret as string;
    const [key] = (await store.run(['tfa', 'add', 'recovery', 'ssh', '--json'])).json().result.keys as string[];
    const lock = () => store.read<{ lock: { passwordFailures: number; passwordUntil: string | null } }>(['user', 'show', 'ssh']).lock;
    const pamCheck = (code: string) => store.run(['--db', store.db, 'pam', 'check'], { env: { PAM_USER: 'ssh', PAM_TYPE: 'auth', PAM_SERVICE: 'sshd' }, input: `${code}\n` });
    for (let i = 0; i < 4; i++) expect((await store.login('ssh', 'wrong password!')).code).toBe(5);
    const first = await pamCheck(oathtool(secret, { epoch: nowSeconds() }));
    expect(first.code, first.stderr).toBe(0);
    expect(lock()).toMatchObject({ passwordFailures: 4, passwordUntil: null });
    // The fifth bans, and the user's own SSH sign-ins (a recovery key now) do not lift the ban.
    expect((await store.login('ssh', 'wrong password!')).code).toBe(5);
    expect(lock().passwordUntil).not.toBeNull();
    const second = await pamCheck(key!);
    expect(second.code, second.stderr).toBe(0);
    expect(lock().passwordUntil).not.toBeNull();
    // Lifted, a sign-in with the password and a code clears the count.
    expect((await store.run(['tfa', 'unlock', 'ssh'])).code).toBe(0);
    expect((await store.login('ssh', 'wrong password!')).code).toBe(5);
    const signedIn = await store.login('ssh', PW, oathtool(secret, { epoch: nowSeconds() + 30 }));
    expect(signedIn.code, signedIn.stderr).toBe(0);
    expect(lock()).toMatchObject({ passwordFailures: 0, passwordUntil: null });
  });
});
