import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BACKEND, BIN, oathtool, oneLineError, TempStore } from './harness.js';
import { CERT, CERT_KEY } from '../fixtures/test-certificate.js';
import { PG_BIN } from '../fixtures/postgres.js';

/**
 * `tfactl serve` as it runs: the built binary on a temporary Unix socket, asked with curl, as the
 * README's examples do (and those examples run as written); 10 racing answers with one code; the
 * request log; SIGTERM.
 */
const store = new TempStore();
const PW = 'service user password';
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const sock = join(store.dir, 'run', 'tfactl.sock');
let server: ChildProcess;
let log = '';
let stdout = '';
let adminToken: string;

function curl(path: string, { body, token }: { body?: unknown; token?: string } = {}): { status: number; json: { ok: boolean; result?: Record<string, unknown>; error?: { code: string; message: string } } } {
  const args = ['-s', '-w', '\n%{http_code}', '--unix-socket', sock, ...(token ? ['-H', `Authorization: Bearer ${token}`] : []), ...(body !== undefined ? ['-d', JSON.stringify(body)] : []), `http://localhost${path}`];
  const r = spawnSync('curl', args, { encoding: 'utf8' });
  const lines = r.stdout.trimEnd().split('\n');
  return { status: Number(lines.pop()), json: JSON.parse(lines.join('\n')) };
}
const token = async (userid: string, name: string, extra: string[] = []) => (await store.run(['token', 'add', userid, name, '--json', ...extra])).json().result.value as string;

beforeAll(async () => {
  await store.run(['init']);
  await store.addUser('web', PW, ['--admin']);
  await store.addUser('alice', PW, ['--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none']);
  await store.addUser('bob', PW);
  adminToken = await token('web', 'app', ['--privileges', 'read-only']);
  server = spawn(process.execPath, [BIN, 'serve', '--socket', sock, '--json'], { env: { ...process.env, ...store.env, TFACTL_AS: undefined }, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  await new Promise<void>((ready, fail) => {
    server.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('"listening"')) ready();
    });
    server.on('exit', (code) => fail(new Error(`tfactl serve exited ${code}: ${log}`)));
  });
}, 30_000);
afterAll(() => {
  server?.kill('SIGKILL');
  store.remove();
});

describe('tfactl serve', () => {
  it('listens on a 0666 socket in a 0755 directory and answers /api/v1/health', () => {
    expect(statSync(sock).mode & 0o777).toBe(0o666);
    expect(statSync(join(store.dir, 'run')).mode & 0o777).toBe(0o755);
    const r = curl('/api/v1/health');
    expect(r).toEqual({ status: 200, json: { ok: true, result: { version: expect.any(String) }, warnings: [] } });
  });

  it("checks a password and then a TOTP code, as login --begin/--finish, with the README's commands as written", () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const start = readme.indexOf('<!-- serve-api');
    const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start))![1]!;
    const r = spawnSync('bash', ['-c', `set -eo pipefail\n${block}`], { cwd: store.dir, encoding: 'utf8', env: { ...process.env, SOCK: sock, TOKEN: adminToken, PASSWORD: PW, SECRET } });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(store.dir, 'begun.json'), 'utf8'))).toMatchObject({ ok: true, result: { userid: 'alice@local', kinds: ['totp'] } });
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, result: { userid: 'alice@local', method: 'totp', recoveryKeysLeft: null }, warnings: [] });
    expect(store.auditRows().at(-1)).toMatchObject({ actor: 'alice@local', action: 'login', outcome: 'ok' });
    expect(JSON.parse(store.auditRows().at(-1)!.detail!)).toMatchObject({ via: 'web@local!app' });
  });

  it('signs in a user without factors with the password alone, and refuses a wrong one (401, audited)', () => {
    expect(curl('/api/v1/login', { token: adminToken, body: { userid: 'bob', password: PW } })).toEqual({
      status: 200,
      json: { ok: true, result: { userid: 'bob@local', method: 'password', recoveryKeysLeft: null }, warnings: [] },
    });
    // A blank password is none given: 400, counted toward no ban.
    for (let i = 0; i < 6; i++) {
      expect(curl('/api/v1/login', { token: adminToken, body: { userid: 'bob', password: '' } })).toMatchObject({ status: 400, json: { ok: false, error: { code: 'missing_secret' } } });
    }
    expect(curl('/api/v1/login', { token: adminToken, body: { userid: 'bob', password: PW } }).status).toBe(200);
    const wrong = curl('/api/v1/login', { token: adminToken, body: { userid: 'bob', password: 'not the password' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json.error!.code).toBe('auth_failed');
    expect(store.auditRows().at(-1)).toMatchObject({ actor: 'bob@local', action: 'login', outcome: 'failed' });
  });

  it('needs a token that may check the user, and a well-formed request', async () => {
    expect(curl('/api/v1/login', { body: { userid: 'bob', password: PW } }).status).toBe(401);
    expect(curl('/api/v1/login', { token: `${adminToken.slice(0, -1)}x`, body: { userid: 'bob', password: PW } }).status).toBe(401);
    const bobs = await token('bob', 'own');
    const other = curl('/api/v1/login', { token: bobs, body: { userid: 'alice', password: PW } });
    expect(other.status).toBe(403);
    expect(curl('/api/v1/login', { token: adminToken, body: { userid: 'root@local', password: PW } }).status).toBe(403);
    expect(curl('/api/v1/login', { token: adminToken, body: { userid: 'bob' } }).status).toBe(400);
    expect(curl('/api/v1/login', { token: adminToken, body: 'not an object' }).status).toBe(400);
    expect(curl('/api/v1/login', { token: adminToken, body: { userid: 'nobody', password: PW } }).status).toBe(401);
    expect(curl('/api/v1/nothing').status).toBe(404);
  });

  it('of 10 racing answers with one code, exactly one signs in', async () => {
    const begun = curl('/api/v1/login', { token: adminToken, body: { userid: 'alice', password: PW } });
    const challenge = begun.json.result!.challenge as string;
    // A code of the next step: the one the README's example used is spent.
    const code = oathtool(SECRET, { epoch: Math.floor(Date.now() / 1000) + 30 });
    const body = JSON.stringify({ userid: 'alice', challenge, response: code });
    const results = await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<string>((done) => {
            const c = spawn('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', sock, '-H', `Authorization: Bearer ${adminToken}`, '-d', body, 'http://localhost/api/v1/login']);
            let out = '';
            c.stdout.on('data', (d: Buffer) => (out += d.toString()));
            c.on('close', () => done(out));
          }),
      ),
    );
    expect(results.sort()).toEqual(['200', '401', '401', '401', '401', '401', '401', '401', '401', '401']);
  });

  it('runs any command for POST /api/v1/run, answering its envelope with the status of its exit code', async () => {
    const run = (body: unknown, auth?: string) => curl('/api/v1/run', { body, ...(auth && { token: auth }) });
    // With the token of the Authorization header: the same envelope the CLI prints with --json.
    const shown = run({ args: ['user', 'show', 'bob'] }, adminToken);
    expect(shown.status).toBe(200);
    const cli = await store.run(['user', 'show', 'bob', '--json']);
    expect(shown.json.result).toEqual(cli.json().result);
    // As a user signed in with --password-stdin, the password in "stdin".
    const self = run({ args: ['--as', 'bob', '--password-stdin', 'user', 'show', 'bob'], stdin: `${PW}\n` });
    expect([self.status, self.json.ok]).toEqual([200, true]);
    const before = store.snapshot();
    for (const [body, auth, status, code] of [
      [{ args: ['user', 'list'] }, undefined, 403, 'not_owner'],
      [{ args: ['--as', 'bob', '--password-stdin', 'user', 'show', 'bob'], stdin: 'wrong\n' }, undefined, 401, 'auth_failed'],
      [{ args: ['user', 'modify', 'bob', '--comment', 'x'] }, adminToken, 403, 'permission_denied'],
      [{ args: ['user', 'show', 'nobody-at-all'] }, adminToken, 404, 'not_found'],
      [{ args: ['user', 'frobnicate'] }, adminToken, 400, 'usage'],
      [{ args: ['backup', join(store.dir, 'stolen.db')] }, adminToken, 400, 'not_through_service'],
      [{ args: ['--as', 'bob', 'user', 'show', 'bob'] }, undefined, 400, 'no_tty'],
      [{ args: 'user list' }, adminToken, 400, 'invalid_body'],
      // A page's address would come back only with the answer: refused at once, not after 120 s.
      [{ args: ['tfa', 'add', 'webauthn', 'bob', '--page', '--no-open'] }, adminToken, 400, 'not_through_service'],
    ] as const) {
      const r = run(body, auth);
      expect([r.status, r.json.ok, r.json.error?.code], JSON.stringify(body)).toEqual([status, false, code]);
    }
    expect(store.snapshot()).toBe(before);
    expect(existsSync(join(store.dir, 'stolen.db'))).toBe(false);
    expect(log).toMatch(/"method":"POST","path":"\/api\/v1\/run","status":200,"ms":[\d.]+,"command":"user show","exit":0/);
  });

  it('refuses before checking anything a body that gives a key twice, names a field it does not take or nests deep, and a web page\'s request', () => {
    const raw = (path: string, text: string, headers: string[] = [], withToken = true) => {
      const file = join(store.dir, 'raw-body.json');
      writeFileSync(file, text);
      const auth = withToken ? ['-H', `Authorization: Bearer ${adminToken}`] : [];
      const r = spawnSync('curl', ['-s', '-w', '\n%{http_code}', '--unix-socket', sock, ...auth, ...headers.flatMap((h) => ['-H', h]), '--data-binary', `@${file}`, `http://localhost${path}`], { encoding: 'utf8' });
      const lines = r.stdout.trimEnd().split('\n');
      return { status: Number(lines.pop()), error: (JSON.parse(lines.join('\n')) as { error?: { code: string; message: string } }).error };
    };
    const before = store.snapshot();
    expect(raw('/api/v1/login', `{"userid":"bob","userid":"alice","password":"${PW}"}`)).toEqual({ status: 400, error: { code: 'invalid_body', message: 'the request body gives "userid" twice' } });
    expect(raw('/api/v1/run', '{"args":["user","list"],"stdn":"x"}')).toEqual({ status: 400, error: { code: 'invalid_body', message: 'the request body has a field "stdn" this API does not take (it takes args, stdin)' } });
    // A token's value sent as a field's name is not repeated, as a command's messages never do.
    expect(raw('/api/v1/run', '{"args":["user","list"],"bob!ci=leakedsecret2":"x"}')).toEqual({
      status: 400,
      error: { code: 'invalid_body', message: 'the request body has a field of 20 characters this API does not take (it takes args, stdin)' },
    });
    // An Authorization header that is no Bearer token is refused in the API's words, not dropped
    // (the command then ran as nobody, and spoke of --as and TFACTL_TOKEN).
    expect(raw('/api/v1/run', '{"args":["user","list"]}', ['Authorization: Basic YWRtaW46cGFzcw=='], false)).toEqual({
      status: 401,
      error: { code: 'auth_failed', message: 'authentication failed: the Authorization header is not Bearer USERID!NAME=SECRET (this API takes API tokens)' },
    });
    expect(raw('/api/v1/run', '{"args":["user","list"]}', ['Authorization: Bearer wrong'], false)).toEqual({
      status: 401,
      error: { code: 'auth_failed', message: 'authentication failed: the Authorization header holds no API token (Bearer USERID!NAME=SECRET)' },
    });
    const started = Date.now();
    expect(raw('/api/v1/run', `{"args":${'['.repeat(3_000_000)}}`)).toEqual({ status: 400, error: { code: 'invalid_body', message: 'the request body nests deeper than 16 levels' } });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(raw('/api/v1/run', '{"args":["--as","bob","--password-stdin","user","show","bob"],"stdin":"guess\\n"}', ['Origin: https://evil.example', 'Content-Type: text/plain'], false)).toEqual({
      status: 403,
      error: { code: 'browser_refused', message: "tfactl's API does not answer a web page's requests (it sent an Origin): call it from the web app's server" },
    });
    // HTTP's own statuses: a method the path does not take (with the one it does), a body over the limit.
    const method = spawnSync('curl', ['-s', '-i', '-X', 'DELETE', '--unix-socket', sock, 'http://localhost/api/v1/health'], { encoding: 'utf8' }).stdout;
    expect(method).toMatch(/^HTTP\/1\.1 405 /);
    expect(method).toMatch(/\r\nAllow: GET\r\n/i);
    expect(raw('/api/v1/login', `{"userid":"${'x'.repeat(70_000)}"}`)).toMatchObject({ status: 413, error: { code: 'body_too_large' } });
    expect(store.snapshot()).toBe(before);
    // A reverse proxy that adds the token and passes the browser's headers on is answered.
    expect(raw('/api/v1/run', '{"args":["user","show","bob"]}', ['Origin: https://app.example'])).toMatchObject({ status: 200 });
  });

  it("answers POST /api/v1/pam/check and /prompt as text for a PAM line's client, with the README's commands as written", async () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('<!-- serve-pam-api')))![1]!;
    writeFileSync(join(store.dir, 'pam.token'), `${adminToken}\n`, { mode: 0o600 });
    await store.addUser('carol', PW, ['--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none']);
    const code = oathtool(SECRET);
    const r = spawnSync('bash', ['-c', `set -eo pipefail\n${block}`], { cwd: store.dir, encoding: 'utf8', env: { ...process.env, SOCK: sock, CODE: code } });
    expect({ status: r.status, stdout: r.stdout }, r.stderr).toEqual({
      status: 0,
      stdout: 'Second factor for carol@local: type a TOTP code at the next prompt.\ncarol@local: second factor accepted (totp)\n',
    });
    expect(store.auditRows().at(-1)).toMatchObject({ actor: 'carol@local', action: 'pam', target: 'carol@local', outcome: 'ok' });
    expect(JSON.parse(store.auditRows().at(-1)!.detail!)).toMatchObject({ method: 'totp', via: 'web@local!app', pam: { service: 'sshd', rhost: '198.51.100.7', tty: null } });
    // The same code again, the token in the header: refused (401), as text.
    const again = spawnSync('curl', ['-s', '-w', '\n%{http_code} %{content_type}', '--unix-socket', sock, '-H', `Authorization: Bearer ${adminToken}`, '--data-urlencode', 'user=carol', '--data-urlencode', `answer=${code}`, 'http://localhost/api/v1/pam/check'], { encoding: 'utf8' });
    expect(again.stdout).toBe('error: authentication failed: invalid or already used TOTP code (each code works once: wait for the next one)\n\n401 text/plain; charset=utf-8; tfactl-exit=5');
    const before = store.snapshot();
    const text = (args: string[], path = '/api/v1/pam/check') => {
      const res = spawnSync('curl', ['-s', '-w', '\n%{http_code}', '--unix-socket', sock, ...args, `http://localhost${path}`], { encoding: 'utf8' });
      const lines = res.stdout.split('\n');
      return [Number(lines.pop()), lines.join('\n')];
    };
    const form = (fields: Record<string, string>) => Object.entries(fields).flatMap(([k, v]) => ['--data-urlencode', `${k}=${v}`]);
    for (const [args, status, message] of [
      [[], 405, 'error: POST /api/v1/pam/check\n'],
      [form({ user: 'alice', answer: '123456' }), 401, 'error: authentication failed: POST /api/v1/pam/check needs an API token: the field token, or Authorization: Bearer USERID!NAME=SECRET\n'],
      [form({ user: 'alice', answer: '123456', token: 'web@local!app=not it' }), 401, 'error: authentication failed: the token sent is not an API token (USERID!NAME=SECRET)\n'],
      // A secret of another shape is a wrong one, refused as any other.
      [form({ user: 'alice', answer: '123456', token: 'web@local!app=not-it' }), 401, 'error: authentication failed: API token web@local!app is unknown, wrong, expired, or its user may not sign in\n'],
      [form({ user: 'alice', answer: '123456', token: `${adminToken.slice(0, -1)}${adminToken.endsWith('x') ? 'y' : 'x'}` }), 401, expect.stringMatching(/^error: authentication failed: .*token.*\n$/)],
      [[...form({ user: 'alice', token: adminToken }), '-H', `Authorization: Bearer ${adminToken}`], 400, 'error: give the API token once: the field token or the Authorization header\n'],
      [form({ user: 'alice', token: adminToken, db: '/tmp/x' }), 400, 'error: unknown field "db" for pam check: the fields are user, service, rhost, tty, type, realm, token, password, nullok, answer\n'],
      [[...form({ user: 'alice', token: adminToken }), '--data-urlencode', '=alice@local!ci=leakedsecret1'], 400, 'error: unknown field of 28 characters for pam check: the fields are user, service, rhost, tty, type, realm, token, password, nullok, answer\n'],
      [form({ user: 'alice', token: adminToken }), 400, 'error: nothing on standard input: tfactl pam check reads what pam_exec expose_authtok passes\n'],
      [form({ user: 'root', token: adminToken, answer: '123456' }), 403, expect.stringMatching(/^error: .*root@local.*\n$/)],
      [['--data-binary', `token=${encodeURIComponent(adminToken)}&answer=${'1'.repeat(70_000)}`], 413, 'error: the request body is over 65536 bytes\n'],
    ] as const) {
      expect(text([...args]), JSON.stringify(args)).toEqual([status, message]);
    }
    expect(store.snapshot()).toBe(before);
    await expect.poll(() => log).toMatch(/"method":"POST","path":"\/api\/v1\/pam\/check","status":200,"ms":[\d.]+,"userid":"carol@local","command":"pam check","exit":0/);
    // A refused sign-in is named too.
    expect(log).toMatch(/"method":"POST","path":"\/api\/v1\/pam\/check","status":401,"ms":[\d.]+,"userid":"carol@local","command":"pam check","exit":5/);
  });

  it('lives through clients that ask to upgrade to what it does not speak and hang up at once (EPIPE, reset)', async () => {
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((done) => {
        const c = connect(sock, () => {
          c.write(`GET /${i % 2 ? 'api/v1/run' : ''} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n`);
          c.destroy();
          done();
        });
        c.on('error', () => done());
      });
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(server.exitCode).toBeNull();
    expect(curl('/api/v1/health').status).toBe(200);
    expect(log).not.toMatch(/\n\s+at /);
  });

  it('refuses to start on a socket a service still answers on, which keeps answering', () => {
    const second = spawnSync(process.execPath, [BIN, 'serve', '--socket', sock, '--json'], { env: { ...process.env, ...store.env, TFACTL_AS: undefined }, encoding: 'utf8', timeout: 20_000 });
    expect(second.status, second.stderr).toBe(4);
    expect(JSON.parse(second.stdout).error).toEqual({ code: 'socket_in_use', message: `something already listens on --socket ${sock} (another tfactl serve?): stop it first, or give another --socket` });
    expect(existsSync(sock)).toBe(true);
    expect(curl('/api/v1/health').status).toBe(200);
  });

  it('logs one JSON line per request, never a secret, and on SIGTERM finishes and exits 0, removing its socket', async () => {
    const lines = log.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.path === '/api/v1/login').length).toBeGreaterThanOrEqual(20);
    expect(lines.find((l) => l.path === '/api/v1/login' && l.status === 200)).toMatchObject({ method: 'POST', userid: 'alice@local', ms: expect.any(Number) });
    // A refused sign-in names whom it refused.
    expect(lines.find((l) => l.path === '/api/v1/login' && l.status === 401 && l.userid === 'bob@local')).toBeDefined();
    expect(log).not.toContain(PW);
    expect(log).not.toContain(adminToken.split('=')[1]!);
    // The store as the journal may show it: on PostgreSQL, without the connection string's password.
    const storePassword = BACKEND === 'postgres' ? decodeURIComponent(new URL(store.db).password) : '';
    expect(lines.find((l) => l.listening !== undefined)?.store).toBe(BACKEND === 'postgres' ? store.db.replace(`:${new URL(store.db).password}@`, ':***@') : store.db);
    // The store was there: nothing says it was made.
    expect(lines.find((l) => l.listening !== undefined)?.created).toBeUndefined();
    if (storePassword) expect(log).not.toContain(storePassword);
    const exited = new Promise<number | null>((done) => server.on('exit', done));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(sock)).toBe(false);
    // Every request is logged (a line may come just after its answer: counted once the service is gone).
    const logged = log.trim().split('\n').filter((l) => (JSON.parse(l) as { path?: string }).path !== undefined).length;
    expect(JSON.parse(stdout)).toEqual({ ok: true, result: { socket: sock, requests: logged }, warnings: [] });
  });
});

describe('tfactl serve --listen', () => {
  it('answers over TLS on TCP besides the socket, with the certificate it is given', async () => {
    const cert = join(store.dir, 'cert.pem');
    const key = join(store.dir, 'key.pem');
    writeFileSync(cert, CERT);
    writeFileSync(key, CERT_KEY, { mode: 0o600 });
    const tlsSock = join(store.dir, 'tls.sock');
    const child = spawn(process.execPath, [BIN, 'serve', '--socket', tlsSock, '--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key], { env: { ...process.env, ...store.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      const address = await new Promise<string>((ready, fail) => {
        let text = '';
        child.stderr.on('data', (d: Buffer) => {
          text += d.toString();
          const m = /"tcp":"https:\/\/127\.0\.0\.1:(\d+)"/.exec(text);
          if (m) ready(m[1]!);
        });
        child.on('exit', (code) => fail(new Error(`exited ${code}: ${text}`)));
      });
      const r = spawnSync('curl', ['-s', '--cacert', cert, '--resolve', `pve.example.com:${address}:127.0.0.1`, `https://pve.example.com:${address}/api/v1/health`], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, result: { version: expect.any(String) } });
      const login = spawnSync('curl', ['-s', '--cacert', cert, '--resolve', `pve.example.com:${address}:127.0.0.1`, '-H', `Authorization: Bearer ${adminToken}`, '-d', JSON.stringify({ userid: 'bob', password: PW }), `https://pve.example.com:${address}/api/v1/login`], { encoding: 'utf8' });
      expect(JSON.parse(login.stdout)).toMatchObject({ ok: true, result: { userid: 'bob@local', method: 'password' } });
      // Plain HTTP to a TLS port is not answered as HTTP.
      expect(spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${address}/api/v1/health`], { encoding: 'utf8' }).stdout).not.toBe('200');
      // A flood of connections that never start TLS holds no more than silent ones do: the service
      // keeps its descriptors, answers the next client, and stops at once.
      const silent = await Promise.all(
        Array.from({ length: 400 }, () => new Promise<Socket>((done) => {
          const c = connect(Number(address), '127.0.0.1', () => done(c));
          c.on('error', () => done(c));
        })),
      );
      await new Promise((r) => setTimeout(r, 1200));
      const again = spawnSync('curl', ['-s', '--cacert', cert, '--resolve', `pve.example.com:${address}:127.0.0.1`, `https://pve.example.com:${address}/api/v1/health`], { encoding: 'utf8' });
      expect(JSON.parse(again.stdout)).toMatchObject({ ok: true });
      expect(readdirSync(`/proc/${child.pid}/fd`).length).toBeLessThan(300);
      const stopped = Date.now();
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(Date.now() - stopped).toBeLessThan(5000);
      for (const c of silent) c.destroy();
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
    }
  });

  it.each([
    [['--listen', '0.0.0.0:8443'], /not a loopback address: give --tls-cert and --tls-key/],
    [['--listen', 'example.com:8443'], /invalid --listen/],
    [['--listen', '127.0.0.1:99999'], /invalid --listen/],
    // A leading zero reads as octal to some, and is no port as written.
    [['--listen', '127.0.0.1:080'], /invalid --listen/],
    [['--listen', '127.0.0.1:8443', '--tls-cert', 'x.pem'], /give both --tls-cert and --tls-key/],
    [['--tls-cert', 'x.pem', '--tls-key', 'y.pem'], /go with --listen/],
  ])('refuses %j (exit 2) before listening', async (extra, message) => {
    const r = await store.run(['serve', '--socket', join(store.dir, 'never.sock'), ...extra]);
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toMatch(message);
    expect(existsSync(join(store.dir, 'never.sock'))).toBe(false);
  });
});

describe('tfactl serve refuses TLS it cannot serve (exit 2), before anything listens', () => {
  it('a key that is not PEM, a key that is not the certificate\'s, a certificate that is not one, a key everyone may read', async () => {
    const file = (name: string, text: string, mode = 0o600) => {
      const path = join(store.dir, name);
      writeFileSync(path, text, { mode });
      return path;
    };
    const cert = file('serve-cert.pem', CERT, 0o644);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    for (const [certFile, keyFile, message] of [
      [cert, file('serve-garbage.pem', 'not a key\n'), /^error: --tls-cert and --tls-key cannot serve TLS: the --tls-key file holds no PEM private key \(or one locked with a passphrase\)$/],
      [cert, file('serve-other.pem', other), /^error: --tls-cert and --tls-key cannot serve TLS: the key is not the certificate's$/],
      [file('serve-not-cert.pem', 'not a certificate\n', 0o644), file('serve-key.pem', CERT_KEY), /^error: --tls-cert and --tls-key cannot serve TLS: the --tls-cert file holds no PEM certificate$/],
      [cert, file('serve-open-key.pem', CERT_KEY, 0o644), /^error: the --tls-key file .*serve-open-key\.pem is readable by others \(mode 0644\): run chmod o-r on it$/],
    ] as const) {
      const sock = join(store.dir, 'tls-never.sock');
      const r = await store.run(['serve', '--socket', sock, '--listen', '127.0.0.1:0', '--tls-cert', certFile, '--tls-key', keyFile]);
      expect(r.code, r.stderr).toBe(2);
      expect(oneLineError(r)).toMatch(message);
      expect(existsSync(sock)).toBe(false);
    }
  });
});

describe('tfactl serve refuses a socket it cannot have (exit 2, at once)', () => {
  it.each([
    ['/proc/nope/tfactl.sock', /cannot make the directory of --socket \/proc\/nope\/tfactl\.sock: no such file or directory \(ENOENT\)/],
    ['STORE', /exists and is not a socket/],
    ['', /^error: --socket needs the path of the socket to listen on, without blanks around it$/],
    [`/tmp/${'a'.repeat(120)}.sock`, /^error: --socket \/tmp\/a+\.\.\. is 130 bytes long: a Unix socket's path takes at most 107$/],
    ['/nonexistent-tfactl-dir/run/s.sock', /^error: cannot listen on \/nonexistent-tfactl-dir\/run\/s\.sock: the directory \/nonexistent-tfactl-dir does not exist$/],
  ])('%s', async (socket, message) => {
    // A file of the store's own: its SQLite file, or (on PostgreSQL) its key file.
    const storeFile = BACKEND === 'sqlite' ? store.db : store.keyFile;
    const path = socket === 'STORE' ? storeFile : socket;
    const before = readFileSync(storeFile);
    const r = await store.run(['serve', '--socket', path], { timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toMatch(message);
    expect(readFileSync(storeFile).equals(before)).toBe(true);
    expect(existsSync('/nonexistent-tfactl-dir')).toBe(false);
  });
});

describe('tfactl serve on a store that is not there', () => {
  it('makes it, and says so in the log line that it listens (a mistyped path would serve an empty store unsaid)', async () => {
    const dir = join(store.dir, 'served-new');
    const db = BACKEND === 'postgres' ? store.db : join(dir, 'tfactl.db');
    const sock = join(store.dir, 'new.sock');
    let log = '';
    const child = spawn(process.execPath, [BIN, 'serve', '--socket', sock], { env: { ...process.env, ...store.env, TFACTL_DB: db }, stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((ready) =>
      child.stderr.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes('"listening"')) ready();
      }),
    );
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const listening = log.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.listening !== undefined);
    // On PostgreSQL the store is the test's own, there already; a SQLite file was made here.
    expect(listening?.created).toBe(BACKEND === 'sqlite' ? 'a new, empty store: check the path if one was meant to be there' : undefined);
  });
});

describe('GET /api/v1/health', () => {
  it('answers 503 while the store is gone (a file moved away, a database dropped), not ok', async () => {
    const own = new TempStore();
    try {
      await own.run(['init']);
      const ownSock = join(own.dir, 'health.sock');
      const child = spawn(process.execPath, [BIN, 'serve', '--socket', ownSock], { env: { ...process.env, ...own.env, TFACTL_AS: undefined }, stdio: ['ignore', 'ignore', 'pipe'] });
      let ownLog = '';
      await new Promise<void>((ready) => child.stderr.on('data', (d: Buffer) => (ownLog += d.toString()).includes('"listening"') && ready()));
      const health = () => {
        const r = spawnSync('curl', ['-s', '-w', '\n%{http_code}', '--unix-socket', ownSock, 'http://localhost/api/v1/health'], { encoding: 'utf8' });
        const lines = r.stdout.trimEnd().split('\n');
        return { status: Number(lines.pop()), body: JSON.parse(lines.join('\n')) as { ok: boolean; error?: { code: string } } };
      };
      try {
        expect(health()).toMatchObject({ status: 200, body: { ok: true } });
        if (BACKEND === 'sqlite') {
          renameSync(own.db, `${own.db}.away`);
          expect(health()).toMatchObject({ status: 503, body: { ok: false, error: { code: 'store_missing' } } });
          renameSync(`${own.db}.away`, own.db);
          expect(health()).toMatchObject({ status: 200, body: { ok: true } });
        } else {
          const name = new URL(own.db).pathname.slice(1);
          const admin = new URL(inject('postgresAdminUrl'));
          const drop = spawnSync(join(PG_BIN ?? '', 'psql'), [admin.href, '-X', '-q', '-c', `DROP DATABASE ${name} WITH (FORCE)`], { encoding: 'utf8' });
          expect(drop.status, drop.stderr).toBe(0);
          expect(health()).toMatchObject({ status: 503, body: { ok: false } });
        }
      } finally {
        child.kill('SIGKILL');
      }
      expect(ownLog).not.toMatch(/\n\s+at /);
    } finally {
      own.remove();
    }
  });
});

describe('tfactl serve killed under load', () => {
  it('loses nothing and spends nothing twice: every answered key is spent, the rest still work, clients fail cleanly', async () => {
    await store.addUser('kim', PW);
    const keys = (await store.run(['tfa', 'add', 'recovery', 'kim', '--json'])).json().result.keys as string[];
    const killSock = join(store.dir, 'kill.sock');
    const child = spawn(process.execPath, [BIN, 'serve', '--socket', killSock], { env: { ...process.env, ...store.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((ready) => child.stderr.on('data', (d: Buffer) => d.toString().includes('"listening"') && ready()));
    // Challenges made beforehand (the password check is argon2's time): then 8 answers at once.
    const challenges: string[] = [];
    for (let i = 0; i < 8; i++) challenges.push((await store.run(['login', 'kim', '--begin', '--password-stdin', '--json'], { input: `${PW}\n` })).json().result.challenge);
    const answers = challenges.map(
      (challenge, i) =>
        new Promise<{ key: string; code: number | null; status: string }>((done) => {
          const c = spawn('curl', ['-s', '-w', '%{http_code}', '-o', '/dev/null', '--max-time', '10', '--unix-socket', killSock, '-H', `Authorization: Bearer ${adminToken}`, '-d', JSON.stringify({ userid: 'kim', challenge, response: keys[i] }), 'http://localhost/api/v1/login']);
          let out = '';
          c.stdout.on('data', (d: Buffer) => (out += d.toString()));
          c.on('close', (code) => done({ key: keys[i]!, code, status: out }));
        }),
    );
    await new Promise((r) => setTimeout(r, 40));
    child.kill('SIGKILL');
    const results = await Promise.all(answers);
    // Each client got an answer or a clean failure (no reply, connection reset or refused), none hung.
    for (const r of results) expect(r.status === '200' || (r.code !== 0 && r.code !== 28), JSON.stringify(r)).toBe(true);
    // The store is whole (a SQLite file's own check; a PostgreSQL server keeps its own), and every
    // key answered 200 is spent: a second use is refused.
    if (BACKEND === 'sqlite') expect(store.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    const spent = results.filter((r) => r.status === '200').map((r) => r.key);
    for (const key of keys.slice(0, 8)) {
      const again = await store.run(['login', 'kim', '--password-stdin', '--code', key, '--type', 'recovery', '--json'], { input: `${PW}\n` });
      if (spent.includes(key)) expect(again.code, `${key} was spent`).toBe(5);
      // A key whose answer was cut off was spent or not: never both, and once used it is gone.
      if (again.code === 0) expect((await store.run(['login', 'kim', '--password-stdin', '--code', key, '--type', 'recovery'], { input: `${PW}\n` })).code).toBe(5);
    }
    // Nothing half-written: the keys never tried still work.
    expect((await store.run(['login', 'kim', '--password-stdin', '--code', keys[9]!, '--type', 'recovery', '--json'], { input: `${PW}\n` })).code).toBe(0);
  });
});
