import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFrames, type Frame } from '../../src/remote/frames.js';
import { BIN, oathtool, setUpOn } from '../e2e/harness.js';
import { runOnServiceSide, runSaid } from './service-side.js';

/**
 * `pam check` through tfactl serve reads one line, the answer pam_exec wrote: the client reads it
 * before it sends the command and sends it with the command (`stdinLine` in the start frame), so the
 * run asks nothing of the client. The service's side through acceptCliRun with the real command on
 * a SQLite store; the client's side through the real binary and a socket that records what it is sent.
 */
const dir = mkdtempSync(join(tmpdir(), 'tfactl-first-line-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 'tfactl.db');
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const tfactl = setUpOn(db);

let token = '';
beforeAll(() => {
  writeFileSync(join(dir, 'users.csv'), `userid,password,tfa\n${['ann', 'ben', 'cat', 'dan'].map((u) => `${u},,totp:${SECRET}`).join('\n')}\n`);
  tfactl('user', 'import', join(dir, 'users.csv'));
  tfactl('user', 'add', 'pamcheck', '--admin', '--no-password');
  token = (JSON.parse(tfactl('token', 'add', 'pamcheck', 'pam', '--privileges', 'read-only', '--json')) as { result: { value: string } }).result.value;
}, 30_000);

/** Runs `pam check` for `user` on the service's side with this start frame's `stdinLine` (absent: not sent); answers a stdin.line call with `asked`. */
async function runCheck(user: string, stdinLine: string | null | undefined, asked?: string) {
  const env = { TFACTL_TOKEN: token, PAM_USER: user, PAM_SERVICE: 'sshd' };
  const sent = await runOnServiceSide(db, ['pam', 'check'], env, (f) => (f.fn === 'stdin.line' ? { value: asked ?? null } : undefined), stdinLine !== undefined ? { stdinLine } : {});
  return runSaid(sent);
}

describe('the line of standard input sent with the command (the service)', () => {
  it('checks the code the client sent with the command, asking the client for nothing', async () => {
    const code = oathtool(SECRET);
    expect(await runCheck('ann', code)).toEqual({ code: 0, calls: [], stderr: '' });
    // Spent: the same line again is a replay.
    expect(await runCheck('ann', code)).toEqual({ code: 5, calls: [], stderr: 'error: authentication failed: invalid or already used TOTP code (each code works once: wait for the next one)\n' });
  });

  it('asks the client for the line when none came with the command', async () => {
    expect(await runCheck('ben', undefined, oathtool(SECRET))).toEqual({ code: 0, calls: ['stdin.line'], stderr: '' });
  });

  it('takes a null line as standard input that had ended, and says a line longer than an answer is too long', async () => {
    const empty = await runCheck('cat', null);
    expect(empty).toMatchObject({ code: 2, calls: [] });
    expect(empty.stderr).toMatch(/^error: nothing on standard input/);
    const long = await runCheck('cat', '1'.repeat(16 * 1024 + 1));
    expect(long).toMatchObject({ code: 2, calls: [] });
    expect(long.stderr).toBe('error: the answer on standard input is longer than 16384 bytes: no code, key or password is\n');
    // The right code still works: nothing was spent or counted above.
    expect(await runCheck('cat', oathtool(SECRET))).toMatchObject({ code: 0 });
  });

  it('refuses a start frame whose line is not text of at most 64 KiB, before anything runs', async () => {
    for (const stdinLine of ['1'.repeat(64 * 1024 + 1), 123456 as unknown as string]) {
      const r = await runCheck('dan', stdinLine);
      expect(r).toEqual({ code: 2, calls: [], stderr: 'error: the line of standard input sent is not text of at most 64 KiB\n' });
    }
    expect(await runCheck('dan', oathtool(SECRET))).toMatchObject({ code: 0 });
  });
});

describe('the line of standard input sent with the command (the client)', () => {
  /**
   * A socket that takes the CLI protocol, records the start frame, asks for a line of standard
   * input with each of `asks` (the call's arguments) and records the replies, and ends the run with exit 0.
   */
  async function recordingService(asks: unknown[][] = []): Promise<{ path: string; starts: Frame[]; replies: unknown[]; server: Server }> {
    const path = join(dir, `rec-${Math.random().toString(36).slice(2)}.sock`);
    const starts: Frame[] = [];
    const replies: unknown[] = [];
    const server = createServer((socket) => {
      let head = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: tfactl-cli/1\r\nConnection: Upgrade\r\n\r\n');
        let asked = 0;
        const ask = () => {
          if (asked < asks.length) socket.write(`${JSON.stringify({ t: 'call', id: ++asked, fn: 'stdin.line', args: asks[asked - 1] })}\n`);
          else socket.end(`${JSON.stringify({ t: 'exit', code: 0 })}\n`);
        };
        readFrames(socket, head.subarray(end + 4), (f) => {
          if (f.t === 'start') starts.push(f);
          else if (f.t === 'reply') replies.push(f.error !== undefined ? { error: (f.error as { name: string }).name } : f.value);
          else return;
          ask();
        }, () => undefined);
      };
      socket.on('data', onData);
    });
    await new Promise<void>((ok) => server.listen(path, ok));
    return { path, starts, replies, server };
  }
  const client = (argv: string[], input: string) =>
    new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...argv], { env: { PATH: process.env.PATH, PAM_USER: 'ann', PAM_SERVICE: 'sshd', TFACTL_TOKEN: token }, stdio: ['pipe', 'ignore', 'ignore'] });
      // A client that exits before reading (a refusal) closes its end: EPIPE is its answer, not a failure.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
      child.on('exit', (code) => resolve(code));
    });

  it('sends pam check the first line of its standard input, read before it connected, and nothing more', async () => {
    const { path, starts, server } = await recordingService();
    try {
      // As pam_exec writes it (no line end), and as a person piping lines would.
      expect(await client(['--server', path, 'pam', 'check'], '123456')).toBe(0);
      expect(await client(['--server', path, 'pam', 'check', '--realm', 'pam'], '654321\nsecond line\n')).toBe(0);
      expect(await client(['--server', path, 'pam', 'check'], '')).toBe(0);
      // Any other command reads its standard input when its run asks for it.
      expect(await client(['--server', path, 'user', 'list'], 'not sent\n')).toBe(0);
      expect(starts.map((s) => s.stdinLine)).toEqual(['123456', '654321', null, undefined]);
      expect(starts.map((s) => (s.argv as string[]).join(' '))).toEqual(['pam check', 'pam check --realm pam', 'pam check', 'user list']);
    } finally {
      server.close();
    }
  });

  it('gives a service that asks for the first line itself (one from before the line went with the command) the line it read', async () => {
    // An older service asks without saying a line was sent; a newer one asks for the line after it.
    const older = await recordingService([[16384], [16384]]);
    const newer = await recordingService([[16384, true]]);
    try {
      expect(await client(['--server', older.path, 'pam', 'check'], '123456\nnext\n')).toBe(0);
      expect(older.replies).toEqual(['123456', 'next']);
      expect(await client(['--server', newer.path, 'pam', 'check'], '123456\nnext\n')).toBe(0);
      expect(newer.replies).toEqual(['next']);
      expect(newer.starts.map((f) => f.stdinLine)).toEqual(['123456']);
    } finally {
      older.server.close();
      newer.server.close();
    }
  });

  it('sends no line longer than an answer, and the run reading it meets it as too long, not its tail', async () => {
    const { path, starts, replies, server } = await recordingService([[16384, false]]);
    try {
      expect(await client(['--server', path, 'pam', 'check'], `${'1'.repeat(70 * 1024)}\n`)).toBe(0);
      expect(starts[0]?.stdinLine).toBeUndefined();
      // The line is not handed out piecemeal (its tail as the answer): reading it fails as too long.
      expect(replies).toEqual([{ error: 'LineTooLongError' }]);
    } finally {
      server.close();
    }
  });
});
