import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
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

/** How the stand-in answers a realm: [status, content type]; any other realm, 200 with what it read. */
const TEXT = 'text/plain; charset=utf-8';
const ANSWERS = new Map<string, [number, string]>([
  ['answer-400', [400, TEXT]],
  ['answer-401', [401, TEXT]],
  ['answer-403', [403, TEXT]],
  ['answer-404', [404, TEXT]],
  ['answer-500', [500, TEXT]],
  ['answer-503', [503, TEXT]],
  ['answer-json', [404, 'application/json']],
]);

beforeAll(async () => {
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      const command = req.url === '/api/v1/pam/check' ? 'check' : 'prompt';
      const form = parsePamForm(Buffer.concat(chunks).toString('utf8'), command);
      const realm = form.args.find((a) => a.startsWith('--realm='))?.slice('--realm='.length);
      const [status, type] = ANSWERS.get(realm ?? '') ?? [200, TEXT];
      res.writeHead(status, { 'Content-Type': type }).end(status === 200 ? `${JSON.stringify({ path: req.url, ...form })}\n` : `error: the service said ${status}\n`);
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
    const child = spawn(shell, [CLIENT, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
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
        item.filter((r) => !r.startsWith('-') && !r.startsWith('answer-')),
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
    expect(JSON.parse(prompt.stdout)).toEqual({ path: '/api/v1/pam/prompt', args: ['pam', 'prompt'], env: { PAM_USER: 'alice' }, answer: '', token: TOKEN });
  });

  it("exits with tfactl's code for each HTTP status, the service's text on standard error", async () => {
    const expected: [string, number][] = [['answer-400', 2], ['answer-404', 3], ['answer-403', 4], ['answer-401', 5], ['answer-503', 6], ['answer-500', 1]];
    for (const [realm, code] of expected) {
      const r = await client(['check', '--server', sock, '--token', `@${tokenFile}`, '--realm', realm], { PAM_USER: 'alice' }, '123456');
      expect(r, realm).toEqual({ code, stdout: '', stderr: `error: the service said ${realm.slice(7)}\n` });
    }
    const other = await client(['check', '--server', sock, '--token', `@${tokenFile}`, '--realm', 'answer-json'], { PAM_USER: 'alice' }, '123456');
    expect(other).toEqual({ code: 6, stdout: '', stderr: `error: the service at ${sock} does not take tfactl-pam-curl's checks (HTTP 404): is it tfactl serve, of this version or newer?\n` });
  });
});
