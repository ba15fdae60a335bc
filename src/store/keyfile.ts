import { createHmac, timingSafeEqual } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, lstatSync, openSync, readdirSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StoreError } from '../errors.js';
import { flushFile, INPUT_LIMITS, makePrivateDirectories, readInputFile } from '../files.js';

const PREFIX = 'tfactl-key-v1:';
const KEY_BYTES = 32;

/**
 * Creates the key file (0600) unless it exists. The key is written to a temporary file and linked
 * into place, so a process racing to create it never reads a half-written key. Returns true when
 * this call created it.
 */
export function createKeyFile(path: string, randomBytes: (n: number) => Buffer): boolean {
  removeStaleTemporaries(path);
  // There already (the usual case): nothing to write, not even the temporary file, which a full disk would refuse.
  if (statSync(path, { throwIfNoEntry: false }) !== undefined) return false;
  makePrivateDirectories(dirname(path));
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    const text = Buffer.from(`${PREFIX}${randomBytes(KEY_BYTES).toString('base64')}\n`);
    // All of it or none: a key cut short by a full disk must never be linked into place.
    if (writeSync(fd, text) !== text.length) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
    // On disk before it is linked into place: after a crash, never an empty key beside secrets sealed with it.
    fsyncSync(fd);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    flushFile(dirname(path));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Removes the temporary files (`KEY.PID.tmp`) of key files whose process is gone: one killed
 * before its link left a key nothing uses beside the real one, or after it a second name of the
 * real key. Those of processes still running here are theirs (a key directory shared between
 * hosts is not one tfactl takes: each host's processes are its own).
 */
function removeStaleTemporaries(path: string): void {
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return; // No directory yet: nothing left in it.
  }
  const prefix = `${basename(path)}.`;
  for (const name of names) {
    const pid = name.startsWith(prefix) && name.endsWith('.tmp') ? name.slice(prefix.length, -'.tmp'.length) : '';
    // One of this process's own pid is stale too (a container's pid 1, killed and started again):
    // this process has made none yet.
    if (!/^[1-9]\d{0,9}$/.test(pid) || (Number(pid) !== process.pid && processRuns(Number(pid)))) continue;
    rmSync(join(dirname(path), name), { force: true });
  }
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Removes a key file this process just made and nothing uses (another process's key won the race to the store). */
export function discardKeyFile(path: string): void {
  rmSync(path, { force: true });
  flushFile(dirname(path));
}

/** Whether there is nothing at all at `path` (not a file that cannot be read: readKeyFile says why). */
export function keyFileMissing(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) === undefined;
}

/**
 * Reads and checks the key file: a regular file of one line, which only its owner may read or
 * write (like an OpenSSH private key; anything else is refused, exit 6).
 */
export function readKeyFile(path: string): Buffer {
  try {
    statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StoreError(
      code === 'ENOENT'
        ? `key file ${path} is missing: the secrets in this store cannot be read without it (restore it, or set TFACTL_KEY_FILE)`
        : `cannot read key file ${path}: ${code ?? 'error'}`,
      'key_file',
    );
  }
  const text = readInputFile(path, {
    name: 'the key file',
    maxBytes: INPUT_LIMITS.keyFile,
    private: true,
    fail: (message, problem) => new StoreError(message, problem === 'file_permissions' ? 'key_permissions' : 'key_file'),
  }).toString('utf8');
  const line = text.trim();
  const key = line.startsWith(PREFIX) ? Buffer.from(line.slice(PREFIX.length), 'base64') : Buffer.alloc(0);
  if (key.length !== KEY_BYTES) throw new StoreError(`key file ${path} is damaged`, 'key_file');
  return key;
}

/** A fingerprint stored in the store so that a key file from another store is recognised. */
export function keyFingerprint(key: Buffer): string {
  return createHmac('sha256', key).update('tfactl key fingerprint v1').digest('hex');
}

export function fingerprintMatches(key: Buffer, fingerprint: string): boolean {
  const a = Buffer.from(keyFingerprint(key), 'hex');
  const b = Buffer.from(fingerprint, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
