import type { Io, Prompter } from '../context.js';
import { UsageError } from '../errors.js';
import type { Invocation } from '../invocation.js';
import { LineTooLongError } from '../stdio.js';

/**
 * The longest line of standard input read as a secret: room for the longest password the policy
 * can allow (4096 characters of up to 4 bytes each) and then some; a writer that never sends a
 * newline (/dev/zero) is cut off here instead of filling memory.
 */
export const MAX_SECRET_LINE_BYTES = 65_536;

/** How many times a person at a terminal may retype a new password or a verification code. */
export const TERMINAL_TRIES = 3;

/**
 * Where secrets come from on the command line: the lines of standard input with --password-stdin
 * (one secret per line, in the order tfactl uses them; `-` as a flag's value takes the next line
 * too), else a hidden prompt on a terminal. Without either it fails with a message naming the flag,
 * never waiting on a pipe. Standard input is read only as far as the lines asked for.
 */
export class SecretSource {
  private linesRead = 0;

  constructor(
    private readonly io: Io,
    private readonly prompter: Prompter,
    private readonly fromStdin: boolean,
    /** Tells the person at the terminal why they are asked again. */
    private readonly say: (message: string) => void,
  ) {}

  /** Whether a password can be had (stdin lines or a terminal). */
  get available(): boolean {
    return this.fromStdin || this.io.stdinIsTTY;
  }

  /** Whether a person at a terminal is asked (and may be asked again). */
  get interactive(): boolean {
    return !this.fromStdin && this.io.stdinIsTTY;
  }

  /** The next line of standard input, for `purpose` ("the password of alice@local"). */
  async nextLine(purpose: string, flag = '--password-stdin'): Promise<string> {
    const number = ++this.linesRead;
    let line: string | null;
    try {
      line = await this.io.readLine(MAX_SECRET_LINE_BYTES);
    } catch (e) {
      if (e instanceof LineTooLongError) {
        throw new UsageError(`${flag}: line ${number} of standard input (${purpose}) is longer than ${MAX_SECRET_LINE_BYTES} bytes`, 'input_too_long');
      }
      throw e;
    }
    if (line === null) throw new UsageError(`${flag}: expected ${purpose} on line ${number} of standard input`, 'missing_secret');
    return line;
  }

  /** Reads one password: a line of standard input, or a hidden prompt. */
  async read(purpose: string): Promise<string> {
    if (this.fromStdin) return this.nextLine(purpose);
    if (!this.io.stdinIsTTY) {
      throw new UsageError(`cannot ask for ${purpose}: standard input is not a terminal; use --password-stdin`, 'no_tty');
    }
    return this.prompter.password(`Enter ${purpose}:`);
  }

  /**
   * Reads a new password and has `check` judge it (the policy). At a terminal it is typed twice,
   * and a mismatch or a password `check` rejects is said and asked again, up to three times, as
   * passwd(1) does; from standard input there is one line and one chance.
   */
  async readNew(purpose: string, check: (password: string) => void): Promise<string> {
    if (!this.interactive) {
      const password = await this.read(purpose);
      check(password);
      return password;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        const first = await this.prompter.password(`Enter ${purpose}:`);
        check(first);
        const again = await this.prompter.password(`Repeat ${purpose.replace(/^an? /, 'the ')}:`);
        if (again !== first) throw new UsageError('the two entries do not match', 'mismatch');
        return first;
      } catch (e) {
        if (!(e instanceof UsageError) || attempt >= TERMINAL_TRIES) throw e;
        this.say(`${e.message}: try again`);
      }
    }
  }
}

/**
 * Refuses to make a secret that is shown only now (recovery keys, an API token's value, a new TOTP
 * secret) while standard output goes nowhere (/dev/null, or closed): it would reach no one, and
 * the command would still succeed. `instead` says how to have it.
 */
export function refuseDiscardedSecret(inv: Invocation, what: string, instead: string): void {
  if (!inv.out.discarded) return;
  // Through a tfactl service no file is written for the client (--output, --results): its own
  // standard output to a file only its user may read is the way.
  const here = inv.ctx.remote === undefined || !/--(output|recovery-output|results) FILE/.test(instead) ? instead : `send standard output to a file only you may read ((umask 077; tfactl ... > FILE): the tfactl service writes no file for its clients), or let them be shown`;
  throw new UsageError(`standard output goes nowhere (/dev/null, or closed), so ${what} would reach no one: ${here}`, 'output_discarded');
}
