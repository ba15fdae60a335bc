import { UsageError } from '../errors.js';
import type { GlobalOptions, Invocation } from '../invocation.js';

/** Reads a string option commander has parsed (undefined when absent). */
export function stringOpt(inv: Invocation, name: string): string | undefined {
  const v = inv.opts[name];
  return typeof v === 'string' ? v : undefined;
}

export function boolOpt(inv: Invocation, name: string): boolean | undefined {
  const v = inv.opts[name];
  return typeof v === 'boolean' ? v : undefined;
}

export function arg(inv: Invocation, index: number): string {
  const v = inv.args[index];
  if (v === undefined) throw new UsageError('missing argument');
  return v;
}

/**
 * Fails early, before the store is opened, when a secret will be needed and there is no way to get
 * one: never wait on a pipe, name the flag instead.
 */
export function requireSecretInput(inv: Invocation, what: string, alternative = ''): void {
  const globals = inv.opts as GlobalOptions;
  if (globals.passwordStdin || inv.ctx.io.stdinIsTTY) return;
  throw new UsageError(
    `cannot ask for ${what}: standard input is not a terminal; use --password-stdin${alternative}`,
    'no_tty',
  );
}
