import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { GlobalOptions, Invocation } from '../invocation.js';

/** Reads a string option commander has parsed (undefined when absent). */
export function stringOpt(inv: Invocation, name: string): string | undefined {
  const v = inv.opts[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * A secret option (a TOTP secret, an AES key, an API key). `@FILE` reads it from that file instead
 * (one line; the line break is dropped), so it need not show in `ps` or the shell's history. No
 * secret is ever put in an error message: only the flag and the file name.
 */
export function secretOpt(inv: Invocation, name: string, flag: string): string | undefined {
  const v = stringOpt(inv, name);
  if (v === undefined || !v.startsWith('@')) return v;
  const path = v.slice(1);
  if (path === '') throw new UsageError(`${flag} @FILE needs a file name`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the ${flag} file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new UsageError(`the ${flag} file ${path} is empty`);
  if (/[\r\n]/.test(value)) throw new UsageError(`the ${flag} file ${path} must hold one line`);
  return value;
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
