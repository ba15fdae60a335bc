import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError } from '../../src/errors.js';
import { authenticate, type AuthDeps } from '../../src/services/authenticate.js';
import { hashPassword } from '../../src/services/passwords.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';

/**
 * An unknown user id costs what a known one does: timed in one process against a real store, so
 * that process start-up does not drown the difference (one argon2 computation, tens of ms).
 */
const dir = mkdtempSync(join(tmpdir(), 'tfactl-timing-'));
let store: Store;
beforeAll(async () => {
  store = (await openSqliteStore(join(dir, 'store.db'), { now: 1 })).store;
  await store.insertUser({ userid: 'kim@local', realm: 'local', admin: false, enabled: true, email: null, comment: null, expire: null, passwordHash: await hashPassword('the right password'), created: 1 });
  // Many wrong guesses below: no ban may cut the work short for either.
  await store.setSetting('lockout.password-failures', '1000');
});
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const deps = (): AuthDeps => ({
  store,
  now: () => Math.floor(Date.now() / 1000),
  sleep: async () => undefined,
  secretKey: async () => Buffer.alloc(32),
  randomBytes: (n) => randomBytes(n),
  audit: async () => undefined,
});

async function timedWrongPassword(userid: string): Promise<number> {
  const started = process.hrtime.bigint();
  const attempt = authenticate(deps(), {
    userid,
    action: 'login',
    credentials: { password: async () => 'a wrong password', secondFactor: async () => ({ code: '' }) },
  });
  await expect(attempt).rejects.toThrow(AuthError);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

describe('a wrong password', () => {
  it('costs an unknown user id the same as a known one', async () => {
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 9; i++) {
      known.push(await timedWrongPassword('kim@local'));
      unknown.push(await timedWrongPassword(`nobody${i}@local`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const ratio = median(unknown) / median(known);
    // Both compute one argon2 hash; skipping it would make the unknown id several times faster.
    expect(ratio, `known ${median(known)} ms, unknown ${median(unknown)} ms`).toBeGreaterThan(0.7);
    expect(ratio).toBeLessThan(1.45);
  });
});
