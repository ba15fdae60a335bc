import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/**
 * The CLI protocol between a tfactl client and tfactl serve (after an HTTP/1.1 upgrade to
 * `tfactl-cli/1` on /api/v1/run): one JSON object per line, each way.
 *
 * client -> service: `file` (a file the command names, read by the client, before `start`; its
 *   first piece says the file's permission bits, `mode`),
 *   `start` (the arguments, a few environment variables, which streams are terminals, and for
 *   `pam check` `stdinLine`: the one line of standard input it reads, read before it was sent),
 *   `reply` (to a `call`), `interrupt` (Ctrl-C).
 * service -> client: `out` (text for fd 1 or 2), `call` (ask a question, read standard input,
 *   keep a session ticket), `cancel` (take a question back), `exit` (the exit code; the end),
 *   `busy` (instead of running the command: the service has no place for it now; the end).
 */
export const PROTOCOL = 'tfactl-cli/1';
export const RUN_PATH = '/api/v1/run';

/** No line is longer: file contents come in pieces of FILE_PIECE bytes. */
export const MAX_FRAME = 1024 * 1024;
/** The most arguments a command line sent to the service may have, and the most bytes of one. */
export const ARGV_MAX = 256;
export const ARG_MAX_BYTES = 64 * 1024;

/** What is wrong with a command line as the service would take it, or null: said by the client before it sends, by the service if one is sent anyway. */
export function argvProblem(argv: readonly unknown[]): string | null {
  if (argv.length > ARGV_MAX) return `through a tfactl service a command line is at most ${ARGV_MAX} arguments (this one has ${argv.length})`;
  const long = argv.findIndex((a) => typeof a !== 'string' || Buffer.byteLength(a) > ARG_MAX_BYTES);
  if (long >= 0) return `through a tfactl service an argument is at most ${ARG_MAX_BYTES / 1024} KiB of text (argument ${long + 1} is not)`;
  return null;
}
export const FILE_PIECE = 256 * 1024;

/** Environment a command may read from its client (colour, the acting user, a token, SSH hints); nothing that names a file. */
export const ENV_TO_SERVICE = [
  'NO_COLOR',
  'FORCE_COLOR',
  // Only to say whether the client's terminal shows colour (a dumb one does not).
  'TERM',
  'TFACTL_AS',
  'TFACTL_TOKEN',
  'SSH_CONNECTION',
  'SSH_CLIENT',
  'SSH_TTY',
  'USER',
  'LOGNAME',
  // What pam_exec tells tfactl pam (the user and the PAM items), for a check through the service.
  'PAM_USER',
  'PAM_SERVICE',
  'PAM_RHOST',
  'PAM_TTY',
  'PAM_TYPE',
] as const;

export type Frame = Record<string, unknown> & { readonly t: string };

/** A problem reading a file, as the client met it; `\0` stands where the reader's name for the file goes. */
export interface FileProblemFrame {
  readonly message: string;
  readonly code: 'file_error' | 'file_too_large' | 'file_permissions';
}

/** An error a `call` ended with, as sent back. */
export interface ErrorFrame {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly exitCode?: number;
}

/**
 * Reads frames from `socket` (after `head`, what came with the upgrade) and hands each to
 * `onFrame`; `onEnd` is called once, when the other side has gone or sent nonsense (`why`).
 */
export function readFrames(socket: Duplex, head: Buffer, onFrame: (f: Frame) => void, onEnd: (why?: string) => void): void {
  let pending = '';
  let ended = false;
  // A character may be split between two pieces of the stream.
  const decoder = new StringDecoder('utf8');
  const end = (why?: string) => {
    if (ended) return;
    ended = true;
    onEnd(why);
  };
  const take = (chunk: Buffer) => {
    if (ended) return;
    pending += decoder.write(chunk);
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let frame: unknown;
      try {
        frame = JSON.parse(line);
      } catch {
        frame = undefined;
      }
      if (frame === null || typeof frame !== 'object' || typeof (frame as Frame).t !== 'string') {
        end('a line that is not a frame');
        socket.destroy();
        return;
      }
      try {
        onFrame(frame as Frame);
      } catch {
        // A frame its reader could not take (a service's client sent what it should not): that
        // conversation ends, not the process that reads it, which may have others.
        end('a frame that could not be taken');
        socket.destroy();
        return;
      }
      if (ended) return;
    }
    if (pending.length > MAX_FRAME) {
      end(`a line over ${MAX_FRAME} bytes`);
      socket.destroy();
    }
  };
  if (head.length > 0) take(head);
  socket.on('data', take);
  socket.on('end', () => end());
  socket.on('close', () => end());
  socket.on('error', () => end());
}

export function sendFrame(socket: Duplex, frame: Frame): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(frame)}\n`);
}
