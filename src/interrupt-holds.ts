/**
 * Who is listening for Ctrl-C and SIGTERM in this process (Io.onInterrupt, a prompt): while anyone
 * is, they end the run as they must (a listing its envelope, a prompt the terminal put back);
 * while no one is, the run's own fallback says `cancelled` and exits 130 (process-context.ts).
 */
let holds = 0;

/**
 * The signals that interrupt a run: Ctrl-C, kill's SIGTERM, and SIGHUP (an SSH session or terminal
 * that went away), each heard alike; unheard, SIGHUP ended the run wherever it was (a file of
 * secrets half written, an import's secrets never shown).
 */
export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Counts one listener in; the function returned counts it out again (once). */
export function holdInterrupts(): () => void {
  holds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    holds--;
  };
}

export const interruptsHeld = (): boolean => holds > 0;

const undos = new Set<() => void>();

/**
 * Registers what to take back if Ctrl-C or SIGTERM ends the run through its fallback (nobody
 * holding interrupts) before the function returned is called: a file of secrets written before
 * the store took them, which would otherwise look like a finished run's.
 */
export function undoOnInterrupt(fn: () => void): () => void {
  undos.add(fn);
  return () => void undos.delete(fn);
}

/** Runs (once) what undoOnInterrupt registered: the run is ending on an interrupt. */
export function runInterruptUndos(): void {
  for (const fn of undos) {
    try {
      fn();
    } catch {
      // Taking back what can be: one failure does not keep the others.
    }
  }
  undos.clear();
}
