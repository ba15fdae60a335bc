import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBin, TempStore, withFullDisk } from './harness.js';

// A SQLite store on a file system that fills up under it (PostgreSQL keeps its own disk). The
// other full-disk cases, an output file that cannot be written, run on every backend beside the
// commands they are about (recovery-lockout, import).

describe('a store that fills its disk', () => {
  it('init says the disk is full, leaves no half-written key, and completes once there is room', async () => {
    await withFullDisk(
      async (dir) => {
        const env = { TFACTL_DB: join(dir, 'store.db') };
        const full = `the disk holding the store at ${env.TFACTL_DB} is full (SQLITE_FULL): what was being written was not; free some space and run the command again`;
        for (let run = 0; run < 2; run++) {
          const r = await runBin(['init', '--json'], { env });
          expect(r.code, r.stderr).toBe(6);
          expect(r.json().error).toEqual({ code: 'store_full', message: full });
          // Never a temporary key file left behind, nor a key cut short.
          expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
        }
        expect(spawnSync('mount', ['-o', 'remount,size=2m', dir]).status).toBe(0);
        const done = await runBin(['init'], { env });
        expect(done.code, done.stderr).toBe(0);
        const keys = await runBin(['tfa', 'add', 'recovery', 'root@local', '--json'], { env });
        expect(keys.code, keys.stderr).toBe(0);
      },
      { size: 200 << 10, free: 200 << 10 },
    );
  }, 60_000);

  it('user import still shows every user it created, with their secrets, and the same command completes it once there is room', async () => {
    const s = new TempStore();
    try {
      await withFullDisk(
        async (dir, makeRoom) => {
          makeRoom();
          const env = { TFACTL_DB: join(dir, 'store', 'tfactl.db') };
          expect((await runBin(['init'], { env })).code).toBe(0);
          const csv = join(s.dir, 'big.csv');
          writeFileSync(csv, `userid,password,tfa,comment\n${Array.from({ length: 3000 }, (_, i) => `big${i},big password ${i},totp+recovery,${'c'.repeat(200)}`).join('\n')}\n`);
          const r = await runBin(['user', 'import', csv, '--json'], { env, timeoutMs: 120_000 });
          expect(r.code, r.stderr).toBe(6);
          const { error, result } = r.json();
          expect(error.message).toMatch(/disk|full/i);
          expect(error.message).toMatch(/\(\d+ users? (was|were) created or updated before it, as the results say: run the same command again once it is mended\)$/);
          const listed = (await runBin(['user', 'list', '--json'], { env })).json().result as { userid: string }[];
          const created = listed.map((u) => u.userid).filter((u) => u.startsWith('big'));
          expect(created.length).toBeGreaterThan(0);
          expect(result.results.filter((x: { status: string }) => x.status === 'created').map((x: { userid: string }) => x.userid).sort()).toEqual([...created].sort());
          for (const x of result.results) expect(x).toMatchObject({ totp: { secret: expect.stringMatching(/^[A-Z2-7]{32}$/) }, recoveryKeys: expect.any(Array) });
          // Room again (the file system grown), the same command imports the rest.
          expect(spawnSync('mount', ['-o', 'remount,size=16m', dir]).status).toBe(0);
          const again = await runBin(['user', 'import', csv, '--json'], { env, timeoutMs: 120_000 });
          expect(again.code, again.stderr).toBe(0);
          expect(again.json().result).toMatchObject({ created: 3000 - created.length, skipped: created.length, failed: 0 });
        },
        { size: 768 << 10 },
      );
    } finally {
      s.remove();
    }
  }, 180_000);
});
