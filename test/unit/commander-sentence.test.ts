import { Argument, Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { commanderSentence } from '../../src/main.js';

/** What commander itself says for `args` to a small program: its real sentences, not copies. */
function commanderSays(args: string[]): string {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  program.command('show').argument('<userid>').action(() => undefined);
  program.command('init').action(() => undefined);
  program
    .command('login')
    .addOption(new Option('--type <type>').choices(['totp', 'recovery', 'yubico']))
    .addOption(new Option('--code <code>').conflicts('verify'))
    .option('--no-verify')
    .action(() => undefined);
  program.command('completion').addArgument(new Argument('<shell>').choices(['bash', 'zsh', 'fish'])).action(() => undefined);
  try {
    program.parse(args, { from: 'user' });
  } catch (e) {
    return (e as Error).message.replace(/^error: /, '');
  }
  throw new Error(`commander took ${args.join(' ')}`);
}

describe("commander's errors in tfactl's words", () => {
  it.each([
    [['login', '--type', 'foo'], 'invalid --type "foo": expected totp, recovery or yubico'],
    [['completion', 'tcsh'], 'invalid shell "tcsh": expected bash, zsh or fish'],
    [['show', 'a', 'b'], 'too many arguments for show: it takes 1, not 2 (see its --help)'],
    [['init', 'x'], 'too many arguments for init: it takes none, not 1 (see its --help)'],
    [['login', '--code', '1', '--no-verify'], 'give --code or --no-verify, not both'],
  ])('%j', (args, said) => {
    expect(commanderSentence(commanderSays(args))).toBe(said);
  });

  it('leaves what it does not know as it is', () => {
    expect(commanderSentence("missing required argument 'userid'")).toBe("missing required argument 'userid'");
  });
});
