import { confirm, input, password } from '@inquirer/prompts';
import type { Prompter } from './context.js';
import { CancelledError } from './errors.js';
import { holdInterrupts, INTERRUPT_SIGNALS } from './interrupt-holds.js';
import { NOTHING_TYPED } from './plain-prompts.js';

// Static imports of the three prompts used, so the bundler leaves the rest of @inquirer/prompts out.
const context = { output: process.stderr, clearPromptOnDone: false };

/**
 * Enter on an empty masked prompt (or Esc, which empties it) asks again: no password, code or key
 * is empty, and sent on it would count as a failure toward the lockout.
 */
const notEmpty = (value: string) => value !== '' || NOTHING_TYPED;

/** The prompt's context, with what takes the question back: SIGTERM (`stopped`), and the caller's signal when there is one. */
const withSignal = (stopped: AbortSignal, options?: { readonly signal?: AbortSignal }) => ({
  ...context,
  signal: options?.signal ? AbortSignal.any([options.signal, stopped]) : stopped,
});

/** The prompts, each taken back when `stopped` is aborted. */
const promptsUntil = (stopped: AbortSignal): Prompter => ({
  // No Ctrl-T to show what was typed (the library's default): a password typed here is never shown.
  password: (message, options) => password({ message, mask: '*', validate: notEmpty, toggleMask: false }, withSignal(stopped, options)),
  input: (message, defaultValue, options) => input(defaultValue === undefined ? { message } : { message, default: defaultValue }, withSignal(stopped, options)),
  confirm: (message, defaultValue, options) => confirm({ message, default: defaultValue }, withSignal(stopped, options)),
});

/**
 * Asks one question on the terminal; Ctrl-C, or SIGTERM while it waits (the run being stopped:
 * the prompt puts the terminal back first, and --json still ends its envelope), becomes
 * CancelledError.
 */
export async function ask<K extends keyof Prompter>(
  kind: K,
  args: Parameters<Prompter[K]>,
): Promise<Awaited<ReturnType<Prompter[K]>>> {
  const stop = new AbortController();
  const onTerm = () => stop.abort();
  // `on`, not `once`: the prompt's own exit hook (signal-exit) ends the process with the signal
  // when it finds itself the last listener, which a `once` listener, gone as it runs, would make it.
  // SIGINT too, sent by kill (Ctrl-C itself comes as a key here).
  const release = holdInterrupts();
  for (const signal of INTERRUPT_SIGNALS) process.on(signal, onTerm);
  try {
    return (await (promptsUntil(stop.signal)[kind] as (...a: Parameters<Prompter[K]>) => ReturnType<Prompter[K]>)(...args)) as Awaited<
      ReturnType<Prompter[K]>
    >;
  } catch (e) {
    if (e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError')) throw new CancelledError();
    throw e;
  } finally {
    for (const signal of INTERRUPT_SIGNALS) process.off(signal, onTerm);
    release();
  }
}
