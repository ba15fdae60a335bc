// Standard input and output without Node's streams (src/stdio.ts), through the real binary: pipes
// and files are read and written with plain system calls, and the cases where that cannot work
// (a reader gone, a non-blocking descriptor) are driven for real from python3.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, oneLineError, TempStore } from './harness.js';

const store = new TempStore();
const PASSWORD = 'stdio-password-1';
const USERS = 900;

beforeAll(async () => {
  await store.run(['init']);
  await store.addUser('alice', PASSWORD);
  // Enough users for `user list --json` to overflow a pipe's 64 KiB buffer (no passwords: fast).
  const csv = join(store.dir, 'users.csv');
  const rows = Array.from({ length: USERS }, (_, i) => `user${String(i).padStart(4, '0')},,false,u${i}@example.org,${'c'.repeat(80)}`);
  writeFileSync(csv, ['userid,password,admin,email,comment', ...rows].join('\n') + '\n');
  const r = await store.run(['user', 'import', csv, '--json']);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => store.remove());

interface PyResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs tfactl from python3 so the descriptors can be set up as a shell or another program might:
 * `setup` is python code that defines `stdin` and `stdout` (file descriptors or subprocess
 * constants) and may define `feed()` (called after start) and `drain(proc)` (returns the output).
 */
function py(args: readonly string[], setup: string): PyResult {
  const script = `
import json, os, subprocess, sys, time
args = json.loads(sys.argv[1])
env = dict(os.environ, **json.loads(${JSON.stringify(JSON.stringify(store.env))}))
env.pop('TFACTL_AS', None)
feed = None
drain = None
${setup}
p = subprocess.Popen([${JSON.stringify(process.execPath)}, ${JSON.stringify(BIN)}] + args, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env)
for fd in (stdin, stdout):
    if isinstance(fd, int) and fd >= 0: os.close(fd)
if feed: feed()
out = drain(p) if drain else b''
err = p.stderr.read()
p.wait()
print(json.dumps({'code': p.returncode, 'stdout': out.decode(), 'stderr': err.decode()}))
`;
  const r = spawnSync('python3', ['-c', script, JSON.stringify(args)], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as PyResult;
}

/** Python set-up: stdout is a non-blocking pipe `r` that nobody reads for a second (so it fills). */
const NON_BLOCKING_STDOUT = `
r, w = os.pipe()
os.set_blocking(w, False)
stdin, stdout = subprocess.DEVNULL, w
def wait_then(after):
    def drain(p):
        time.sleep(1.0)
        return after()
    return drain`;

describe('standard output', () => {
  it('a pipe that would block (non-blocking, full) still gets every byte, in order', async () => {
    const expected = await store.run(['user', 'list', '--json']);
    expect(expected.code).toBe(0);
    expect(expected.stdout.length).toBeGreaterThan(3 * 65536);
    // The write end is non-blocking and nobody reads for a second: the first 64 KiB fit, the next
    // write fails with EAGAIN and the rest must go through Node's stream after what was written.
    const r = py(
      ['user', 'list', '--json'],
      `${NON_BLOCKING_STDOUT}
def read_all():
    chunks = []
    while True:
        c = os.read(r, 65536)
        if not c: return b''.join(chunks)
        chunks.append(c)
drain = wait_then(read_all)
`,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected.stdout);
    expect(JSON.parse(r.stdout).result).toHaveLength(USERS + 2);
  });

  it('a reader that has gone away (EPIPE) ends the output quietly, and (as SIGPIPE would) not with success: exit 6', async () => {
    await store.addUser('piped', PASSWORD);
    const closedPipe = `
r, w = os.pipe()
os.close(r)
stdin, stdout = subprocess.DEVNULL, w
`;
    const before = store.auditRows().length;
    expect(py(['tfa', 'list'], closedPipe)).toEqual({ code: 6, stdout: '', stderr: '' });
    expect(store.auditRows()).toHaveLength(before);
    // Keys shown once and never read are not stored: the command says so, and exits 6.
    expect(py(['tfa', 'add', 'recovery', 'piped', '--json'], closedPipe)).toEqual({
      code: 6,
      stdout: '',
      stderr: 'error: standard output was closed before the whole result was written; nothing was stored\n',
    });
    expect(store.auditRows().filter((a) => a.action === 'tfa.add' && a.target === 'piped@local')).toHaveLength(0);
    expect((await store.run(['tfa', 'list', 'piped', '--json'])).json().result[0].factors).toEqual([]);
  });

  it('recovery keys that cannot be shown (a full disk) are not stored, and --regenerate leaves the keys in use working', async () => {
    await store.addUser('fullkeys', PASSWORD);
    const first = await store.run(['tfa', 'add', 'recovery', 'fullkeys', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const before = store.snapshot();
    for (const json of [['--json'], []]) {
      const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" tfa add recovery fullkeys --regenerate --yes ${json.join(' ')} > /dev/full`], { env: { ...process.env, ...store.env }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(6);
      expect(r.stderr).toBe('error: cannot write standard output: no space left on the device (ENOSPC); nothing was stored: any recovery keys in use still work\n');
    }
    // To /dev/null or closed (>&-, which Node opens on /dev/null): refused before anything, exit 2.
    for (const redirect of ['>&-', '>/dev/null']) {
      const nowhere = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" tfa add recovery fullkeys --regenerate --yes ${redirect}`], { env: { ...process.env, ...store.env }, encoding: 'utf8' });
      expect(nowhere.status, nowhere.stderr).toBe(2);
      expect(nowhere.stderr).toBe('error: standard output goes nowhere (/dev/null, or closed), so the keys would reach no one: give --output FILE, or let them be shown\n');
    }
    // A new TOTP secret, on the terminal or in --json's result: shown before it is stored, or not stored.
    for (const args of [
      ['user', 'add', 'fulltotp', '--no-password', '--tfa', 'totp', '--no-verify', '--qr', 'none'],
      ['user', 'add', 'fulltotp', '--no-password', '--tfa', 'totp', '--no-verify', '--qr', 'none', '--json'],
      ['tfa', 'add', 'totp', 'fullkeys', '--no-verify', '--qr', 'none'],
      ['tfa', 'add', 'totp', 'fullkeys', '--no-verify', '--qr', 'none', '--json'],
      // And an API token's value.
      ['token', 'add', 'fullkeys', 'ci'],
      ['token', 'add', 'fullkeys', 'ci', '--json'],
    ]) {
      const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" "$@" > /dev/full`, 'tfactl', ...args], { env: { ...process.env, ...store.env }, encoding: 'utf8' });
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(6);
      expect(r.stderr.trimEnd().split('\n').at(-1), args.join(' ')).toMatch(/^error: cannot write standard output: no space left on the device \(ENOSPC\); nothing was stored(: fulltotp@local was not added)?$/);
      // Nor does a warning before it say the factor was stored.
      expect(r.stderr.split('\n').filter((line) => line.startsWith('warning:') && line.includes('stored'))).toEqual([]);
    }
    // Made with a new user: shown before the user is stored, or neither is.
    const full = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" user add fullkeys2 --no-password --recovery-keys > /dev/full`], { env: { ...process.env, ...store.env }, encoding: 'utf8' });
    expect([full.status, full.stderr]).toEqual([6, 'error: cannot write standard output: no space left on the device (ENOSPC); nothing was stored: fullkeys2@local was not added\n']);
    expect(store.snapshot()).toBe(before);
    const login = await store.login('fullkeys', PASSWORD, first.json().result.keys[0]);
    expect(login.code, login.stderr).toBe(0);
    expect(login.json().result.recoveryKeysLeft).toBe(9);
  });

  it("refuses to make a token's value or a new TOTP secret while standard output goes nowhere, changing nothing", async () => {
    await store.addUser('nowhere', PASSWORD);
    const before = store.snapshot();
    const toNull = (args: readonly string[]) =>
      spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" "$@" > /dev/null`, 'tfactl', ...args], { env: { ...process.env, ...store.env }, encoding: 'utf8' });
    const refusals: [readonly string[], string][] = [
      [['token', 'add', 'nowhere', 'ci'], "the token's value (shown only now) would reach no one: send standard output to a file only its program can read (> FILE), or let it be shown"],
      [['tfa', 'add', 'totp', 'nowhere', '--no-verify', '--qr', 'none', '--json'], 'the new TOTP secret and its QR code would reach no one: draw the code to a file with --qr png:FILE, give --secret BASE32, or let them be shown'],
      [['user', 'add', 'nowhere2', '--no-password', '--tfa', 'totp', '--no-verify'], 'the new TOTP secret and its QR code would reach no one: draw the code to a file with --qr png:FILE, give --totp-secret BASE32, or let them be shown'],
      [['user', 'add', 'nowhere2', '--no-password', '--recovery-keys'], 'the recovery keys would reach no one: give --recovery-output FILE, or let them be shown'],
    ];
    for (const [args, why] of refusals) {
      const r = toNull(args);
      expect([r.status, r.stderr], args.join(' ')).toEqual([2, `error: standard output goes nowhere (/dev/null, or closed), so ${why}\n`]);
    }
    expect(store.snapshot()).toBe(before);
    // A user without a second factor, nor a secret, has nothing to lose there.
    expect(toNull(['user', 'add', 'nowhere3', '--no-password']).status).toBe(0);
    // A secret the admin gave, or a QR code drawn to a file, is not lost with the output.
    expect(toNull(['tfa', 'add', 'totp', 'nowhere', '--no-verify', '--secret', 'JBSWY3DPEHPK3PXP']).status).toBe(0);
    const png = join(store.dir, 'nowhere.png');
    const drawn = toNull(['tfa', 'add', 'totp', 'nowhere', '--no-verify', '--qr', `png:${png}`]);
    expect(drawn.status, drawn.stderr).toBe(0);
    expect(existsSync(png)).toBe(true);
  });

  it('refuses a user import whose rows make secrets while standard output goes nowhere, unless --results keeps them', async () => {
    const before = store.snapshot();
    const csv = join(store.dir, 'with-secrets.csv');
    writeFileSync(csv, 'userid,tfa\nimp-a,\nimp-b,totp\nimp-c,recovery\n');
    const run = (args: readonly string[], input = '') =>
      spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" "$@" > /dev/null`, 'tfactl', ...args], { env: { ...process.env, ...store.env }, encoding: 'utf8', input });
    // A file is read through first: refused before anything, naming the first such row.
    const refused = run(['user', 'import', csv]);
    expect([refused.status, refused.stderr]).toEqual([2, 'error: standard output goes nowhere (/dev/null, or closed), so the secrets made for rows that ask for them (line 3 first) would reach no one: give --results FILE, or let them be shown\n']);
    expect(store.snapshot()).toBe(before);
    // Standard input is read once: a row that would make secrets fails, the others go in.
    const piped = run(['user', 'import', '-'], 'userid,tfa\nimp-d,\nimp-e,recovery\nimp-f,totp:JBSWY3DPEHPK3PXP\n');
    // The results went nowhere: the error line says why the row failed.
    expect([piped.status, piped.stderr]).toEqual([
      2,
      'error: 1 row could not be imported (line 3: standard output goes nowhere (/dev/null, or closed), so the secrets made for this row would reach no one: give --results FILE, or let them be shown; see the results)\n',
    ]);
    expect([store.hasUser('imp-d'), store.hasUser('imp-e'), store.hasUser('imp-f')]).toEqual([true, false, true]);
    // A dry run says the same of both, as it says what the import would do.
    const dryFile = run(['user', 'import', csv, '--dry-run']);
    expect([dryFile.status, dryFile.stderr]).toEqual([refused.status, refused.stderr]);
    const dryPiped = run(['user', 'import', '-', '--dry-run'], 'userid,tfa\nimp-g,recovery\nimp-h,\n');
    expect([dryPiped.status, dryPiped.stderr]).toEqual([
      2,
      'error: 1 row would fail (line 2: standard output goes nowhere (/dev/null, or closed), so the secrets made for this row would reach no one: give --results FILE, or let them be shown; see the results; nothing was changed)\n',
    ]);
    expect(store.hasUser('imp-h')).toBe(false);
    // With --results the secrets are on disk; a file whose rows make none imports as it always did.
    const results = join(store.dir, 'with-secrets.jsonl');
    const kept = run(['user', 'import', csv, '--results', results]);
    expect(kept.status, kept.stderr).toBe(0);
    expect(readFileSync(results, 'utf8')).toContain('"recoveryKeys":[');
    writeFileSync(csv, 'userid,tfa\nimp-g,\n');
    expect(run(['user', 'import', csv]).status).toBe(0);
  });

  it('a reader that goes away after a write would have blocked also ends the output quietly, exit 6', () => {
    // Past the EAGAIN hand-over, the rest goes through Node's stream: its EPIPE must end as quietly.
    const r = py(
      ['user', 'list', '--json'],
      `${NON_BLOCKING_STDOUT}
def go_away():
    os.read(r, 1000)
    os.close(r)
    return b''
drain = wait_then(go_away)
`,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(6);
  });

  it('output that cannot be written (a full disk) is exit 6 with one line that says the command ran', () => {
    for (const args of [['user', 'add', 'fullout', '--no-password', '--json'], ['user', 'list'], ['audit', '--all', '--json']]) {
      const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" "$@" > /dev/full`, 'tfactl', ...args], { env: { ...process.env, ...store.env }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(6);
      expect(r.stderr).toBe('error: cannot write standard output: no space left on the device (ENOSPC) (what the command did is done; its output is cut short)\n');
    }
    expect(store.hasUser('fullout')).toBe(true);
    // A command that fails says why on standard error, with its own exit code, --json or not.
    for (const json of [['--json'], []]) {
      const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" user show nobody ${json.join(' ')} > /dev/full`], { env: { ...process.env, ...store.env }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/^error: user nobody@local does not exist[^\n]*\n$/);
    }
  });

  it('a regular file gets the same output as a pipe', async () => {
    const file = join(store.dir, 'out.json');
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" user show alice --json > "${file}"`], {
      env: { ...process.env, ...store.env },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const viaPipe = await store.run(['user', 'show', 'alice', '--json']);
    expect(readFileSync(file, 'utf8')).toBe(viaPipe.stdout);
  });
});

describe('command lines the output suggests', () => {
  it('name the store as the command line did (--db), quoted for a shell, and not when the environment names it', async () => {
    const dir = join(store.dir, 'a store dir');
    mkdirSync(dir);
    const db = join(dir, 'other.db');
    const env = { TFACTL_DB: undefined, TFACTL_KEY_FILE: join(dir, 'key') };
    expect((await store.run(['--db', db, 'user', 'add', 'nopw', '--no-password'], { env })).code).toBe(0);
    const quoted = `'${db}'`;
    const shown = await store.run(['--db', db, 'user', 'show', 'nopw'], { env });
    expect(shown.stdout).toContain(`(fix: tfactl --db ${quoted} user passwd nopw@local)`);
    const json = await store.run(['user', 'show', 'nopw', '--json', `--db=${db}`], { env });
    expect(json.json().result.signIn.fix).toBe(`tfactl --db ${quoted} user passwd nopw@local`);
    const missing = await store.run(['--db', db, 'tfa', 'delete', 'nopw', 'abcd'], { env });
    expect(oneLineError(missing)).toBe(`error: nopw@local has no factor abcd (see tfactl --db ${quoted} tfa list nopw@local)`);
    // Named by the environment, the line works as it is.
    const fromEnv = await store.run(['user', 'show', 'nopw'], { env: { ...env, TFACTL_DB: db } });
    expect(fromEnv.stdout).toContain('(fix: tfactl user passwd nopw@local)');
  });
});

describe('standard input', () => {
  it('--password-stdin reads a regular file', () => {
    const file = join(store.dir, 'password.txt');
    writeFileSync(file, `${PASSWORD}\n`);
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" login alice --password-stdin --json < "${file}"`], {
      env: { ...process.env, ...store.env },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).result.userid).toBe('alice@local');
  });

  it('--password-stdin takes only its own lines, leaving the rest for the next program of the script, from a pipe or a file', () => {
    const file = join(store.dir, 'two-passwords.txt');
    writeFileSync(file, `${PASSWORD}\n${PASSWORD}\nleft over\n`);
    for (const input of [`< "${file}"`, 'from-pipe']) {
      const script = `{ "${process.execPath}" "${BIN}" login alice --password-stdin --json; "${process.execPath}" "${BIN}" login alice --password-stdin --json; cat; }`;
      const r = spawnSync('bash', ['-c', input === 'from-pipe' ? `cat "${file}" | ${script}` : `${script} ${input}`], { env: { ...process.env, ...store.env }, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines.slice(0, 2).map((l) => JSON.parse(l).result.userid), input).toEqual(['alice@local', 'alice@local']);
      expect(lines.slice(2), input).toEqual(['left over']);
    }
  });

  it('--password-stdin reads a non-blocking pipe whose writer is slow', () => {
    // The first read fails with EAGAIN: Node's stream takes over and waits for the password.
    const r = py(
      ['login', 'alice', '--password-stdin', '--json'],
      `
r, w = os.pipe()
os.set_blocking(r, False)
stdin, stdout = r, subprocess.PIPE
def feed():
    time.sleep(0.5)
    os.write(w, b'${PASSWORD}\\n')
    os.close(w)
def drain(p):
    return p.stdout.read()
`,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).result.userid).toBe('alice@local');
  });

  it('--password-stdin with /dev/null as standard input is a usage error, not a hang', () => {
    const r = py(['login', 'alice', '--password-stdin'], 'stdin, stdout = subprocess.DEVNULL, subprocess.PIPE\ndef drain(p): return p.stdout.read()');
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: /);
  });
});
