import type { Prompter } from './context.js';
import { CancelledError } from './errors.js';
import { holdInterrupts, INTERRUPT_SIGNALS } from './interrupt-holds.js';

/**
 * Questions for a terminal that cannot move its cursor (`TERM=dumb`: Emacs's shell, some editors'
 * consoles), where @inquirer/prompts' redrawing shows as escape sequences. Each question is one
 * line with its answer typed after it, edited by the terminal itself; a hidden answer is read with
 * the terminal's echo off and nothing drawn for it, as sudo and ssh do. Ctrl-C, SIGTERM, or the
 * end of input (Ctrl-D), cancels.
 */

interface Options {
  readonly signal?: AbortSignal;
}

/** Why a question was taken back (its answer came another way), as @inquirer/prompts names it. */
class TakenBack extends Error {
  override name = 'AbortPromptError';
}

/** Said when Enter is pressed on an empty hidden answer, by these prompts and @inquirer/prompts' (terminal-prompts.ts). */
export const NOTHING_TYPED = 'nothing was typed: type it, or press Ctrl-C to cancel';

/** One answer from the terminal: a line as typed (cooked), or hidden (raw, echo off, edited here). */
function readAnswer(hidden: boolean, signal: AbortSignal | undefined): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TakenBack());
    let typed = '';
    // Inside an escape sequence (an arrow key) typed at a hidden answer: 0 none, 1 after ESC, 2 in CSI.
    let escape = 0;
    let finished = false;
    const finish = (error: Error | null, rest?: string) => {
      // Once: a signal and the end of input may both come.
      if (finished) return;
      finished = true;
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      for (const signal of INTERRUPT_SIGNALS) process.off(signal, onInterrupt);
      release();
      signal?.removeEventListener('abort', onAbort);
      if (hidden) {
        stdin.setRawMode(false);
        process.stderr.write('\n');
      }
      if (rest) stdin.unshift(Buffer.from(rest));
      stdin.pause();
      if (error) reject(error);
      else resolve(typed);
    };
    const onHiddenChar = (c: string): boolean => {
      if (escape === 1) escape = c === '[' || c === 'O' ? 2 : 0;
      else if (escape === 2) escape = c >= '@' && c <= '~' ? 0 : 2;
      else if (c === '\r' || c === '\n') return true;
      else if (c === '\u0003') throw new CancelledError();
      else if (c === '\u0004') {
        if (typed === '') throw new CancelledError();
      } else if (c === '\u007f' || c === '\b') typed = Array.from(typed).slice(0, -1).join('');
      else if (c === '\u0015') typed = '';
      else if (c === '\u001b') escape = 1;
      else if (c >= ' ') typed += c;
      return false;
    };
    const onData = (chunk: string) => {
      if (!hidden) {
        const end = chunk.indexOf('\n');
        typed += end < 0 ? chunk : chunk.slice(0, end);
        if (end >= 0) finish(null, chunk.slice(end + 1));
        return;
      }
      const chars = Array.from(chunk);
      try {
        for (const [i, c] of chars.entries()) {
          if (onHiddenChar(c)) return finish(null, chars.slice(i + 1).join(''));
        }
      } catch (e) {
        finish(e as Error);
      }
    };
    const onEnd = () => finish(new CancelledError());
    const onInterrupt = () => finish(new CancelledError());
    const onAbort = () => finish(new TakenBack());
    stdin.setEncoding('utf8');
    if (hidden) stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    // Taken off by finish, not as they run: a listener gone would let other code take itself for the last.
    const release = holdInterrupts();
    for (const signal of INTERRUPT_SIGNALS) process.on(signal, onInterrupt);
    signal?.addEventListener('abort', onAbort, { once: true });
    stdin.resume();
  });
}

const ask = (question: string) => process.stderr.write(question);
/** The question as asked, ending in one ':' (the messages mostly bring their own). */
const asked = (message: string) => (/[:?]$/.test(message) ? message : `${message}:`);

export const plainPrompter: Prompter = {
  async password(message, options?: Options) {
    for (;;) {
      ask(`${asked(message)} `);
      const answer = await readAnswer(true, options?.signal);
      if (answer !== '') return answer;
      ask(`${NOTHING_TYPED}\n`);
    }
  },
  async input(message, defaultValue, options?: Options) {
    ask(`${asked(message)}${defaultValue ? ` [${defaultValue}]` : ''} `);
    const answer = (await readAnswer(false, options?.signal)).replace(/\r$/, '').trim();
    return answer === '' ? (defaultValue ?? '') : answer;
  },
  async confirm(message, defaultValue, options?: Options) {
    for (;;) {
      ask(`${message} ${defaultValue ? '[Y/n]' : '[y/N]'} `);
      const answer = (await readAnswer(false, options?.signal)).trim().toLowerCase();
      if (answer === '') return defaultValue;
      if (answer === 'y' || answer === 'yes') return true;
      if (answer === 'n' || answer === 'no') return false;
      ask('answer y or n\n');
    }
  },
};
