import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Ctx, Prompter } from '../../src/context.js';
import { CancelledError } from '../../src/errors.js';
import { main } from '../../src/main.js';
import { openSqliteStore } from '../../src/store/sqlite.js';

/**
 * main() in-process with a fake terminal and prompter (the Ctx seam), against a real SQLite file:
 * the same paths as the binary, without spawning it.
 */
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function fakeCtx(options: { tty: boolean; answers?: string[]; env?: Record<string, string>; now?: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'tfactl-unit-'));
  dirs.push(dir);
  const out: string[] = [];
  const err: string[] = [];
  const asked: string[] = [];
  const answers = [...(options.answers ?? [])];
  const answer = async (message: string) => {
    asked.push(message);
    const next = answers.shift();
    if (next === undefined) throw new CancelledError();
    return next;
  };
  const prompter: Prompter = { password: answer, input: answer, confirm: async (m) => (asked.push(m), true) };
  const ctx: Ctx = {
    io: {
      stdout: { write: (t) => out.push(t), isTTY: options.tty, columns: 100 },
      stderr: { write: (t) => err.push(t), isTTY: options.tty },
      stdinIsTTY: options.tty,
      stdinChunks: async function* () {},
      readLine: async () => null,
      onInterrupt: () => () => undefined,
    },
    prompter,
    clock: { nowSeconds: () => options.now ?? 1_800_000_000, sleep: async () => undefined },
    random: { bytes: (n) => randomBytes(n) },
    env: { TFACTL_DB: join(dir, 'store.db'), ...options.env },
    uid: process.getuid?.() ?? 0,
    home: dir,
    hostname: 'unit',
    openStore: (path, { now, keyPath }) => openSqliteStore(path, { now, keyPath, randomBytes: (n) => randomBytes(n) }),
  };
  return { ctx, out: () => out.join(''), err: () => err.join(''), asked };
}

describe('main with a fake terminal', () => {
  it('asks for a new password twice on a TTY and adds the user', async () => {
    const t = fakeCtx({ tty: true, answers: ['unit password 1', 'unit password 1'], env: { NO_COLOR: '1' } });
    expect(await main(['user', 'add', 'una'], t.ctx)).toBe(0);
    expect(t.asked).toEqual(['Enter a new password for una@local:', 'Repeat the new password for una@local:']);
    expect(t.out()).toMatch(/^added una@local$/m);
    expect(t.out()).not.toContain('\u001b[');
  });

  it('exits 130 when the person cancels at a prompt, saving nothing', async () => {
    const t = fakeCtx({ tty: true, answers: [] });
    expect(await main(['user', 'add', 'vic'], t.ctx)).toBe(130);
    expect(t.err()).toContain('cancelled');
    const json = fakeCtx({ tty: false, env: { TFACTL_DB: t.ctx.env.TFACTL_DB as string } });
    await main(['user', 'list', '--json'], json.ctx);
    expect(JSON.parse(json.out()).result.map((u: { userid: string }) => u.userid)).toEqual(['root@local']);
  });

  it('colours on a TTY unless NO_COLOR, and prints exactly one envelope with --json', async () => {
    const tty = fakeCtx({ tty: true });
    await main(['realm', 'list'], tty.ctx);
    expect(tty.out()).toContain('\u001b[1mREALM');
    // A dumb terminal shows escape codes as text: none, unless FORCE_COLOR asks.
    const dumb = fakeCtx({ tty: true, env: { TERM: 'dumb' } });
    await main(['realm', 'list'], dumb.ctx);
    expect(dumb.out()).toMatch(/^REALM/);
    expect(dumb.out()).not.toContain('\u001b');
    const forced = fakeCtx({ tty: true, env: { TERM: 'dumb', FORCE_COLOR: '1' } });
    await main(['realm', 'list'], forced.ctx);
    expect(forced.out()).toContain('\u001b[1mREALM');
    const json = fakeCtx({ tty: true });
    expect(await main(['realm', 'show', 'nowhere', '--json'], json.ctx)).toBe(3);
    expect(json.out().trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(json.out())).toEqual({ ok: false, error: { code: 'not_found', message: "realm nowhere does not exist: 'tfactl realm list' shows those there are" }, warnings: [expect.stringMatching(/^there was no store at .*: created it/)] });
  });

  it('uses the clock it is given for what it stores', async () => {
    const t = fakeCtx({ tty: false, now: 1_234_567_890 });
    await main(['user', 'add', 'tim', '--no-password', '--json'], t.ctx);
    expect(JSON.parse(t.out()).result.user.created).toBe('2009-02-13T23:31:30Z');
  });

  it('refuses an answer that comes after its challenge expired (120 s), and counts it', async () => {
    const t0 = 1_800_000_000;
    const first = fakeCtx({ tty: true, answers: ['unit password 1', 'unit password 1'], now: t0 });
    const db = { TFACTL_DB: first.ctx.env.TFACTL_DB as string };
    expect(await main(['user', 'add', 'eve', '--json'], first.ctx)).toBe(0);
    const keys = fakeCtx({ tty: false, env: db, now: t0 });
    expect(await main(['tfa', 'add', 'recovery', 'eve', '--json'], keys.ctx)).toBe(0);
    const key = JSON.parse(keys.out()).result.keys[0] as string;
    const begin = fakeCtx({ tty: true, answers: ['unit password 1'], env: db, now: t0 });
    expect(await main(['login', 'eve', '--begin', '--json'], begin.ctx)).toBe(0);
    const challenge = JSON.parse(begin.out()).result.challenge as string;

    const late = fakeCtx({ tty: false, env: db, now: t0 + 121 });
    expect(await main(['login', 'eve', '--finish', '--challenge', challenge, '--code', key, '--json'], late.ctx)).toBe(5);
    expect(JSON.parse(late.out()).error.message).toBe('authentication failed: the challenge is unknown, used or expired: sign in again');
    // Just in time, a fresh challenge works with the same key: the late answer spent nothing.
    const again = fakeCtx({ tty: true, answers: ['unit password 1'], env: db, now: t0 + 200 });
    expect(await main(['login', 'eve', '--begin', '--json'], again.ctx)).toBe(0);
    const fresh = JSON.parse(again.out()).result.challenge as string;
    const onTime = fakeCtx({ tty: false, env: db, now: t0 + 319 });
    expect(await main(['login', 'eve', '--finish', '--challenge', fresh, '--code', key, '--json'], onTime.ctx)).toBe(0);
  });
});
