import { displayStoreLocation, isPostgresUrl } from './domain/store-location.js';
import { accessSync, constants, statSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import type { CommanderError } from 'commander';
import { buildProgram } from './cli.js';
import type { Ctx, Io, Prompter } from './context.js';
import { ExitCode, TfaError, UsageError } from './errors.js';
import { INPUT_LIMITS } from './files.js';
import { createOutput, type Output } from './output.js';
import { chooseRoute, HERE_ONLY, type RouteProbe } from './remote/route.js';
import { loadStoreConfig } from './config-file.js';
import { fdWriter, readStdinChunks, stdinIsTerminal, stdinLineReader } from './stdio.js';
import pkg from '../package.json' with { type: 'json' };

/** Runs tfactl with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], ctx: Ctx): Promise<number> {
  const json = argv.includes('--json');
  // A client of tfactl serve gets no stack traces of the service's.
  const debug = argv.includes('--debug') && ctx.remote === undefined;
  const out = await createOutput(ctx.io, { json, env: ctx.env });
  const exits: (() => void)[] = [];
  // With --json, the help or version commander prints becomes the result of the one envelope.
  let shown = '';
  const programIo = json ? { stdout: { write: (t: string) => void (shown += t), isTTY: false, columns: undefined }, stderr: ctx.io.stderr } : ctx.io;
  // The exit code of a command a tfactl service ran.
  let forwarded: number | undefined;
  try {
    const program = buildProgram(pkg.version, async (load, args, opts, command) => {
      // (Through a service, the environment is the service's making, not PAM's.)
      const leafCtx = PAM_RUNS.has(command) && ctx.remote === undefined ? { ...ctx, env: withoutTfactlVariables(ctx.env) } : ctx;
      if (leafCtx.remote) leafCtx.remote.admit(command, opts);
      else {
        forwarded = await throughService(argv, leafCtx, out, { command, args, opts }, debug);
        if (forwarded !== undefined) return;
      }
      const leaf = await load();
      await leaf.run({ ctx: leafCtx, out, args, opts, onExit: (fn) => exits.push(fn) });
    }, programIo);
    await program.parseAsync([...argv], { from: 'user' });
    return forwarded ?? ExitCode.ok;
  } catch (e) {
    if (json && isCommanderError(e) && (e.code === 'commander.version' || e.code === 'commander.helpDisplayed')) {
      out.result(e.code === 'commander.version' ? { version: pkg.version } : { help: shown }, () => shown);
      return ExitCode.ok;
    }
    const err = isCommanderError(e) ? fromCommander(e) : e;
    if (err === null) return ExitCode.ok;
    out.error(err, debug);
    return err instanceof TfaError ? err.exitCode : ExitCode.internal;
  } finally {
    for (const fn of exits.reverse()) fn();
  }
}

/**
 * What PAM runs as root: its environment may come from the user signing in (pam_env's
 * user_readenv), so only the command line says which store, service, token or user (pam config).
 */
const PAM_RUNS = new Set(['pam check', 'pam prompt']);

function withoutTfactlVariables(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('TFACTL_')));
}

/**
 * Sends the command to a tfactl service when that is where it goes (src/remote/route.ts) and
 * returns its exit code; undefined when it runs here, on the store directly.
 */
async function throughService(
  argv: readonly string[],
  ctx: Ctx,
  out: Output,
  parsed: { readonly command: string; readonly args: readonly string[]; readonly opts: Readonly<Record<string, unknown>> },
  debug: boolean,
): Promise<number | undefined> {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  // Completion never fails on a config it cannot use (pam config reads it itself).
  const config = HERE_ONLY.has(parsed.command) || ctx.remote ? null : loadStoreConfig(ctx.env, ctx.uid);
  const route = chooseRoute({ command: parsed.command, db: str(parsed.opts.db), server: str(parsed.opts.server), env: ctx.env, uid: ctx.uid, home: ctx.home, config }, FILE_PROBE);
  if (route.kind === 'store') {
    if (debug && route.path !== undefined) out.note(`tfactl: on the store ${displayStoreLocation(route.path)} directly`);
    return undefined;
  }
  if (debug) out.note(`tfactl: through the tfactl service at ${route.address} (${route.why})`);
  const { forward } = await import('./remote/client.js');
  return forward(argv, route.address, parsed, ctx);
}

const FILE_PROBE: RouteProbe = {
  store: (path) => {
    // A PostgreSQL store is reached over the network, by whoever holds its connection string.
    if (isPostgresUrl(path)) return 'usable';
    try {
      accessSync(path, constants.R_OK | constants.W_OK);
      return 'usable';
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'denied';
    }
  },
  isSocket: (path) => {
    try {
      return statSync(path).isSocket();
    } catch {
      return false;
    }
  },
};

/** By its code, not its name: a bundler may rename the class, and commander names errors after it. */
function isCommanderError(e: unknown): e is CommanderError {
  const code = (e as Partial<CommanderError> | null)?.code;
  return e instanceof Error && typeof code === 'string' && code.startsWith('commander.');
}

/** Help and version end well; every other parse problem is a usage error (exit 2). */
function fromCommander(e: CommanderError): TfaError | null {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return null;
  if (e.code === 'commander.help' || e.code === 'commander.executeSubCommandAsync') {
    return new UsageError('missing command: see the help above');
  }
  return new UsageError(e.message.replace(/^error: /, ''));
}

/** The real terminal. */
function processIo(): Io {
  let stdinTTY: boolean | undefined;
  let lines: ((maxBytes: number) => Promise<string | null>) | undefined;
  let waiting: Io['waitingStdin'];
  return {
    stdout: fdWriter(1, () => process.stdout),
    stderr: fdWriter(2, () => process.stderr),
    get stdinIsTTY() {
      stdinTTY ??= stdinIsTerminal(() => process.stdin);
      return stdinTTY;
    },
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
    stdinChunks: () => readStdinChunks(() => process.stdin, INPUT_LIMITS.stdin),
    readLine: (maxBytes) => {
      lines ??= stdinLineReader(() => process.stdin);
      return lines(maxBytes);
    },
    get waitingStdin() {
      return (waiting ??= waitingStdin());
    },
  };
}

/** Standard input read through its stream only (Io.waitingStdin). */
function waitingStdin(): NonNullable<Io['waitingStdin']> {
  let waitingLines: ((maxBytes: number) => Promise<string | null>) | undefined;
  let used = false;
  const stream = () => {
    used = true;
    return process.stdin;
  };
  return {
    stdinChunks: () => readStdinChunks(stream, INPUT_LIMITS.stdin, { blocking: false }),
    readLine: (maxBytes: number) => {
      waitingLines ??= stdinLineReader(stream, { blocking: false });
      return waitingLines(maxBytes);
    },
    close: () => {
      if (used) process.stdin.destroy();
    },
  };
}

/** Prompts on the terminal; @inquirer/prompts is loaded only when a question is asked. */
function terminalPrompter(): Prompter {
  const ask =
    <K extends keyof Prompter>(kind: K) =>
    async (...args: Parameters<Prompter[K]>): Promise<Awaited<ReturnType<Prompter[K]>>> => {
      const { ask: askTerminal } = await import('./terminal-prompts.js');
      return askTerminal(kind, args);
    };
  return { password: ask('password'), input: ask('input'), confirm: ask('confirm') };
}

/** The real context: this process's terminal, clock, randomness, environment and store. */
export function processContext(): Ctx {
  // node:crypto only when needed: loading it costs start-up time that `tfa list` never uses.
  const random = { bytes: (n: number) => process.getBuiltinModule('node:crypto').randomBytes(n) };
  return {
    io: processIo(),
    prompter: terminalPrompter(),
    clock: { nowSeconds: () => Math.floor(Date.now() / 1000), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) },
    random,
    env: process.env,
    uid: process.getuid?.() ?? -1,
    home: homedir(),
    hostname: hostname(),
    openStore: async (path, { now, keyPath, readOnly }) =>
      isPostgresUrl(path)
        ? (await import('./store/postgres.js')).openPostgresStore(path, { now, keyPath, randomBytes: random.bytes })
        : (await import('./store/sqlite.js')).openSqliteStore(path, { now, keyPath, randomBytes: random.bytes, readOnly }),
  };
}

/** Runs tfactl as this process. */
export async function runProcess(): Promise<void> {
  process.exitCode = await main(process.argv.slice(2), processContext());
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
