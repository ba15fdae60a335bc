import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';
import { commandPath } from '../../src/help.js';
import { HELP_EXAMPLES } from '../../src/help-examples.js';
import { oneLineError, runBin } from './harness.js';

/** tfactl's commands, as an unknown one's error lists them. */
const TOP_COMMANDS = 'init, user, realm, tfa, login, logout, serve, token, settings, backup, restore, export, import, pam, audit, completion';

/** Every command a person can see: tfactl itself, the groups and the leaves (not hidden ones). */
function visibleCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.createHelp().visibleCommands(cmd).flatMap(visibleCommands)];
}

const program = buildProgram('0', async () => undefined);
const COMMANDS = visibleCommands(program);
const PATHS = COMMANDS.map((c) => commandPath(c));
const GLOBALS = program.options.filter((o) => o.long !== '--help' && o.long !== '--version');

/** `tfactl PATH --help` of every command, by path. */
const helpOf = new Map<string, string>();
beforeAll(async () => {
  for (const path of PATHS) {
    const r = await runBin([...path, '--help']);
    expect(r.code, path.join(' ')).toBe(0);
    helpOf.set(path.join(' '), r.stdout);
  }
});

describe('tfactl help', () => {
  it.each([[[]], [['user', 'add']], [['tfa']], [['realm', 'set-enforce']], [['help']]])('help %j prints what --help prints, exit 0', async (path) => {
    const viaHelp = await runBin(['help', ...path]);
    const viaFlag = await runBin([...path, '--help']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stderr).toBe('');
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    expect(viaHelp.stdout).toContain(`Usage: ${['tfactl', ...path].join(' ')} `);
  });

  it('works for every command', async () => {
    for (const path of PATHS) {
      const r = await runBin(['help', ...path]);
      expect(r.code, path.join(' ')).toBe(0);
      expect(r.stdout, path.join(' ')).toBe(helpOf.get(path.join(' ')));
    }
  });

  it('with --json, is the result of the one envelope, as --help --json is', async () => {
    const viaHelp = await runBin(['help', 'user', 'add', '--json']);
    const viaFlag = await runBin(['user', 'add', '--help', '--json']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.json()).toEqual(viaFlag.json());
    expect(viaHelp.json().result.help).toContain('Usage: tfactl user add');
  });

  it.each([
    [['usr'], "error: unknown command 'usr' (Did you mean user?)"],
    [['user', 'ad'], "error: unknown command 'user ad' (Did you mean user add?)"],
    [['tfa', 'add', 'totpp'], "error: unknown command 'tfa add totpp' (Did you mean tfa add totp?)"],
    // Nothing that close: the commands there are, not a guess three edits away (logout).
    [['bogus'], `error: unknown command 'bogus': tfactl has ${TOP_COMMANDS}`],
    [['frobnicate'], `error: unknown command 'frobnicate': tfactl has ${TOP_COMMANDS}`],
    [['user', 'add', 'extra'], "error: unknown command 'user add extra'"],
    // No near name: the names there are.
    [['tfa', 'add', 'sms'], "error: unknown command 'tfa add sms': tfactl tfa add has totp, yubico, webauthn, recovery"],
    // A name people look for (a synonym, or a kind added another way): where it is.
    [['tfa', 'add', 'passkey'], "error: unknown command 'tfa add passkey': passkeys and security keys are added with 'tfactl tfa add webauthn'"],
    [['tfa', 'add', 'u2f'], "error: unknown command 'tfa add u2f': a new security key is added as WebAuthn ('tfactl tfa add webauthn'); U2F keys come only from Proxmox ('tfactl import proxmox')"],
  ])('refuses an unknown command %j in one line with a suggestion, exit 2', async (path, line) => {
    const r = await runBin(['help', ...path]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(oneLineError(r)).toBe(line);
    const json = await runBin(['help', ...path, '--json']);
    expect(json.code).toBe(2);
    expect(json.json().error).toEqual({ code: 'usage', message: line.replace(/^error: /, '') });
  });

  it.each([
    [['usr'], "error: unknown command 'usr' (Did you mean user?)"],
    [['user', 'ad'], "error: unknown command 'user ad' (Did you mean user add?)"],
    [['tfa', 'add', 'totpp'], "error: unknown command 'tfa add totpp' (Did you mean tfa add totp?)"],
    [['frobnicate'], `error: unknown command 'frobnicate': tfactl has ${TOP_COMMANDS}`],
  ])('typed as a command, or with --help or -h, %j is the same error as help gives of it, exit 2', async (path, line) => {
    for (const args of [path, [...path, '--help'], [...path, '-h'], ['--db', 'x.db', ...path, '--help']]) {
      const r = await runBin(args);
      expect({ code: r.code, stdout: r.stdout, line: oneLineError(r) }, args.join(' ')).toEqual({ code: 2, stdout: '', line });
    }
    const json = await runBin([...path, '--help', '--json']);
    expect({ code: json.code, error: json.json().error }).toEqual({ code: 2, error: { code: 'usage', message: line.replace(/^error: /, '') } });
  });

  it('is listed in tfactl --help', async () => {
    const r = await runBin(['--help']);
    expect(r.stdout).toMatch(/^ {2}help \[command\.\.\.\] +show the help of a command/m);
  });
});

describe('global options', () => {
  it('are described in tfactl --help', async () => {
    const r = await runBin(['--help']);
    for (const o of GLOBALS) {
      expect(r.stdout, o.long).toContain(o.flags);
      expect(r.stdout.replace(/\s+/g, ' '), o.long).toContain(o.description.replace(/\s+/g, ' '));
    }
  });

  it('are not described again under any other command, which names them and points there', async () => {
    const pointer = 'Global options (see tfactl --help):\n  --db, --as, --password-stdin, --auth-code,\n  --server, --token, --json, --debug\n';
    expect(GLOBALS.map((o) => o.long).join(', ')).toBe('--db, --as, --password-stdin, --auth-code, --server, --token, --json, --debug');
    for (const path of PATHS.filter((p) => p.length > 0)) {
      const text = helpOf.get(path.join(' ')) ?? '';
      expect(text, path.join(' ')).toContain(pointer);
      expect(text, path.join(' ')).not.toContain('Global Options:');
      for (const o of GLOBALS) expect(text, `${path.join(' ')} ${o.long}`).not.toContain(o.description.slice(0, 24));
    }
  });
});

describe('examples in --help', () => {
  it('every command has some, and every example belongs to a command', () => {
    const paths = new Set(PATHS.map((p) => p.join(' ')));
    for (const path of paths) expect(HELP_EXAMPLES[path]?.length ?? 0, `examples of '${path}'`).toBeGreaterThan(0);
    for (const key of Object.keys(HELP_EXAMPLES)) expect(paths.has(key), `'${key}' is a command`).toBe(true);
  });

  it('fit in 80 columns, each with one line saying what it does', () => {
    for (const [path, examples] of Object.entries(HELP_EXAMPLES)) {
      for (const { does, line } of examples) {
        expect(does, path).not.toContain('\n');
        // "  # " before it in --help, seven columns of indent in the man page
        expect(does.length, `${path}: ${does}`).toBeLessThanOrEqual(71);
        expect(line.startsWith(' '), `${path}: ${line}`).toBe(false);
        for (const physical of line.split('\n')) expect(physical.length, `${path}: ${physical}`).toBeLessThanOrEqual(73);
        // A line goes on only after a \ or a |, as a shell reads it
        for (const physical of line.split('\n').slice(0, -1)) expect(physical, `${path}: ${line}`).toMatch(/( \\| \|)$/);
      }
    }
  });

  it('end each command\'s --help, after the pointer to the global options', async () => {
    for (const path of PATHS) {
      const text = helpOf.get(path.join(' ')) ?? '';
      const at = text.indexOf('\nExamples:\n');
      expect(at, path.join(' ')).toBeGreaterThan(0);
      if (path.length > 0) expect(text.indexOf('Global options (see tfactl --help):'), path.join(' ')).toBeLessThan(at);
      for (const { does, line } of HELP_EXAMPLES[path.join(' ')] ?? []) {
        expect(text.slice(at), path.join(' ')).toContain(`  # ${does}\n  ${line.replace(/\n/g, '\n  ')}\n`);
      }
    }
  });
});
