import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, oathtool, TempStore } from './harness.js';

const store = new TempStore();
afterAll(() => store.remove());

/** One shell process adding `count` users one tfactl process at a time; resolves with its output. */
function adder(worker: number, count: number): Promise<{ code: number | null; out: string }> {
  const script = `for i in $(seq 1 ${count}); do node "$BIN" user add "w${worker}u$i@local" --no-password --json || exit 1; done`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], {
      env: { ...process.env, BIN, ...store.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('concurrent tfactl processes on one store', () => {
  it('8 processes adding 25 users each, starting from no store, end with 200 users and no lock errors', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, w) => adder(w, 25)));
    for (const r of results) {
      expect(r.code, r.out).toBe(0);
      expect(r.out).not.toMatch(/SQLITE_BUSY|locked|error/i);
    }
    const users = store.read<{ userid: string }[]>(['user', 'list']).map((u) => u.userid);
    expect(users.filter((u) => u !== 'root@local')).toHaveLength(200);
    expect(store.auditRows().filter((a) => a.action === 'user.add' && a.outcome === 'ok')).toHaveLength(200);
    // The store was created once: one root, one built-in realm, one key fingerprint.
    expect(users.filter((u) => u === 'root@local')).toHaveLength(1);
    expect(store.read<{ name: string }[]>(['realm', 'list']).filter((r) => r.name === 'local')).toHaveLength(1);
  }, 180_000);

  it('8 racing enrolments of one TOTP secret store it once (the others refused, audited), so a code of it signs in once', async () => {
    const secret = 'KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU';
    await store.addUser('racer', 'racing password');
    const runs = await Promise.all(Array.from({ length: 8 }, () => store.run(['tfa', 'add', 'totp', 'racer', '--secret', secret, '--no-verify', '--qr', 'none', '--json'])));
    expect(runs.filter((r) => r.code === 0)).toHaveLength(1);
    for (const r of runs.filter((r) => r.code !== 0)) {
      expect(r.code).toBe(4);
      expect(r.json().error).toMatchObject({ code: 'exists', message: expect.stringMatching(/^racer@local already has a TOTP factor with this secret \(/) });
    }
    expect(store.factorsOf('racer').filter((f) => f.type === 'totp')).toHaveLength(1);
    expect(store.auditRows().filter((a) => a.action === 'tfa.add' && a.target === 'racer@local' && a.outcome === 'refused')).toHaveLength(7);
    const code = oathtool(secret);
    const logins = await Promise.all(Array.from({ length: 4 }, () => store.login('racer', 'racing password', code)));
    expect(logins.filter((r) => r.code === 0)).toHaveLength(1);
  }, 60_000);
});
