import type { CommanderError } from 'commander';
import { runInterruptUndos } from './interrupt-holds.js';
import { refuseFilesUnderSudo } from './sudo-acting.js';
import { buildProgram, PAM_LEAVES, type LeafRunner } from './cli.js';
import type { Ctx } from './context.js';
import { CancelledError, ExitCode, TfaError, UsageError } from './errors.js';
import { failed, leafContext, throughService } from './leaf-route.js';
import { createOutput } from './output.js';
import { parsePamArgv } from './pam-argv.js';
import { isPostgresUrl } from './domain/store-location.js';
import { shellWord } from './domain/command-line.js';
import { shortened } from './domain/text.js';
import { processContext as baseContext, type StoreOpener } from './process-context.js';
import pkg from '../package.json' with { type: 'json' };

/** Runs tfactl with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], ctx: Ctx): Promise<number> {
  // Known before commander reads the line (its errors are written in the same form), from the
  // words before any `--`: after it, `--json` is an argument (a user named so), not the option.
  const end = argv.indexOf('--');
  const options = end < 0 ? argv : argv.slice(0, end);
  const json = options.includes('--json');
  // A client of tfactl serve gets no stack traces of the service's.
  const debug = options.includes('--debug') && ctx.remote === undefined;
  const out = await createOutput(ctx.io, { json, env: ctx.env, carried: carriedOptions(options) });
  // Ctrl-C or SIGTERM where nothing listens for it (connecting to a store, waiting on a lock or on
  // standard input): said as any cancellation, with --json one envelope, then exit 130.
  ctx.io.onUnheldInterrupt?.(() => {
    runInterruptUndos();
    out.error(new CancelledError('interrupted'), debug);
  });
  const exits: (() => void)[] = [];
  // With --json, the help or version commander prints becomes the result of the one envelope.
  let shown = '';
  // With --json, the help commander prints before 'missing command' is not shown either: the error names the help to ask for.
  let shownErr = '';
  const programIo = json ? { stdout: { write: (t: string) => void (shown += t), isTTY: false, columns: undefined }, stderr: { write: (t: string) => void (shownErr += t), isTTY: false } } : ctx.io;
  // The exit code of a command a tfactl service ran.
  let forwarded: number | undefined;
  try {
    refuseUndecoded(argv);
    refuseOptionForValue(options);
    const runLeaf: LeafRunner = async (load, args, opts, command) => {
      const leafCtx = leafContext(ctx, command);
      refuseFilesUnderSudo(leafCtx, command, args, opts);
      if (leafCtx.remote) leafCtx.remote.admit(command, opts);
      else {
        forwarded = await throughService(argv, leafCtx, out, { command, args, opts }, debug);
        if (forwarded !== undefined) return;
      }
      const leaf = await load();
      await leaf.run({ ctx: leafCtx, out, args, opts, onExit: (fn) => exits.push(fn) });
    };
    // What PAM runs at every sign-in is read as commander would, without building the tree.
    const pamLine = parsePamArgv(argv);
    if (pamLine !== null) await runLeaf(PAM_LEAVES[pamLine.command], pamLine.args, pamLine.opts, pamLine.command);
    else await buildProgram(pkg.version, runLeaf, programIo, new Set(argv)).parseAsync([...argv], { from: 'user' });
    const code = forwarded ?? ExitCode.ok;
    // As a tool killed by SIGPIPE: a closed pipe is no success, though nothing is said of it.
    return code === ExitCode.ok && ctx.io.stdout.readerGone ? ExitCode.store : code;
  } catch (e) {
    if (json && isCommanderError(e) && (e.code === 'commander.version' || e.code === 'commander.helpDisplayed')) {
      try {
        out.result(e.code === 'commander.version' ? { version: pkg.version } : { help: shown }, () => shown);
      } catch (unwritten) {
        return failed(out, unwritten, debug);
      }
      return ExitCode.ok;
    }
    const err = isCommanderError(e) ? fromCommander(e, json ? shownErr : null) : e;
    if (err === null) return ExitCode.ok;
    return failed(out, err, debug);
  } finally {
    for (const fn of exits.reverse()) fn();
  }
}

/**
 * Node reads the bytes of an argument that are not UTF-8 as U+FFFD, so such an argument reaches
 * tfactl already changed: refused (exit 2), never stored changed, and not echoed (it may be a
 * secret). A U+FFFD typed on purpose is refused too; tfactl has no use for one.
 */
function refuseUndecoded(argv: readonly string[]): void {
  const at = argv.findIndex((word) => word.includes('\uFFFD'));
  if (at >= 0) throw new UsageError(`argument ${at + 1} of the command line is not valid UTF-8 (or holds U+FFFD, the replacement character): give text in UTF-8`, 'invalid_text');
}

/**
 * `--db` and `--server` as given on the command line, for the command lines the output suggests
 * (output.ts withOptions): a copied `fix: tfactl tfa unlock bob` must act on this store, not the
 * default one. From the environment (TFACTL_DB) they need no carrying. A PostgreSQL URL with a
 * password is not repeated (it would be printed): its lines stay without it.
 */
function carriedOptions(options: readonly string[]): string {
  const words: string[] = [];
  for (const flag of ['--db', '--server']) {
    const at = options.findIndex((w) => w === flag || w.startsWith(`${flag}=`));
    if (at < 0) continue;
    const value = options[at] === flag ? options[at + 1] : options[at]!.slice(flag.length + 1);
    if (value === undefined || value.trim() === '' || value.startsWith('--')) continue;
    if (flag === '--db' && isPostgresUrl(value) && /^[^/]*\/\/[^/@]*:[^/@]*@/.test(value)) continue;
    words.push(flag, shellWord(value));
  }
  return words.join(' ');
}

/** The global options that take a value (src/cli.ts), as commander names them in its errors. */
const GLOBAL_VALUES: Readonly<Record<string, string>> = { '--db': '<path>', '--as': '<userid>', '--auth-code': '<code>', '--server': '<path|url>', '--token': '<@file>' };

/**
 * A global option whose value would be the next option (`--db --json`): its value is missing, as
 * commander says of a command's own options. Commander would take `--json` for the path (a store
 * named --json made, with --json's envelope printed all the same).
 */
function refuseOptionForValue(options: readonly string[]): void {
  for (let i = 0; i < options.length - 1; i++) {
    const takes = GLOBAL_VALUES[options[i]!];
    if (takes !== undefined && options[i + 1]!.startsWith('--')) throw new UsageError(`option '${options[i]} ${takes}' argument missing`);
  }
}

/** By its code, not its name: a bundler may rename the class, and commander names errors after it. */
function isCommanderError(e: unknown): e is CommanderError {
  const code = (e as Partial<CommanderError> | null)?.code;
  return e instanceof Error && typeof code === 'string' && code.startsWith('commander.');
}

/**
 * Help and version end well; every other parse problem is a usage error (exit 2). `unshownHelp`:
 * the help commander wrote for a missing command and --json kept back, else null (shown above).
 */
function fromCommander(e: CommanderError, unshownHelp: string | null): TfaError | null {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return null;
  if (e.code === 'commander.help' || e.code === 'commander.executeSubCommandAsync') {
    if (unshownHelp === null) return new UsageError('missing command: see the help above');
    const command = /^Usage: (tfactl(?: [a-z][a-z-]*)*)/m.exec(unshownHelp)?.[1] ?? 'tfactl';
    return new UsageError(`missing command: see ${command} --help`);
  }
  if (e.code === 'commander.unknownOption') return new UsageError(unknownOption(e.message));
  return new UsageError(commanderSentence(e.message.replace(/^error: /, '')), e.code === 'commander.conflictingOption' ? 'conflicting_options' : 'usage');
}

/**
 * Commander's sentences as tfactl words its own (`invalid --tfa "x": expected totp, yubico or
 * none`): the flag as typed, the value quoted, lower case, no full stop.
 */
export function commanderSentence(text: string): string {
  const orList = (list: string) => list.replace(/, ([^,]+)$/, ' or $1');
  const option = /^option '(-[^ ']+)[^']*' argument '(.*)' is invalid\. (?:Allowed choices are ([^.]*)\.|(.*))$/s.exec(text);
  if (option) return `invalid ${option[1]} ${JSON.stringify(option[2])}: ${option[3] === undefined ? (option[4] ?? '').replace(/\.$/, '') : `expected ${orList(option[3])}`}`;
  const argument = /^command-argument value '(.*)' is invalid for argument '([^']+)'\. Allowed choices are ([^(.]*?)( \(.*\))?\.$/s.exec(text);
  if (argument) return `invalid ${argument[2]} ${JSON.stringify(argument[1])}: expected ${orList(argument[3] ?? '')}${argument[4] ?? ''}`;
  const excess = /^too many arguments for '([^']+)'\. Expected (\d+) arguments? but got (\d+)\.$/.exec(text);
  if (excess) return `too many arguments for ${excess[1]}: it takes ${excess[2] === '0' ? 'none' : excess[2]}, not ${excess[3]} (see its --help)`;
  const conflict = /^option '(-[^ ']+)[^']*' cannot be used with option '(-[^ ']+)[^']*'$/.exec(text);
  if (conflict) return `give ${conflict[1]} or ${conflict[2]}, not both`;
  return text;
}

/**
 * An unknown option named without what followed its `=`, or a short one's letter (commander quotes
 * `--password=VALUE` and `-pVALUE` whole, and a script's guess at a password flag would put the
 * password in its log): `...` says something followed. A guess at a password flag is told how
 * passwords are given.
 */
function unknownOption(message: string): string {
  // A long option up to its =, a short one's letter (-pSECRET is -p with a value run on).
  const match = /^error: unknown option '(--[^=\s']*|-[^-\s'])([^']*)'/.exec(message);
  const name = match?.[1] ?? 'option';
  const more = match?.[2] ? `${match[2].startsWith('=') ? '=' : ''}...` : '';
  if (/^--pass(?:word|wd)?$/.test(name)) {
    return `unknown option '${name}': a password is never taken as an argument (ps shows arguments to every user); type it when asked, or give --password-stdin`;
  }
  const suggestion = /\(Did you mean (-{1,2}[\w-]+)\?\)/.exec(message)?.[1];
  // The signing-in user's second factor, given where the command takes none (`--as bob --code 1 user list`).
  if (name === '--code' && suggestion === undefined) {
    return `unknown option '--code${more}' here: --code goes after login, user add and tfa add totp; the second factor of a user signing in with --as is --auth-code`;
  }
  if (suggestion === name && more.startsWith('=')) return `option '${name}' takes no value (what followed its = is not repeated)`;
  // `-dash3`: perhaps a name that starts with a dash, which goes after `--` (not repeated: it may be a secret).
  const dashed = suggestion === undefined && !name.startsWith('--') && more !== '' ? " (an argument that starts with '-' goes after --)" : '';
  return `unknown option '${shortened(name)}${more}'${suggestion === undefined ? '' : ` (Did you mean ${suggestion}?)`}${dashed}`;
}

/** Runs tfactl as this process. */
export async function runProcess(): Promise<void> {
  process.exitCode = await main(process.argv.slice(2), processContext());
}

/** The stores a command opens: SQLite's or PostgreSQL's, each loaded only when used. */
const openStores: StoreOpener = (random) => async (path, { now, keyPath, readOnly, existing, longLived }) =>
  isPostgresUrl(path)
    ? (await import('./store/postgres.js')).openPostgresStore(path, { now, keyPath, randomBytes: random.bytes, readOnly, existing, ...(longLived && { shownAs: 'postgres://...' }) })
    : (await import('./store/sqlite.js')).openSqliteStore(path, { now, keyPath, randomBytes: random.bytes, readOnly, existing, backgroundCheckpoints: longLived && { failed: longLived.troubled } });

/** The real context: this process's terminal, clock, randomness, environment and stores. */
export function processContext(): Ctx {
  return baseContext(openStores);
}

// The bundle's other exports: scripts/completions.mjs and scripts/manpage.mjs read the command tree.
export { buildProgram, EXIT_CODES_HELP } from './cli.js';
export { HELP_EXAMPLES } from './help-examples.js';

/**
 * The WebAuthn loopback page, loaded on demand (it brings node:http): test/e2e/webauthn-page.test.ts
 * runs it from the built package as installed, until the commands that use it exist, with the
 * bundle's own error classes (the page tells a TfaError from other failures).
 */
export const loadLoopbackCeremony = () => import('./commands/webauthn/loopback.js');
export * as errors from './errors.js';
