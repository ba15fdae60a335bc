import { confirm, input, password } from '@inquirer/prompts';
import type { Prompter } from './context.js';
import { CancelledError } from './errors.js';

// Static imports of the three prompts used, so the bundler leaves the rest of @inquirer/prompts out.
const context = { output: process.stderr, clearPromptOnDone: false };

/**
 * Enter on an empty masked prompt (or Esc, which empties it) asks again: no password, code or key
 * is empty, and sent on it would count as a failure toward the lockout.
 */
const notEmpty = (value: string) => value !== '' || 'nothing was typed: type it, or press Ctrl-C to cancel';

/** The prompt's context, with the signal that takes the question back when there is one. */
const withSignal = (options?: { readonly signal?: AbortSignal }) => (options?.signal ? { ...context, signal: options.signal } : context);

const prompts: Prompter = {
  password: (message, options) => password({ message, mask: '*', validate: notEmpty }, withSignal(options)),
  input: (message, defaultValue, options) => input(defaultValue === undefined ? { message } : { message, default: defaultValue }, withSignal(options)),
  confirm: (message, defaultValue, options) => confirm({ message, default: defaultValue }, withSignal(options)),
};

/** Asks one question on the terminal; Ctrl-C becomes CancelledError. */
export async function ask<K extends keyof Prompter>(
  kind: K,
  args: Parameters<Prompter[K]>,
): Promise<Awaited<ReturnType<Prompter[K]>>> {
  try {
    return (await (prompts[kind] as (...a: Parameters<Prompter[K]>) => ReturnType<Prompter[K]>)(...args)) as Awaited<
      ReturnType<Prompter[K]>
    >;
  } catch (e) {
    if (e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError')) throw new CancelledError();
    throw e;
  }
}
