import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fdKind } from '../../src/stdio.js';

describe('what a descriptor is, without the tty module', () => {
  it('reads and writes /dev/null and the other memory devices as files: never a terminal, never blocking', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tfactl-fd-'));
    const fds: number[] = [];
    try {
      writeFileSync(join(dir, 'f'), 'x');
      const open = (path: string, flags: string) => {
        const fd = openSync(path, flags);
        fds.push(fd);
        return fd;
      };
      for (const path of ['/dev/null', '/dev/zero', '/dev/full']) expect(fdKind(open(path, 'r+')), path).toBe('pipe-or-file');
      expect(fdKind(open(join(dir, 'f'), 'r'))).toBe('pipe-or-file');
      expect(fdKind(open('/dev/urandom', 'r'))).toBe('pipe-or-file');
      // A terminal's master side (major 5), and a device of major 1 that may wait (/dev/random on
      // older kernels): a terminal or device, read and written through Node's stream.
      expect(fdKind(open('/dev/ptmx', 'r+'))).toBe('terminal-or-device');
      expect(fdKind(open('/dev/random', 'r'))).toBe('terminal-or-device');
      const closed = open('/dev/null', 'r');
      closeSync(closed);
      fds.splice(fds.indexOf(closed), 1);
      expect(fdKind(closed)).toBe('closed');
    } finally {
      for (const fd of fds) closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
