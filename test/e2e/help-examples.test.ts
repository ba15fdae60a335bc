import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { type Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { commandPath } from '../../src/help.js';
import { HELP_EXAMPLES } from '../../src/help-examples.js';
import { BIN, oathtool, runBin } from './harness.js';

/**
 * The examples of every command's --help (src/help-examples.ts), run as written by bash against a
 * scratch store that has what they name: users alice (TOTP, recovery keys, an API token) and bob@corp, realms
 * corp and lab, and the files they read in the working directory. Those that ask questions run on
 * a real terminal, answered as a person would; only the YubiKey ones, which need a touch of a real
 * key, are parsed alone (with the real command tree, so a command or option they misspell fails).
 */

const PASSWORD = 'example password 1';
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const DRIVER = resolve(import.meta.dirname, 'pty-driver.py');

/** Parsed, not run, and why. */
const PARSED_ONLY = new Map<string, string>([
  ['tfactl tfa add yubico alice \\\n    --otp cccjgjgkhcbbirdrfdnlnghhfgrtnnlgedjlftrbdeut', 'a touch of a real YubiKey types the OTP (yubico.test.ts simulates one)'],
  [
    'tfactl tfa add yubico alice \\\n    --otp cccjgjgkhcbbirdrfdnlnghhfgrtnnlgedjlftrbdeut \\\n    --aes-key @alice-yubikey.aes --private-id 8792ebfe26cc',
    'a touch of a real YubiKey types the OTP (yubico.test.ts simulates one)',
  ],
  ...[
    "tfactl tfa add webauthn alice --description 'yubikey 5 nfc'",
    'tfactl tfa add webauthn alice --port 8765 --no-open',
    'tfactl tfa add webauthn alice --finish \\\n    --challenge "$challenge" --response answer.json',
    'tfactl login alice --webauthn',
  ].map((line) => [line, 'a security key answers in a browser or through fido2-assert (webauthn-cli.test.ts and webauthn-signin.test.ts drive them)'] as [string, string]),
  ['tfactl serve --socket /run/tfactl/tfactl.sock', 'it serves until stopped (serve.test.ts runs it and stops it)'],
]);

type Step = { expect: string; send?: string; send_totp?: { secret: string } };
const newPassword = (userid: string): Step[] => [
  { expect: `Enter a new password for ${userid}`, send: `${PASSWORD}\r` },
  { expect: 'Repeat the new password', send: `${PASSWORD}\r` },
];
const enrolCode: Step = { expect: 'Verification code', send_totp: { secret: 'Secret: ([A-Z2-7]+)' } };

/** Those that ask on a terminal: the answers, and what must change in the scratch store first. */
const ON_TERMINAL = new Map<string, { steps: () => Step[]; before?: string[] }>([
  ['tfactl user add alice --tfa totp', { before: ['user', 'delete', 'alice', '--yes'], steps: () => [...newPassword('alice@local'), enrolCode] }],
  ['tfactl user add carol --tfa totp', { steps: () => [...newPassword('carol@local'), enrolCode] }],
  ['tfactl user add carol', { steps: () => newPassword('carol@local') }],
  // Nothing in the scratch store is that old: nothing to ask, but --yes is asked for without a terminal.
  ['tfactl audit prune --before 2025-01-01', { steps: () => [] }],
  ['tfactl user passwd alice', { steps: () => newPassword('alice@local') }],
  [
    'tfactl login alice',
    {
      steps: () => [
        { expect: 'Enter the password of alice@local', send: `${PASSWORD}\r` },
        { expect: 'code.* for alice@local:', send: `${oathtool(SECRET)}\r` },
      ],
    },
  ],
  [
    'tfactl login alice --no-browser',
    {
      steps: () => [
        { expect: 'Enter the password of alice@local', send: `${PASSWORD}\r` },
        { expect: 'code.* for alice@local:', send: `${oathtool(SECRET)}\r` },
      ],
    },
  ],
  ["tfactl tfa add totp alice --description 'work phone'", { steps: () => [enrolCode] }],
  ['tfactl user delete bob@corp', { steps: () => [{ expect: 'Delete bob@corp and every factor', send: 'y\r' }] }],
  ['tfactl realm delete lab', { steps: () => [{ expect: 'Delete realm lab\\?', send: 'y\r' }] }],
  ['tfactl tfa delete bob@corp --all', { before: ['tfa', 'add', 'recovery', 'bob@corp'], steps: () => [{ expect: 'Delete ', send: 'y\r' }] }],
  ['tfactl tfa add totp alice', { steps: () => [{ expect: 'Description of the device or app', send: 'laptop\r' }, enrolCode] }],
]);

const EXAMPLES = Object.entries(HELP_EXAMPLES).flatMap(([path, list]) => list.map((e) => ({ path, ...e })));

// ------------------------------------------------------------------------------------------------
// Parsing with the real command tree

/** The tfactl command lines in a shell line: `a | tfactl x`, `$(tfactl y)`, `<(tfactl z)`. */
function tfactlCommands(line: string): string[][] {
  const text = line.replace(/\\\n/g, ' ');
  const substitution = /[<$]\(([^()]*)\)/g;
  const parts = [text.replace(substitution, 'SUBSTITUTED'), ...[...text.matchAll(substitution)].map((m) => m[1] ?? '')];
  // Environment assignments in front of a command (PAM_USER=alice tfactl ...) are not its words.
  const withoutAssignments = (words: string[]) => words.slice(words.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)));
  return parts.flatMap(simpleCommands).map(withoutAssignments).filter((words) => words[0] === 'tfactl').map((words) => words.slice(1));
}

/** The simple commands of a shell line, as words: quotes are removed, redirections dropped. */
function simpleCommands(text: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | null = null;
  let redirect = false;
  const end = () => {
    if (word !== null && !redirect) commands.at(-1)!.push(word);
    if (word !== null) redirect = false;
    word = null;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      const close = text.indexOf(c, i + 1);
      expect(close, `unbalanced quote in ${text}`).toBeGreaterThan(i);
      word = (word ?? '') + text.slice(i + 1, close);
      i = close;
    } else if (/\s/.test(c)) {
      end();
    } else if (c === '|' || c === ';' || c === '&') {
      end();
      if (text[i + 1] === c) i++;
      commands.push([]);
    } else if (c === '<' || c === '>') {
      end();
      redirect = true;
    } else {
      word = (word ?? '') + c;
    }
  }
  end();
  return commands.filter((w) => w.length > 0);
}

/** Parses `argv` with the real tree; returns the path of the command it runs (throws on any error). */
async function parse(argv: readonly string[]): Promise<string> {
  let reached: Command | undefined;
  const quiet = { write: () => true, isTTY: false, columns: undefined };
  const program = buildProgram('0', async () => undefined, { stdout: quiet, stderr: quiet });
  program.hook('preAction', (_self, action) => {
    reached = action;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError && e.code === 'commander.helpDisplayed')) throw e;
  }
  expect(reached, `tfactl ${argv.join(' ')} runs a command`).toBeDefined();
  return commandPath(reached!).join(' ');
}

describe('the examples in --help', () => {
  it('finds the tfactl commands in a shell line (sanity check of the parser)', () => {
    expect(tfactlCommands(`printf '%s\\n' "$PASSWORD" |\n    tfactl user add dave@corp --password-stdin`)).toEqual([['user', 'add', 'dave@corp', '--password-stdin']]);
    expect(tfactlCommands('tfactl export users > tfactl-users.json')).toEqual([['export', 'users']]);
    expect(tfactlCommands("tfactl user import - --atomic < users.jsonl")).toEqual([['user', 'import', '-', '--atomic']]);
    expect(tfactlCommands('source <(tfactl completion bash)')).toEqual([['completion', 'bash']]);
    expect(tfactlCommands('tfactl backup "tfactl-$(date +%F).db"')).toEqual([['backup', 'tfactl-SUBSTITUTED.db']]);
    expect(tfactlCommands("tfactl realm add dev --comment 'developers'")).toEqual([['realm', 'add', 'dev', '--comment', 'developers']]);
    expect(tfactlCommands('printf %s "$CODE" | PAM_USER=alice tfactl --db "$TFACTL_DB" pam check')).toEqual([['--db', '$TFACTL_DB', 'pam', 'check']]);
  });

  it('parse with the real command tree, each under the command whose help shows it', async () => {
    for (const { path, line } of EXAMPLES) {
      const commands = tfactlCommands(line);
      expect(commands.length, line).toBeGreaterThan(0);
      for (const argv of commands) {
        const reached = await parse(argv);
        if (path !== '') expect(reached === path || reached.startsWith(`${path} `), `${line}: runs ${reached}, shown under ${path}`).toBe(true);
      }
    }
  });

  it('fail to parse when they name a command or option that does not exist (the check bites)', async () => {
    await expect(parse(['user', 'add', 'carol', '--frobnicate'])).rejects.toThrow(/unknown option '--frobnicate'/);
    await expect(parse(['usr', 'list'])).rejects.toThrow(/unknown command 'usr'/);
    await expect(parse(['tfa', 'add', 'yubico', 'alice'])).rejects.toThrow(/--otp/);
  });

  it('are all run, except those said here, each for a reason', () => {
    const lines = new Set(EXAMPLES.map((e) => e.line));
    for (const line of [...PARSED_ONLY.keys(), ...ON_TERMINAL.keys()]) expect(lines.has(line), `an example: ${line}`).toBe(true);
    // Only those a person's touch answers (two YubiKey OTPs, four security-key ceremonies) and the service.
    expect(PARSED_ONLY.size).toBeLessThanOrEqual(7);
  });
});

// ------------------------------------------------------------------------------------------------
// Running them

const scratch = mkdtempSync(join(tmpdir(), 'tfactl-examples-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const base = join(scratch, 'base');
const bin = join(scratch, 'bin');
let factorId = '';

/** The scratch store, its home and working directory: each example gets a copy of its own. */
const dirsOf = (root: string) => ({ store: join(root, 'store', 'tfactl.db'), home: join(root, 'home'), work: join(root, 'work') });

function envOf(root: string): Record<string, string> {
  const { store, home } = dirsOf(root);
  return {
    PATH: `${bin}:${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    HOME: home,
    LANG: 'C.UTF-8',
    TERM: 'xterm',
    NO_COLOR: '1',
    TFACTL_DB: store,
    PASSWORD,
    NEW_PASSWORD: 'another example password',
    CODE: oathtool(SECRET),
  };
}

async function tfactl(root: string, args: string[], input = ''): Promise<string> {
  const r = await runBin(args, { env: { TFACTL_DB: dirsOf(root).store }, input });
  expect(r.code, `tfactl ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

beforeAll(async () => {
  mkdirSync(bin);
  symlinkSync(BIN, join(bin, 'tfactl'));
  const { home, work } = dirsOf(base);
  // A home with nothing in it: the completion examples make their own directories, as on a new account.
  mkdirSync(home, { recursive: true });
  mkdirSync(work);
  await tfactl(base, ['realm', 'add', 'corp']);
  await tfactl(base, ['realm', 'add', 'lab']);
  await tfactl(base, ['user', 'add', 'alice', '--password-stdin', '--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none'], `${PASSWORD}\n`);
  const keys = JSON.parse(await tfactl(base, ['tfa', 'add', 'recovery', 'alice', '--json'])).result.keys as string[];
  await tfactl(base, ['user', 'add', 'bob@corp', '--password-stdin'], `${PASSWORD}\n`);
  const factors = JSON.parse(await tfactl(base, ['tfa', 'list', 'alice', '--json'])).result[0].factors as { id: string; type: string }[];
  factorId = factors.find((f) => f.type === 'totp')!.id;
  await tfactl(base, ['token', 'add', 'alice', 'old-job']);
  await tfactl(base, ['backup', join(work, 'tfactl-backup.db')]);
  // What `tfactl audit prune` without --before or --keep-days keeps.
  await tfactl(base, ['settings', 'set', 'audit.keep-days', '3650']);

  const files: Record<string, string> = {
    'key.txt': `${keys[0]}\n`,
    'pam.token': 'alice@local!old-job=not-its-secret-but-pam-config-only-names-the-file\n',
    'bob-totp.txt': `${SECRET}\n`,
    'yubico-api.key': `${Buffer.from('yubico api key 20 by').toString('base64')}\n`,
    'users.csv': 'userid,password,admin,email\nnew1@corp,,0,new1@example.com\n',
    'users.jsonl': '{"userid":"new2@corp","email":"new2@example.com"}\n',
    'user.cfg': 'user:root@pam:1:0:::root@example.org:::\nuser:pat@pve:1:0:Pat:Doe:pat@example.org:::\n',
    'tfa.cfg': JSON.stringify({
      users: { 'pat@pve': { totp: [{ id: 't1', description: 'phone', created: 1700000000, entry: `otpauth://totp/pve:pat%40pve?secret=${SECRET}&issuer=pve` }] } },
    }),
    'domains.cfg': 'pve: pve\n\tcomment Proxmox VE authentication server\n\npam: pam\n',
    'datacenter.cfg': 'keyboard: en-us\nwebauthn: rp=pve.example.com,origin=https://pve.example.com:8006,id=pve.example.com\nu2f: appid=https://pve.example.com:8006\n',
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(work, name), text, { mode: 0o600 });
}, 120_000);

let copies = 0;
/** A copy of the scratch store, home and working directory, as the fixture left them. */
async function fresh(before?: string[]): Promise<string> {
  const root = join(scratch, `run-${++copies}`);
  cpSync(base, root, { recursive: true });
  if (before) await tfactl(root, before);
  return root;
}

/**
 * The line with the example factor id (the start of one) replaced by the start of alice's TOTP
 * factor's, and the system's token file by one in the working directory (no test writes /etc).
 */
const withIds = (line: string) => line.replace(/(?<=tfa \w+ alice )[0-9a-f]{8}\b/g, factorId.slice(0, 8)).replaceAll('@/etc/tfactl/pam.token', '@pam.token');

function bash(root: string, line: string): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn('bash', ['-c', `set -eo pipefail\n${line}`], { cwd: dirsOf(root).work, env: envOf(root), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

function onTerminal(root: string, line: string, steps: Step[]): { status: number; output: string; unmatched: string | null } {
  const spec = { argv: ['bash', '-c', line], env: { ...envOf(root), NO_COLOR: null, TFACTL_AS: null }, steps, timeout: 60, cwd: dirsOf(root).work };
  const r = spawnSync('python3', [DRIVER, JSON.stringify(spec)], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { status: number; output: string; unmatched: string | null };
}

describe('every example, run', () => {
  const runnable = EXAMPLES.filter((e) => !PARSED_ONLY.has(e.line));
  it.each(runnable.map((e) => [e.path === '' ? 'tfactl' : e.path, e.line] as const))('%s: %s', async (_path, line) => {
    if (/tfa \w+ alice [0-9a-f]{8}\b/.test(line)) expect(withIds(line), 'the example id becomes a real one').not.toBe(line);
    const terminal = ON_TERMINAL.get(line);
    const root = await fresh(terminal?.before);
    if (terminal) {
      const r = onTerminal(root, withIds(line), terminal.steps());
      expect(r.unmatched, r.output).toBeNull();
      expect(r.status, r.output).toBe(0);
    } else {
      const r = await bash(root, withIds(line));
      expect(r.code, r.output).toBe(0);
      expect(r.output).not.toMatch(/^error:/m);
    }
    rmSync(root, { recursive: true, force: true });
  });
});
