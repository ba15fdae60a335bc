import type { Ctx } from './context.js';
import type { Output } from './output.js';

/** One run of one leaf command: what it was given and where it writes. */
export interface Invocation {
  readonly ctx: Ctx;
  readonly out: Output;
  /** Positional arguments, in order. */
  readonly args: readonly string[];
  /** The command's options merged with the global ones. */
  readonly opts: Readonly<Record<string, unknown>>;
  /** Registers work to do when the command ends, success or not (closing the store). */
  onExit(fn: () => void): void;
}

/** The global options every command accepts. */
export interface GlobalOptions {
  readonly db?: string;
  readonly as?: string;
  readonly passwordStdin?: boolean;
  readonly authCode?: string;
  readonly token?: string;
  readonly server?: string;
  readonly json?: boolean;
  readonly debug?: boolean;
}
