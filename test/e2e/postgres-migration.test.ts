import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresCluster } from '../fixtures/postgres.js';
import { runBin, type RunOptions, type RunResult } from './harness.js';

/**
 * Moving a site from SQLite to PostgreSQL (issue 13): a store of 100,000 users (12,500 with TOTP,
 * 2,000 with recovery keys) backed up and restored into a PostgreSQL store with the same key file,
 * then checked user for user through the CLI: the listings, the factors and the TOTP secrets
 * (exported in plain text from both) are the same.
 */
const USERS = 100_000;
/** A heap (MiB) that the listings' rows, held at once, overflow (test/e2e/big-store.test.ts). */
const HEAP_MIB = 24;
const dir = mkdtempSync(join(tmpdir(), 'tfactl-pg-move-'));
const KEY = join(dir, 'tfactl.key');
const lite = { TFACTL_DB: join(dir, 'tfactl.db'), TFACTL_KEY_FILE: KEY };
let pg: Record<string, string>;
let cluster: PostgresCluster;

async function ok(args: string[], env: Record<string, string>, options: RunOptions = {}): Promise<RunResult> {
  const r = await runBin(args, { timeoutMs: 240_000, ...options, env: { ...env, ...options.env } });
  expect(r.code, `tfactl ${args.join(' ')}: ${r.stderr.slice(0, 2000)}`).toBe(0);
  return r;
}

beforeAll(async () => {
  cluster = await startPostgres();
  pg = { TFACTL_DB: await cluster.createDatabase('moved'), TFACTL_KEY_FILE: KEY };
  await ok(['init'], lite);
  await ok(['realm', 'add', 'corp'], lite);
  const rows = Array.from({ length: USERS }, (_, i) => `u${String(i).padStart(6, '0')}@${i % 2 ? 'corp' : 'local'},${[i % 16 < 2 && 'totp', i % 100 < 2 && 'recovery'].filter(Boolean).join('+')}`);
  writeFileSync(join(dir, 'users.csv'), `userid,tfa\n${rows.join('\n')}\n`);
  await ok(['user', 'import', join(dir, 'users.csv'), '--atomic'], lite);
}, 300_000);
afterAll(() => {
  cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe(`a SQLite store of ${USERS.toLocaleString('en')} users moved to PostgreSQL`, () => {
  it('by backup and restore, the same user for user, factor for factor, secret for secret', async () => {
    await ok(['backup', join(dir, 'move.db')], lite);
    await ok(['init'], pg);
    const restored = await ok(['restore', join(dir, 'move.db'), '--yes', '--json'], pg);
    expect(restored.json().result).toMatchObject({ users: USERS + 1 });
    // A new store: nothing of the backup was revoked there, so nothing is said to come back.
    expect(restored.json().warnings).toEqual([]);
    expect(Object.values(restored.json().result.revived as Record<string, unknown[]>).flat()).toEqual([]);
    // Listings stream on PostgreSQL too (pages of one query each): bounded memory, shown with a heap cap that holding the rows would overflow.
    const capped = { env: { NODE_OPTIONS: `--max-old-space-size=${HEAP_MIB}` } };
    const [liteUsers, pgUsers] = await Promise.all([ok(['user', 'list', '--json'], lite), ok(['user', 'list', '--json'], pg, capped)]);
    expect(pgUsers.json().result).toHaveLength(USERS + 1);
    expect(pgUsers.json().result).toEqual(liteUsers.json().result);
    const [liteFactors, pgFactors] = await Promise.all([ok(['tfa', 'list', '--json'], lite), ok(['tfa', 'list', '--json'], pg, capped)]);
    expect(pgFactors.json().result).toEqual(liteFactors.json().result);
    const [liteSecrets, pgSecrets] = await Promise.all([ok(['export', 'totp'], lite), ok(['export', 'totp'], pg)]);
    expect(pgSecrets.stdout.split('\n')).toHaveLength(USERS / 8 + 2);
    expect(pgSecrets.stdout).toBe(liteSecrets.stdout);
  }, 600_000);
});
