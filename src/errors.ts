/**
 * The error hierarchy. Commands and services throw these; main.ts alone turns them into one line on
 * stderr, the JSON envelope and the exit code. The exit code table is part of the interface (README).
 */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  notFound: 3,
  refused: 4,
  authFailed: 5,
  store: 6,
  cancelled: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class TfaError extends Error {
  override name = 'TfaError';
  /**
   * What the command did achieve before it failed, for scripts: with --json the error envelope
   * carries it as `result` (the rows a partly failed or interrupted import did create).
   */
  result?: unknown;
  constructor(
    message: string,
    readonly code: string,
    readonly exitCode: ExitCodeValue,
  ) {
    super(message);
  }

  /** This error, carrying `result` (see above). */
  withResult(result: unknown): this {
    this.result = result;
    return this;
  }
}

/** Invalid arguments, options or input values (exit 2). */
export class UsageError extends TfaError {
  override name = 'UsageError';
  constructor(message: string, code = 'usage') {
    super(message, code, ExitCode.usage);
  }
}

/** A user, realm or factor that does not exist (exit 3). */
export class NotFoundError extends TfaError {
  override name = 'NotFoundError';
  constructor(message: string, code = 'not_found') {
    super(message, code, ExitCode.notFound);
  }
}

/** That a user does not exist (exit 3), saying which: what to tell about it depends on the id. */
export class UserNotFoundError extends NotFoundError {
  constructor(
    readonly userid: string,
    hint = '',
  ) {
    super(`user ${userid} does not exist${hint}`);
  }
}

/** Refused by policy or in conflict with what exists (exit 4). */
export class RefusedError extends TfaError {
  override name = 'RefusedError';
  constructor(message: string, code = 'refused') {
    super(message, code, ExitCode.refused);
  }
}

/** Wrong password or code, replay, lockout (exit 5). Messages never say which part was wrong. */
export class AuthError extends TfaError {
  override name = 'AuthError';
  constructor(message = 'authentication failed', code = 'auth_failed') {
    super(message, code, ExitCode.authFailed);
  }
}

/** Store missing, unreadable, corrupt or from a newer tfactl (exit 6). */
export class StoreError extends TfaError {
  override name = 'StoreError';
  constructor(message: string, code = 'store') {
    super(message, code, ExitCode.store);
  }
}

/** Standard output could not be written (exit 6): what the command changed stays changed, and the message says so. */
export class OutputFailedError extends StoreError {
  override name = 'OutputFailedError';
  constructor(
    /** Why, in words (errnoText). */
    readonly reason: string,
  ) {
    super(`cannot write standard output: ${reason} (what the command did is done; its output is cut short)`, 'output_failed');
  }
}

/** The user cancelled at a prompt (exit 130). */
export class CancelledError extends TfaError {
  override name = 'CancelledError';
  constructor(message = 'cancelled') {
    super(message, 'cancelled', ExitCode.cancelled);
  }
}

/**
 * What a write that refers to a user or realm deleted meanwhile (by another command, between this
 * one's reading and its writing) says: the store refused it (a foreign key), nothing was written.
 */
export const VANISHED = 'the user or realm this command works on was deleted by another command while it ran: nothing was changed';
