import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, oathtool, startServe, TempStore } from './harness.js';

/**
 * A tfactl service's places for commands are shared by every user of the host: one who holds them
 * all (commands that wait on answers never given, connections that never say what to run) must
 * not refuse everyone's PAM sign-in. The built binary on a temporary socket; the holder speaks the
 * CLI protocol on raw connections.
 */
const store = new TempStore();
const PW = 'a password of ann';
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const sock = join(store.dir, 'tfactl.sock');
const tokenFile = join(store.dir, 'pam.token');
/** dan's own token (dan is no admin). */
const ownTokenFile = join(store.dir, 'own.token');
let serve: ChildProcess;
/** As many as the service runs at once of what may wait on its client (serve.ts MAX_RUNS). */
const MAX_RUNS = 256;

beforeAll(async () => {
  await store.run(['init']);
  await store.addUser('pamcheck', PW, ['--admin']);
  for (const u of ['ann', 'ben', 'cat', 'dan']) await store.addUser(u, PW, ['--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none']);
  const token = (await store.run(['token', 'add', 'pamcheck', 'pam', '--privileges', 'read-only', '--json'])).json().result.value as string;
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const own = (await store.run(['token', 'add', 'dan', 'own', '--json'])).json().result.value as string;
  writeFileSync(ownTokenFile, `${own}\n`, { mode: 0o600 });
  serve = (await startServe(sock, store.env)).child;
}, 60_000);
afterAll(() => {
  serve?.kill('SIGKILL');
  store.remove();
});

/** A raw connection upgraded to the CLI protocol; `start` (a frame, after `file`) is sent with the request, as the CLI does. */
function holder(start?: Record<string, unknown>, file?: Record<string, unknown>): Promise<{ socket: Socket; until: (text: string) => Promise<void> }> {
  return new Promise((ready, fail) => {
    const socket = createConnection(sock);
    let seen = '';
    const waiters: [string, () => void][] = [];
    socket.on('data', (d: Buffer) => {
      seen += d.toString();
      for (const [text, done] of waiters) if (seen.includes(text)) done();
    });
    socket.on('error', fail);
    socket.on('connect', () => {
      const frames = [file, start].filter((f) => f !== undefined).map((f) => `${JSON.stringify(f)}\n`);
      socket.write(`GET /api/v1/run HTTP/1.1\r\nHost: tfactl\r\nConnection: Upgrade\r\nUpgrade: tfactl-cli/1\r\n\r\n${frames.join('')}`);
      const until = (text: string) =>
        new Promise<void>((done, late) => {
          if (seen.includes(text)) return done();
          waiters.push([text, done]);
          setTimeout(() => late(new Error(`the service did not send ${text} within 15 s; it sent: ${seen.slice(-300)}`)), 15_000).unref();
        });
      ready({ socket, until });
    });
  });
}
/** `pam check` of cat with an API token (as the client sends `--token @FILE`: the file first), its answer sent with it (`line`) or not. */
const pamHolder = (token: string, line: string | undefined) =>
  holder(
    { t: 'start', argv: ['--token', '@/pam.token', 'pam', 'check'], env: { PAM_USER: 'cat', PAM_SERVICE: 'sshd' }, tty: {}, tickets: false, ...(line !== undefined && { stdinLine: line }) },
    { t: 'file', path: '/pam.token', data: Buffer.from(token).toString('base64') },
  );
/** A command that waits for its client's answer to a password question, which never comes. */
const waitsForAnswer = { t: 'start', argv: ['--as', 'ann', 'user', 'list'], env: {}, tty: { stdin: true, stdout: true, stderr: true, columns: 80 }, tickets: false };

const pamCheck = (user: string, answer: string) =>
  store.run(['--server', sock, '--token', `@${tokenFile}`, 'pam', 'check'], { env: { TFACTL_DB: undefined, PAM_USER: user, PAM_SERVICE: 'sshd' }, input: answer });
/** The same check asked by the shell client (bin/tfactl-pam-curl) with the token in `file`. */
const pamCheckByCurl = (user: string, answer: string, file = tokenFile) =>
  new Promise<{ code: number | null; stderr: string }>((done) => {
    const child = spawn('/bin/sh', [resolve(dirname(BIN), 'tfactl-pam-curl'), 'check', '--server', sock, '--token', `@${file}`], { env: { PATH: process.env.PATH, PAM_USER: user, PAM_SERVICE: 'sshd' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stderr }));
    // A client that exits before reading (a refusal) closes its end: EPIPE is its answer, not a failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(answer);
  });
const listThroughService = () => store.run(['--server', sock, '--token', `@${tokenFile}`, 'user', 'list', '--json'], { env: { TFACTL_DB: undefined } });

describe('a tfactl service whose places are all held', () => {
  it('still checks PAM sign-ins while every place for other commands waits on answers never given', async () => {
    const held = await Promise.all(Array.from({ length: MAX_RUNS }, () => holder(waitsForAnswer)));
    try {
      await Promise.all(held.map((h) => h.until('"prompt.password"')));
      // The next other command is turned away, saying why (exit 6, as any service trouble).
      const refused = await listThroughService();
      expect(refused.code).toBe(6);
      expect(refused.json()).toMatchObject({ ok: false, error: { code: 'service_busy', message: expect.stringMatching(/^the tfactl service is busy \(256 commands running\): try again shortly$/) } });
      // What pam_exec runs has places of its own.
      const r = await pamCheck('ann', oathtool(SECRET));
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: 'ann@local: second factor accepted (totp)\n', stderr: '' });
      // Asked over HTTP by the shell client, the same.
      expect(await pamCheckByCurl('cat', oathtool(SECRET))).toEqual({ code: 0, stderr: '' });
      const madeUpFile = join(store.dir, 'made-up.token');
      // A token of the right shape whose secret is not the token's.
      const real = readFileSync(tokenFile, 'utf8').trim();
      writeFileSync(madeUpFile, `${real.slice(0, -1)}${real.endsWith('A') ? 'B' : 'A'}\n`, { mode: 0o600 });
      expect(await pamCheckByCurl('cat', '123456', madeUpFile)).toEqual({ code: 6, stderr: 'error: the tfactl service is busy (256 commands running): try again shortly\n' });
      // Nor with a user's own token, which checks only that user: failing checks of their own (each a
      // sleep of the lockout's) must not hold the places every sign-in needs.
      expect(await pamCheckByCurl('dan', '000000', ownTokenFile)).toEqual({ code: 6, stderr: 'error: the tfactl service is busy (256 commands running): try again shortly\n' });
      // Only when its answer came with it: one that would ask its client for it could wait as long as any other.
      const asking = await pamHolder(readFileSync(tokenFile, 'utf8'), undefined);
      await asking.until('{"t":"busy","message":"the tfactl service is busy (256 commands running): try again shortly"}');
      asking.socket.destroy();
      // And only with a token that may act: runs of a made-up one take no place of a sign-in's.
      const madeUp = await Promise.all(Array.from({ length: 80 }, () => pamHolder('pamcheck@local!pam=not-the-secret-of-this-token-at-all-x', '123456')));
      await Promise.all(madeUp.map((h) => h.until('"t":"busy"')));
      for (const h of madeUp) h.socket.destroy();
    } finally {
      for (const h of held) h.socket.destroy();
    }
    // Given back, the places take other commands again.
    await expect.poll(async () => (await listThroughService()).code, { timeout: 10_000 }).toBe(0);
  }, 60_000);

  it('drops the oldest connection that has not said what to run, not the sign-in that comes after a flood of them', async () => {
    const silent = await Promise.all(Array.from({ length: 300 }, () => holder()));
    try {
      const r = await pamCheck('ben', oathtool(SECRET));
      expect(r.code, r.stderr).toBe(0);
      // Only the newest silent ones are still open (serve.ts MAX_UNSTARTED): the rest were dropped to make room.
      await expect.poll(() => silent.filter((h) => h.socket.readyState === 'open').length, { timeout: 10_000 }).toBeLessThanOrEqual(64);
      expect(silent.slice(-32).every((h) => h.socket.readyState === 'open')).toBe(true);
    } finally {
      for (const h of silent) h.socket.destroy();
    }
  }, 60_000);

  it('drops plain HTTP connections that say nothing, or send a body slowly, past 64 of each: descriptors and memory stay bounded, a sign-in is checked', async () => {
    const raw = (first: string) =>
      new Promise<Socket>((ready, fail) => {
        const socket = createConnection(sock);
        socket.on('error', () => undefined).resume();
        socket.once('error', fail).once('connect', () => {
          socket.write(first);
          ready(socket);
        });
      });
    const fds = () => readdirSync(`/proc/${serve.pid}/fd`).length;
    const before = fds();
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${serve.pid}/status`, 'utf8'))?.[1]) * 1024;
    const rssBefore = rss();
    // Headers never finished; bodies of 4 MiB announced and 256 KiB of each sent.
    const silent = await Promise.all(Array.from({ length: 300 }, () => raw('POST /api/v1/pam/check HTTP/1.1\r\nHost: x\r\n')));
    const slow = await Promise.all(
      Array.from({ length: 200 }, () => raw(`POST /api/v1/run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${4 * 1024 * 1024 - 1}\r\n\r\n{"args":["user","list"],"stdin":"${'A'.repeat(256 * 1024)}`)),
    );
    try {
      // Young, they may be clients about to send (at most 256 of each are kept); settled, each
      // newcomer trims them to 64. The sign-in is one of those newcomers, and is checked.
      await new Promise((r) => setTimeout(r, 1100));
      await store.addUser('eli', PW, ['--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none']);
      const r = await pamCheckByCurl('eli', oathtool(SECRET));
      expect(r, r.stderr).toEqual({ code: 0, stderr: '' });
      await expect.poll(() => silent.filter((h) => h.readyState === 'open').length, { timeout: 10_000 }).toBeLessThanOrEqual(64);
      await expect.poll(() => slow.filter((h) => h.readyState === 'open').length, { timeout: 10_000 }).toBeLessThanOrEqual(64);
      // Of 500 connections, about 128 are held; and of 50 MiB of bodies, at most 64 times 256 KiB.
      expect(fds() - before).toBeLessThan(200);
      expect(rss() - rssBefore).toBeLessThan(256 * 1024 * 1024);
    } finally {
      for (const h of [...silent, ...slow]) h.destroy();
    }
  }, 60_000);

  it('over TCP, drops the connections of the address that floods, not an older one of another address', async () => {
    // A client over TLS waits for the service's answer before it sends its command: its connection
    // says nothing for a round trip. A flood from another address must not drop it.
    const tcpSock = join(store.dir, 'tcp.sock');
    const { child, log } = await startServe(tcpSock, store.env, ['--listen', '127.0.0.1:0']);
    try {
      const port = Number(/"tcp":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(log())?.[1]);
      expect(port).toBeGreaterThan(0);
      const silentFrom = (localAddress: string) =>
        new Promise<Socket>((ready, fail) => {
          const socket = createConnection({ host: '127.0.0.1', port, localAddress });
          // Read, so that the end of a dropped one is seen.
          socket.on('error', () => undefined).resume();
          socket.once('error', fail).once('connect', () => {
            socket.write('GET /api/v1/run HTTP/1.1\r\nHost: tfactl\r\nConnection: Upgrade\r\nUpgrade: tfactl-cli/1\r\n\r\n');
            ready(socket);
          });
        });
      const waiting = await silentFrom('127.0.0.1');
      const flood: Socket[] = [];
      try {
        for (let i = 0; i < 300; i++) flood.push(await silentFrom('127.0.0.2'));
        await expect.poll(() => flood.filter((f) => f.readyState === 'open').length, { timeout: 10_000 }).toBeLessThanOrEqual(63);
        expect(waiting.readyState).toBe('open');
        expect(flood.slice(-32).every((f) => f.readyState === 'open')).toBe(true);
      } finally {
        for (const f of flood) f.destroy();
        waiting.destroy();
      }
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it('gives every place back: more sign-ins than it has places for, one after another, all checked', async () => {
    // Wrong codes for dan (refused, exit 5, and soon locked): each takes a place and must give it back.
    for (let batch = 0; batch < 8; batch++) {
      const codes = await Promise.all(Array.from({ length: 10 }, () => pamCheck('dan', '000000')));
      expect(codes.map((r) => r.code)).toEqual(Array(10).fill(5));
      const asked = await Promise.all(Array.from({ length: 10 }, () => pamCheckByCurl('dan', '000000')));
      expect(asked.map((r) => r.code)).toEqual(Array(10).fill(5));
    }
  }, 120_000);

  it("lends a PAM check a pooled connection with the store's key already read, not the key file", async () => {
    for (const u of ['eve', 'fay', 'gus']) await store.addUser(u, PW, ['--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none']);
    const code = () => oathtool(SECRET);
    // One check, one after the other: the pool's connection (the one each borrows) reads the key.
    expect(await pamCheckByCurl('eve', code())).toEqual({ code: 0, stderr: '' });
    const away = `${store.keyFile}.away`;
    renameSync(store.keyFile, away);
    try {
      // A process of its own needs the key file for the code's secret, and it is not there...
      const own = await store.run(['login', 'gus', '--password-stdin', '--code', code()], { input: `${PW}\n` });
      expect(own.code).toBe(6);
      expect(own.stderr).toContain(store.keyFile);
      // ...and the service's check, on the lent connection, does without it.
      expect(await pamCheckByCurl('fay', code())).toEqual({ code: 0, stderr: '' });
      const r = await pamCheck('gus', code());
      expect(r.code, r.stderr).toBe(0);
    } finally {
      renameSync(away, store.keyFile);
    }
  }, 60_000);
});
