import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listingQueries } from '../../src/store/sql-store.js';
import { BIN, type RunOptions, type RunResult, TempStore } from './harness.js';

/**
 * A store of 200,000 users (issue 9): every listing and export works there, through the built
 * binary, in bounded memory, and reads through indexes.
 *
 * Bounded memory is shown with a heap cap on the spawned tfactl (--max-old-space-size, in MiB) small
 * enough that holding the rows fails. Measured at 200,000 users on this machine (2 cores, Node 20):
 * the streaming code runs every command below with a cap of 8; the code before it (commit b7f03cf^,
 * every listing an array) died of its heap limit at 64 and at 32 in `user list --json`, `audit`,
 * `audit --json`, `export users --json` and `export totp` (`user list` and `audit` without --json
 * overflowed the stack even without a cap), and a 12 MiB import at 32 and 64. 32 leaves a factor of
 * four either way.
 *
 * Cost: the fixture is made once for the file, through the CLI (`user import --atomic` of 200,000
 * users without passwords, 25,000 of them with TOTP and 4,000 with recovery keys): about 20 s of
 * CPU here, most of it SQLite writing users, factors and audit entries. Each listing of 200,000 rows
 * takes 2-7 s of CPU (a table reads the store twice: once for the column widths). About 65 s of CPU
 * for the file in all; run alone it takes about 50 s, running two commands at a time.
 */
const USERS = 200_000;
const HEAP_MIB = 32;
const capped: RunOptions = { env: { NODE_OPTIONS: `--max-old-space-size=${HEAP_MIB}` }, timeoutMs: 120_000 };

/** User i: `u000042@local` for even i, `@corp` for odd; TOTP for i % 16 < 2, recovery keys for i % 100 in 2..3. */
const userid = (i: number) => `u${String(i).padStart(6, '0')}@${i % 2 ? 'corp' : 'local'}`;
const hasTotp = (i: number) => i % 16 < 2;
const hasRecovery = (i: number) => i % 100 === 2 || i % 100 === 3;
const TOTP_USERS = Array.from({ length: USERS }, (_, i) => i).filter(hasTotp).length;
const RECOVERY_USERS = Array.from({ length: USERS }, (_, i) => i).filter(hasRecovery).length;
/** root@local and the users imported. */
const ALL_USERS = USERS + 1;

const store = new TempStore();
afterAll(() => store.remove());

async function ok(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const r = await store.run(args, options);
  expect(r.timedOut, `tfactl ${args.join(' ')} was killed after ${r.ms} ms`).toBe(false);
  expect(r.code, `tfactl ${args.join(' ')}: ${r.stderr.slice(0, 2000)}`).toBe(0);
  return r;
}

/** The lines of a human table: its header, then its rows. */
const tableLines = (r: RunResult) => r.stdout.replace(/\n$/, '').split('\n');

beforeAll(async () => {
  await ok(['init']);
  await ok(['realm', 'add', 'corp']);
  const rows = Array.from({ length: USERS }, (_, i) => `${userid(i)},${[hasTotp(i) && 'totp', hasRecovery(i) && 'recovery'].filter(Boolean).join('+')}`);
  const csv = join(store.dir, 'users.csv');
  writeFileSync(csv, `userid,tfa\n${rows.join('\n')}\n`);
  const imported = await ok(['user', 'import', csv, '--atomic'], { timeoutMs: 300_000 });
  expect(imported.stdout).toMatch(new RegExp(`^${USERS} created, 0 updated, 0 skipped, 0 failed$`, 'm'));
}, 320_000);

describe(`a store of ${USERS.toLocaleString('en')} users`, () => {
  it('has them all, with their factors, and an audit entry each', () => {
    expect(store.query('SELECT count(*) AS n FROM users')).toEqual([{ n: ALL_USERS }]);
    expect(store.query("SELECT type, count(*) AS n FROM factors GROUP BY type ORDER BY type")).toEqual([
      { type: 'recovery', n: RECOVERY_USERS },
      { type: 'totp', n: TOTP_USERS },
    ]);
    expect(store.query("SELECT count(*) AS n FROM audit WHERE action = 'user.add'")).toEqual([{ n: USERS }]);
  });

  it(`lists users in a heap of ${HEAP_MIB} MiB, as a table and as JSON`, async () => {
    // Two at a time: a table and its JSON read the store at once (two cores).
    const [table, asJson] = await Promise.all([ok(['user', 'list'], capped), ok(['user', 'list', '--json'], capped)]);
    const human = tableLines(table);
    expect(human[0]).toMatch(/^USER +ADMIN +STATE +PASSWORD +FACTORS/);
    expect(human).toHaveLength(1 + ALL_USERS);
    // By realm, then user id.
    expect(human[1]).toMatch(/^u000001@corp +no +cannot sign in +none +totp +no/);
    expect(human.at(-1)).toMatch(/^u199998@local +no +cannot sign in +none +none +no/);
    expect(human.filter((l) => / recovery \(10 left\) /.test(l))).toHaveLength(RECOVERY_USERS);

    const json = asJson.json();
    expect(json.ok).toBe(true);
    expect(json.result).toHaveLength(ALL_USERS);
    expect(json.result.filter((u: { factors: { totp: number } }) => u.factors.totp === 1)).toHaveLength(TOTP_USERS);
    expect(new Set(json.result.map((u: { userid: string }) => u.userid)).size).toBe(ALL_USERS);
  }, 180_000);

  it(`lists second factors in a heap of ${HEAP_MIB} MiB, as a table and as JSON`, async () => {
    const [table, asJson] = await Promise.all([ok(['tfa', 'list'], capped), ok(['tfa', 'list', '--json'], capped)]);
    const human = tableLines(table);
    expect(human[0]).toMatch(/^USER +ID +TYPE +DESCRIPTION/);
    // A row for each factor, and one for each user without any.
    expect(human).toHaveLength(1 + ALL_USERS);
    expect(human.filter((l) => / totp +TOTP /.test(l))).toHaveLength(TOTP_USERS);

    const json = asJson.json();
    expect(json.result).toHaveLength(ALL_USERS);
    const factors = json.result.flatMap((u: { factors: { type: string }[] }) => u.factors.map((f) => f.type));
    expect(factors.filter((t: string) => t === 'totp')).toHaveLength(TOTP_USERS);
    expect(factors.filter((t: string) => t === 'recovery')).toHaveLength(RECOVERY_USERS);
  }, 180_000);

  it(`shows the whole audit trail in a heap of ${HEAP_MIB} MiB, and the newest 100 by default`, async () => {
    const entries = (store.query('SELECT count(*) AS n FROM audit')[0] as { n: number }).n;
    expect(entries).toBeGreaterThan(USERS);
    const [table, asJson] = await Promise.all([ok(['audit', '--all'], capped), ok(['audit', '--all', '--json'], capped)]);
    const human = tableLines(table);
    expect(human).toHaveLength(1 + entries);
    const json = asJson.json();
    expect(json.result).toHaveLength(entries);
    expect(json.result.at(-1)).toMatchObject({ action: 'user.import', outcome: 'ok' });
    const newest = (await ok(['audit', '--json'], capped)).json();
    expect(newest.result).toHaveLength(100);
    expect(newest.result).toEqual(json.result.slice(-100));
  }, 180_000);

  it(`exports every user and every TOTP secret in a heap of ${HEAP_MIB} MiB`, async () => {
    const [usersRun, totp] = await Promise.all([ok(['export', 'users', '--json'], capped), ok(['export', 'totp'], capped)]);
    const users = usersRun.json();
    expect(users.result.realms.map((r: { name: string; users: number }) => [r.name, r.users])).toEqual([
      ['corp', USERS / 2],
      ['local', USERS / 2 + 1],
    ]);
    expect(users.result.users).toHaveLength(ALL_USERS);

    const lines = tableLines(totp);
    expect(lines[0]).toBe('userid,id,description,enabled,secret,algorithm,digits,period,issuer,uri');
    expect(lines).toHaveLength(1 + TOTP_USERS);
    expect(lines[1]).toMatch(/^u000000@local,[0-9a-f-]{36},TOTP,true,[A-Z2-7]{32},SHA1,6,30,tfactl@[^,]+,otpauth:\/\/totp\//);
    expect(totp.stderr).toContain('TOTP secrets in plain text');
  }, 180_000);

  it(`lists realms with their user counts in a heap of ${HEAP_MIB} MiB`, async () => {
    const realms = (await ok(['realm', 'list', '--json'], capped)).json();
    expect(realms.result.map((r: { name: string; users: number }) => [r.name, r.users])).toEqual([
      ['corp', USERS / 2],
      ['local', USERS / 2 + 1],
    ]);
  });

  it('reads every listing through indexes, in the order it lists, without sorting all its rows first', () => {
    const db = new Database(store.db, { readonly: true });
    const plan = (q: { sql: string; params: Record<string, unknown> }) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(q.params) as { detail: string }[]).map((r) => r.detail);
    // Never a table read without an index, nor a temporary B-tree holding the rows to sort them
    // (one user's factors, in the order they were added, are sorted on their own); a page of users
    // is read once into a co-routine, whose rows are then scanned.
    const unindexed = (lines: string[]) => {
      const coroutines = lines.filter((l) => l.startsWith('CO-ROUTINE ')).map((l) => l.slice('CO-ROUTINE '.length));
      const table = (l: string) => /^SCAN /.test(l) && !/ USING (COVERING )?INDEX /.test(l) && l !== 'SCAN CONSTANT ROW' && !coroutines.includes(l.slice(5));
      return lines.filter((l) => table(l) || /TEMP B-TREE/.test(l));
    };
    const eachUsersFactors = 'USE TEMP B-TREE FOR LAST 2 TERMS OF ORDER BY';
    try {
      // Each listing's first page, and a page after it (keyset paging: on from the last row's key).
      // Users by realm and name: one index on the key they are listed by (a realm's users are a
      // range of it); one user by the user id's own.
      const after = `corp ${userid(1).replace('@', ' ')}`;
      const users = plan(listingQueries.users({}));
      expect(users[0]).toBe('SCAN u USING INDEX users_listing');
      expect(unindexed(users)).toEqual([]);
      const nextUsers = plan(listingQueries.users({}, { listing_key: after }));
      expect(nextUsers[0]).toBe('SEARCH u USING INDEX users_listing (<expr>>?)');
      expect(unindexed(nextUsers)).toEqual([]);
      const usersOfRealm = plan(listingQueries.users({ realm: 'corp' }, { listing_key: after }));
      expect(usersOfRealm[0]).toBe('SEARCH u USING INDEX users_listing (<expr>>? AND <expr><?)');
      expect(unindexed(usersOfRealm)).toEqual([]);
      const factors = plan(listingQueries.usersWithFactors({}, after));
      expect(factors.slice(0, 4)).toEqual(['CO-ROUTINE u', 'SEARCH u USING INDEX users_listing (<expr>>?)', 'SCAN u', 'SEARCH f USING INDEX factors_userid (userid=?) LEFT-JOIN']);
      expect(unindexed(factors)).toEqual([eachUsersFactors]);
      const factorsOfRealm = plan(listingQueries.usersWithFactors({ realm: 'corp' }, after));
      expect(factorsOfRealm[1]).toBe('SEARCH u USING INDEX users_listing (<expr>>? AND <expr><?)');
      expect(unindexed(factorsOfRealm)).toEqual([eachUsersFactors]);
      expect(plan(listingQueries.usersWithFactors({ userid: userid(1) }))[1]).toBe('SEARCH u USING INDEX sqlite_autoindex_users_1 (userid=?)');
      expect(unindexed(plan(listingQueries.totpFactors('root@local', { userid: userid(1), created: 0, rowid: 1 })))).toEqual([eachUsersFactors]);
      // The trail is the table in id order, between the bounds found when the listing began; a
      // user's entries come through both of its indexes, merged in id order.
      expect(plan(listingQueries.audit({}, 100, 5000))).toEqual(['SEARCH audit USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)']);
      expect(plan(listingQueries.audit({ user: userid(1), since: 1 }, 100, 5000))).toEqual([
        'MERGE (UNION)',
        'LEFT',
        'SEARCH audit USING INDEX audit_actor (actor=? AND rowid>? AND rowid<?)',
        'RIGHT',
        'SEARCH audit USING INDEX audit_target (target=? AND rowid>? AND rowid<?)',
      ]);
      expect(unindexed(plan(listingQueries.auditBounds({ user: userid(1), limit: 100 })))).toEqual([]);
      // The newest 100 of the whole trail: the table backwards in id order, 100 rows of it, never sorted.
      const newest = plan(listingQueries.auditBounds({ limit: 100 }));
      expect(newest).toEqual(expect.arrayContaining(['CO-ROUTINE latest', 'SCAN audit']));
      expect(newest.filter((l) => /TEMP B-TREE/.test(l))).toEqual([]);
    } finally {
      db.close();
    }
  });
});

describe('user import of a big file', () => {
  it(`holds its results, not its input: 12 MiB of rows in a heap of ${HEAP_MIB} MiB`, async () => {
    // 120 rows, each with a comment of 100 KiB (too long: the row fails with a short error).
    const csv = join(store.dir, 'long-comments.csv');
    writeFileSync(csv, `userid,comment\n${Array.from({ length: 120 }, (_, i) => `long${i},${'c'.repeat(100 * 1024)}`).join('\n')}\n`);
    const r = await store.run(['user', 'import', csv, '--json'], capped);
    expect(r.timedOut).toBe(false);
    expect(r.code, r.stderr).toBe(2);
    const { error, result } = r.json();
    expect(error.code).toBe('import_incomplete');
    expect(result).toMatchObject({ created: 0, failed: 120 });
    expect(result.results[119].error).toMatch(/^line 121: invalid comment: at most 256 characters/);
  }, 120_000);
});

describe('Ctrl-C or SIGTERM half-way through a long read', () => {
  const lastAudit = () => store.query('SELECT action, outcome FROM audit ORDER BY id DESC LIMIT 1')[0];
  /** tfactl with ARGS on the big store, its output gathered, to be signalled once `ready` says so. */
  function started(args: readonly string[]) {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...store.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const closed = new Promise<number | null>((r) => child.on('close', r));
    return {
      child,
      closed,
      stdout: () => stdout,
      stderr: () => stderr,
      async when(ready: () => boolean) {
        for (const begun = Date.now(); !ready(); ) {
          if (Date.now() - begun > 60_000) throw new Error(`never ready: ${stderr}`);
          await new Promise((r) => setTimeout(r, 2));
        }
      },
    };
  }

  it('ends a --json listing as one document that says it was cancelled (exit 130), with what was read', async () => {
    const full = (await ok(['tfa', 'list', '--json'])).stdout;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const run = started(['tfa', 'list', '--json']);
      await run.when(() => run.stdout().length > 0);
      run.child.kill(signal);
      expect(await run.closed, run.stderr()).toBe(130);
      const envelope = JSON.parse(run.stdout());
      expect(envelope).toMatchObject({ ok: false, error: { code: 'cancelled', message: 'interrupted' } });
      // Users with what they have, listed up to where the signal came: some, never all.
      expect(envelope.result.length).toBeGreaterThan(0);
      expect(envelope.result.length).toBeLessThan(ALL_USERS);
      expect(run.stdout().length).toBeLessThan(full.length);
      expect(run.stderr()).toBe('error: interrupted\n');
    }
  }, 120_000);

  it('takes back an export to a file or a directory: nothing of it is left', async () => {
    // The export is written beside its name (`.NAME.partial-…`) and renamed onto it once whole.
    const staging = (name: string) => readdirSync(store.dir).find((n) => n.startsWith(`.${name}.partial-`));
    const halfWritten = (name: string) => {
      const at = staging(name);
      return at !== undefined && (statSync(join(store.dir, at), { throwIfNoEntry: false })?.size ?? 0) > 64 * 1024;
    };
    const file = join(store.dir, 'cut-short.csv');
    const toFile = started(['export', 'totp', '--output', file]);
    await toFile.when(() => halfWritten('cut-short.csv'));
    // SIGHUP, as from an SSH session that went away, is heard as SIGTERM is.
    toFile.child.kill('SIGHUP');
    expect(await toFile.closed, toFile.stderr()).toBe(130);
    expect(existsSync(file)).toBe(false);
    expect(toFile.stderr().trimEnd().split('\n').at(-1)).toBe(`error: interrupted: nothing was kept at ${file}`);
    expect(staging('cut-short.csv')).toBeUndefined();

    // Killed outright (SIGKILL) half-way: the name is left empty, never part of the secrets in a
    // file that looks whole; the next export to it says the name is taken.
    const killed = join(store.dir, 'killed.csv');
    const toKilled = started(['export', 'totp', '--output', killed]);
    await toKilled.when(() => halfWritten('killed.csv'));
    toKilled.child.kill('SIGKILL');
    await toKilled.closed;
    expect(statSync(killed).size).toBe(0);
    rmSync(killed);
    // The next export to the name clears what the killed one left beside it.
    expect((await ok(['export', 'totp', '--output', killed])).code).toBe(0);
    expect(staging('killed.csv')).toBeUndefined();
    expect(readFileSync(killed, 'utf8').split('\n').length).toBe(TOTP_USERS + 2);
    rmSync(killed);

    const dir = join(store.dir, 'cut-short-qr');
    const toDir = started(['export', 'totp', '--format', 'png-dir', '--output', dir, '--json']);
    await toDir.when(() => existsSync(dir) && readdirSync(dir).length > 2);
    toDir.child.kill('SIGINT');
    expect(await toDir.closed, toDir.stderr()).toBe(130);
    expect(existsSync(dir)).toBe(false);
    // The warning said before the interruption stays in the failure's envelope.
    expect(JSON.parse(toDir.stdout())).toEqual({
      ok: false,
      error: { code: 'cancelled', message: `interrupted: nothing was kept at ${dir}` },
      warnings: ['this export holds TOTP secrets in plain text: move it to the new system and delete it'],
    });
    expect(lastAudit()).toEqual({ action: 'export.totp', outcome: 'failed' });
  }, 120_000);

  it('stops a restore before it replaces anything, and a dry run, and says so', async () => {
    const backup = join(store.dir, 'big-backup.db');
    await ok(['backup', backup]);
    const entries = () => (store.query('SELECT count(*) AS n FROM audit')[0] as { n: number }).n;
    const before = entries();
    // Once the backup has been read whole (a read of its size: the store's own pages and the
    // bundle are a few MB, the backup tens), it is being checked: the signal comes there.
    const size = statSync(backup).size;
    const readSoFar = (pid: number | undefined) => {
      try {
        return Number(/rchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
      } catch {
        return Number.POSITIVE_INFINITY;
      }
    };
    for (const [args, message] of [
      [['--dry-run'], 'interrupted'],
      [['--yes'], `interrupted: nothing was restored from ${backup}`],
    ] as const) {
      const run = started(['restore', backup, ...args, '--json']);
      await run.when(() => readSoFar(run.child.pid) > size);
      run.child.kill('SIGINT');
      expect(await run.closed, run.stderr()).toBe(130);
      expect(JSON.parse(run.stdout())).toEqual({ ok: false, error: { code: 'cancelled', message }, warnings: [] });
    }
    // Nothing replaced, nothing audited: the backup's own entry is the last.
    expect(entries()).toBe(before);
    expect(lastAudit()).toEqual({ action: 'store.backup', outcome: 'ok' });
  }, 180_000);
});
