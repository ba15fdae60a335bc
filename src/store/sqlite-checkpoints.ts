import type { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints on a thread of their own, for the connections of a long-running process (tfactl
 * serve). SQLite checkpoints by itself in the commit that takes the WAL past 1,000 pages: it
 * copies them into the store file and syncs it to disk, which held tfactl serve's only thread for
 * 5 to 10 ms every eighth of a second under load, and every request waiting behind it (about 3 ms
 * of the p99 latency of TOTP checks with 16 clients). Such connections turn SQLite's own
 * checkpoints off; a worker thread with its own connection runs a passive checkpoint (which never
 * waits for, nor holds up, a reader or writer) a little after a statement ran, and sleeps, without
 * waking, while none does. A command-line process keeps SQLite's own: it commits once and ends.
 *
 * The worker lives as long as the process (it keeps nothing alive: it is unref'd, and idle in
 * Atomics.wait): a service's runs open and close connections all the time, and a worker started
 * and stopped with each would cost more than the checkpoints. If it cannot run, the connections
 * get SQLite's own checkpoints back (the WAL must not grow without end), and whoever opened them
 * is told why, once (tfactl serve logs it).
 */

/** Writes come in bursts: one checkpoint for each such wait, not one per commit. */
const GATHER_MS = 100;

/** The worker's flag: whether something was written since its last checkpoint. */
const IDLE = 0;
const WRITTEN = 1;

/** CommonJS, evaluated as the worker's script; better-sqlite3 is the one the store's own connections use. */
const WORKER_SCRIPT = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const flag = new Int32Array(workerData.flag);
let db = null;
for (;;) {
  Atomics.wait(flag, 0, ${IDLE});
  Atomics.wait(flag, 0, ${WRITTEN}, ${GATHER_MS});
  Atomics.store(flag, 0, ${IDLE});
  db ??= new Database(workerData.path, { fileMustExist: true });
  db.pragma('wal_checkpoint(PASSIVE)');
}
`;

/** The handle a connection holds: `written()` after a statement, `release()` when it closes. */
export interface BackgroundCheckpoints {
  written(): void;
  release(): void;
}

/** What the checkpointer needs of a connection: SQLite's own checkpoints off, or back on. */
export interface CheckpointedConnection {
  ownCheckpoints(on: boolean): void;
}

interface Checkpointer {
  readonly flag: Int32Array;
  readonly connections: Set<CheckpointedConnection>;
  /** Told why, when the thread cannot run: each function once, however many connections gave it. */
  readonly told: Set<(trouble: string) => void>;
  worker: Worker | null;
  failed: boolean;
}

const checkpointers = new Map<string, Checkpointer>();

/**
 * Background checkpoints for a connection to the store file at `key` (a resolved path): one
 * worker per file for the whole process, started at the first statement. `connection`'s own
 * checkpoints are turned off here, unless the worker has failed. `failed` is told if it fails.
 */
export function backgroundCheckpoints(
  key: string,
  connection: CheckpointedConnection,
  workers: typeof Worker,
  driver: string,
  failed: (trouble: string) => void = () => undefined,
): BackgroundCheckpoints {
  let c = checkpointers.get(key);
  if (c === undefined) {
    c = { flag: new Int32Array(new SharedArrayBuffer(4)), connections: new Set(), told: new Set(), worker: null, failed: false };
    checkpointers.set(key, c);
  }
  const checkpointer = c;
  if (!checkpointer.failed) connection.ownCheckpoints(false);
  checkpointer.connections.add(connection);
  checkpointer.told.add(failed);
  const fail = (why: string) => {
    if (checkpointer.failed) return;
    checkpointer.failed = true;
    for (const each of checkpointer.connections) each.ownCheckpoints(true);
    const trouble = `the WAL checkpoints' thread ${why}: SQLite checkpoints in the commits again`;
    for (const tell of checkpointer.told) tell(trouble);
  };
  return {
    written() {
      if (checkpointer.failed) return;
      if (checkpointer.worker === null) {
        try {
          checkpointer.worker = new workers(WORKER_SCRIPT, { eval: true, workerData: { path: key, driver, flag: checkpointer.flag.buffer } });
        } catch (e) {
          fail(`cannot start: ${e instanceof Error ? e.message : String(e)}`);
          return;
        }
        // It never ends by itself: an exit is a failure too.
        checkpointer.worker
          .on('error', (e: Error) => fail(`failed: ${e.message}`))
          .on('exit', (code: number) => fail(`ended (exit code ${code})`))
          .unref();
      }
      if (Atomics.compareExchange(checkpointer.flag, 0, IDLE, WRITTEN) === IDLE) Atomics.notify(checkpointer.flag, 0);
    },
    release() {
      checkpointer.connections.delete(connection);
    },
  };
}
