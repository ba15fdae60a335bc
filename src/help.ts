import { type Command, CommanderError } from 'commander';
import { UsageError } from './errors.js';
import { HELP_EXAMPLES, type HelpExample } from './help-examples.js';
import { nearest } from './domain/near.js';
import { shortened } from './domain/text.js';

/** A command's names below tfactl: `['tfa', 'add', 'totp']`; `[]` for tfactl itself. */
export function commandPath(cmd: Command): string[] {
  const path: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) path.unshift(c.name());
  return path;
}

/** The examples section of a command's help. */
export function formatExamples(examples: readonly HelpExample[]): string {
  return `\nExamples:\n${examples.map((e) => `  # ${e.does}\n  ${e.line.replace(/\n/g, '\n  ')}`).join('\n\n')}`;
}

/**
 * Finishes the help of the whole tree: the `help` command, and after each command's help the
 * global options named (not described again) and its examples (src/help-examples.ts). One
 * listener on tfactl serves every command, so start-up does no work per command.
 */
export function addHelp(program: Command): void {
  program
    .command('help')
    .description('show the help of a command, as its --help does')
    .argument('[command...]', 'a command, e.g. user add')
    .action((words: string[]) => {
      findCommand(program, words).outputHelp();
      // As --help ends, so that main.ts treats both alike (exit 0; the result of --json).
      throw new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)');
    });

  // After the help of tfactl or any command below it, and after what that command adds itself.
  program.addHelpText('afterAll', ({ command }) => {
    let text = '';
    if (command !== program) {
      const globals = program.options.filter((o) => o.long && o.long !== '--help' && o.long !== '--version').map((o) => o.long);
      // Two lines, each within 80 columns: help is wrapped to narrow terminals, this by hand.
      const half = Math.ceil(globals.length / 2);
      text += `\nGlobal options (see tfactl --help):\n  ${globals.slice(0, half).join(', ')},\n  ${globals.slice(half).join(', ')}`;
    }
    const examples = HELP_EXAMPLES[commandPath(command).join(' ')];
    return examples ? `${text}${text ? '\n' : ''}${formatExamples(examples)}` : text;
  });
}

/** Commands people look for under another name: where what they want is. */
const ELSEWHERE: Readonly<Record<string, string>> = {
  'tfa add u2f': "a new security key is added as WebAuthn ('tfactl tfa add webauthn'); U2F keys come only from Proxmox ('tfactl import proxmox')",
  'tfa add passkey': "passkeys and security keys are added with 'tfactl tfa add webauthn'",
  'tfa add fido2': "FIDO2 security keys are added with 'tfactl tfa add webauthn'",
};

/** The command `words` name (`['user', 'add']`), or a usage error that suggests a near name. */
export function findCommand(program: Command, words: readonly string[]): Command {
  let cmd = program;
  for (const [i, word] of words.entries()) {
    const next = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) {
      const typed = shortened(words.slice(0, i + 1).join(' '));
      const elsewhere = ELSEWHERE[typed];
      if (elsewhere !== undefined) throw new UsageError(`unknown command '${typed}': ${elsewhere}`);
      const names = cmd
        .createHelp()
        .visibleCommands(cmd)
        .map((c) => c.name())
        .filter((n) => n !== 'help');
      const near = nearest(word, names);
      const prefix = words.slice(0, i).join(' ');
      // No near name (rm for delete, passkey for webauthn): the names there are, to pick from.
      const there = `${prefix ? `tfactl ${prefix}` : 'tfactl'} has ${names.join(', ')}`;
      const hint = near ? ` (Did you mean ${prefix ? `${prefix} ` : ''}${near}?)` : names.length > 0 ? `: ${there}` : '';
      throw new UsageError(`unknown command '${typed}'${hint}`);
    }
    cmd = next;
  }
  return cmd;
}
