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

/**
 * For a deletion: asks (default no; or needs --yes without a terminal) before the actor signs in
 * (--as, TFACTL_AS), when that is how the run acts, since a sign-in spends a TOTP code that a no,
 * or a stop for want of --yes, would waste (its retry refused as a used code). Otherwise (the
 * store's owner, a token: they sign nothing in) the check it returns asks, called once what is
 * deleted is found: a missing target or a refusal comes first, with no question it could not
 * change. After an early question the check it returns does nothing.
 */
export async function confirmDeletion(inv: Invocation, what: string, question: string): Promise<() => Promise<void>> {
  const ask = async () => {
    requireConfirmation(inv, what);
    await confirm(inv, question);
  };
  if (!signsInFirst(inv)) return ask;
  await ask();
  return async () => undefined;
}

/** Whether the run signs its actor in (--as, TFACTL_AS) before it does anything. */
export function signsInFirst(inv: Invocation): boolean {
  return (inv.opts as { as?: unknown }).as !== undefined || Boolean(inv.ctx.env.TFACTL_AS);
}

/** Asks on the terminal (default no) unless --yes was given; no is Ctrl-C's exit 130, nothing done. */
export async function confirm(inv: Invocation, question: string): Promise<void> {
  if (boolOpt(inv, 'yes') === true) return;
  if (!(await inv.ctx.prompter.confirm(question, false))) throw new CancelledError();
}
