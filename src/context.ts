import type { Clock, Random } from './services/session.js';
import type { Store } from './store/types.js';
import type { CheckedFileOptions, InputFile } from './files.js';

export type { Clock, Random };

/** The terminal, as tfactl uses it. Tests give a fake one; main.ts gives the process's. */
export interface Io {
  readonly stdout: {
    write(text: string): unknown;
    readonly isTTY: boolean;
    readonly columns: number | undefined;
    /**
     * When its reader has fallen far behind (a client of tfactl serve that reads no further), a
     * promise of when it has caught up; else null. Long output waits for it between pieces, so a
     * service holds no more of a run's output than that.
     */
    readonly caughtUp?: () => Promise<void> | null;
    /**
     * True once its reader has gone (a closed pipe): the output stopped quietly, as other tools'
     * does, and a command that succeeded exits 6 rather than 0 (what it printed was not all read).
     */
    readonly readerGone?: boolean;
    /** True when nothing written reaches anyone: /dev/null, or closed (`>&-`). */
    readonly discarded?: boolean;
    /**
     * Where what is written goes on elsewhere (a client of tfactl serve writes it to its own
     * standard output): resolves once all written so far is written there, or rejects with a
     * StoreError `output_failed` saying why it was not. Undefined where a write that returned was
     * written (this process's own standard output).
     */
    readonly delivered?: () => Promise<void>;
  };
  readonly stderr: { write(text: string): unknown; readonly isTTY: boolean; readonly columns?: number | undefined };
  readonly stdinIsTTY: boolean;
  /**
   * Standard input in pieces as it comes, for bulk input read once (`user import -`): at most
   * INPUT_LIMITS.stdin bytes in all, more throws a UsageError (src/stdio.ts readStdinChunks).
   */
  stdinChunks(): AsyncIterable<Uint8Array>;
  /**
   * The next line of standard input without its line end, null at its end; reads no further than
   * that line. A line longer than `maxBytes` throws LineTooLongError (src/stdio.ts).
   */
  readLine(maxBytes: number): Promise<string | null>;
  /**
   * Calls `fn` on the first Ctrl-C or SIGTERM instead of dying at once; a second one ends the
   * process (exit 130) after `again`, which must do its work synchronously (say what the run
   * leaves behind). Returns a function that restores the default.
   */
  onInterrupt(fn: () => void, again?: () => void): () => void;
  /**
   * Calls `fn`, then ends the process with exit 130, on a Ctrl-C or SIGTERM that nothing is
   * listening for (no onInterrupt, no prompt): the run says `cancelled` (with --json, its
   * envelope) rather than dying without a word. The real terminal only.
   */
  onUnheldInterrupt?(fn: () => void): void;
  /**
   * Standard input read without ever blocking the process while it waits, for a client of tfactl
   * serve, which must hear its service meanwhile; close() lets the process end with a read pending.
   */
  readonly waitingStdin?: Pick<Io, 'stdinChunks' | 'readLine'> & { close(): void };
}

/** Interactive questions; only ever used when standard input is a TTY. Ctrl-C throws CancelledError. */
export interface Prompter {
  /** A hidden answer; aborting `signal` takes the question back (the answer came another way). */
  password(message: string, options?: { readonly signal?: AbortSignal }): Promise<string>;
  input(message: string, defaultValue?: string, options?: { readonly signal?: AbortSignal }): Promise<string>;
  confirm(message: string, defaultValue: boolean, options?: { readonly signal?: AbortSignal }): Promise<boolean>;
}

export interface OpenedStore {
  readonly store: Store;
  readonly created: boolean;
  /** The store's key as this connection already loaded it (a service's pooled connection); else the command reads the key file. */
  readonly secretKey?: (tx?: Store) => Promise<Buffer>;
}

/**
 * Files a command reads that its user named (`@FILE` secrets, --response, Proxmox's files, an import
 * file): this process's own, or, through `tfactl serve`, the client's (read by the client, with the
 * client's permissions). Both check and refuse exactly as readInputFile and openInputFile do.
 */
export interface InputFiles {
  read(path: string, options: CheckedFileOptions & { readonly maxBytes: number }): Buffer;
  open(path: string, options: CheckedFileOptions & { readonly maxBytes: number }): InputFile;
  /** The file's permission bits (`& 0o777`) as it was read or is now; undefined when not known. */
  mode(path: string): number | undefined;
}

/** Where a user's session tickets (login --session) for this run's store are kept. */
export interface TicketBox {
  read(userid: string): Promise<string | null>;
  /** Keeps the ticket; returns where (for the user to see). */
  write(userid: string, secret: string): Promise<string>;
  /** Fails (exit 6) when no ticket could be kept here, before a sign-in spends a code for one; else nothing. */
  prepare?(): Promise<void>;
  remove(userid: string): Promise<void>;
  /** The users holding a ticket here. */
  list(): Promise<string[]>;
}

/**
 * What a run has that comes from a client of `tfactl serve` (src/remote/): its files and tickets are
 * the client's, and commands that would touch the service's own files are refused up front.
 */
export interface RemoteRun {
  readonly files: InputFiles;
  readonly tickets: TicketBox | null;
  /** Throws a UsageError for what a client may not ask the service (`backup`, `--output FILE`). */
  admit(command: string, opts: Readonly<Record<string, unknown>>): void;
  /** Told whom the run signs in (`--as`, `login`, PAM's user): the service's request log names them. */
  signingIn?(userid: string): void;
}

/** Everything that reaches outside the process. The seams tests replace. */
/** A long-running service's store connections (Ctx.openStore). */
export interface LongLived {
  /** Told, once for each trouble, of what went wrong in the background and what happens instead. */
  readonly troubled: (trouble: string) => void;
}

export interface Ctx {
  readonly io: Io;
  readonly prompter: Prompter;
  readonly clock: Clock;
  readonly random: Random;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The OS user running tfactl. */
  readonly uid: number;
  readonly home: string;
  readonly hostname: string;
  /** Set when this run came from a client of `tfactl serve`. */
  readonly remote?: RemoteRun;
  /**
   * Opens (creating, unless `existing`) the store at `path`. `now` stamps a new store's first rows; the
   * key file is where migrations that re-seal secrets find the key. With `readOnly`, only an
   * existing, up-to-date store is opened, and nothing is created, migrated or written. With
   * `existing`, a store that is not there is exit 6 (store_missing) and nothing is made. With
   * `longLived`, the connection is a long-running service's (SQLite: its WAL checkpointed on a
   * thread of its own), told of trouble in the background, such as that thread failing; on
   * PostgreSQL its messages name the store `postgres://...` only, as they go to the service's
   * clients (its role, host, port and database are not theirs to learn).
   */
  openStore(path: string, options: { readonly now: number; readonly keyPath: string; readonly readOnly?: boolean; readonly existing?: boolean; readonly longLived?: LongLived }): Promise<OpenedStore>;
}
