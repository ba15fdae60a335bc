import { homedir, hostname } from 'node:os';
import type { Ctx, Io, Prompter, Random } from './context.js';
import { INPUT_LIMITS } from './files.js';
import { fdWriter, readStdinChunks, stdinIsTerminal, stdinLineReader } from './stdio.js';
import { holdInterrupts, INTERRUPT_SIGNALS, interruptsHeld } from './interrupt-holds.js';

// The process's own seams: its terminal, clock, randomness and environment. Used by both entries,
// main.ts (every command) and pam-main.ts (what pam_exec runs through a service, which opens no
// store and so bundles none).

/** The real terminal. */
function processIo(): Io {
  let stdinTTY: boolean | undefined;
  let lines: ((maxBytes: number) => Promise<string | null>) | undefined;
  let waiting: Io['waitingStdin'];
  return {
    stdout: fdWriter(1, () => process.stdout),
    stderr: fdWriter(2, () => process.stderr),
    get stdinIsTTY() {
      stdinTTY ??= stdinIsTerminal(() => process.stdin);
      return stdinTTY;
    },
    onInterrupt: (fn, again) => {
      let seen = false;
      const handler = () => {
        if (seen) {
          try {
            again?.();
          } finally {
            process.exit(130);
          }
        }
        seen = true;
        fn();
      };
      const release = holdInterrupts();
      for (const signal of INTERRUPT_SIGNALS) process.on(signal, handler);
      return () => {
        release();
        for (const signal of INTERRUPT_SIGNALS) process.off(signal, handler);
      };
    },
    onUnheldInterrupt: (fn) => {
      const handler = () => {
        if (interruptsHeld()) return;
        try {
          fn();
        } finally {
          process.exit(130);
        }
      };
      for (const signal of INTERRUPT_SIGNALS) process.on(signal, handler);
    },
    stdinChunks: () => readStdinChunks(() => process.stdin, INPUT_LIMITS.stdin),
    readLine: (maxBytes) => {
      lines ??= stdinLineReader(() => process.stdin);
      return lines(maxBytes);
    },
    get waitingStdin() {
      return (waiting ??= waitingStdin());
    },
  };
}

/** Standard input read through its stream only (Io.waitingStdin). */
function waitingStdin(): NonNullable<Io['waitingStdin']> {
  let waitingLines: ((maxBytes: number) => Promise<string | null>) | undefined;
  let used = false;
  const stream = () => {
    used = true;
    return process.stdin;
  };
  return {
    stdinChunks: () => readStdinChunks(stream, INPUT_LIMITS.stdin, { blocking: false }),
    readLine: (maxBytes: number) => {
      waitingLines ??= stdinLineReader(stream, { blocking: false });
      return waitingLines(maxBytes);
    },
    close: () => {
      if (used) process.stdin.destroy();
    },
  };
}

/**
 * Prompts on the terminal; @inquirer/prompts is loaded only when a question is asked. A terminal
 * that moves no cursor (TERM=dumb) gets plain one-line questions instead of its redrawing.
 */
function terminalPrompter(): Prompter {
  const ask =
    <K extends keyof Prompter>(kind: K) =>
    async (...args: Parameters<Prompter[K]>): Promise<Awaited<ReturnType<Prompter[K]>>> => {
      if (process.env.TERM === 'dumb') {
        const { plainPrompter } = await import('./plain-prompts.js');
        return (plainPrompter[kind] as (...a: Parameters<Prompter[K]>) => ReturnType<Prompter[K]>)(...args) as Promise<Awaited<ReturnType<Prompter[K]>>>;
      }
      const { ask: askTerminal } = await import('./terminal-prompts.js');
      return askTerminal(kind, args);
    };
  return { password: ask('password'), input: ask('input'), confirm: ask('confirm') };
}

/** How this process opens a store, with its randomness (main.ts: SQLite or PostgreSQL). */
export type StoreOpener = (random: Random) => Ctx['openStore'];

/** The real context: this process's terminal, clock, randomness and environment, and `stores`. */
export function processContext(stores: StoreOpener): Ctx {
  // node:crypto only when needed: loading it costs start-up time that `tfa list` never uses.
  const random = { bytes: (n: number) => process.getBuiltinModule('node:crypto').randomBytes(n) };
  return {
    io: processIo(),
    prompter: terminalPrompter(),
    clock: { nowSeconds: () => Math.floor(Date.now() / 1000), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) },
    random,
    env: process.env,
    uid: process.getuid?.() ?? -1,
    home: homedir(),
    hostname: hostname(),
    openStore: stores(random),
  };
}

