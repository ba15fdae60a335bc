/**
 * Who is listening for Ctrl-C and SIGTERM in this process (Io.onInterrupt, a prompt): while anyone
 * is, they end the run as they must (a listing its envelope, a prompt the terminal put back);
 * while no one is, the run's own fallback says `cancelled` and exits 130 (process-context.ts).
 */
let holds = 0;

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
