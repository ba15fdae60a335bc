import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadStoreConfig } from './config-file.js';
import type { Ctx } from './context.js';
import { displayStoreLocation, isPostgresUrl } from './domain/store-location.js';
import { ExitCode, TfaError } from './errors.js';
import { refuseUntrustedTokenFile } from './files.js';
import type { Output } from './output.js';
import { PAM_COMMANDS } from './pam-argv.js';
import type { ParsedCommand } from './remote/client.js';
import { chooseRoute, HERE_ONLY, type RouteProbe } from './remote/route.js';

// Where a parsed command runs, here or through a tfactl service, and how a failure ends the run:
// shared by both entries, main.ts (every command, parsed by commander) and pam-main.ts (what
// pam_exec runs through a service, parsed without the command tree).

/**
 * What PAM runs as root: its environment may come from the user signing in (pam_env's
 * user_readenv), so only the command line says which store, service, token or user (pam config).
 */
export const PAM_RUNS: ReadonlySet<string> = new Set(PAM_COMMANDS);

/** The context a leaf command runs in: for what PAM runs, without TFACTL_ variables (through a service, the environment is the service's making, not PAM's). */
export function leafContext(ctx: Ctx, command: string): Ctx {
  return PAM_RUNS.has(command) && ctx.remote === undefined ? { ...ctx, env: withoutTfactlVariables(ctx.env) } : ctx;
}

function withoutTfactlVariables(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('TFACTL_')));
}

/**
 * Sends the command to a tfactl service when that is where it goes (src/remote/route.ts) and
 * returns its exit code; undefined when it runs here, on the store directly.
 */
export async function throughService(
  argv: readonly string[],
  ctx: Ctx,
  out: Output,
  parsed: ParsedCommand,
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
  // What PAM runs as root sends an admin's API token: a file others may read, or could replace,
  // is refused here as pam config refuses to name it (files.ts).
  const token = str(parsed.opts.token);
  if (PAM_RUNS.has(parsed.command) && ctx.remote === undefined && token?.startsWith('@')) refuseUntrustedTokenFile(resolve(token.slice(1)), ctx.uid);
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

/** Prints a run's error (a stack trace only with --debug) and returns its exit code. */
export function failed(out: Output, err: unknown, debug: boolean): number {
  out.error(err, debug);
  return err instanceof TfaError ? err.exitCode : ExitCode.internal;
}
