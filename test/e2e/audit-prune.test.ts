import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { oneLineError, startServe, storeFactory, TempStore } from './harness.js';

/**
 * `tfactl audit prune` through the binary, on the run's backend: old entries made by running
 * tfactl under faketime, a trail of thousands (several batches) written as setup.
 */
const PW = 'admin password 1';
const store = new TempStore();
const newStore = storeFactory();
type Entry = { id: number; time: string; actor: string | null; action: string; target: string | null; outcome: string; detail: Record<string, unknown> | null };
const trail = () => store.read<Entry[]>(['audit', '--all']);
const past = (offset: string, args: string[]) => store.run(args, { prefix: ['faketime', '-f', offset] });

beforeAll(async () => {
  expect((await store.run(['init'])).code).toBe(0);
  await store.addUser('ops', PW, ['--admin']);
  for (const [offset, realm] of [['-400d', 'r400'], ['-40d', 'r40'], ['-2d', 'r2']] as const) expect((await past(offset, ['realm', 'add', realm])).code).toBe(0);
});
afterAll(() => store.remove());

describe('tfactl audit prune', () => {
  it('asks for --yes without a terminal, and without it changes nothing', async () => {
    const before = trail();
    const r = await store.run(['audit', 'prune', '--keep-days', '30', '--json']);
    expect({ code: r.code, error: r.json().error.code }).toEqual({ code: 2, error: 'confirm' });
    expect(oneLineError(r)).toMatch(/^error: this removes the audit entries from before \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ for good \(a backup keeps them\): confirm with --yes$/);
    expect(trail()).toEqual(before);
    // Asked for first, whatever the trail holds: nothing that old (a cron line's first quiet day),
    // or no store at all (as restore asks).
    const quiet = await store.run(['audit', 'prune', '--before', '1971-01-01', '--json']);
    expect({ code: quiet.code, error: quiet.json().error.code }).toEqual({ code: 2, error: 'confirm' });
    const none = await store.run(['audit', 'prune', '--keep-days', '30', '--json'], { env: { TFACTL_DB: `${store.dir}/nothing-here.db` } });
    expect({ code: none.code, error: none.json().error.code }).toEqual({ code: 2, error: 'confirm' });
  });

  it('says in a dry run how many would go, and removes none', async () => {
    const before = trail();
    const r = await store.run(['audit', 'prune', '--keep-days', '30', '--dry-run', '--json']);
    expect(r.code).toBe(0);
    expect(r.json().result).toEqual({ before: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), entries: 2, dryRun: true });
    const text = await store.run(['audit', 'prune', '--keep-days', '30', '--dry-run']);
    expect(text.stdout).toMatch(/^would remove 2 audit entries from before \S+ \S+ \(dry run: nothing removed\)\n$/);
    expect(trail()).toEqual(before);
  });

  it('removes the entries older than N days, and says so in an entry of its own', async () => {
    const r = await store.run(['audit', 'prune', '--keep-days', '100', '--yes', '--json']);
    expect(r.code).toBe(0);
    const { before, entries } = r.json().result as { before: string; entries: number };
    expect(entries).toBe(1);
    // 100 days of 24 hours before now, to the second.
    expect(Math.abs(Date.parse(before) - (Date.now() - 100 * 86_400_000))).toBeLessThan(60_000);
    const left = trail();
    expect(left.map((e) => e.target)).not.toContain('r400');
    expect(left.map((e) => e.target)).toEqual(expect.arrayContaining(['r40', 'r2']));
    expect(left.at(-1)).toMatchObject({ actor: 'root@local', action: 'audit.prune', outcome: 'ok', detail: { before, entries: 1 } });
    // Nothing older is left: said, and nothing written.
    const again = await store.run(['audit', 'prune', '--keep-days', '100', '--yes']);
    expect(again.stdout).toMatch(/^no audit entries from before \S+ \S+: nothing removed\n$/);
    expect(trail()).toEqual(left);
  });

  it('removes the entries from before a day', async () => {
    const day = new Date(Date.now() - 10 * 86_400_000).toISOString().slice(0, 10);
    const r = await store.run(['audit', 'prune', '--before', day, '--yes']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: `removed 1 audit entry from before ${day} 00:00:00Z\n` });
    const left = trail();
    expect(left.map((e) => e.target)).not.toContain('r40');
    expect(left.map((e) => e.target)).toContain('r2');
    expect(left.at(-1)).toMatchObject({ action: 'audit.prune', detail: { before: `${day}T00:00:00Z`, entries: 1 } });
  });

  it('is root@local\'s alone: an admin is refused, audited, and nothing goes; a dry run an admin may', async () => {
    const before = trail().length;
    const admin = await store.runAs('ops', PW, ['audit', 'prune', '--keep-days', '1', '--yes', '--json']);
    expect({ code: admin.code, error: admin.json().error }).toEqual({
      code: 4,
      error: { code: 'permission_denied', message: 'only root@local may remove audit entries: the trail is the record of what admins did' },
    });
    const after = trail();
    // The refusal is audited (after the sign-in), and nothing else changed.
    expect(after.length).toBeGreaterThan(before);
    expect(after.at(-1)).toMatchObject({ actor: 'ops@local', action: 'audit.prune', outcome: 'refused' });
    expect(after.filter((e) => e.target === 'r2')).toHaveLength(1);
    // Without --yes too: refused for who they are, not first told to add it.
    const noYes = await store.runAs('ops', PW, ['audit', 'prune', '--keep-days', '1', '--json']);
    expect({ code: noYes.code, error: noYes.json().error.code }).toEqual({ code: 4, error: 'permission_denied' });
    // A dry run only counts: an admin, who reads the whole trail, may.
    const counted = await store.runAs('ops', PW, ['audit', 'prune', '--keep-days', '1', '--dry-run', '--json']);
    expect({ code: counted.code, result: counted.json().result }).toEqual({ code: 0, result: { before: expect.any(String), entries: 1, dryRun: true } });
    expect(trail().filter((e) => e.target === 'r2')).toHaveLength(1);
  });

  it('refuses bad input with one line and exit 2, changing nothing', async () => {
    const before = trail();
    const cases: [string[], string, RegExp][] = [
      [['--yes'], 'usage', /^error: say which entries go: --before YYYY-MM-DD or --keep-days N, or set audit.keep-days/],
      // audit.keep-days unset: that comes first, not advice to add a --yes that would not do.
      [[], 'usage', /^error: say which entries go: --before YYYY-MM-DD or --keep-days N, or set audit.keep-days/],
      [['--before', '2020-01-01', '--keep-days', '5'], 'conflicting_options', /^error: give --before or --keep-days, not both$/],
      [['--keep-days', '0'], 'invalid_number', /--keep-days/],
      [['--keep-days', 'ten'], 'invalid_number', /--keep-days/],
      [['--keep-days', '36501'], 'invalid_number', /--keep-days/],
      [['--before', '2020-02-30'], 'invalid_date', /^error: invalid --before date "2020-02-30": there is no such day in that month$/],
      [['--before', 'yesterday'], 'invalid_date', /expected a date as YYYY-MM-DD/],
      [['--before', '2999-01-01'], 'invalid_date', /^error: --before 2999-01-01 is after today \(\d{4}-\d\d-\d\d\): that would remove entries not yet written$/],
      [['--keep-days', '5', '--dry-run', '--yes'], 'conflicting_options', /--yes/],
    ];
    for (const [args, code, message] of cases) {
      const r = await store.run(['audit', 'prune', ...args, '--json']);
      expect({ args, code: r.code, error: r.json().error.code }).toEqual({ args, code: 2, error: code });
      expect(oneLineError(await store.run(['audit', 'prune', ...args]))).toMatch(message);
    }
    expect(trail()).toEqual(before);
  });

  it('prunes a trail of thousands in batches, every old entry and no other', async () => {
    // 12,001 entries from 1970 (three batches of 5,000 and one more), written as a restore of an old trail would merge them.
    store.tamper(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12001) INSERT INTO audit (ts, actor, action, target, outcome) SELECT i, 'root@local', 'old.bulk', NULL, 'ok' FROM n",
    );
    const kept = trail().filter((e) => e.action !== 'old.bulk');
    const r = await store.run(['audit', 'prune', '--before', '1971-01-01', '--yes', '--json']);
    expect(r.code).toBe(0);
    expect(r.json().result).toEqual({ before: '1971-01-01T00:00:00Z', entries: 12_001, dryRun: false });
    const left = trail();
    expect(left.slice(0, -1)).toEqual(kept);
    expect(left.at(-1)).toMatchObject({ action: 'audit.prune', detail: { before: '1971-01-01T00:00:00Z', entries: 12_001 } });
  });

  it('keeps what audit.keep-days says when given neither --before nor --keep-days', async () => {
    const other = newStore();
    expect((await other.run(['init'])).code).toBe(0);
    expect((await other.run(['realm', 'add', 'r50'], { prefix: ['faketime', '-f', '-50d'] })).code).toBe(0);
    const unset = await other.run(['audit', 'prune', '--yes']);
    expect({ code: unset.code, error: oneLineError(unset) }).toEqual({
      code: 2,
      error: 'error: say which entries go: --before YYYY-MM-DD or --keep-days N, or set audit.keep-days (tfactl settings set audit.keep-days 365)',
    });
    for (const bad of ['0', '-1', 'a year', '36501']) {
      const r = await other.run(['settings', 'set', 'audit.keep-days', bad, '--json']);
      expect({ bad, code: r.code, error: r.json().error }).toEqual({ bad, code: 2, error: { code: 'invalid_setting', message: `invalid audit.keep-days "${bad}": expected a whole number from 1 to 36500` } });
    }
    expect((await other.run(['settings', 'set', 'audit.keep-days', '7'])).code).toBe(0);
    expect((await other.run(['settings', 'unset', 'audit.keep-days'])).stdout).toBe('unset audit.keep-days: its default applies (empty)\n');
    expect((await other.run(['settings', 'set', 'audit.keep-days', '30'])).code).toBe(0);
    // Set, it is what --yes is asked for without a terminal: from the day it names.
    const noYes = await other.run(['audit', 'prune']);
    expect({ code: noYes.code, error: oneLineError(noYes) }).toEqual({
      code: 2,
      error: expect.stringMatching(/^error: this removes the audit entries from before \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ for good \(a backup keeps them\): confirm with --yes$/),
    });
    const r = await other.run(['audit', 'prune', '--yes', '--json']);
    expect({ code: r.code, entries: r.json().result.entries }).toEqual({ code: 0, entries: 1 });
    const last = other.read<Entry[]>(['audit', '--all']).at(-1);
    expect(last).toMatchObject({ action: 'audit.prune', detail: { entries: 1, keepDays: 30, setting: 'audit.keep-days' } });
  });

  it('is kept by tfactl serve as it starts (and every hour) when audit.keep-days is set', async () => {
    const other = newStore();
    expect((await other.run(['init'])).code).toBe(0);
    expect((await other.run(['realm', 'add', 'r50'], { prefix: ['faketime', '-f', '-50d'] })).code).toBe(0);
    expect((await other.run(['realm', 'add', 'r5'], { prefix: ['faketime', '-f', '-5d'] })).code).toBe(0);
    expect((await other.run(['settings', 'set', 'audit.keep-days', '30'])).code).toBe(0);
    const { child, log } = await startServe(join(other.dir, 'serve.sock'), other.env);
    try {
      for (let i = 0; i < 100 && !log().includes('"audit":"pruned"'); i++) await new Promise((r) => setTimeout(r, 50));
      const line = log().split('\n').find((l) => l.includes('"audit":"pruned"'));
      expect(JSON.parse(line ?? '{}')).toMatchObject({ audit: 'pruned', entries: 1, keepDays: 30 });
      const targets = other.read<Entry[]>(['audit', '--all']).map((e) => e.target);
      expect(targets).not.toContain('r50');
      expect(targets).toContain('r5');
      expect(other.read<Entry[]>(['audit', '--all']).at(-1)).toMatchObject({ actor: 'root@local', action: 'audit.prune', detail: { entries: 1, keepDays: 30, by: 'tfactl serve' } });
    } finally {
      const exited = new Promise<number | null>((done) => child.on('exit', done));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('is undone by a restore of a backup from before it: the entries back where they were, and said', async () => {
    const other = newStore();
    expect((await other.run(['init'])).code).toBe(0);
    expect((await other.run(['realm', 'add', 'r50'], { prefix: ['faketime', '-f', '-50d'] })).code).toBe(0);
    expect((await other.run(['realm', 'add', 'r5'], { prefix: ['faketime', '-f', '-5d'] })).code).toBe(0);
    const file = join(other.dir, 'before-prune.backup');
    expect((await other.run(['backup', file])).code).toBe(0);
    const before = other.read<Entry[]>(['audit', '--all']);
    expect((await other.run(['audit', 'prune', '--keep-days', '30', '--yes'])).code).toBe(0);
    const dry = await other.run(['restore', file, '--dry-run', '--json']);
    expect({ code: dry.code, auditEntries: dry.json().result.auditEntries }).toEqual({ code: 0, auditEntries: 1 });
    expect((await other.run(['restore', file, '--dry-run'])).stdout).toMatch(/\(\d+ users; 1 audit entry only the backup has would be added to the trail\); nothing was changed\n$/);
    const r = await other.run(['restore', file, '--yes', '--json']);
    expect({ code: r.code, auditEntries: r.json().result.auditEntries }).toEqual({ code: 0, auditEntries: 1 });
    const after = other.read<Entry[]>(['audit', '--all']);
    // The pruned entry has its own id again, so the trail lists in time order, and the newest
    // entries are the prune and the restore, not the entry brought back.
    const back = after.find((e) => e.target === 'r50');
    expect(back).toEqual(before.find((e) => e.target === 'r50'));
    expect(after.slice(0, before.length)).toEqual(before);
    expect(other.read<Entry[]>(['audit', '--limit', '2']).map((e) => e.action)).toEqual(['audit.prune', 'store.restore']);
    expect(after.at(-1)).toMatchObject({ action: 'store.restore', detail: { auditEntries: 1 } });
    // Restored again, nothing is missing: nothing added, nothing said.
    const again = await other.run(['restore', file, '--yes']);
    expect(again.stdout).toMatch(/\(\d+ users\)\n$/);
  });

  it('is `tfactl audit` beside `tfactl audit list`, which lists as before', async () => {
    const [bare, listed] = await Promise.all([store.run(['audit', '--limit', '3', '--json']), store.run(['audit', 'list', '--limit', '3', '--json'])]);
    expect(bare.code).toBe(0);
    expect(bare.json().result).toEqual(listed.json().result);
    expect(bare.json().result).toHaveLength(3);
    // Its help shows the filters it takes, list's, and its commands.
    const help = (await store.run(['audit', '--help'])).stdout;
    for (const option of ['--user <userid>', '--since <date>', '--until <date>', '--limit <n>', '--all', '--action <action>', '--outcome <outcome>', '--wide']) expect(help).toContain(`\n  ${option} `);
    expect(help).toMatch(/^ {2}prune \[options\] /m);
    const unknown = await store.run(['audit', 'purge']);
    expect({ code: unknown.code, error: oneLineError(unknown) }).toEqual({ code: 2, error: "error: unknown command 'audit purge' (Did you mean audit prune?)" });
  });
});
