import { StoreError, TfaError } from '../../errors.js';
import { createPrivateFile } from '../../files.js';
import { holdInterrupts, undoOnInterrupt } from '../../interrupt-holds.js';

/** What storing recovery keys is handed: where to write them (with a file), and what to call once they are shown. */
export interface KeysOut {
  /** Writes the file's text (flushed) before anything is stored; undefined without a file. */
  readonly write: ((text: string) => void) | undefined;
  /** Runs `show` (the result, with the keys) inside the storing transaction, before it commits. */
  readonly shown: (show: () => void) => void;
}

/**
 * Stores recovery keys (`store`) so that no key is stored that nobody has: the file (`output`, a
 * new 0600 one) is claimed, then written and flushed before the keys are stored, and removed on any
 * failure or on Ctrl-C/SIGTERM before the commit, rather than stay looking like a finished run's
 * with keys that never worked; the result is shown before the commit, and once it is, an interrupt
 * waits for the commit (on PostgreSQL, a round trip), and a commit that fails says `notStored`
 * after the result that already went out.
 */
export async function storeShownKeys<T>(output: string | undefined, notStored: string, store: (out: KeysOut) => Promise<T>): Promise<T> {
  const file = output === undefined ? undefined : createPrivateFile(output);
  const keep = file && undoOnInterrupt(() => file.discard());
  let shown = false;
  let committing: (() => void) | undefined;
  try {
    const result = await store({
      write: file && ((text) => file.write(text)),
      shown: (show) => {
        show();
        shown = true;
        committing = holdInterrupts();
      },
    });
    keep?.();
    committing?.();
    return result;
  } catch (e) {
    keep?.();
    committing?.();
    file?.discard();
    if (shown && e instanceof TfaError) throw new StoreError(`${e.message}; ${notStored}`, e.code);
    throw e;
  }
}
