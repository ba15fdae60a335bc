import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

/**
 * fillPrivateFile when someone who may write the directory takes its staging file between the
 * write and the rename (unlinked, their symlink not there yet): the rename finds nothing. That is
 * the file replaced under it (file_replaced), not a failure to write (file_error), and nothing is
 * kept. The moment is made here: the rename is told the staging file is gone.
 */
const renames = vi.hoisted(() => ({ vanish: false }));
vi.mock('node:fs', async (original) => {
  const fs = await original<typeof import('node:fs')>();
  return {
    ...fs,
    renameSync: (from: string, to: string) => {
      if (renames.vanish) {
        fs.rmSync(from);
        throw Object.assign(new Error(`ENOENT: no such file or directory, rename '${from}' -> '${to}'`), { code: 'ENOENT' });
      }
      fs.renameSync(from, to);
    },
  };
});

const dir = mkdtempSync(join(tmpdir(), 'tfactl-fill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fillPrivateFile', () => {
  it('says a staging file taken before its rename was replaced, and keeps nothing', async () => {
    const { fillPrivateFile } = await import('../../src/files.js');
    const path = join(dir, 'backup.db');
    renames.vanish = true;
    await expect(fillPrivateFile(path, 'abc', async () => Buffer.from('data'))).rejects.toMatchObject({
      code: 'file_replaced',
      message: `${path} was replaced while it was written, so nothing was kept: someone else may write to ${dir}; write it where only you may`,
    });
    expect(readdirSync(dir)).toEqual([]);
    renames.vanish = false;
    await fillPrivateFile(path, 'def', async () => Buffer.from('data'));
    expect(existsSync(path)).toBe(true);
  });
});
