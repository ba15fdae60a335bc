import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileTicketBox } from '../../src/commands/tickets.js';
import { UsageError } from '../../src/errors.js';

const runtime = mkdtempSync(join(tmpdir(), 'tfactl-tickets-'));
afterAll(() => rmSync(runtime, { recursive: true, force: true }));
const SECRET = 'a'.repeat(43);

describe('session ticket files', () => {
  it('are kept 0600 in a 0700 directory, one scope apart from another', async () => {
    const store = fileTicketBox({ XDG_RUNTIME_DIR: runtime }, '/var/lib/tfactl/tfactl.db');
    const service = fileTicketBox({ XDG_RUNTIME_DIR: runtime }, 'tfactl-service:/run/tfactl/tfactl.sock');
    const path = await store!.write('alice@local', SECRET);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(runtime, 'tfactl')).mode & 0o777).toBe(0o700);
    expect(await store!.read('alice@local')).toBe(SECRET);
    expect(await service!.read('alice@local')).toBeNull();
    expect(await store!.list()).toEqual(['alice@local']);
    expect(await service!.list()).toEqual([]);
    await store!.remove('alice@local');
    expect(existsSync(path)).toBe(false);
  });

  it('never let a user id name a path elsewhere (a service cannot make its client write outside the directory)', async () => {
    const box = fileTicketBox({ XDG_RUNTIME_DIR: runtime }, 'tfactl-service:/s.sock');
    for (const bad of ['../../.bashrc', 'a/b', 'x\0y']) {
      await expect(box!.write(bad, SECRET)).rejects.toBeInstanceOf(UsageError);
      await expect(box!.read(bad)).rejects.toBeInstanceOf(UsageError);
    }
    expect(readdirSync(runtime)).toEqual(['tfactl']);
  });

  it('need a runtime directory', () => {
    expect(fileTicketBox({}, '/s.db')).toBeNull();
  });
});
