import type { Io } from './context.js';
import { CancelledError } from './errors.js';

/**
 * `items`, letting the event loop turn (setImmediate) every `every` items. Items that come from
 * promise to promise (SQLite answers at once, a row without argon2) never let the loop turn, and
 * Ctrl-C or SIGTERM, which the loop delivers, would not be heard until the end.
 */
export async function* turning<T>(items: AsyncIterable<T>, every: number): AsyncGenerator<T> {
  let sinceTurn = 0;
  for await (const item of items) {
    if (++sinceTurn === every) {
      sinceTurn = 0;
      await new Promise((turned) => setImmediate(turned));
    }
    yield item;
  }
}

/** Ctrl-C or SIGTERM heard from now until `stop()` (Io.onInterrupt; a second one ends the process at once). */
export interface Interruption {
  /** Whether one was heard. */
  readonly heard: () => boolean;
  /**
   * `items` until one is heard: then CancelledError where the reading is, so what was read before
   * it is written, a listing's JSON envelope ends as one document (`"ok":false`, `cancelled`), a
   * file being written is taken back, and the command exits 130. Heard after the last item, it
   * changes nothing: the work is done.
   */
  readonly through: <T>(items: AsyncIterable<T>) => AsyncGenerator<T>;
  readonly stop: () => void;
}

export function listenForInterrupts(io: Pick<Io, 'onInterrupt'>): Interruption {
  let heard = false;
  const stop = io.onInterrupt(() => {
    heard = true;
  });
  return {
    heard: () => heard,
    async *through(items) {
      for await (const item of turning(items, 64)) {
        if (heard) throw new CancelledError('interrupted');
        yield item;
      }
    },
    stop,
  };
}
