import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, nowSeconds, oathtool, TempStore } from './harness.js';

/** The README's commands, run as written on a real terminal, answering the prompts a person would. */
const ROOT = resolve(import.meta.dirname, '../..');
const README = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
const DRIVER = resolve(import.meta.dirname, 'pty-driver.py');
const PASSWORD = 'readme walk-through pw';
const SECRET = 'Secret: ([A-Z2-7]+)';

type Step = { expect: string; send?: string; send_totp?: { secret: string } };
function onTerminal(store: TempStore, argv: string[], steps: Step[]) {
  const spec = { argv, env: { TFACTL_DB: store.db, NO_COLOR: null }, steps, timeout: 60, cwd: ROOT };
  const r = spawnSync('python3', [DRIVER, JSON.stringify(spec)], { encoding: 'utf8' });
  return JSON.parse(r.stdout) as { status: number; output: string; unmatched: string | null };
}

function block(after: string): string[] {
  const start = README.indexOf(after);
  expect(start, `README has ${after}`).toBeGreaterThan(-1);
  const body = /```sh\n([\s\S]*?)```/.exec(README.slice(start))?.[1] ?? '';
  return body.split('\n').filter((l) => l.trim() !== '');
}

const enrolSteps: Step[] = [
  { expect: 'Enter a new password for alice@local', send: `${PASSWORD}\r` },
  { expect: 'Repeat the new password', send: `${PASSWORD}\r` },
  { expect: 'Verification code', send_totp: { secret: SECRET } },
];

const stores: TempStore[] = [];
afterAll(() => stores.forEach((s) => s.remove()));

describe('the README', () => {
  it('quick start: the main job enrols a user\'s TOTP with a QR code on the terminal', () => {
    const [install, test] = block('## Quick start');
    expect(install).toMatch(/^npm ci && \.\/bin\/tfactl\.cjs /);
    expect(test).toBe('npm test');
    const store = new TempStore();
    stores.push(store);
    // `npm ci` is what CI itself ran; the rest of the line runs here as written.
    const r = onTerminal(store, ['bash', '-c', install!.replace(/^npm ci && /, '')], enrolSteps);
    expect(r.unmatched, r.output).toBeNull();
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('Scan this QR code');
    expect(r.output).toMatch(/[▀▄█]{10}/);
    expect(store.query("SELECT type, verified FROM factors WHERE userid = 'alice@local'")).toEqual([{ type: 'totp', verified: 1 }]);
  });

  it('walk-through: add a user, enrol TOTP, sign in, add recovery keys, sign in with one', () => {
    const lines = block('<!-- walkthrough');
    const commands = lines.map((l) => l.replace(/\s+#.*$/, '').trim());
    expect(commands.map((c) => c.split(' ').slice(0, 3).join(' '))).toEqual([
      'tfactl user add',
      'tfactl login alice',
      'tfactl tfa add',
      'tfactl login alice',
      'tfactl tfa list',
    ]);
    const store = new TempStore();
    stores.push(store);
    const run = (command: string, steps: Step[]) => {
      const argv = [process.execPath, BIN, ...command.split(/\s+/).slice(1)];
      const r = onTerminal(store, argv, steps);
      expect(r.unmatched, `${command}\n${r.output}`).toBeNull();
      expect(r.status, `${command}\n${r.output}`).toBe(0);
      return r.output.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
    };

    const enrolled = run(commands[0]!, enrolSteps);
    const secret = new RegExp(SECRET).exec(enrolled)?.[1] ?? '';
    const signedIn = run(commands[1]!, [
      { expect: 'Enter the password of alice@local', send: `${PASSWORD}\r` },
      { expect: 'TOTP code for alice@local', send: `${oathtool(secret, { epoch: nowSeconds() + 30 })}\r` },
    ]);
    expect(signedIn).toContain('signed in as alice@local (TOTP)');
    const keysOutput = run(commands[2]!, []);
    const keys = keysOutput.match(/[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}/g) ?? [];
    expect(keys).toHaveLength(10);
    const withKey = run(commands[3]!, [
      { expect: 'Enter the password of alice@local', send: `${PASSWORD}\r` },
      { expect: 'recovery key \\(10 left\\)', send: `${keys[4]}\r` },
    ]);
    expect(withKey).toContain('signed in as alice@local (recovery key; 9 recovery keys left)');
    const list = run(commands[4]!, []);
    expect(list).toMatch(/recovery .* 9 keys left/);
    expect(list).not.toContain(secret);
  });
});
