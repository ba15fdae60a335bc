import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect as connectNet, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayStoreLocation } from '../../src/domain/store-location.js';
import { BACKEND, BIN, oathtool, oneLineError, runBin, startServe, TempStore } from './harness.js';
import { NOBODY, nobodyAsClient, RUNUSER, SETPRIV } from './nobody.js';
import { qrLines, terminalToPgm, zbar } from './terminal-image.js';

/**
 * The CLI as a client of tfactl serve: a real service on a temporary socket, its store root's and
 * closed to others, and the built CLI run as the unprivileged OS user nobody (runuser, setpriv)
 * with TFACTL_SERVER or --server: the same output, prompts and exit codes as on the store. On
 * every backend; what only a store file has is in client-store-file.test.ts.
 */
const store = new TempStore();
const PW = 'client user password';
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const { runDir, home, runtime, sock, viaService, startService } = nobodyAsClient(store);
const DRIVER = resolve(import.meta.dirname, 'pty-driver.py');
let server: ChildProcess;
let log = '';

/** `args` as root on the store directly, and as nobody through the service: both results. */
async function bothWays(args: readonly string[], input = '') {
  const direct = await store.run(args, { input });
  const remote = await viaService(args, { input });
  return { direct, remote };
}

function onTerminal(argv: readonly string[], steps: object[], env: Record<string, string | null> = {}) {
  const spec = { argv: [...RUNUSER, 'env', '-C', home, process.execPath, BIN, ...argv], env: { TFACTL_SERVER: sock, NO_COLOR: '1', HOME: home, ...env }, timeout: 40, steps };
  const r = spawnSync('python3', [DRIVER, JSON.stringify(spec)], { encoding: 'utf8' });
  return JSON.parse(r.stdout) as { status: number; output: string; unmatched: string | null };
}


/**
 * What of a service's (pid) descriptors a client's run adds while it has the store open: SQLite,
 * one more of the store's WAL file; PostgreSQL, two more sockets (the client's, then the run's
 * connection). RUN_HANDLES more than before a run. Not the store file's own: while another
 * connection of the process holds its lock (the service's own does, always), SQLite keeps a
 * closed connection's descriptor of it open and hands it to the next connection it opens, so
 * those count connections closed and not yet opened again. A WAL descriptor is closed with its
 * connection, and opened at its first read (a run reads the store before it asks for a password).
 */
function runHandles(pid: number, on: TempStore): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      return BACKEND === 'sqlite' ? target === `${on.db}-wal` : target.startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}
const RUN_HANDLES = BACKEND === 'sqlite' ? 1 : 2;

/**
 * A service on `socket`, and a client of it (as nobody) waiting for its password on a standard
 * input that stays open; `client` resolves when that client exits.
 */
async function clientWaitingForInput(socket: string) {
  const { child } = await startService(socket);
  const proc = spawn('runuser', ['-u', 'nobody', '--', process.execPath, BIN, '--server', socket, '--as', 'tim', '--password-stdin', 'user', 'show', 'tim'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Promise<{ code: number | null; stderr: string }>((r) => proc.on('exit', (code) => r({ code, stderr })));
  // The run has begun when the service opens the store for it (just before it asks for the
  // password): a fixed wait was too short on a busy machine.
  const before = runHandles(child.pid!, store);
  for (const deadline = Date.now() + 15_000; runHandles(child.pid!, store) < before + RUN_HANDLES && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
  expect(runHandles(child.pid!, store)).toBeGreaterThanOrEqual(before + RUN_HANDLES);
  await new Promise((r) => setTimeout(r, 300));
  return { child, client };
}

beforeAll(async () => {
  await store.run(['init']);
  await store.addUser('alice', PW);
  await store.addUser('bob', PW, ['--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none']);
  await store.addUser('ops', PW, ['--admin']);
  for (const u of ['eve', 'sam', 'tim']) await store.addUser(u, PW);
  const started = await startService(sock);
  server = started.child;
  server.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  log = started.log();
}, 30_000);
afterAll(() => {
  server?.kill('SIGKILL');
  store.remove();
});

describe('an unprivileged OS user through tfactl serve', () => {
  it("enrols their own TOTP on a terminal: their password, the QR code, the app's code (runuser)", async () => {
    const r = onTerminal(['--as', 'alice', 'tfa', 'add', 'totp', 'alice', '--description', 'phone'], [
      { expect: 'Enter the password of alice@local', send: `${PW}\r` },
      { expect: 'Verification code', send_totp: { secret: 'Secret: ([A-Z2-7]+)' } },
    ]);
    expect(r.status, r.output).toBe(0);
    // The QR code drawn in the user's terminal decodes to the URI shown beside it.
    const uri = /URI:\s+(otpauth:\S+)/.exec(r.output)?.[1];
    expect(uri).toMatch(/^otpauth:\/\/totp\/.*alice/);
    const image = join(runDir, 'alice.pgm');
    terminalToPgm(qrLines(r.output), 'dark', image);
    expect(zbar(image)).toBe(uri);
    const list = await store.run(['tfa', 'list', 'alice', '--json']);
    expect(JSON.stringify(list.json().result)).toContain('phone');
    // Naming whom it signed in, as every sign-in's line does.
    expect(log).toMatch(/"method":"RUN","command":"tfa add totp","userid":"alice@local","exit":0/);
    // No secret in the request log.
    expect(log).not.toContain(PW);
    expect(log).not.toContain(/secret=([A-Z2-7]+)/.exec(uri ?? '')?.[1] ?? 'no secret');
  });

  it('colours what a terminal shows, but not on a dumb one (TERM goes to the service)', () => {
    const steps = [{ expect: 'Enter the password of tim@local', send: `${PW}\r` }];
    const coloured = onTerminal(['--as', 'tim', 'user', 'list'], steps, { NO_COLOR: null, TERM: 'xterm' });
    expect(coloured.status, coloured.output).toBe(0);
    expect(coloured.output).toMatch(/\u001b\[[0-9;]*m/);
    const dumb = onTerminal(['--as', 'tim', 'user', 'list'], steps, { NO_COLOR: null, TERM: 'dumb' });
    expect(dumb.status, dumb.output).toBe(0);
    expect(dumb.output).toContain('tim@local');
    // No colour (SGR) codes; the password prompt still moves its cursor.
    expect(dumb.output).not.toMatch(/\u001b\[[0-9;]*m/);
  });

  it('signs in with --password-stdin and a TOTP code as a script would (setpriv)', async () => {
    const r = await viaService(['--as', 'bob', '--password-stdin', '--auth-code', oathtool(SECRET), 'user', 'show', 'bob', '--json'], { input: `${PW}\n`, prefix: SETPRIV });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.userid).toBe('bob@local');
  });

  it('gets the same output and exit code as on the store, for successes and every kind of failure', async () => {
    const cases: [string[], string][] = [
      [['--as', 'ops', '--password-stdin', 'user', 'list', '--json'], `${PW}\n`],
      [['--as', 'ops', '--password-stdin', 'user', 'show', 'nobody-here'], `${PW}\n`],
      [['--as', 'ops', '--password-stdin', 'user', 'show', 'bad id!'], `${PW}\n`],
      [['--as', 'alice', '--password-stdin', 'user', 'delete', 'bob', '--yes', '--json'], `${PW}\n`],
      [['--as', 'eve', '--password-stdin', 'user', 'show', 'eve'], 'wrong password\n'],
      [['--as', 'ops', 'user', 'list'], ''],
      [['user', 'show', 'alice', '--frobnicate'], ''],
      [['--as', 'ops', '--password-stdin', 'realm', 'list'], `${PW}\n`],
    ];
    for (const [args, input] of cases) {
      const { direct, remote } = await bothWays(args, input);
      expect({ code: remote.code, stdout: remote.stdout, stderr: remote.stderr }, args.join(' ')).toEqual({ code: direct.code, stdout: direct.stdout, stderr: direct.stderr });
    }
    // And the codes are the ones each failure has: 0, 3, 2, 4, 5, 2 (no terminal to ask on), 2.
    const codes = [];
    for (const [args, input] of cases) codes.push((await viaService(args, { input })).code);
    expect(codes).toEqual([0, 3, 2, 4, 5, 2, 2, 0]);
  });

  it('reads the files a command names as the client, from its directory, with the same errors', async () => {
    const token = (await store.run(['token', 'add', 'ops', 'ci', '--json'])).json().result.value as string;
    writeFileSync(join(home, 'token'), `${token}\n`, { mode: 0o600 });
    chownSync(join(home, 'token'), NOBODY, NOBODY);
    // A relative path: the client's directory, which the service never sees.
    const ok = await viaService(['--token', '@token', 'user', 'show', 'alice', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json().warnings).toEqual([]);
    // One others may read is said to be, as without the service (the client sends its mode).
    chmodSync(join(home, 'token'), 0o644);
    const open = await viaService(['--token', '@token', 'user', 'show', 'alice', '--json']);
    expect(open.code, open.stderr).toBe(0);
    expect(open.json().warnings).toEqual(["the --token file token is readable by others (mode 0644): run 'chmod 600 token'"]);
    chmodSync(join(home, 'token'), 0o600);
    const missing = await bothWays(['--token', '@no-such-file', 'user', 'show', 'alice']);
    expect(missing.remote.code).toBe(2);
    expect(oneLineError(missing.remote)).toBe('error: cannot read the --token file no-such-file: no such file or directory (ENOENT)');
    // A file nobody may not read, though the service (root) could: refused as the client.
    const closed = join(runDir, 'root-only');
    writeFileSync(closed, `${token}\n`, { mode: 0o600 });
    const denied = await viaService(['--token', `@${closed}`, 'user', 'show', 'alice']);
    expect(oneLineError(denied)).toBe(`error: cannot read the --token file ${closed}: permission denied (EACCES)`);
    // A bulk import from the client's file.
    writeFileSync(join(home, 'users.csv'), 'userid,admin\ncarol,false\ndave,false\n');
    const imported = await viaService(['--token', '@token', 'user', 'import', 'users.csv', '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    expect((await store.run(['user', 'show', 'dave'])).code).toBe(0);
  });

  it("serves the WebAuthn page to its client's own browser, a local user the service cannot name (the page's path keeps others out)", async () => {
    await store.addUser('wen', PW);
    let found: (url: string) => void;
    const url = new Promise<string>((r) => (found = r));
    const run = viaService(['--as', 'wen', '--password-stdin', 'tfa', 'add', 'webauthn', 'wen', '--page', '--no-open'], {
      input: `${PW}\n`,
      timeoutMs: 30_000,
      onStderr: (text) => {
        const m = /http:\/\/localhost:\d+\/[A-Za-z0-9_-]{43}\//.exec(text);
        if (m) found(m[0]);
      },
    });
    void run.then(() => found(''));
    const address = await url;
    expect(address, (await Promise.race([run, Promise.resolve(null)]))?.stderr).not.toBe('');
    const page = new URL(address);
    // nobody's browser: the options, then an answer that is no credential, which ends the ceremony.
    const script = `
      const http = require('node:http');
      const ask = (method, path, body) => new Promise((done) => {
        const req = http.request({ host: '127.0.0.1', port: ${page.port}, path, method, setHost: false, agent: false,
          headers: { Host: 'localhost:${page.port}', Origin: 'http://localhost:${page.port}', 'Content-Type': 'application/json' } }, (res) => {
          res.resume(); res.on('end', () => done(res.statusCode));
        });
        req.on('error', (e) => done(e.code)); req.end(body);
      });
      (async () => console.log(JSON.stringify([await ask('GET', '${page.pathname}options'), await ask('POST', '${page.pathname}response', '{}')])))();`;
    const browser = spawnSync(SETPRIV[0]!, [...SETPRIV.slice(1), process.execPath, '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(browser.stdout), browser.stderr).toEqual([200, 400]);
    const r = await run;
    expect(r.code).toBe(4);
    expect(r.stderr).not.toContain('another user of this machine');
  });

  it('refuses what would touch the service\'s own files, changing nothing', async () => {
    const before = store.snapshot();
    for (const args of [
      ['backup', '/tmp/stolen.db'],
      ['restore', '/tmp/stolen.db', '--yes'],
      ['--server', sock, '--db', '/tmp/other.db', 'user', 'list'],
      ['--as', 'alice', '--password-stdin', 'tfa', 'add', 'recovery', 'alice', '--output', '/etc/keys'],
      ['--as', 'alice', '--password-stdin', 'user', 'add', 'newbie', '--no-password', '--recovery-output', '/etc/keys'],
      ['--as', 'alice', '--password-stdin', 'tfa', 'add', 'totp', 'alice', '--no-verify', '--qr', 'png:/tmp/x.png'],
      ['--as', 'ops', '--password-stdin', 'export', 'totp', '--output', '/tmp/secrets.csv'],
      ['--as', 'alice', '--password-stdin', 'tfa', 'add', 'webauthn', 'alice', '--port', '80', '--no-open'],
    ]) {
      const r = await viaService(args, { input: `${PW}\n` });
      expect(r.code, args.join(' ')).toBe(2);
      expect(oneLineError(r)).toMatch(/does not go through the tfactl service|has its own|writes none for its clients|a client may not/);
    }
    // init, which also makes a store of one's own, says how to do that instead.
    const init = await viaService(['init']);
    expect(init.code).toBe(2);
    expect(oneLineError(init)).toBe(
      "error: tfactl init does not go through the tfactl service: run it on the service's host as the store's owner, or, for a store of your own, leave out --server and unset TFACTL_SERVER",
    );
    expect(store.snapshot()).toBe(before);
    expect(existsSync('/tmp/stolen.db') || existsSync('/etc/keys') || existsSync('/tmp/secrets.csv') || existsSync('/tmp/other.db')).toBe(false);
  });

  it('keeps a session in the client\'s $XDG_RUNTIME_DIR, used by later --as commands until logout', async () => {
    const env = { XDG_RUNTIME_DIR: runtime };
    const login = await viaService(['login', 'sam', '--password-stdin', '--session', '--json'], { input: `${PW}\n`, env });
    expect(login.code, login.stderr).toBe(0);
    const file = login.json().result.session.file as string;
    expect(file.startsWith(join(runtime, 'tfactl'))).toBe(true);
    expect(readdirSync(join(runtime, 'tfactl'))).toHaveLength(1);
    const resumed = await viaService(['--as', 'sam', 'user', 'show', 'sam', '--json'], { env });
    expect(resumed.code, resumed.stderr).toBe(0);
    // Its line in the request log names whom the session signed in.
    await expect.poll(() => log).toMatch(/"method":"RUN","command":"user show","userid":"sam@local","exit":0/);
    const out = await viaService(['logout', '--json'], { env });
    expect(out.json().result.ended).toEqual(['sam@local']);
    expect(existsSync(file)).toBe(false);
    const after = await viaService(['--as', 'sam', 'user', 'show', 'sam'], { env });
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/cannot ask for the password/);
  });

  it("refuses a ticket directory others may use in the client's $XDG_RUNTIME_DIR as on the store: login --session before signing in (exit 6), --as signs in without it", async () => {
    const open = join(home, 'runtime-open');
    mkdirSync(join(open, 'tfactl'), { recursive: true });
    for (const dir of [open, join(open, 'tfactl')]) chownSync(dir, NOBODY, NOBODY);
    chmodSync(join(open, 'tfactl'), 0o777);
    const env = { XDG_RUNTIME_DIR: open };
    const why = `cannot keep a session in ${open}/tfactl: others may use it (mode 0777): run 'chmod 700 ${open}/tfactl'`;
    const logins = () => store.auditRows().filter((a) => a.target === 'sam@local' && a.action === 'login').length;
    const before = logins();
    const login = await viaService(['login', 'sam', '--password-stdin', '--session', '--json'], { input: `${PW}\n`, env });
    expect(login.code, login.stderr).toBe(6);
    expect(login.json().error).toEqual({ code: 'session_unavailable', message: why });
    // Refused before the sign-in began: nothing of it is audited (nor a code spent).
    expect(logins()).toBe(before);
    const as = await viaService(['--as', 'sam', '--password-stdin', 'user', 'show', 'sam', '--json'], { input: `${PW}\n`, env });
    expect(as.code, as.stderr).toBe(0);
    expect(as.json().warnings).toContain(`no kept session is used: ${why}`);
    expect(readdirSync(join(open, 'tfactl'))).toEqual([]);
  });

  it('says in --debug which way a command goes', async () => {
    const r = await viaService(['--as', 'tim', '--password-stdin', '--debug', 'user', 'show', 'tim'], { input: `${PW}\n` });
    expect(r.stderr).toContain(`tfactl: through the tfactl service at ${sock} (TFACTL_SERVER)`);
    const direct = await store.run(['--debug', 'user', 'show', 'tim']);
    expect(direct.stderr).toContain(`tfactl: on the store ${displayStoreLocation(store.db)} directly`);
  });

  it('makes no recovery keys for a standard output that goes nowhere here (/dev/null, closed), as on the store', async () => {
    await store.addUser('rio', PW, ['--admin']);
    const before = store.snapshot();
    for (const redirect of ['> /dev/null', '>&-']) {
      const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" --server "${sock}" --as rio --password-stdin tfa add recovery rio ${redirect}`], { input: `${PW}\n`, encoding: 'utf8', env: { ...process.env, TFACTL_AS: undefined } });
      expect(r.status, r.stderr).toBe(2);
      // --output is no way through the service (it writes no file for its clients): said is what is.
      expect(r.stderr).toBe('error: standard output goes nowhere (/dev/null, or closed), so the keys would reach no one: send standard output to a file only you may read ((umask 077; tfactl ... > FILE): the tfactl service writes no file for its clients), or let them be shown\n');
    }
    const totp = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" --server "${sock}" --as rio --password-stdin tfa add totp rio --no-verify > /dev/null`], { input: `${PW}\n`, encoding: 'utf8', env: { ...process.env, TFACTL_AS: undefined } });
    expect(totp.stderr).toBe('error: standard output goes nowhere (/dev/null, or closed), so the new TOTP secret and its QR code would reach no one: give --secret BASE32, or let them be shown\n');
    expect(store.snapshot()).toBe(before);
  });

  it('stores no secret shown only once that could not be written here (a full disk, a reader gone): exit 6, saying nothing was stored', async () => {
    // An admin with a password alone acts for ria, whose recovery keys are in use.
    await store.addUser('rix', PW, ['--admin']);
    await store.addUser('ria', PW);
    expect((await store.run(['tfa', 'add', 'recovery', 'ria'])).code).toBe(0);
    const state = () => JSON.stringify([store.read(['tfa', 'list', 'ria']), store.read(['token', 'list', 'ria']), store.read(['user', 'list']).map((u: { userid: string }) => u.userid)]);
    const before = state();
    for (const [args, undone] of [
      ['tfa add recovery ria --regenerate --yes', 'nothing was stored: any recovery keys in use still work'],
      ['tfa add totp ria --no-verify --qr none --json', 'nothing was stored'],
      ['token add ria lost', 'nothing was stored'],
      ['user add rian --no-password --recovery-keys', 'nothing was stored: rian@local was not added'],
    ] as const) {
      for (const [to, why] of [
        ['> /dev/full', 'cannot write standard output: no space left on the device (ENOSPC)'],
        ['| (exec 0<&-; sleep 1); exit ${PIPESTATUS[0]}', 'standard output was closed before the whole result was written'],
      ] as const) {
        const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" --server "${sock}" --as rix --password-stdin ${args} ${to}`], { input: `${PW}\n`, encoding: 'utf8', env: { ...process.env, TFACTL_AS: undefined } });
        expect(r.status, `${args} ${to}: ${r.stderr}`).toBe(6);
        expect(r.stderr.trimEnd().split('\n').at(-1), `${args} ${to}`).toBe(`error: ${why}; ${undone}`);
      }
    }
    expect(state()).toBe(before);
  });

  it('says when standard output here cannot be written (a full disk), not that the service failed', () => {
    const run = (args: string) =>
      spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" --server "${sock}" --as tim --password-stdin ${args} > /dev/full`], { input: `${PW}\n`, encoding: 'utf8', env: { ...process.env, TFACTL_AS: undefined } });
    const shown = run('user show tim --json');
    expect(shown.status, shown.stderr).toBe(6);
    expect(shown.stderr).toBe('error: cannot write standard output: no space left on the device (ENOSPC) (what the command did is done; its output is cut short)\n');
    // A command that fails keeps its own exit code and says why (tim may not look at others).
    const refused = run('user show alice --json');
    expect(refused.status).toBe(4);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).not.toContain('closed the connection');
  });
});

describe('a service that is not there', () => {
  it('is exit 6 with a clear message, for a missing socket and for one nobody answers', async () => {
    const missing = await viaService(['--as', 'alice', 'user', 'show', 'alice'], { env: { TFACTL_SERVER: join(runDir, 'none.sock') } });
    expect(missing.code).toBe(6);
    expect(oneLineError(missing)).toMatch(/no tfactl service at .*none\.sock \(ENOENT\): start it/);
    const stale = join(runDir, 'stale.sock');
    const { child } = await startService(stale);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    chmodSync(stale, 0o666);
    const refused = await viaService(['--server', stale, '--json', 'user', 'list']);
    expect(refused.code).toBe(6);
    expect(refused.json().error.code).toBe('service_unavailable');
    expect(oneLineError(refused)).toMatch(/is not answering \(ECONNREFUSED\)/);
  });

  it('is exit 6 naming the answer, when something else answers there and closes (the command was sent with the request)', async () => {
    // Answers the first bytes and closes without reading the rest: the worst case for an answer
    // to get through.
    const other = join(runDir, 'other.sock');
    const server = createNetServer((c) => c.once('data', () => c.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')));
    await new Promise<void>((r) => server.listen(other, r));
    chmodSync(other, 0o666);
    try {
      for (let i = 0; i < 5; i++) {
        const r = await viaService(['--server', other, '--token', `@${join(runDir, 'no-such.token')}`, 'user', 'list']);
        expect(r.code).toBe(6);
        expect(oneLineError(r)).toMatch(/does not take tfactl commands \(HTTP 404\)/);
      }
    } finally {
      server.close();
    }
  });

  it('ends a client whose service is killed mid-command with exit 6, and the store is whole', async () => {
    const { child, client } = await clientWaitingForInput(join(runDir, 'dying.sock'));
    child.kill('SIGKILL');
    const { code, stderr } = await client;
    expect(code).toBe(6);
    expect(stderr.trim()).toMatch(/^error: the tfactl service at .* closed the connection before the command ended/);
    expect((await store.run(['user', 'show', 'alice'])).code).toBe(0);
  });
});

describe('what the service and the client do not trust', () => {
  it('a socket owned by someone other than root or the user is not a service to trust (exit 6)', async () => {
    const fake = join(runDir, 'fake.sock');
    const server = createNetServer(() => undefined);
    await new Promise<void>((r) => server.listen(fake, r));
    try {
      chownSync(fake, NOBODY, NOBODY);
      const r = await runBin(['--server', fake, 'user', 'list']);
      expect(r.code).toBe(6);
      expect(oneLineError(r)).toBe(`error: the socket ${fake} belongs to uid ${NOBODY}, neither root nor you: not a tfactl service to trust`);
    } finally {
      server.close();
    }
  });

  it('nor a socket reached through a symlink or directory another user controls: they could swap it between the check and the connection', async () => {
    const token = (await store.run(['token', 'add', 'ops', 'route', '--json'])).json().result.value as string;
    writeFileSync(join(home, 'route.token'), `${token}\n`, { mode: 0o600 });
    chownSync(join(home, 'route.token'), NOBODY, NOBODY);
    const asNobody = (server: string) => viaService(['--server', server, '--token', '@route.token', 'user', 'show', 'alice', '--json']);
    // Symlinks of root's, or nobody's own in their own home, lead to the service.
    const rootLink = join(runDir, 'root-link.sock');
    symlinkSync(sock, rootLink);
    const ownLink = join(home, 'own-link.sock');
    symlinkSync(sock, ownLink);
    lchownSync(ownLink, NOBODY, NOBODY);
    for (const server of [rootLink, ownLink]) expect((await asNobody(server)).code).toBe(0);

    // Root's client, through nobody's directory or symlink, or a directory anyone may write.
    const theirs = join(runDir, 'theirs');
    mkdirSync(theirs);
    chownSync(theirs, NOBODY, NOBODY);
    symlinkSync(sock, join(theirs, 'svc.sock'));
    const theirLink = join(runDir, 'their-link.sock');
    symlinkSync(sock, theirLink);
    lchownSync(theirLink, NOBODY, NOBODY);
    const open = join(runDir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    symlinkSync(sock, join(open, 'svc.sock'));
    // A dangling symlink of theirs: they could give it a target between the check and the connection.
    const dangling = join(runDir, 'dangling.sock');
    symlinkSync(join(runDir, 'not-yet.sock'), dangling);
    lchownSync(dangling, NOBODY, NOBODY);
    const refused: [string, string][] = [
      [dangling, `the symlink ${dangling} belongs to uid ${NOBODY}`],
      [join(theirs, 'svc.sock'), `the directory ${theirs} belongs to uid ${NOBODY}`],
      [theirLink, `the symlink ${theirLink} belongs to uid ${NOBODY}`],
      [join(open, 'svc.sock'), `the directory ${open} is writable by others (mode 0777)`],
    ];
    for (const [server, why] of refused) {
      const r = await runBin(['--server', server, '--token', token, 'user', 'show', 'alice', '--json']);
      expect(r.code, r.stderr).toBe(6);
      expect(r.json().error).toEqual({
        code: 'service_untrusted',
        message: `refusing the socket ${server}: ${why}, so another user could put something else in its place; keep it where only root may write`,
      });
    }
  });

  it('serve makes its socket only where no other user may write, /tmp included, and leaves what is there alone', async () => {
    const theirs = join(runDir, 'their-run');
    mkdirSync(theirs);
    chownSync(theirs, NOBODY, NOBODY);
    const sticky = join(runDir, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const refused: [string, string][] = [
      [theirs, `it belongs to uid ${NOBODY}`],
      [sticky, 'it is writable by others (mode 01777)'],
    ];
    for (const [dir, why] of refused) {
      const r = await store.run(['serve', '--socket', join(dir, 'tfactl.sock'), '--json']);
      expect(r.code, r.stderr).toBe(6);
      expect(r.json().error).toEqual({
        code: 'socket_permissions',
        message: `refusing the directory of --socket ${dir}: ${why}, so another user could put something else in its place; keep it where only root may write`,
      });
      expect(readdirSync(dir)).toEqual([]);
    }
    // Made 0666 as it is bound, never chmod-ed by name afterwards (that would follow a symlink).
    const own = join(runDir, 'own-run');
    const { child } = await startService(join(own, 'tfactl.sock'));
    try {
      expect(statSync(join(own, 'tfactl.sock')).mode & 0o7777).toBe(0o666);
      expect(statSync(own).mode & 0o7777).toBe(0o755);
    } finally {
      child.kill('SIGTERM');
    }
  });

  /**
   * A raw conversation on the run protocol: `lines` sent after the upgrade request (a reply once
   * the service has asked something, as a client's goes); what came back until the service closed
   * the connection, or (`hangUpMs`) until we did.
   */
  const talk = (lines: string[], hangUpMs?: number) =>
    new Promise<string>((done) => {
      const s = connectNet(sock);
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('close', () => done(got));
      s.on('connect', async () => {
        s.write(`GET /api/v1/run HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tfactl-cli/1\r\n\r\n`);
        for (const l of lines) {
          if (l.includes('"reply"') && lines.some((x) => x.includes('"start"'))) for (const end = Date.now() + 10_000; !got.includes('"t":"call"') && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
          s.write(`${l}\n`);
        }
        if (hangUpMs !== undefined) setTimeout(() => s.destroy(), hangUpMs);
      });
    });

  it('a client that sends what is not the protocol, or too many files, is dropped or refused', async () => {
    const unknown = await talk(['{"t":"hello"}']);
    expect(unknown).toMatch(/^HTTP\/1\.1 101/);
    expect(unknown).not.toContain('"exit"');
    const many = await talk(Array.from({ length: 17 }, (_, i) => JSON.stringify({ t: 'file', path: `f${i}`, data: '', more: false })));
    expect(many).toContain('at most 16 files');
    expect(many).toContain('{"t":"exit","code":2}');
    const long = await talk([JSON.stringify({ t: 'start', argv: ['user', 'show', 'x'.repeat(65 * 1024)], env: {}, tty: {} })]);
    expect(long).toContain('through a tfactl service an argument is at most 64 KiB of text (argument 3 is not)');
  });

  it('a command line the service would not take is a usage error at the client, in --json its envelope', async () => {
    for (const [args, message] of [
      [['user', 'show', 'x'.repeat(65 * 1024)], 'through a tfactl service an argument is at most 64 KiB of text (argument 3 is not)'],
      [['realm', 'set-yubico', 'local', ...Array.from({ length: 130 }, (_, i) => ['--url', `https://h${i}.example.org/wsapi/2.0/verify`]).flat()], 'through a tfactl service a command line is at most 256 arguments (this one has 264)'],
    ] as const) {
      const r = await viaService([...args, '--json']);
      expect({ code: r.code, error: r.json().error }).toEqual({ code: 2, error: { code: 'invalid_argument', message } });
    }
  });

  it('a frame of the wrong shape ends its own conversation, never the service', async () => {
    /** Whether the frames answer a question their command asks. */
    const answering = (frames: string[]) => frames.some((f) => f.includes('"start"')) && frames.some((f) => f.includes('"reply"'));
    for (const frames of [
      ['{"t":"file","path":"/x","problem":null}'],
      ['{"t":"file","path":"/x","problem":{"message":{"toString":null}}}'],
      ['{"t":"file","path":"/x","problem":"text"}'],
      ['{"t":"reply","id":1,"error":null}'],
      ['{"t":"start","argv":null}'],
      ['{"t":"start","argv":["--as","tim","--password-stdin","user","show","tim"],"env":{},"tty":{"stdin":true,"stdout":true,"stderr":true,"columns":80},"tickets":false}', '{"t":"reply","id":1,"error":null}'],
      ['{"t":"start","argv":["--as","tim","--password-stdin","user","show","tim"],"env":{},"tty":{"stdin":true,"stdout":true,"stderr":true,"columns":80},"tickets":false}', '{"t":"reply","id":1,"error":{"message":{"toString":null},"exitCode":2}}'],
    ]) {
      const got = await talk(frames, 500);
      // The replies answered a question the service had asked.
      if (answering(frames)) expect(got).toContain('"t":"call"');
      expect(server.exitCode, `after ${frames.join(' ')}: ${log}`).toBeNull();
    }
    // Still answering.
    const r = spawnSync('curl', ['-s', '--unix-socket', sock, 'http://tfactl/api/v1/health'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true });
  });
});

describe('a service stopping (SIGTERM)', () => {
  /**
   * A service on `name`, with one connection a piece that sent what `sent` holds (nothing: a
   * silent one); then SIGTERM: how long the service took to exit (it must exit 0).
   */
  async function stopWith(name: string, sent: readonly string[]): Promise<number> {
    const stoppingSock = join(runDir, name);
    const { child } = await startService(stoppingSock);
    const connections = sent.map(() => connectNet(stoppingSock).on('error', () => undefined));
    await Promise.all(connections.map((c) => new Promise((r) => c.once('connect', r))));
    sent.forEach((text, i) => text && connections[i]!.write(text));
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    child.kill('SIGTERM');
    expect(await new Promise((r) => child.on('exit', r))).toBe(0);
    const took = Date.now() - started;
    for (const c of connections) c.destroy();
    return took;
  }

  it('does not wait for connections that never sent a whole request', async () => {
    expect(await stopWith('silent.sock', ['', 'GET /api/v1/health HTTP/1.1\r\nHost: x\r\n'])).toBeLessThan(5_000);
  });

  it('does not wait for a request whose body never comes: its command never started', async () => {
    const took = await stopWith('no-body.sock', ['POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"userid"']);
    expect(took).toBeLessThan(5_000);
  }, 30_000);

  it('ends a command waiting for its user with exit 6, and exits 0 at once', async () => {
    const { child, client } = await clientWaitingForInput(join(runDir, 'stopping.sock'));
    const started = Date.now();
    child.kill('SIGTERM');
    const [serviceCode, { code, stderr }] = await Promise.all([new Promise((r) => child.on('exit', r)), client]);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(serviceCode).toBe(0);
    expect(code).toBe(6);
    expect(stderr).toBe('error: the tfactl service is stopping: run the command again once it is back\n');
  });
});

describe('a service stopping while its client is at a prompt', () => {
  it.each([
    ['a password', ['--as', 'alice', 'user', 'show', 'alice'], [] as object[], 'Enter the password of alice@local'],
    // Asked before --as signs in (a no spends no code).
    ['a question', ['--as', 'ops', 'user', 'delete', 'eve'], [] as object[], 'Delete eve@local'],
  ])('at %s, has the client take the prompt back first, so the error is the last line the terminal shows', async (what, argv, before, prompt) => {
    const stoppingSock = join(runDir, `prompt-stopping-${what.replace(/\W/g, '')}.sock`);
    const { child } = await startService(stoppingSock);
    const exited = new Promise((r) => child.on('exit', r));
    // At the prompt the service is stopped (what is "pasted" after it is nothing).
    const r = onTerminal(argv, [...before, { expect: prompt, send_command: ['sh', '-c', `kill -TERM ${child.pid}; sleep 2`] }], { TFACTL_SERVER: stoppingSock });
    expect(await exited).toBe(0);
    expect(r.status).toBe(6);
    const error = 'error: the tfactl service is stopping: run the command again once it is back';
    expect(r.output).toContain(error);
    // Nothing after it: the prompt's clean-up (cursor moves, shown cursor) came before, not over it.
    expect(r.output.slice(r.output.indexOf(error) + error.length).trim()).toBe('');
  });
});

describe('a client that reads no further', () => {
  it('gets all of a long listing after reading nothing of it for a while', async () => {
    const big = new TempStore();
    const bigSock = join(runDir, 'big.sock');
    try {
      await big.run(['init']);
      const csv = join(big.dir, 'many.csv');
      writeFileSync(csv, `userid,comment\n${Array.from({ length: 10_000 }, (_, i) => `u${i},${'c'.repeat(200)}`).join('\n')}\n`);
      const imported = await big.run(['user', 'import', csv]);
      expect(imported.code, imported.stderr).toBe(0);
      await big.addUser('ops', PW, ['--admin']);
      writeFileSync(join(big.dir, 'token'), `${(await big.run(['token', 'add', 'ops', 'list', '--json'])).json().result.value}\n`, { mode: 0o600 });
      const service = await startServe(bigSock, big.env);
      try {
        // About 4 MB of JSON; the client's standard output is not read, so once that pipe is
        // full the client reads no further from the service.
        const client = spawn(process.execPath, [BIN, '--server', bigSock, '--token', `@${join(big.dir, 'token')}`, 'user', 'list', '--json'], { env: { ...process.env, TFACTL_AS: undefined }, stdio: ['ignore', 'pipe', 'pipe'] });
        const exited = new Promise<number | null>((r) => client.on('exit', r));
        // (How the run waits, and that it holds no more than a megabyte, is test/remote/output-pacing.test.ts.)
        await new Promise((r) => setTimeout(r, 3_000));
        let out = '';
        client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        const read = new Promise((r) => client.stdout!.on('end', r));
        expect(await exited).toBe(0);
        await read;
        expect((JSON.parse(out) as { result: unknown[] }).result).toHaveLength(10_002);
        for (const deadline = Date.now() + 10_000; !service.log().includes('"command":"user list","exit":0') && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
        expect(service.log()).toContain('"command":"user list","exit":0');
      } finally {
        service.child.kill('SIGKILL');
      }
    } finally {
      big.remove();
    }
  });
});

describe('the service over TLS', () => {
  it('takes CLI commands at https://127.0.0.1:PORT with a certificate the client trusts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfactl-tls-'));
    try {
      const cert = join(dir, 'cert.pem');
      const key = join(dir, 'key.pem');
      const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
      expect(made.status, made.stderr).toBe(0);
      const { child, log: tlsLog } = await startService(join(dir, 'tls.sock'), ['--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key]);
      try {
        const url = /"tcp":"(https:\/\/127\.0\.0\.1:\d+)"/.exec(tlsLog())?.[1] as string;
        expect(url).toBeDefined();
        const trusted = await runBin(['--server', url, '--as', 'tim', '--password-stdin', 'user', 'show', 'tim', '--json'], { input: `${PW}\n`, env: { NODE_EXTRA_CA_CERTS: cert } });
        expect(trusted.code, trusted.stderr).toBe(0);
        const untrusted = await runBin(['--server', url, '--as', 'tim', '--password-stdin', 'user', 'show', 'tim'], { input: `${PW}\n` });
        expect(untrusted.code).toBe(6);
        expect(oneLineError(untrusted)).toMatch(/cannot reach the tfactl service at https:.*(SELF_SIGNED|UNABLE_TO_VERIFY|CERT)/);
        // One address holds at most 16 places over TCP: clients waiting at a password they never
        // send (no credential needed for that) cannot hold every place of the service.
        // Counted once the trusted run above has let go of its store (its log line comes after),
        // and at the lowest over a short while: a run still closing would raise the bar by one.
        for (const deadline = Date.now() + 10_000; !tlsLog().includes('"command":"user show","userid":"tim","exit":0') && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
        let before = runHandles(child.pid!, store);
        for (let i = 0; i < 10; i++) {
          await new Promise((r) => setTimeout(r, 50));
          before = Math.min(before, runHandles(child.pid!, store));
        }
        const waiting = Array.from({ length: 16 }, () =>
          spawn(process.execPath, [BIN, '--server', url, '--as', 'tim', '--password-stdin', 'user', 'show', 'tim'], { env: { ...process.env, NODE_EXTRA_CA_CERTS: cert, TFACTL_AS: undefined }, stdio: ['pipe', 'ignore', 'ignore'] }),
        );
        try {
          for (const deadline = Date.now() + 30_000; runHandles(child.pid!, store) < before + 16 * RUN_HANDLES && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
          expect(runHandles(child.pid!, store)).toBeGreaterThanOrEqual(before + 16 * RUN_HANDLES);
          const busy = await runBin(['--server', url, '--as', 'tim', '--password-stdin', 'user', 'show', 'tim'], { input: `${PW}\n`, env: { NODE_EXTRA_CA_CERTS: cert } });
          expect(busy.code).toBe(6);
          expect(oneLineError(busy)).toMatch(/the tfactl service is busy \(16 commands from \S+ running\): try again shortly/);
          // The host's own users, on the socket, are not kept out.
          const local = await runBin(['--server', join(dir, 'tls.sock'), '--as', 'tim', '--password-stdin', 'user', 'show', 'tim'], { input: `${PW}\n` });
          expect(local.code, local.stderr).toBe(0);
        } finally {
          for (const w of waiting) w.kill('SIGKILL');
        }
        // Never plain http, not even to loopback: anyone may take a free port there.
        for (const plainUrl of ['http://192.0.2.1:8006', 'http://127.0.0.1:8006']) {
          const plain = await runBin(['--server', plainUrl, 'user', 'list']);
          expect(plain.code).toBe(2);
          expect(oneLineError(plain)).toMatch(/use https:\/\/HOST:PORT or the service's socket path, never plain http/);
        }
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
