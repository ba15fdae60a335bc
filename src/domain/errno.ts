/**
 * A system call's failure in words a person reads, with the code a search finds:
 * `no such file or directory (ENOENT)`. Pure.
 */
const WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'it exists already',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'over the disk quota',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files on the system',
  EBUSY: 'the device or resource is busy',
  ENXIO: 'no such device',
  EADDRINUSE: 'the address is in use',
  EADDRNOTAVAIL: 'the address is not one of this host',
  ECONNREFUSED: 'nothing answers there',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'it timed out',
  EPIPE: 'the reader is gone',
};

/** `words (CODE)` for a known code, the code alone for another, `fallback` when there is none. */
export function describeErrno(code: string | undefined, fallback = 'error'): string {
  if (code === undefined || code === '') return fallback;
  const words = Object.hasOwn(WORDS, code) ? WORDS[code] : undefined;
  return words === undefined ? code : `${words} (${code})`;
}

/** describeErrno of an error's code (a Node system error's), else its message's first line. */
export function errnoText(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return describeErrno(code);
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? 'error';
}
