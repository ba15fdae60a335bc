import type { Ctx } from '../context.js';
import { UsageError } from '../errors.js';

/**
 * Where passwords come from: the lines of standard input with --password-stdin (one secret per
 * line, in the order they are asked for), else a hidden prompt on a TTY. Without either it fails
 * with a message naming the flag, never waiting on a pipe.
 */
export class SecretSource {
  private next = 0;
  private lines: Promise<string[]> | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly fromStdin: boolean,
  ) {}

  /** Whether asking would work (stdin lines or a TTY). */
  get available(): boolean {
    return this.fromStdin || this.ctx.io.stdinIsTTY;
  }

  /** Reads one secret; `purpose` names it in prompts and errors ("the password of alice@local"). */
  async read(purpose: string, options: { confirm?: boolean } = {}): Promise<string> {
    if (this.fromStdin) {
      this.lines ??= this.ctx.io.readStdin().then((text) => text.split(/\r?\n/));
      const lines = await this.lines;
      const index = this.next++;
      // A final newline leaves an empty last element that is not a line.
      const usable = lines.length - (lines.at(-1) === '' ? 1 : 0);
      if (index >= usable) {
        throw new UsageError(`--password-stdin: expected ${purpose} on line ${index + 1} of standard input`, 'missing_secret');
      }
      return lines[index] ?? '';
    }
    if (!this.ctx.io.stdinIsTTY) {
      throw new UsageError(`cannot ask for ${purpose}: standard input is not a terminal; use --password-stdin`, 'no_tty');
    }
    const first = await this.ctx.prompter.password(`Enter ${purpose}:`);
    if (options.confirm) {
      const again = await this.ctx.prompter.password(`Repeat ${purpose.replace(/^an? /, 'the ')}:`);
      if (again !== first) throw new UsageError('the two entries do not match', 'mismatch');
    }
    return first;
  }
}
