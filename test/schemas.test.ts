import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { buildProgram as BuildProgram } from '../src/cli.js';
import { commandOf, RESULT_SCHEMAS } from './schemas.js';

// The command tree of the built bundle (what ships).
const buildProgram = (createRequire(import.meta.url)('../dist/tfactl.cjs') as { buildProgram: typeof BuildProgram }).buildProgram;

/** Every leaf command, hidden ones too (__complete): whatever prints a result has a schema. */
function leaves(cmd: Command, path: string[] = []): string[] {
  const subs = cmd.commands;
  if (subs.length === 0) return path.length ? [path.join('-')] : [];
  return subs.flatMap((c) => leaves(c, [...path, c.name()]));
}

describe('the JSON Schemas of command results (schemas/)', () => {
  const commands = leaves(buildProgram('0', async () => {}));

  it('describe every command, and only commands that exist', () => {
    expect(commands.length).toBeGreaterThan(25);
    // `help` is a command too (tfactl help user add --json), with the result --help --json has.
    expect(commands).toContain('help');
    expect([...RESULT_SCHEMAS].sort()).toEqual([...new Set([...commands, 'version', 'help'])].sort());
  });

  it('are found from a command line as the harness reads it', () => {
    expect(commandOf(['--db', 'x', 'tfa', 'add', 'totp', 'bob', '--json'])).toBe('tfa-add-totp');
    expect(commandOf(['--as', 'alice', '--auth-code', '123456', 'user', 'list', '--json'])).toBe('user-list');
    expect(commandOf(['login', 'bob', '--json'])).toBe('login');
    expect(commandOf(['--version', '--json'])).toBe('version');
  });
});
