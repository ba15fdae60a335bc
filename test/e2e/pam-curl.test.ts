import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePamForm } from '../../src/commands/serve/pam-form.js';
import { BIN } from './harness.js';

/**
 * bin/tfactl-pam-curl, the shell client PAM runs through a tfactl service, against a stand-in for
 * the service that reads its form as tfactl serve does (parsePamForm) and says what it read: what
 * PAM passes (a login name, a remote host, an answer: any text) reaches the service as it was,
 * never read by the shell or by curl's option parser; and each HTTP status is the exit code tfactl
 * gives. test/e2e/pam.test.ts runs it against the real service, under pamtester.
 */
const CLIENT = resolve(dirname(BIN), 'tfactl-pam-curl');
const dir = mkdtempSync(join(tmpdir(), 'tfactl-pam-curl-'));
const sock = join(dir, 'service.sock');
const tokenFile = join(dir, 'pam.token');
const TOKEN = 'pamadmin@corp!pam=0123456789abcdef0123456789abcdef';
let server: Server;

/**
 * How the stand-in answers: a realm `exit-N` as tfactl serve answers a run that exits N (its
 * status, and N in its type); `no-marker`, 200 as plain text, and `json`, 404 as JSON, as another
 * web server might; any other, 200 and exit 0 with what it read.
 */
const STATUS = new Map([[0, 200], [1, 500], [2, 400], [3, 404], [4, 403], [5, 401], [6, 503]]);
function answerFor(realm: string | undefined): { status: number; type: string; text: string | null } {
  // exit-N, or exit-N-STATUS for an answer whose status is not the one of its code.
  const [, exit, status] = /^exit-(\d+)(?:-(\d{3}))?$/.exec(realm ?? '') ?? [];
  if (exit !== undefined) return { status: Number(status ?? STATUS.get(Number(exit)) ?? 500), type: `text/plain; charset=utf-8; tfactl-exit=${exit}`, text: `error: the service said ${exit}\n` };
  if (realm === 'no-marker') return { status: 200, type: 'text/plain; charset=utf-8', text: 'welcome\n' };
  if (realm === 'json') return { status: 404, type: 'application/json', text: '{"ok":false}\n' };
  return { status: 200, type: 'text/plain; charset=utf-8; tfactl-exit=0', text: null };
}

beforeAll(async () => {
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      const command = req.url === '/api/v1/pam/check' ? 'check' : 'prompt';
      let form: ReturnType<typeof parsePamForm>;
      try {
        form = parsePamForm(Buffer.concat(chunks).toString('utf8'), command);
      } catch (e) {
        res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8; tfactl-exit=2' }).end(`error: ${(e as Error).message}\n`);
        return;
      }
      const { status, type, text } = answerFor(form.args.find((a) => a.startsWith('--realm='))?.slice('--realm='.length));
      res.writeHead(status, { 'Content-Type': type }).end(text ?? `${JSON.stringify({ path: req.url, ...form, headers: Object.keys(req.headers) })}\n`);
    });
  });
  await new Promise<void>((ok) => server.listen(sock, ok));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** The client as pam_exec runs it: only PAM's items in its environment, the answer on standard input. */
function client(args: readonly string[], env: Record<string, string>, input: Buffer | string = '', shell = '/bin/sh'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    // As pam config prints it: -p, so that a bash takes nothing of the environment.
    const child = spawn(shell, ['-p', CLIENT, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
    // A client that exits before reading (a refusal) closes its end: EPIPE is its answer, not a failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Text a variable of pam_exec's environment may hold: anything but NUL. */
const item = fc.string({ unit: 'binary', maxLength: 24 }).filter((s) => !s.includes('\0'));

describe('bin/tfactl-pam-curl', () => {
  it('is portable POSIX sh by shellcheck, with nothing it warns of', () => {
    const r = spawnSync('shellcheck', ['--shell=sh', '--severity=style', CLIENT], { encoding: 'utf8' });
    expect({ status: r.status, output: r.stdout + r.stderr }).toEqual({ status: 0, output: '' });
  });

  // Debian's /bin/sh is dash; Fedora's and Arch's is bash.
  it.each(['/bin/sh', '/bin/bash'])('sends what PAM passes exactly as it was, whatever it holds: quotes, $(...), newlines, blanks, dashes (%s)', async (shell) => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ PAM_USER: item, PAM_SERVICE: item, PAM_RHOST: item, PAM_TTY: item, PAM_TYPE: item }, { requiredKeys: [] }),
        fc.string({ unit: 'binary', maxLength: 40 }),
        item.filter((r) => !r.startsWith('-') && !/^(exit-\d+|no-marker|json)$/.test(r)),
        fc.boolean(),
        async (env, answer, realm, password) => {
          const options = ['--realm', realm, ...(password ? ['--password'] : [])];
          const r = await client(['check', '--server', sock, '--token', `@${tokenFile}`, ...options], env, answer, shell);
          expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
          expect(JSON.parse(r.stdout)).toEqual({
            path: '/api/v1/pam/check',
            args: ['pam', 'check', `--realm=${realm}`, ...(password ? ['--password'] : [])],
            env,
            answer,
            token: TOKEN,
            headers: ['host', 'user-agent', 'accept', 'content-length', 'content-type'],
          });
        },
      ),
      { numRuns: 30 },
    );
  });

  it('sends the bytes pam_exec writes, its NUL at the end and all; prompt sends no answer', async () => {
    const r = await client(['check', '--server', sock, '--token', `@${tokenFile}`, '--nullok'], { PAM_USER: 'alice' }, Buffer.from('123456\0'));
    expect(JSON.parse(r.stdout)).toMatchObject({ args: ['pam', 'check', '--nullok'], env: { PAM_USER: 'alice' }, answer: '123456\0' });
    const prompt = await client(['prompt', '--server', sock, '--token', `@${tokenFile}`], { PAM_USER: 'alice' }, 'not read');
    expect(JSON.parse(prompt.stdout)).toMatchObject({ path: '/api/v1/pam/prompt', args: ['pam', 'prompt'], env: { PAM_USER: 'alice' }, answer: '', token: TOKEN });
  });

  it("exits with the code tfactl's answer names, its text on standard error; never 0 for an answer that is not tfactl's", async () => {
    const check = (realm: string) => client(['check', '--server', sock, '--token', `@${tokenFile}`, '--realm', realm], { PAM_USER: 'alice' }, '123456');
    for (const code of [1, 2, 3, 4, 5, 6]) expect(await check(`exit-${code}`), String(code)).toEqual({ code, stdout: '', stderr: `error: the service said ${code}\n` });
    const notTfactl = `error: the service at ${sock} gave no answer of tfactl's (HTTP %s): is it tfactl serve, of this version or newer?\n`;
    expect(await check('no-marker')).toEqual({ code: 6, stdout: '', stderr: notTfactl.replace('%s', '200') });
    expect(await check('json')).toEqual({ code: 6, stdout: '', stderr: notTfactl.replace('%s', '404') });
    // Codes tfactl never gives (256 would be exit 0), and 0 other than with 200.
    for (const [realm, status] of [['exit-256', '500'], ['exit-00', '200'], ['exit-0-401', '401'], ['exit-5-200', '200'], ['exit-7', '500']]) {
      expect(await check(realm!), realm).toEqual({ code: 6, stdout: '', stderr: notTfactl.replace('%s', status!) });
    }
  });

  it("takes nothing from PAM's environment but PAM's items: no .curlrc, proxy or PATH of the user's", async () => {
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true });
    const trace = join(dir, 'trace.txt');
    writeFileSync(join(home, '.curlrc'), `trace-ascii = "${trace}"\nheader = "X-From-Curlrc: 1"\n`);
    // A PATH whose stat says any socket is root's, and whose curl would be anyone's.
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['stat', 'curl']) writeFileSync(join(bin, tool), '#!/bin/sh\necho 0\n', { mode: 0o755 });
    const env = { PAM_USER: 'alice', HOME: home, CURL_HOME: home, XDG_CONFIG_HOME: home, http_proxy: 'http://127.0.0.1:9', ALL_PROXY: 'http://127.0.0.1:9', PATH: bin };
    const r = await client(['check', '--server', sock, '--token', `@${tokenFile}`], env, '123456');
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout).headers).not.toContain('x-from-curlrc');
    expect(existsSync(trace)).toBe(false);
    // A socket of another user (nobody's), itself or through root's link to it, is not trusted, whatever that stat says.
    const theirs = join(dir, 'theirs.sock');
    const other = createServer(() => undefined);
    await new Promise<void>((ok) => other.listen(theirs, ok));
    try {
      chownSync(theirs, 65534, 65534);
      symlinkSync(theirs, join(dir, 'link.sock'));
      for (const path of [theirs, join(dir, 'link.sock')]) {
        const refused = await client(['check', '--server', path, '--token', `@${tokenFile}`], env, '123456');
        expect(refused, path).toEqual({ code: 6, stdout: '', stderr: `error: the socket ${path} belongs to uid 65534, neither root nor you: not a tfactl service to trust\n` });
      }
    } finally {
      other.close();
    }
  });

  it('started as pam config prints it (sh -p), a bash takes no options or functions from the environment', async () => {
    const env = { PAM_USER: 'alice', SHELLOPTS: 'noexec', 'BASH_FUNC_printf%%': '() { :; }', 'BASH_FUNC_stat%%': '() { echo 0; }', BASH_ENV: '/dev/null' };
    expect(await client(['check', '--server', sock, '--token', `@${tokenFile}`, '--realm', 'exit-5'], env, '123456', '/bin/bash')).toEqual({ code: 5, stdout: '', stderr: 'error: the service said 5\n' });
  });

  it('does not wait on a terminal for the answer: check reads what pam_exec passes', () => {
    const driver = `
import json, os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execve('/bin/sh', ['/bin/sh', '-p', sys.argv[1], 'check', '--server', sys.argv[2], '--token', '@' + sys.argv[3]], {'PAM_USER': 'alice'})
out = b''
while True:
    try:
        data = os.read(fd, 1024)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
print(json.dumps({'code': os.waitstatus_to_exitcode(status), 'output': out.decode()}))
`;
    const r = spawnSync('/usr/bin/python3', ['-c', driver, CLIENT, sock, tokenFile], { encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(r.stdout)).toEqual({ code: 2, output: 'error: standard input is a terminal: tfactl-pam-curl check reads what pam_exec expose_authtok passes\r\n' });
  });
});

describe('a service that takes the connection and never answers (stopped: kill -STOP)', () => {
  it('refuses the sign-in after 60 s, exit 6, with either client: none holds a login for ever', async () => {
    const silent = join(dir, 'silent.sock');
    const held = createNetServer(() => undefined).listen(silent);
    await new Promise((r) => held.once('listening', r));
    try {
      const started = Date.now();
      const node = (command: string) =>
        new Promise<{ code: number | null; stderr: string }>((done) => {
          const child = spawn(process.execPath, [BIN, '--server', silent, '--token', `@${tokenFile}`, 'pam', command, '--realm', 'corp'], { env: { PAM_USER: 'alice', PAM_TYPE: 'auth' } });
          let stderr = '';
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          child.on('close', (code) => done({ code, stderr }));
          child.stdin.end('123456\0');
        });
      const [curl, check, prompt] = await Promise.all([client(['check', '--server', silent, '--token', `@${tokenFile}`], { PAM_USER: 'alice' }, '123456\0'), node('check'), node('prompt')]);
      const waited = (Date.now() - started) / 1000;
      expect(waited).toBeGreaterThan(59);
      expect(waited).toBeLessThan(75);
      expect(curl.code).toBe(6);
      for (const r of [check, prompt]) {
        expect(r.code).toBe(6);
        expect(r.stderr).toBe(`error: the tfactl service at ${silent} did not answer within 60 s: the sign-in is refused\n`);
      }
    } finally {
      held.close();
    }
  }, 90_000);
});
