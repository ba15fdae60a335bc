import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import type { CommanderError } from 'commander';
import { buildProgram } from './cli.js';
import type { Ctx, Io, Prompter } from './context.js';
import { ExitCode, TfaError, UsageError } from './errors.js';
import { createOutput } from './output.js';

/** Runs tfactl with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], ctx: Ctx): Promise<number> {
  const json = argv.includes('--json');
  const debug = argv.includes('--debug');
  const out = await createOutput(ctx.io, { json, env: ctx.env });
  const exits: (() => void)[] = [];
  try {
    const program = buildProgram(version(), async (load, args, opts) => {
      const command = await load();
      await command.run({ ctx, out, args, opts, onExit: (fn) => exits.push(fn) });
    });
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.ok;
  } catch (e) {
    const err = isCommanderError(e) ? fromCommander(e) : e;
    if (err === null) return ExitCode.ok;
    out.error(err, debug);
    return err instanceof TfaError ? err.exitCode : ExitCode.internal;
  } finally {
    for (const fn of exits.reverse()) fn();
  }
}

function isCommanderError(e: unknown): e is CommanderError {
  return e instanceof Error && e.name === 'CommanderError' && typeof (e as CommanderError).code === 'string';
}

/** Help and version end well; every other parse problem is a usage error (exit 2). */
function fromCommander(e: CommanderError): TfaError | null {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return null;
  if (e.code === 'commander.help' || e.code === 'commander.executeSubCommandAsync') {
    return new UsageError('missing command: see the help above');
  }
  return new UsageError(e.message.replace(/^error: /, ''));
}

let cachedVersion: string | undefined;
function version(): string {
  cachedVersion ??= (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
    .version;
  return cachedVersion;
}

/** The real terminal. */
function processIo(): Io {
  let stdin: Promise<string> | undefined;
  return {
    stdout: {
      write: (t) => process.stdout.write(t),
      isTTY: process.stdout.isTTY === true,
      get columns() {
        return process.stdout.columns;
      },
    },
    stderr: { write: (t) => process.stderr.write(t), isTTY: process.stderr.isTTY === true },
    stdinIsTTY: process.stdin.isTTY === true,
    onInterrupt: (fn) => {
      let seen = false;
      const handler = () => {
        if (seen) process.exit(130);
        seen = true;
        fn();
      };
      process.on('SIGINT', handler);
      process.on('SIGTERM', handler);
      return () => {
        process.off('SIGINT', handler);
        process.off('SIGTERM', handler);
      };
    },
    readStdin: () => {
      stdin ??= new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        process.stdin.on('data', (c: Buffer) => chunks.push(c));
        process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        process.stdin.on('error', reject);
      });
      return stdin;
    },
  };
}

/** Prompts on the terminal; @inquirer/prompts is loaded only when a question is asked. */
function terminalPrompter(): Prompter {
  const context = { output: process.stderr, clearPromptOnDone: false };
  const ask = async <T>(fn: (p: typeof import('@inquirer/prompts')) => Promise<T>): Promise<T> => {
    const prompts = await import('@inquirer/prompts');
    try {
      return await fn(prompts);
    } catch (e) {
      if (e instanceof Error && e.name === 'ExitPromptError') {
        const { CancelledError } = await import('./errors.js');
        throw new CancelledError();
      }
      throw e;
    }
  };
  return {
    password: (message) => ask((p) => p.password({ message, mask: '*' }, context)),
    input: (message, defaultValue) =>
      ask((p) => p.input(defaultValue === undefined ? { message } : { message, default: defaultValue }, context)),
    confirm: (message, defaultValue) => ask((p) => p.confirm({ message, default: defaultValue }, context)),
  };
}

/** Builds the real context and runs tfactl as this process. */
export async function runProcess(): Promise<void> {
  const ctx: Ctx = {
    io: processIo(),
    prompter: terminalPrompter(),
    clock: { nowSeconds: () => Math.floor(Date.now() / 1000) },
    random: { bytes: (n) => randomBytes(n) },
    env: process.env,
    uid: process.getuid?.() ?? -1,
    home: homedir(),
    hostname: hostname(),
    openStore: async (path, now) => (await import('./store/sqlite.js')).openSqliteStore(path, { now }),
    inspectBackup: async (path) => (await import('./store/sqlite.js')).inspectBackup(path),
  };
  process.exitCode = await main(process.argv.slice(2), ctx);
}
