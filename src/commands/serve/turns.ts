/**
 * Requests started in the order they came, one per turn of the event loop.
 *
 * Node reads every socket that is ready, and runs each request it completes, before it looks at
 * its sockets again: with many clients, a request that arrives just after that look waits for the
 * whole batch, and then for the next batch too, behind requests sent after it (the kernel hands
 * ready sockets back in the order it last found them, not in the order their data came). Measured
 * with 16 clients on one store: one request in 16 waited two rounds, its latency double the rest.
 *
 * Here a request is started at once only if none has started since the last turn; the others wait
 * in one queue, in the order they were read, and each later turn (setImmediate) starts one, so
 * Node reads its sockets between one start and the next and a request read later starts later. A
 * request that waits on something (argon2 on the thread pool) does not hold up the queue: the next
 * one starts in the next turn. (The CLI's runs, over an upgraded connection, are not queued here:
 * each is a conversation that mostly waits on its client.)
 */
export type Turns = <T>(start: () => Promise<T>) => Promise<T>;

/** `nextTurn` runs its callback in the loop's next turn (setImmediate; tests pass their own). */
export function oneStartPerTurn(nextTurn: (callback: () => void) => void = setImmediate): Turns {
  const queue: (() => void)[] = [];
  let turnTaken = false;
  const next = () => {
    const start = queue.shift();
    if (start === undefined) {
      turnTaken = false;
      return;
    }
    start();
    nextTurn(next);
  };
  return (start) =>
    new Promise((resolve, reject) => {
      const go = () => {
        try {
          start().then(resolve, reject);
        } catch (e) {
          reject(e);
        }
      };
      if (turnTaken) {
        queue.push(go);
        return;
      }
      turnTaken = true;
      go();
      nextTurn(next);
    });
}
