import { accessSync, closeSync, constants, fstatSync, fsyncSync, ftruncateSync, mkdirSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, realpathSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { RefusedError, StoreError, TfaError, UsageError } from './errors.js';
import { errnoText } from './domain/errno.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/**
 * How much tfactl reads of each kind of input, checked before reading: a bigger file is a mistake
 * (or /dev/zero), and reading it would only fill memory. --help and the README say these.
 */
export const INPUT_LIMITS = {
  /** An @FILE secret: one line. */
  secretFile: 4 * KiB,
  /** A store's key file: one line. */
  keyFile: 4 * KiB,
  /** Each of Proxmox's tfa.cfg, user.cfg, domains.cfg, datacenter.cfg: far more than any cluster's. */
  proxmoxFile: 64 * MiB,
  /** `user import`'s CSV or JSON Lines, from a file or standard input: hundreds of thousands of users, read in pieces. */
  importFile: 64 * MiB,
  /** Standard input of `user import -`, read in pieces as it comes; secrets are read a bounded line at a time. */
  stdin: 64 * MiB,
  /** A backup to restore: read into memory whole, and held there about three times over. */
  backup: 2 * GiB,
} as const;

/** "4096 bytes", "64 MiB", "2 GiB": how limits are said in messages and help. */
export function describeSize(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  return `${bytes} bytes`;
}

/** Why a file was refused; callers with their own error class (a store: exit 6) map it. */
export type FileProblem = 'file_error' | 'file_too_large' | 'file_permissions';

export interface CheckedFileOptions {
  /** How messages name the file, the path following: "the --tfa-cfg file", "the backup", "the store". */
  readonly name: string;
  /** Refuse a file larger than this before reading a byte of it. */
  readonly maxBytes?: number;
  /** Open for reading and writing (a store): a file this user may only read is refused here. */
  readonly writable?: boolean;
  /**
   * Refuse a file its group or others may read or write, as OpenSSH refuses such a private key:
   * whatever is in it has been open to them, and more will be.
   */
  readonly private?: boolean;
  /** The error to throw; default a usage error (exit 2). Messages name the file, never its content. */
  readonly fail?: (message: string, problem: FileProblem) => TfaError;
}

export interface CheckedFile {
  /** Open on exactly the regular file that was checked; the caller closes it. */
  readonly fd: number;
  readonly stat: Stats;
}

const usageFail = (message: string, problem: FileProblem) => new UsageError(message, problem);

/**
 * Opens `path` only if it is a regular file, and returns the open descriptor of that very file.
 * Anything else (a FIFO, a device, a directory, a socket) is refused with one line: opening a FIFO
 * waits for a writer, reading /dev/zero never ends, and opening some devices does something (a
 * tape rewinds). The type is checked before opening, the open does not wait (O_NONBLOCK, in case
 * the path was swapped in between), and the open file must be the one checked (device and inode).
 */
export function openCheckedFile(path: string, options: CheckedFileOptions): CheckedFile {
  const { name, maxBytes } = options;
  const fail = options.fail ?? usageFail;
  const refuse = (why: string, problem: FileProblem = 'file_error'): never => {
    throw fail(`${name} ${path} ${why}`, problem);
  };
  let fd: number | undefined;
  try {
    const checked = statSync(path);
    if (!checked.isFile()) refuse('is not a regular file');
    const access = options.writable ? constants.O_RDWR : constants.O_RDONLY;
    fd = openSync(path, access | constants.O_NONBLOCK | constants.O_NOCTTY);
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.dev !== checked.dev || stat.ino !== checked.ino) refuse('changed while it was being opened');
    if (options.private) {
      refuseOpenToOthers(path, name, stat.mode, fail);
      refuseHandedOver(path, name, fail);
    }
    if (maxBytes !== undefined && stat.size > maxBytes) refuse(`is larger than ${describeSize(maxBytes)}`, 'file_too_large');
    return { fd, stat };
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    if (e instanceof TfaError) throw e;
    throw fail(`cannot ${options.writable ? 'open' : 'read'} ${name} ${path}${options.writable ? ' for writing' : ''}: ${errnoText(e)}`, 'file_error');
  }
}

/**
 * What openCheckedFile checks, for a file tfactl leaves SQLite to open, without opening it: a
 * process's POSIX locks on a file go with any descriptor of it that is closed, so opening and
 * closing the store file where a connection to it is open (the service's pool) would drop
 * SQLite's locks, and the next process to close its own connection would checkpoint and delete
 * the WAL under it. Write access is asked of the kernel (access), as the open would have.
 */
export function checkFileUnopened(path: string, options: CheckedFileOptions): void {
  const { name, maxBytes } = options;
  const fail = options.fail ?? usageFail;
  const cannot = (e: unknown) =>
    fail(`cannot ${options.writable ? 'open' : 'read'} ${name} ${path}${options.writable ? ' for writing' : ''}: ${errnoText(e)}`, 'file_error');
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch (e) {
    throw cannot(e);
  }
  if (!stat.isFile()) throw fail(`${name} ${path} is not a regular file`, 'file_error');
  try {
    accessSync(path, options.writable ? constants.R_OK | constants.W_OK : constants.R_OK);
  } catch (e) {
    throw cannot(e);
  }
  if (options.private) {
    refuseOpenToOthers(path, name, stat.mode, fail);
    refuseHandedOver(path, name, fail);
  }
  if (maxBytes !== undefined && stat.size > maxBytes) throw fail(`${name} ${path} is larger than ${describeSize(maxBytes)}`, 'file_too_large');
}

/**
 * Refuses (exit 6) a private file (a store, a key file) that another user could have put in this
 * process's way, as OpenSSH's StrictModes refuses such keys: every directory on the way to it
 * must belong to root, this user, or the file's own owner (root looking after a user's store in
 * their home), and be writable by no one else; a sticky one (/tmp) is let through, but what is in
 * it (a directory made there under a name someone expected, a symlink, or the file) must then be
 * root's or this user's. Both the name given and its real path are walked. The process's own user is what counts (the service opens the store
 * itself, whoever asked).
 */
export function refuseHandedOver(path: string, name: string, fail: NonNullable<CheckedFileOptions['fail']> = usageFail): void {
  const uid = process.geteuid?.();
  if (uid === undefined) return;
  const ours = new Set([0, uid]);
  // What cannot be looked at (not there, not a directory on the way, not ours to enter) is left to
  // the open that follows, which says so as it does for anything else.
  const look = (p: string, follow: boolean): Stats | undefined => {
    try {
      return follow ? statSync(p) : lstatSync(p);
    } catch {
      return undefined;
    }
  };
  const owner = look(path, true)?.uid;
  const trusted = owner === undefined ? ours : new Set([...ours, owner]);
  const refuse = (what: string, why: string): never => {
    throw fail(`${name} ${path} is not safe to use: ${what} ${why}, so another user could have put it there or could swap it; keep it where only root and you may write`, 'file_permissions');
  };
  const walk = (full: string) => {
    let shared = false;
    let at = '/';
    for (const part of full.split('/').filter(Boolean)) {
      at = at === '/' ? `/${part}` : `${at}/${part}`;
      const st = look(at, false);
      if (st === undefined) return;
      const allowed = shared ? ours : trusted;
      const what = st.isSymbolicLink() ? `the symlink ${at}` : at === full ? 'it' : `the directory ${at}`;
      if (!allowed.has(st.uid)) refuse(what, `belongs to uid ${st.uid}${shared ? ` in a directory others may write` : ''}`);
      if (!st.isDirectory()) continue;
      // Writable by its group only, where that group is this user's own private group (as homes of
      // mode 0775 have): no one else.
      const ownGroupOnly = (st.mode & 0o022) === 0o020 && isPrivateGroupOf(st.gid, uid);
      const writable = (st.mode & 0o022) !== 0 && !ownGroupOnly;
      if (writable && (st.mode & 0o1000) === 0) refuse(what, `is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode 0${(st.mode & 0o7777).toString(8)})`);
      shared = writable;
    }
  };
  walk(resolve(path));
  // The real path of the file, or of the directory it is to be made in (a new file's).
  const real = (() => {
    try {
      return realpathSync(path);
    } catch {
      try {
        return join(realpathSync(dirname(resolve(path))), basename(path));
      } catch {
        return null;
      }
    }
  })();
  if (real !== null && real !== resolve(path)) walk(real);
}

/**
 * Whether `gid` is the user private group of `uid`, as Debian's OpenSSH asks before it trusts a
 * directory its group may write: the user's primary group in /etc/passwd, held by no other user
 * there, with no members listed in /etc/group. Read only when such a directory is met (seldom).
 * A group switched to (newgrp, sg) is not the primary one; users only NSS knows are not trusted
 * so. (An ACL naming another user shows in the mode as a group that may write: not told apart.)
 */
function isPrivateGroupOf(gid: number, uid: number): boolean {
  const rows = (file: string) => {
    try {
      return readFileSync(file, 'utf8').split('\n').map((line) => line.split(':'));
    } catch {
      return [];
    }
  };
  const passwd = rows('/etc/passwd');
  const own = passwd.find((f) => Number(f[2]) === uid && f[2] !== '');
  if (own === undefined || Number(own[3]) !== gid) return false;
  if (passwd.some((f) => f !== own && f[3] !== undefined && f[3] !== '' && Number(f[3]) === gid)) return false;
  const group = rows('/etc/group').find((f) => f[2] !== undefined && f[2] !== '' && Number(f[2]) === gid);
  return group !== undefined && (group[3] ?? '').trim() === '';
}

/** Refuses a mode that lets the file's group or others in, naming the command that fixes it. */
export function refuseOpenToOthers(path: string, name: string, mode: number, fail: CheckedFileOptions['fail'] = usageFail): void {
  const open = mode & 0o077;
  if (open === 0) return;
  const who = open & 0o007 ? 'others' : 'its group';
  const how = open & 0o044 ? 'readable' : open & 0o022 ? 'writable' : 'executable';
  const plain = /^[\w@%+=:,./-]+$/.test(path);
  const fix = plain ? `run 'chmod 600 ${path}'` : `run chmod 600 '${path.replaceAll("'", `'\\''`)}'`;
  throw fail(`${name} ${path} is ${how} by ${who} (mode 0${(mode & 0o777).toString(8)}): ${fix}`, 'file_permissions');
}

/**
 * All of a regular file, at most `maxBytes` of it: see openCheckedFile for what is refused. Reads
 * at most maxBytes + 1 bytes even if the file grows while it is read (or says it is empty, as
 * /proc files do), so nothing balloons.
 */
export function readInputFile(path: string, options: CheckedFileOptions & { readonly maxBytes: number }): Buffer {
  const { fd, stat } = openCheckedFile(path, options);
  const { name, maxBytes } = options;
  const fail = options.fail ?? usageFail;
  try {
    let buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, Math.max(stat.size + 1, 64 * KiB)));
    let length = 0;
    for (;;) {
      if (length === buf.length) {
        if (length > maxBytes) throw fail(`${name} ${path} is larger than ${describeSize(maxBytes)}`, 'file_too_large');
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, length);
        buf = bigger;
      }
      // readSync reads at most 2 GiB - 1 bytes at a time.
      const n = readSync(fd, buf, length, Math.min(buf.length - length, GiB), null);
      if (n === 0) break;
      length += n;
    }
    return buf.subarray(0, length);
  } catch (e) {
    if (e instanceof TfaError) throw e;
    throw fail(`cannot read ${name} ${path}: ${errnoText(e)}`, 'file_error');
  } finally {
    closeSync(fd);
  }
}

/** A regular file open for reading piece by piece, as many times over as needed. */
export interface InputFile {
  /**
   * The file from its start, in pieces of at most 64 KiB, each a buffer of its own; more than the
   * file's `maxBytes` (it grew since it was opened) throws, as readInputFile does.
   */
  chunks(): AsyncGenerator<Buffer>;
  close(): void;
}

/**
 * Opens a regular file of at most `maxBytes` (see openCheckedFile for what is refused) to read it in
 * pieces, never whole: a bulk import reads a file of hundreds of thousands of rows twice this way
 * (its shape, then its rows) holding 64 KiB of it at a time. Every reading is of the file that was
 * checked: the descriptor stays open until close().
 */
export function openInputFile(path: string, options: CheckedFileOptions & { readonly maxBytes: number }): InputFile {
  const { fd } = openCheckedFile(path, options);
  const { name, maxBytes } = options;
  const fail = options.fail ?? usageFail;
  return {
    async *chunks() {
      let position = 0;
      for (;;) {
        const chunk = Buffer.allocUnsafe(64 * KiB);
        let n: number;
        try {
          n = readSync(fd, chunk, 0, chunk.length, position);
        } catch (e) {
          throw fail(`cannot read ${name} ${path}: ${errnoText(e)}`, 'file_error');
        }
        if (n === 0) return;
        position += n;
        if (position > maxBytes) throw fail(`${name} ${path} is larger than ${describeSize(maxBytes)}`, 'file_too_large');
        yield chunk.subarray(0, n);
      }
    },
    close: () => closeSync(fd),
  };
}

/**
 * Refuses (exit 6) a file that someone other than root or `uid` could replace: what OpenSSH's
 * StrictModes asks of authorized_keys, for what PAM reads as root (a store or key file another
 * user could swap would let them answer for anyone). Every directory passed on the way to it, on
 * every route its name takes, and every symlink met, must belong to root or `uid`; the directories
 * must be writable by no one else, but for sticky ones (/tmp), where others cannot replace what is
 * not theirs. The file itself, and the directory it is in (where others could also plant its
 * journals beside it), must be writable by no one else at all. A file that is not there is left
 * to whoever opens it.
 */
export function refuseReplaceable(path: string, uid: number, name: string): void {
  checkReplaceable(path, uid, name, 'file', 'store_permissions');
}

/**
 * Refuses (exit 6, `socket_permissions`) a directory to make a Unix socket in that another user
 * could write to or swap (a service's socket: its clients trust the name, and what is made
 * there is made by root): as refuseReplaceable, the directory itself standing for the file
 * (sticky ones such as /tmp refused too: another user could take the socket's name first).
 */
export function refuseReplaceableDirectory(dir: string, uid: number, name: string): void {
  checkReplaceable(dir, uid, name, 'directory', 'socket_permissions');
}

/**
 * Refuses (exit 6, `service_untrusted`) a service's socket another user could have put in this
 * process's way: as refuseReplaceable, but the socket itself is writable by all (anyone may
 * connect) and may be in a sticky directory (where no one else can replace it). Node cannot ask a
 * socket who is on its other end: the name must be one only root and this user control.
 */
export function refuseReplaceableSocket(path: string, uid: number, name: string): void {
  checkReplaceable(path, uid, name, 'socket', 'service_untrusted');
}

function checkReplaceable(path: string, uid: number, name: string, kind: 'file' | 'directory' | 'socket', problem: string): void {
  const owners = new Set([0, uid]);
  const refuse = (what: string, why: string): never => {
    throw new StoreError(
      `refusing ${name} ${path}: ${what} ${why}, so another user could put something else in its place; keep it where only root${uid === 0 ? '' : ' and you'} may write`,
      problem,
    );
  };
  const owned = (what: string, st: Stats) => {
    if (!owners.has(st.uid)) refuse(what, `belongs to uid ${st.uid}`);
  };
  const unwritable = (what: string, st: Stats, stickyAllowed: boolean) => {
    if ((st.mode & 0o022) !== 0 && !(stickyAllowed && (st.mode & 0o1000) !== 0)) {
      refuse(what, `is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode 0${(st.mode & 0o7777).toString(8)})`);
    }
  };
  const look = (p: string): Stats | null => {
    try {
      return lstatSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw new StoreError(`cannot check ${name} ${path}: ${errnoText(e)} (${p})`, 'store_unavailable');
    }
  };
  let links = 0;
  /** Walks `p` a component at a time, checking what it passes; its real path, or null when part of it is not there. */
  const follow = (p: string): string | null => {
    let at = '/';
    for (const part of resolve(p).split('/').filter(Boolean)) {
      const here = look(at);
      if (here === null) return null;
      owned(`the directory ${at}`, here);
      unwritable(`the directory ${at}`, here, true);
      const next = at === '/' ? `/${part}` : `${at}/${part}`;
      const st = look(next);
      if (st === null) return null;
      if (!st.isSymbolicLink()) {
        at = next;
        continue;
      }
      if (++links > 40) refuse('its name', 'goes through more than 40 symlinks');
      owned(`the symlink ${next}`, st);
      const real = follow(resolve(at, readlinkSync(next)));
      if (real === null) return null;
      at = real;
    }
    return at;
  };
  const real = follow(path);
  if (real === null) return;
  const file = look(real);
  if (file === null) return;
  owned('it', file);
  if (kind === 'socket') return;
  unwritable('it', file, false);
  if (kind === 'directory') return;
  const directory = dirname(real);
  unwritable(`the directory ${directory}`, look(directory) as Stats, false);
}

/**
 * The API token file the lines PAM runs as root name (an admin's token): 0600, and where no other
 * user could replace it (refuseReplaceable), or refused; `uid` runs the lines (root). Missing, it
 * is left to whoever reads it.
 */
export function refuseUntrustedTokenFile(path: string, uid: number): void {
  refuseReplaceable(path, uid, 'the --token file');
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return;
  }
  refuseOpenToOthers(path, 'the --token file', mode);
}

/**
 * Makes `dir` and any missing parents, each 0700. Unlike mkdirSync's `recursive`, which loops for
 * ever where mkdir says ENOENT under a directory that exists (/proc/nope), every failure here is
 * reported at once: each missing directory is made exactly once, parents first.
 */
export function makePrivateDirectories(dir: string): void {
  makeDirectories(dir, 0o700);
}

/**
 * Makes `dir` and the directories above it that are missing, with `mode`, one at a time (a
 * recursive mkdirSync never returns under /proc).
 */
export function makeDirectories(dir: string, mode: number): void {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    try {
      statSync(d);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(d) === d) throw e;
      missing.push(d);
    }
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, { mode });
    } catch (e) {
      // Another process made it meanwhile.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/**
 * Opens a new file with mode 0600; refuses (exit 4) when it exists: files that hold secrets are
 * never overwritten. Refused too (exit 6) where another user could swap a directory on the way to
 * it (refuseHandedOver): its secrets would go, and a failure's clean-up would remove a file of that
 * name, wherever they pointed it.
 */
function openNewPrivate(path: string): number {
  refuseHandedOver(path, 'the file', (message, problem) => new StoreError(message, problem));
  try {
    return openSync(path, 'wx', 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw takenName(path);
    throw new UsageError(`cannot create ${path}: ${errnoText(e)}`, 'file_error');
  }
}

/**
 * Refuses (exit 4, as creating it would) a name for a new file of secrets that is taken: said
 * before a step that cannot be taken back (a sign-in spends a TOTP code), the file itself made after.
 */
export function refuseTakenName(path: string): void {
  if (lstatSync(path, { throwIfNoEntry: false }) !== undefined) throw takenName(path);
}

function takenName(path: string): RefusedError {
  // An empty file with a hidden .partial beside it is what a killed backup or export left at
  // the name it claimed; an empty one alone, a placeholder (mktemp, touch).
  const there = lstatSync(path, { throwIfNoEntry: false });
  const why =
    there !== undefined && !there.isFile()
      ? ' and is not a regular file (a device, a directory, a link)'
      : there?.size === 0
        ? leftPartial(path)
          ? ` (empty, with .${basename(path)}.partial-… beside it, as a backup or export cut short leaves them; delete it and run again, which also removes what it left beside it)`
          : ' (empty)'
        : '';
  return new RefusedError(`${path} exists${why}: tfactl does not overwrite files that hold secrets, and writes them only to a new file`, 'file_exists');
}

/** Whether a staged write to `path` left its hidden `.NAME.partial-…` beside it (createStagedPrivateFile). */
function leftPartial(path: string): boolean {
  try {
    return readdirSync(dirname(path)).some((name) => name.startsWith(`.${basename(path)}.partial-`));
  } catch {
    return false;
  }
}

/** Writes all of `bytes`: writeSync may write less than asked (on a full disk). */
function writeAll(fd: number, bytes: Buffer): void {
  for (let done = 0; done < bytes.length; ) {
    const n = writeSync(fd, bytes, done, bytes.length - done);
    if (n <= 0) throw Object.assign(new Error('no progress'), { code: 'EIO' });
    done += n;
  }
}

/** Writes all of `bytes` and flushes them to disk. */
function writeAllAndFlush(fd: number, bytes: Buffer): void {
  writeAll(fd, bytes);
  fsyncSync(fd);
}

const writeFailed = (path: string, e: unknown, kept: string) =>
  new StoreError(`cannot write ${path}: ${errnoText(e)} (${kept})`, 'file_error');

/** Creates `path` with mode 0600 and writes `data`; refuses (exit 4) when it exists. */
export function writeNewPrivateFile(path: string, data: Buffer | string): void {
  createPrivateFile(path).write(data);
}

export interface PrivateFile {
  /**
   * Writes all of `data`, flushes it to disk and closes the file. On any failure (a full disk) the
   * file is removed and a StoreError (exit 6) thrown: a half-written export of secrets is worse
   * than none.
   */
  write(data: Buffer | string): void;
  /**
   * Writes `data` after what was written before, for a file written piece by piece; finish()
   * flushes and closes it. A failure removes the file, as with write().
   */
  append(data: Buffer | string): void;
  finish(): void;
  /** Closes the still empty file so something else (SQLite's backup) can fill it. */
  close(): void;
  /** Closes (if still open) and removes the file: the command failed. */
  discard(): void;
}

/**
 * Creates a new 0600 file now, to be filled later: a command that must not lose secrets claims its
 * output file before it changes the store. Refuses (exit 4) when the file exists.
 */
export function createPrivateFile(path: string): PrivateFile {
  let fd: number | null = openNewPrivate(path);
  const close = () => {
    if (fd !== null) closeSync(fd);
    fd = null;
  };
  const discard = () => {
    try {
      close();
    } finally {
      rmSync(path, { force: true });
    }
  };
  const guarded = (step: () => void) => {
    try {
      step();
    } catch (e) {
      discard();
      throw writeFailed(path, e, 'nothing was kept');
    }
  };
  const bytes = (data: Buffer | string) => (typeof data === 'string' ? Buffer.from(data) : data);
  return {
    write: (data) =>
      guarded(() => {
        writeAllAndFlush(fd as number, bytes(data));
        close();
      }),
    append: (data) => guarded(() => writeAll(fd as number, bytes(data))),
    finish: () =>
      guarded(() => {
        fsyncSync(fd as number);
        close();
      }),
    close,
    discard,
  };
}

/**
 * A new 0600 file at `path` that is never seen half-written, written piece by piece: the name is
 * claimed first (exit 4 when it exists), the content goes to a new 0600 staging file beside it
 * (`.NAME.partial-TAG`, made at the first write), and finish() flushes that and renames it over the
 * claimed name. A process killed on the way (SIGKILL, a power cut) leaves `path` empty, never a
 * file that looks whole; a failure, or discard(), removes both. What such a process left beside
 * the name is removed once the name is claimed again. Nothing is written through a name: each
 * file is written through the descriptor that created it (O_EXCL, so never through a symlink),
 * since in a directory another user may write, a name opened again could by then be their
 * symlink to a file of root's choosing.
 */
export function createStagedPrivateFile(path: string, tag: string): PrivateFile {
  const target = createPrivateFile(path);
  target.close();
  const prefix = `.${basename(path)}.partial-`;
  // The name is ours now: a staging file of it (and the journal SQLite kept beside one, when
  // tfactl still had SQLite write it) can only be one whose writer died. Other entries are left.
  for (const left of readdirSync(dirname(path))) {
    if (!left.startsWith(prefix)) continue;
    try {
      rmSync(join(dirname(path), left), { force: true });
    } catch {
      // Not a file (a directory someone made under such a name): not ours to remove.
    }
  }
  const staging = join(dirname(path), `${prefix}${tag}`);
  let fd: number | null = null;
  let made: Stats | null = null;
  const open = (): number => {
    if (fd === null) {
      fd = openNewPrivate(staging);
      made = fstatSync(fd);
    }
    return fd;
  };
  const closeStaging = () => {
    if (fd !== null) closeSync(fd);
    fd = null;
  };
  let discarded = false;
  const discard = () => {
    // Once: a second call (a caller's clean-up after a failed finish) must not remove a file
    // someone else made at the name since.
    if (discarded) return;
    discarded = true;
    try {
      closeStaging();
    } catch {
      // Closed or not, it goes.
    }
    try {
      rmSync(staging, { force: true });
    } catch {
      // Not a file any more (swapped for a directory): not ours to remove.
    }
    target.discard();
  };
  const guarded = (step: () => void) => {
    try {
      step();
    } catch (e) {
      discard();
      throw e instanceof TfaError ? e : writeFailed(path, e, 'nothing was kept');
    }
  };
  const replaced = () =>
    new StoreError(`${path} was replaced while it was written, so nothing was kept: someone else may write to ${dirname(path)}; write it where only you may`, 'file_replaced');
  const finish = () =>
    guarded(() => {
      const f = open();
      fsyncSync(f);
      closeStaging();
      try {
        renameSync(staging, path);
      } catch (e) {
        // The staging file gone from under the rename: someone who may write the directory took it.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw replaced();
        throw e;
      }
      // What was renamed is what was written, unless someone who may write the directory swapped it.
      const there = lstatSync(path, { throwIfNoEntry: false });
      const written = made as Stats | null;
      if (there?.ino !== written?.ino || there?.dev !== written?.dev) throw replaced();
      flushFile(dirname(path));
    });
  const bytes = (data: Buffer | string) => (typeof data === 'string' ? Buffer.from(data) : data);
  return {
    write: (data) => {
      guarded(() => writeAll(open(), bytes(data)));
      finish();
    },
    append: (data) => guarded(() => writeAll(open(), bytes(data))),
    finish,
    close: closeStaging,
    discard,
  };
}

/**
 * Makes a new 0600 file at `path`, holding what `content` makes, never seen half-written (see
 * createStagedPrivateFile): a failure of `content` removes the claimed name too.
 */
export async function fillPrivateFile(path: string, tag: string, content: () => Promise<Buffer>): Promise<void> {
  const file = createStagedPrivateFile(path, tag);
  let data: Buffer;
  try {
    data = await content();
  } catch (e) {
    file.discard();
    throw e;
  }
  file.write(data);
}

/** Flushes a file, or a directory's entries, to disk. */
export function flushFile(path: string): void {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface PrivateLog {
  /** Appends one line and flushes it to disk before returning. */
  append(line: string): void;
  close(): void;
}

/**
 * A new 0600 file written line by line, each line on disk before the next step: what a long job
 * has done survives the job being killed. Refuses (exit 4) when the file exists. A line that cannot
 * be written whole (a full disk) is cut off again, and no line is written after it: the file holds
 * whole lines, in order, with none missing between them.
 */
export function createPrivateLog(path: string): PrivateLog {
  const fd = openNewPrivate(path);
  let whole = 0;
  let failed = false;
  return {
    append(line) {
      if (failed) throw new StoreError(`cannot write ${path}: a line before could not be written (the lines before that are kept)`, 'file_error');
      const bytes = Buffer.from(line.endsWith('\n') ? line : `${line}\n`);
      try {
        writeAllAndFlush(fd, bytes);
        whole += bytes.length;
      } catch (e) {
        failed = true;
        try {
          ftruncateSync(fd, whole);
        } catch {
          // Nothing better to do: the error below says the file failed.
        }
        throw writeFailed(path, e, 'the lines before are kept');
      }
    },
    close() {
      closeSync(fd);
    },
  };
}
