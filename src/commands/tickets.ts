import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { displayStoreLocation, isPostgresUrl } from '../domain/store-location.js';
import type { TicketBox } from '../context.js';
import { StoreError, UsageError } from '../errors.js';
import { makePrivateDirectories, readInputFile } from '../files.js';
import type { Invocation } from '../invocation.js';
import { errnoText } from '../domain/errno.js';

/**
 * Session ticket files: `$XDG_RUNTIME_DIR/tfactl/SCOPE-USERID`, mode 0600 in a 0700 directory,
 * each holding one ticket's secret. SCOPE is the start of the SHA-256 of the store file's absolute
 * path (or of the service's address, for a client of tfactl serve), so a ticket is offered only to
 * the store that issued it (which also checks it: the session is a row of that store). No runtime
 * directory, no sessions.
 */

/** The tickets of this run's store: the client's through a service, else files here; null without a place for them. */
export function ticketBox(inv: Invocation, storePath: string): TicketBox | null {
  const { remote, env } = inv.ctx;
  if (remote) return remote.tickets;
  // A PostgreSQL store's scope is its connection string without the password (not a path to resolve).
  return fileTicketBox(env, isPostgresUrl(storePath) ? displayStoreLocation(storePath) : resolve(storePath));
}

/** Ticket files in $XDG_RUNTIME_DIR/tfactl for one scope (a store, or a service's address); null without that directory. */
export function fileTicketBox(env: Readonly<Record<string, string | undefined>>, scope: string): TicketBox | null {
  const runtime = env.XDG_RUNTIME_DIR;
  // A relative one is to be ignored (the XDG base directory spec): it would name a directory of
  // whichever the command runs in.
  if (!runtime?.startsWith('/')) return null;
  const dir = join(runtime, 'tfactl');
  const prefix = `${createHash('sha256').update(scope).digest('hex').slice(0, 16)}-`;
  const pathOf = (userid: string) => {
    // A user id is a file name here: never a path (a service's client must not be made to write elsewhere).
    if (userid.includes('/') || userid.includes('\0')) throw new UsageError(`not a user id: ${JSON.stringify(userid)}`, 'invalid_userid');
    return join(dir, `${prefix}${userid}`);
  };
  /** Its directory made (0700), or exit 6 saying why not: XDG_RUNTIME_DIR a file, not this user's, gone. */
  const makeDir = () => {
    try {
      makePrivateDirectories(dir);
    } catch (e) {
      throw new StoreError(`cannot keep a session in ${dir}: ${errnoText(e)} (is XDG_RUNTIME_DIR this user's directory?)`, 'session_unavailable');
    }
    refuseOthersDir(dir);
  };
  return {
    read: async (userid) => {
      // Tickets are taken only from a directory of this user's that only they may write: in one
      // of someone else's, a ticket could be theirs, put there for this user to act with.
      // Not there (or XDG_RUNTIME_DIR not a directory): no ticket, and nothing to refuse.
      if (!isThere(dir)) return null;
      refuseOthersDir(dir);
      return readTicket(pathOf(userid));
    },
    prepare: async () => makeDir(),
    write: async (userid, secret) => {
      makeDir();
      const path = pathOf(userid);
      try {
        rmSync(path, { force: true });
        writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
      } catch (e) {
        throw new StoreError(`cannot keep a session in ${dir}: ${errnoText(e)}`, 'session_unavailable');
      }
      return path;
    },
    remove: async (userid) => rmSync(pathOf(userid), { force: true }),
    list: async () => {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return [];
      }
      return names.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
    },
  };
}

/** Refuses (exit 6) a ticket directory that is not this user's own 0700 directory (made elsewhere, or by someone else). */
function refuseOthersDir(dir: string): void {
  const st = lstatSync(dir);
  const uid = process.geteuid?.();
  const why = !st.isDirectory()
    ? 'it is not a directory'
    : uid !== undefined && st.uid !== uid
      ? `it belongs to another user (uid ${st.uid})`
      : (st.mode & 0o077) !== 0
        ? `others may use it (mode 0${(st.mode & 0o777).toString(8)}): run 'chmod 700 ${dir}'`
        : null;
  if (why !== null) throw new StoreError(`cannot keep a session in ${dir}: ${why}`, 'session_unavailable');
}

/** The secret in a ticket file, or null when there is none (or it cannot be read). */
function readTicket(path: string): string | null {
  try {
    // A regular file only, opened without waiting: a FIFO put in its place would block for ever.
    const text = readInputFile(path, { name: 'the session ticket', maxBytes: 256 }).toString('utf8').trim();
    return /^[A-Za-z0-9_-]{43}$/.test(text) ? text : null;
  } catch {
    return null;
  }
}

/** Whether `path` is there at all; a path through a file (ENOTDIR) is not. */
function isThere(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
