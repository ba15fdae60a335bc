import type { Worker } from 'node:worker_threads';

/**
 * WAL checkpoints on a thread of their own, for the connections of a long-running process (tfactl
 * serve). SQLite checkpoints by itself in the commit that takes the WAL past 1,000 pages: it
 * copies them into the store file and syncs it to disk, which held tfactl serve's only thread for
 * 5 to 10 ms every eighth of a second under load, and every request waiting behind it (about 3 ms
 * of the p99 latency of TOTP checks with 16 clients). Such connections turn SQLite's own
 * checkpoints off; a worker thread with its own connection runs a passive checkpoint (which never
 * waits for, nor holds up, a reader or writer) a little after something was written, and sleeps
 * while nothing is. A command-line process keeps SQLite's own: it commits once and ends.
 *
 * If the worker cannot run, the connections get SQLite's own checkpoints back: the WAL must not
 * grow without end.
 */

/** Writes come in bursts: one checkpoint for each such wait, not one per commit. */
const GATHER_MS = 100;
/** How long closing waits for the worker's last checkpoint (SQLite's own, at its close). */
const STOP_WAIT_MS = 5_000;

/** The worker's flag: what the connections tell it. */
const IDLE = 0;
const WRITTEN = 1;
const STOP = 2;
const STOPPED = 3;

/** CommonJS, evaluated as the worker's script; better-sqlite3 is the one the store's own connections use. */
const WORKER_SCRIPT = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const flag = new Int32Array(workerData.flag);
let db = null;
try {
  for (;;) {
    Atomics.wait(flag, 0, ${IDLE});
    if (Atomics.load(flag, 0) === ${STOP}) break;
    Atomics.wait(flag, 0, ${WRITTEN}, ${GATHER_MS});
    if (Atomics.compareExchange(flag, 0, ${WRITTEN}, ${IDLE}) === ${STOP}) break;
    db ??= new Database(workerData.path, { fileMustExist: true });
    db.pragma('wal_checkpoint(PASSIVE)');
  }
} finally {
  try {
    db?.close();
  } finally {
    Atomics.store(flag, 0, ${STOPPED});
    Atomics.notify(flag, 0);
  }
}
`;

/** The handle a connection holds: `written()` after it wrote, `release()` when it closes. */
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
  worker: Worker | null;
  failed: boolean;
}

const checkpointers = new Map<string, Checkpointer>();

/**
 * Background checkpoints for a connection to the store file at `key` (a resolved path): one
 * worker per file for the whole process, started at the first write, stopped when the last
 * connection releases it. `connection`'s own checkpoints are turned off here.
 */
export function backgroundCheckpoints(key: string, connection: CheckpointedConnection, workers: typeof Worker, driver: string): BackgroundCheckpoints {
  let c = checkpointers.get(key);
  if (c === undefined) {
    c = { flag: new Int32Array(new SharedArrayBuffer(4)), connections: new Set(), worker: null, failed: false };
    checkpointers.set(key, c);
  }
  const checkpointer = c;
  if (!checkpointer.failed) connection.ownCheckpoints(false);
  checkpointer.connections.add(connection);
  const fail = () => {
    if (checkpointer.failed) return;
    checkpointer.failed = true;
    for (const each of checkpointer.connections) each.ownCheckpoints(true);
  };
  return {
    written() {
      if (checkpointer.failed) return;
      if (checkpointer.worker === null) {
        try {
          checkpointer.worker = new workers(WORKER_SCRIPT, { eval: true, workerData: { path: key, driver, flag: checkpointer.flag.buffer } });
        } catch {
          fail();
          return;
        }
        checkpointer.worker.on('error', fail).on('exit', fail).unref();
      }
      if (Atomics.compareExchange(checkpointer.flag, 0, IDLE, WRITTEN) === IDLE) Atomics.notify(checkpointer.flag, 0);
    },
    release() {
      checkpointer.connections.delete(connection);
      if (checkpointer.connections.size > 0) return;
      checkpointers.delete(key);
      const { worker, flag } = checkpointer;
      if (worker === null || checkpointer.failed) return;
      checkpointer.failed = true; // its exit is expected now
      // Waits (briefly) for the worker to close its connection: the last to close a store ends
      // its WAL, and a process that exits right after must not cut that short.
      Atomics.store(flag, 0, STOP);
      Atomics.notify(flag, 0);
      Atomics.wait(flag, 0, STOP, STOP_WAIT_MS);
    },
  };
}
