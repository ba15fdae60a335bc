import { statSync } from 'node:fs';
import { StoreError, TfaError, UsageError } from '../errors.js';
import type { InputFiles } from '../context.js';
import { INPUT_LIMITS, openInputFile, readInputFile } from '../files.js';
import type { GlobalOptions, Invocation } from '../invocation.js';

/** Reads a string option commander has parsed (undefined when absent). */
export function stringOpt(inv: Invocation, name: string): string | undefined {
  const v = inv.opts[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * A secret option (a TOTP secret, an AES key, an API key). `@FILE` reads it from that file instead
 * (one line; surrounding whitespace and a byte-order mark are dropped), so it need not show in `ps`
 * or the shell's history. Only a regular file will do (see readInputFile). No secret is ever put in
 * an error message: only the flag and file.
 */
export function secretOpt(inv: Invocation, name: string, flag: string): string | undefined {
  const v = stringOpt(inv, name);
  return v === undefined ? undefined : secretValue(inv, v, flag);
}

const LOCAL_FILES: InputFiles = {
  read: readInputFile,
  open: openInputFile,
  mode: (path) => {
    try {
      return statSync(path).mode & 0o777;
    } catch {
      return undefined;
    }
  },
};

/** The files this run reads that its user named: this process's, or a service client's (Ctx.remote). */
export function inputFiles(inv: Pick<Invocation, 'ctx'>): InputFiles {
  return inv.ctx.remote?.files ?? LOCAL_FILES;
}

/** A secret flag's value: itself, or with `@FILE` the one line of that file (see secretOpt). */
export function secretValue(inv: Pick<Invocation, 'ctx'>, v: string, flag: string): string {
  if (!v.startsWith('@')) return v;
  const path = v.slice(1);
  if (path === '') throw new UsageError(`${flag} @FILE needs a file name`);
  let text: string;
  try {
    text = inputFiles(inv).read(path, { name: `the ${flag} file`, maxBytes: INPUT_LIMITS.secretFile }).toString('utf8');
  } catch (e) {
    throw unrepeatedName(e, path);
  }
  const value = text.replace(/^\uFEFF/, '').trim();
  const fail = (why: string): never => {
    throw new UsageError(`the ${flag} file ${path} ${why}`);
  };
  if (value === '') fail('is empty');
  if (/[\r\n]/.test(value)) fail('must hold one line');
  return value;
}

/**
 * An error about a secret's file whose name looks like a secret (12 characters or more, without
 * `/` or `.`, with a digit, a capital, `+`, `=` or `!`): more likely the secret itself after an `@`
 * typed by mistake than a file, so the message names it by its length only.
 */
function unrepeatedName(e: unknown, path: string): unknown {
  const secretShaped = [...path].length >= 12 && !/[/.]/.test(path) && /[0-9A-Z+=!]/.test(path);
  if (!(e instanceof TfaError) || !secretShaped || !e.message.includes(path)) return e;
  const message = e.message.split(path).join(`(a name of ${[...path].length} characters, not repeated: is it the secret itself, after an @?)`);
  return e instanceof UsageError ? new UsageError(message, e.code) : e instanceof StoreError ? new StoreError(message, e.code) : new TfaError(message, e.code, e.exitCode);
}

/** A repeatable option's values, in the order given (empty when absent). */
export function listOpt(inv: Invocation, name: string): string[] {
  const v = inv.opts[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function boolOpt(inv: Invocation, name: string): boolean | undefined {
  const v = inv.opts[name];
  return typeof v === 'boolean' ? v : undefined;
}

/**
 * A file named for tfactl to write, or to read whole, where `-` cannot mean standard input or
 * output (a backup, keys or results written to a file, an export, Proxmox's files): refused, not
 * taken as a file named `-` in the current directory (which `./-` names).
 */
export function namedFile(value: string, what: string): string {
  // Empty, it would be the current directory (resolve('')), reported as a file that exists.
  if (value.trim() === '') throw new UsageError(`${what} takes a file name, and it is empty`);
  if (value === '-') throw new UsageError(`${what} takes a file name, not - (standard input or output is not used here; ./- is a file named -)`);
  return value;
}

/** A string option that names such a file (see namedFile), undefined when absent. */
export function fileOpt(inv: Invocation, name: string, flag: string): string | undefined {
  const v = stringOpt(inv, name);
  return v === undefined ? undefined : namedFile(v, flag);
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
