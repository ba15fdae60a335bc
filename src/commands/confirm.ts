import { CancelledError, UsageError } from '../errors.js';
import type { Invocation } from '../invocation.js';
import { boolOpt } from './options.js';

/**
 * For a command that destroys something: with --yes it goes ahead; on a terminal it will ask;
 * without either it fails, naming --yes (exit 2). Deletions call it once what they delete is
 * found (an unknown user is exit 3 with or without --yes); nothing is changed before it.
 */
export function requireConfirmation(inv: Invocation, what: string): void {
  if (boolOpt(inv, 'yes') === true || inv.ctx.io.stdinIsTTY) return;
  throw new UsageError(`${what}: confirm with --yes`, 'confirm');
}

/** Asks on the terminal (default no) unless --yes was given; no is Ctrl-C's exit 130, nothing done. */
export async function confirm(inv: Invocation, question: string): Promise<void> {
  if (boolOpt(inv, 'yes') === true) return;
  if (!(await inv.ctx.prompter.confirm(question, false))) throw new CancelledError();
}
