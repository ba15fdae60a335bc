import { StoreError, TfaError } from '../errors.js';
import { createPrivateFile } from '../files.js';
import { holdInterrupts, undoOnInterrupt } from '../interrupt-holds.js';

/**
 * Runs `show` (a result with a secret shown only now) inside the storing transaction, before it
 * commits, and waits until it has been written where it goes (a service's client writes it).
 */
export type ShowBeforeCommit = (show: () => void) => Promise<void>;

/**
 * Runs `store`, handing it (when `before`) a ShowBeforeCommit: a result that holds a secret shown
 * only now is written before it is stored, so that standard output that cannot be written stores
 * nothing. Once it is shown, an interrupt waits for the commit (on PostgreSQL, a round trip), and a
 * commit that fails says `notStored` after the result that already went out. `shown`: whether the
 * result went out (else the caller writes it).
 */
export async function shownBeforeCommit<T>(
  before: boolean,
  notStored: string,
  store: (shown: ShowBeforeCommit | undefined) => Promise<T>,
  /** Run once the store has answered, before an interrupt held meanwhile is heard. */
  settled?: () => void,
  /** Output.delivered: the result written where it goes, or an error saying nothing is stored. */
  delivered?: () => Promise<void>,
): Promise<{ result: T; shown: boolean }> {
  let shown = false;
  let committing: (() => void) | undefined;
  try {
    const result = await store(
      before
        ? async (show) => {
          show();
          await delivered?.();
          shown = true;
          committing = holdInterrupts();
        }
        : undefined,
    );
    settled?.();
    committing?.();
    return { result, shown };
  } catch (e) {
    settled?.();
    committing?.();
    if (shown && e instanceof TfaError) throw new StoreError(`${e.message}; ${notStored}`, e.code);
    throw e;
  }
}

/** What storing recovery keys is handed: where to write them (with a file), and what to call once they are shown. */
export interface KeysOut {
  /** Writes the file's text (flushed) before anything is stored; undefined without a file. */
  readonly write: ((text: string) => void) | undefined;
  /** Undefined where nothing needs showing before the commit. */
  readonly shown: ShowBeforeCommit | undefined;
}

/**
 * Stores recovery keys (`store`) so that no key is stored that nobody has: the file (`output`, a
 * new 0600 one) is claimed, then written and flushed before the keys are stored, and removed on any
 * failure or on Ctrl-C/SIGTERM before the commit, rather than stay looking like a finished run's
 * with keys that never worked; the result is shown before the commit (shownBeforeCommit).
 */
export async function storeShownKeys<T>(output: string | undefined, notStored: string, store: (out: KeysOut) => Promise<T>, delivered?: () => Promise<void>): Promise<T> {
  const file = output === undefined ? undefined : createPrivateFile(output);
  // Kept (no longer undone by an interrupt) before an interrupt held over the commit is heard.
  const keep = file && undoOnInterrupt(() => file.discard());
  try {
    const { result } = await shownBeforeCommit(true, notStored, (shown) => store({ write: file && ((text) => file.write(text)), shown }), keep, delivered);
    return result;
  } catch (e) {
    file?.discard();
    throw e;
  }
}
