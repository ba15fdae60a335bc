import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, TempStore } from './harness.js';

/** Runs tfactl on a real pseudo-terminal (test/e2e/pty-driver.py), answering prompts. */
interface Step {
  expect: string;
  send: string;
}
const DRIVER = resolve(import.meta.dirname, 'pty-driver.py');
function runPty(store: TempStore, args: string[], steps: Step[], env: Record<string, string | null> = {}, cols = 120) {
  const spec = { argv: [process.execPath, BIN, ...args], env: { TFACTL_DB: store.db, NO_COLOR: null, ...env }, steps, timeout: 30, cols };
  const r = spawnSync('python3', [DRIVER, JSON.stringify(spec)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pty driver failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { status: number; output: string; unmatched: string | null };
}

const ESC = '\u001b[';
const store = new TempStore();
beforeAll(async () => {
  await store.run(['init']);
});
afterAll(() => store.remove());

describe('on a terminal', () => {
  it('wraps help to the terminal\'s width, also the help shown for a missing command (on stderr)', () => {
    const widest = (output: string) => Math.max(...output.split(/\r?\n/).map((l) => l.length));
    for (const args of [['user', '--help'], ['user']]) {
      const wide = runPty(store, args, [], {}, 160);
      const narrow = runPty(store, args, [], {}, 90);
      expect(wide.output, args.join(' ')).toContain('Usage: tfactl user');
      expect(widest(wide.output), args.join(' ')).toBeGreaterThan(90);
      expect(widest(narrow.output), args.join(' ')).toBeLessThanOrEqual(90);
    }
  });

  it('asks for a new password twice and creates the user', () => {
    const r = runPty(store, ['user', 'add', 'tina'], [
      { expect: 'Enter a new password for tina@local', send: 'tina password 1\r' },
      { expect: 'Repeat the new password for tina@local', send: 'tina password 1\r' },
    ]);
    expect(r.unmatched).toBeNull();
    expect(r.status).toBe(0);
    expect(r.output).not.toContain('tina password 1');
    expect(store.query("SELECT userid FROM users WHERE userid = 'tina@local' AND password_hash IS NOT NULL")).toHaveLength(1);
  });

  it('asks for the acting user\'s password with --as', () => {
    const r = runPty(store, ['--as', 'tina', 'user', 'show', 'tina'], [{ expect: 'Enter the password of tina@local', send: 'tina password 1\r' }]);
    expect(r.status).toBe(0);
    expect(r.output).toMatch(/user:.*tina@local/);
  });

  it('cancels with exit 130 on Ctrl-C at a prompt and saves nothing', () => {
    const before = store.snapshot();
    const r = runPty(store, ['user', 'add', 'ursula'], [{ expect: 'Enter a new password', send: '\u0003' }]);
    expect(r.status).toBe(130);
    expect(r.output).toContain('cancelled');
    expect(store.snapshot()).toBe(before);
  });

  it('refuses two different entries with exit 2', () => {
    const r = runPty(store, ['user', 'add', 'victor'], [
      { expect: 'Enter a new password', send: 'victor password 1\r' },
      { expect: 'Repeat', send: 'victor password 2\r' },
    ]);
    expect(r.status).toBe(2);
    expect(r.output).toContain('do not match');
    expect(store.query("SELECT userid FROM users WHERE userid = 'victor@local'")).toEqual([]);
  });

  it('colours tables and errors on a TTY', () => {
    const list = runPty(store, ['user', 'list'], []);
    expect(list.output).toContain(`${ESC}1mUSER`);
    const error = runPty(store, ['user', 'show', 'nobody'], []);
    expect(error.status).toBe(3);
    expect(error.output).toContain(`${ESC}31merror:`);
  });

  it('never colours with NO_COLOR set', () => {
    const list = runPty(store, ['user', 'list'], [], { NO_COLOR: '1' });
    const error = runPty(store, ['user', 'show', 'nobody'], [], { NO_COLOR: '1' });
    expect(list.status).toBe(0);
    expect(list.output).not.toContain(ESC);
    expect(error.output).not.toContain(ESC);
  });

  it('never colours in a pipe', async () => {
    const r = await store.run(['user', 'list']);
    const e = await store.run(['user', 'show', 'nobody']);
    expect(r.stdout).not.toContain(ESC);
    expect(e.stderr).not.toContain(ESC);
  });
});
