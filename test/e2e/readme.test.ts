import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, TempStore } from './harness.js';

/** The README's commands, run as written on a real terminal, answering the prompts a person would. */
const ROOT = resolve(import.meta.dirname, '../..');
const README = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
const DRIVER = resolve(import.meta.dirname, 'pty-driver.py');
const PASSWORD = 'readme walk-through pw';
const SECRET = 'Secret: ([A-Z2-7]+)';

type Step = { expect: string; send?: string; send_totp?: { secret: string; ahead?: number }; send_match?: string };
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

  it('walk-through: typed line by line into bash on a terminal in the clone, prompts answered', () => {
    const lines = block('<!-- walkthrough');
    expect(lines.map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual([
      'alias tfactl="$PWD/bin/tfactl.cjs"',
      'tfactl user add',
      'tfactl login alice',
      'tfactl tfa add',
      'tfactl login alice',
      'tfactl tfa list',
    ]);
    const store = new TempStore();
    stores.push(store);
    const PROMPT = 'WALK\\$ ';
    const typed = (i: number): Step => ({ expect: PROMPT, send: `${lines[i]}\r` });
    const steps: Step[] = [
      typed(0),
      typed(1),
      ...enrolSteps,
      typed(2),
      { expect: 'Enter the password of alice@local', send: `${PASSWORD}\r` },
      { expect: 'TOTP code for alice@local', send_totp: { secret: SECRET, ahead: 30 } },
      { expect: 'signed in as alice@local \\(TOTP\\)[\\s\\S]*' + PROMPT, send: `${lines[3]}\r` },
      { expect: 'Print them[\\s\\S]*' + PROMPT, send: `${lines[4]}\r` },
      { expect: 'Enter the password of alice@local', send: `${PASSWORD}\r` },
      { expect: 'recovery key \\(10 left\\)', send_match: ' 5\\. ([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})' },
      { expect: 'signed in as alice@local \\(recovery key; 9 recovery keys left\\)[\\s\\S]*' + PROMPT, send: `${lines[5]}\r` },
      { expect: 'recovery .* 9 keys left[\\s\\S]*' + PROMPT, send: 'exit\r' },
    ];
    // An interactive bash with nothing of the user's, in the clone (cwd), as a person would have.
    const spec = {
      argv: ['bash', '--norc', '--noprofile', '-i'],
      // Without colour, so the expectations can read words the colours would split (the quick start
      // above shows the coloured QR code).
      env: { TFACTL_DB: store.db, NO_COLOR: '1', PS1: 'WALK$ ', HISTFILE: '/dev/null' },
      steps,
      timeout: 90,
      cwd: ROOT,
    };
    const r = JSON.parse(spawnSync('python3', [DRIVER, JSON.stringify(spec)], { encoding: 'utf8' }).stdout) as { status: number; output: string; unmatched: string | null };
    expect(r.unmatched, r.output).toBeNull();
    expect(r.status, r.output).toBe(0);
    const secret = new RegExp(SECRET).exec(r.output)?.[1] ?? '';
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    // tfa list never shows the secret: only the enrolment did.
    expect(r.output.slice(r.output.lastIndexOf('tfactl tfa list'))).not.toContain(secret);
  });

  it('shell completions: the commands install the scripts tfactl completion prints, the files it ships', () => {
    const lines = block('## Shell completions');
    expect(lines.filter((l) => !l.startsWith('#')).every((l) => /^(mkdir|tfactl|source|echo)\b/.test(l)), lines.join('\n')).toBe(true);
    const store = new TempStore();
    stores.push(store);
    const home = join(store.dir, 'home');
    const bin = join(store.dir, 'bin');
    mkdirSync(home);
    mkdirSync(bin);
    symlinkSync(BIN, join(bin, 'tfactl'));
    const r = spawnSync('bash', ['-e', '-c', lines.join('\n')], {
      encoding: 'utf8',
      env: { PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH}`, HOME: home },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const shipped = (file: string) => readFileSync(resolve(ROOT, 'completions', file), 'utf8');
    expect(readFileSync(join(home, '.local/share/bash-completion/completions/tfactl'), 'utf8')).toBe(shipped('tfactl.bash'));
    expect(readFileSync(join(home, '.zsh/completions/_tfactl'), 'utf8')).toBe(shipped('_tfactl'));
    expect(readFileSync(join(home, '.config/fish/completions/tfactl.fish'), 'utf8')).toBe(shipped('tfactl.fish'));
    expect(readFileSync(join(home, '.zshrc'), 'utf8')).toContain('fpath=(~/.zsh/completions $fpath)');
  });
});
