import type { Command } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.js';

// main.ts builds only the groups a command line names (buildProgram's `only`). Whatever the line,
// that tree must answer exactly as the whole tree does: the same leaf, arguments and options, or
// the same error, and the same help and version text.

/** What a tree built with `only` (or whole) does with `argv`: the leaf it runs, or the error, and all it wrote. */
async function outcome(argv: readonly string[], only?: ReadonlySet<string>): Promise<unknown> {
  let written = '';
  const io = { stdout: { write: (t: string) => void (written += t), isTTY: false, columns: undefined }, stderr: { write: (t: string) => void (written += t), isTTY: false } };
  let ran: unknown = null;
  const program = buildProgram('1.2.3', async (_load, args, opts, command) => void (ran = { command, args: [...args], opts: { ...opts } }), io, only);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return { ran, written };
  } catch (e) {
    const { code, exitCode, message } = e as { code?: string; exitCode?: number; message: string };
    return { error: { code, exitCode, message }, ran, written };
  }
}

/** Every command of the whole tree, as the words that name it (`[]` for tfactl itself). */
function paths(cmd: Command, above: string[] = []): string[][] {
  return [above, ...cmd.commands.flatMap((c) => paths(c, [...above, c.name()]))];
}

const whole = buildProgram('1.2.3', async () => undefined);
const ALL = paths(whole);
const commandAt = (path: readonly string[]): Command => path.reduce((c: Command, name) => c.commands.find((x) => x.name() === name)!, whole);
const NAMES = [...new Set([...ALL.flat(), ...ALL.flatMap((p) => commandAt(p).aliases())])];
const FLAGS = [...new Set(ALL.flatMap((p) => commandAt(p).options.map((o) => o.long!)))];

describe('the command tree main.ts builds for a command line', () => {
  it('has every command of the whole tree that the line names, and nothing the whole tree lacks', async () => {
    for (const path of ALL) {
      for (const argv of [[...path, '--help'], ['help', ...path], path]) {
        expect(await outcome(argv, new Set(argv)), argv.join(' ')).toEqual(await outcome(argv));
      }
    }
  });

  it('reads any line of command names, options and words as the whole tree does', async () => {
    const word = fc.oneof(
      fc.constantFrom(...NAMES),
      fc.constantFrom(...FLAGS),
      fc.constantFrom('--help', '-h', '--version', '-V', '--', '-', 'alice', 'corp', 'usr', 'tfa-list', '--as=user', '--db', 'x y', ''),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(word, { maxLength: 8 }), async (argv) => {
        expect(await outcome(argv, new Set(argv))).toEqual(await outcome(argv));
      }),
      { numRuns: 600 },
    );
  });

  it('leaves the groups a line does not name empty', () => {
    const lean = buildProgram('1.2.3', async () => undefined, undefined, new Set(['tfa', 'list']));
    const sizes = Object.fromEntries(lean.commands.map((c) => [c.name(), c.commands.length]));
    expect(sizes).toMatchObject({ tfa: whole.commands.find((c) => c.name() === 'tfa')!.commands.length, user: 0, realm: 0, token: 0, settings: 0, pam: 0 });
    expect(sizes['tfa']).toBeGreaterThan(0);
  });
});

describe('a flag and its --no- form', () => {
  const pairs = ALL.flatMap((path) => {
    const cmd = commandAt(path);
    return cmd.options
      .filter((o) => o.negate)
      .flatMap((negated) => {
        const positive = cmd.options.find((o) => !o.negate && o.attributeName() === negated.attributeName());
        const args = cmd.registeredArguments.filter((a) => a.required).map(() => 'alice');
        return positive ? [{ path, args, flags: [positive.long!, negated.long!] }] : [];
      });
  });

  it('exist where the command tree says (user modify --admin, login --session)', () => {
    expect(pairs.map((p) => `${p.path.join(' ')} ${p.flags.join(' ')}`)).toEqual(expect.arrayContaining(['user modify --admin --no-admin', 'login --session --no-session']));
  });

  it('are refused together, in either order (exit 2, conflicting_options), and each alone is read', async () => {
    for (const { path, args, flags } of pairs) {
      for (const given of [flags, [...flags].reverse()]) {
        const r = (await outcome([...path, ...args, ...given])) as { error?: { code?: string; exitCode?: number; message: string }; ran: unknown };
        expect(r.error, given.join(' ')).toEqual({ code: 'conflicting_options', exitCode: 2, message: `${flags[0]} and ${flags[1]} contradict each other: give one of them` });
        expect(r.ran).toBeNull();
      }
      for (const flag of flags) expect((await outcome([...path, ...args, flag])) as { ran: unknown }).toMatchObject({ ran: { command: path.join(' ') } });
    }
  });
});

describe('an option of one value given twice', () => {
  // Every option that takes a value, on every command (the global ones at tfactl itself), with
  // two of its values: its choices, or two words.
  const cases = ALL.flatMap((path) => {
    const cmd = commandAt(path);
    const args = cmd.registeredArguments.filter((a) => a.required).map((a) => a.argChoices?.[0] ?? 'alice');
    return cmd.options
      .filter((o) => o.required || o.optional)
      .map((o) => ({ path, args, long: o.long!, values: o.argChoices ? o.argChoices.slice(0, 2) : ['first-value', 'second-value'], repeatable: o.parseArg !== undefined && o.argChoices === undefined }));
  });

  it('are found where the tree says (token add --privileges, user add --tfa, --as, login --origin)', () => {
    const names = cases.map((c) => `${c.path.join(' ')} ${c.long}${c.repeatable ? ' (repeatable)' : ''}`);
    expect(names).toEqual(expect.arrayContaining(['token add --privileges', 'user add --tfa', ' --as', 'login --origin (repeatable)', 'realm set-yubico --url (repeatable)']));
  });

  it('with different values is refused (exit 2, conflicting_options) without naming them; the same value twice is read', async () => {
    for (const { path, args, long, values, repeatable } of cases) {
      const twice = (await outcome([...path, ...args, long, values[0]!, long, values[1]!])) as { error?: { code?: string; exitCode?: number; message: string }; ran: unknown };
      if (repeatable) {
        expect(twice.error, `${path.join(' ')} ${long}`).toBeUndefined();
        continue;
      }
      expect(twice.error, `${path.join(' ')} ${long}`).toEqual({ code: 'conflicting_options', exitCode: 2, message: `${long} is given twice, with different values: give it once` });
      expect(twice.ran).toBeNull();
      // (It may go on to another complaint: no command given, a mandatory option missing.)
      const same = (await outcome([...path, ...args, long, values[0]!, long, values[0]!])) as { error?: { code?: string }; ran: unknown };
      expect(same.error?.code, `${path.join(' ')} ${long} twice the same`).not.toBe('conflicting_options');
    }
  });
});
