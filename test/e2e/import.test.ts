import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkJsonOutput } from '../schemas.js';
import { BACKEND, BIN, oathtool, oneLineError, TempStore, withFullDisk } from './harness.js';

const store = new TempStore();
/** The user ids `user list` shows that start with `prefix`, in order. */
const usersStartingWith = (prefix: string) => store.read<{ userid: string }[]>(['user', 'list']).map((u) => u.userid).filter((u) => u.startsWith(prefix));
/** How many users of `prefix` there are, polled while an import runs: 0 while the store is busy. */
const countStartingWith = (prefix: string) => {
  try {
    return usersStartingWith(prefix).length;
  } catch {
    return 0;
  }
};
afterAll(() => store.remove());
beforeAll(async () => {
  await store.run(['init']);
  await store.run(['realm', 'add', 'corp']);
});

function file(name: string, text: string): string {
  const path = join(store.dir, name);
  writeFileSync(path, text);
  return path;
}

const login = (userid: string, password: string, code?: string) => store.login(userid, password, code);

describe('user import', () => {
  it('creates users with passwords, TOTP and recovery keys, handing out secrets with --json', async () => {
    const csv = file(
      'a.csv',
      'userid,password,admin,email,comment,expire,tfa\n' +
        'ima,ima password 1,false,ima@example.org,"Ima, from CSV",2099-12-31,totp+recovery\n' +
        'jon@corp,jon password 1,true,,,,totp:JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n' +
        'kim,,,,,,\n',
    );
    const r = await store.run(['user', 'import', csv, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { result } = r.json();
    expect(result).toMatchObject({ created: 3, updated: 0, skipped: 0, failed: 0 });
    const ima = result.results.find((x: { userid: string }) => x.userid === 'ima@local');
    expect(ima.recoveryKeys).toHaveLength(10);
    expect(ima.totp.uri).toContain(ima.totp.secret);
    const signIn = await login('ima', 'ima password 1', oathtool(ima.totp.secret));
    expect(signIn.code, signIn.stderr).toBe(0);
    expect((await login('jon@corp', 'jon password 1', oathtool('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'))).code).toBe(0);
    const shown = await store.run(['user', 'show', 'ima', '--json']);
    expect(shown.json().result).toMatchObject({ email: 'ima@example.org', comment: 'Ima, from CSV', expire: '2099-12-31' });
  });

  it('is idempotent: existing users are skipped, or updated with --update', async () => {
    const csv = file('b.csv', 'userid,password,comment\nkim,kim password 1,now with a password\nlee,lee password 1,\n');
    const first = await store.run(['user', 'import', csv, '--json']);
    expect(first.json().result).toMatchObject({ created: 1, skipped: 1 });
    expect((await login('kim', 'kim password 1')).code).toBe(5);
    const updated = await store.run(['user', 'import', csv, '--update', '--json']);
    expect(updated.json().result).toMatchObject({ created: 0, updated: 2 });
    expect((await login('kim', 'kim password 1')).code).toBe(0);
  });

  it('names the rows it skipped and why: the first 10 under the counts, every one with --json', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `sk${i}`);
    const csv = file('skip.csv', `userid,password,comment\n${names.map((n) => `${n},${n} password 1,x`).join('\n')}\n`);
    expect((await store.run(['user', 'import', csv])).code).toBe(0);
    const again = await store.run(['user', 'import', csv]);
    expect(again.code).toBe(0);
    const lines = again.stdout.split('\n');
    expect(lines[0]).toBe('0 created, 0 updated, 12 skipped, 0 failed');
    expect(lines.slice(1, 11)).toEqual(names.slice(0, 10).map((n, i) => `  line ${i + 2}: ${n}@local skipped: the user exists (--update changes existing users)`));
    expect(lines[11]).toBe('  and 2 more skipped (--json and --results list every row)');
    const json = (await store.run(['user', 'import', csv, '--json'])).json().result.results as { status: string; error: string }[];
    expect(json.map((r) => [r.status, r.error])).toEqual(names.map(() => ['skipped', 'the user exists (--update changes existing users)']));
    const unchanged = (await store.run(['user', 'import', file('same.csv', 'userid,comment\nsk0,x\n'), '--update', '--json'])).json().result.results;
    expect(unchanged).toMatchObject([{ status: 'skipped', error: 'the user has what the row says already' }]);
  });

  it('reports bad rows by line, imports the rest, and exits 2', async () => {
    const csv = file('c.csv', 'userid,password\nmo,mo password 1\nbad user,whatever1\nnia,short\nodo@nowhere,odo password 1\npia,pia password 1\n');
    const r = await store.run(['user', 'import', csv, '--json']);
    expect(r.code).toBe(2);
    // One envelope: ok false, and every row's result under `result`, where a success puts it.
    const { ok, error, result } = r.json();
    expect(ok).toBe(false);
    expect(error.code).toBe('import_incomplete');
    expect(result).toMatchObject({ created: 2, failed: 3 });
    expect(result.results.filter((x: { status: string }) => x.status === 'failed').map((x: { error: string }) => x.error.slice(0, 7))).toEqual([
      'line 3:',
      'line 4:',
      'line 5:',
    ]);
    expect(r.stderr).toContain('3 rows could not be imported');
    const human = await store.run(['user', 'import', csv]);
    expect(human.stdout).toMatch(/0 created, 0 updated, 2 skipped, 3 failed/);
  });

  it('imports nothing with --atomic when any row is bad', async () => {
    const before = store.snapshot();
    const csv = file('d.csv', 'userid,password\nqua,qua password 1\nbad user,x\n');
    const r = await store.run(['user', 'import', csv, '--atomic', '--json']);
    expect(r.code).toBe(2);
    expect(r.json().result.created).toBe(0);
    expect(store.snapshot()).toBe(before);
    const good = file('e.csv', 'userid,password\nqua,qua password 1\nrex,rex password 1\n');
    const ok = await store.run(['user', 'import', good, '--atomic', '--json']);
    expect(ok.json().result.created).toBe(2);
  });

  it('reads JSON Lines from standard input', async () => {
    const r = await store.run(['user', 'import', '-', '--json'], { input: '{"userid":"sue","password":"sue password 1","tfa":"recovery"}\n{"userid":"tim"}\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.created).toBe(2);
  });

  it('refuses a file with unknown columns whole (exit 2) and changes nothing', async () => {
    const before = store.snapshot();
    const r = await store.run(['user', 'import', file('f.csv', 'userid,shoe\numa,42\n')]);
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toContain('unknown column "shoe"');
    expect(store.snapshot()).toBe(before);
  });

  it('never repeats a password that stands where a user id or column name goes', async () => {
    const before = store.snapshot();
    for (const [name, text] of [
      ['in-userid.csv', 'userid,password\nPw:Leak1Secret99,erin\n'],
      ['shifted.csv', 'password,userid\nPwLeak2,Secret99x,frank\n'],
      ['no-header.csv', 'admin,PwLeak15Secret,totp\n'],
    ]) {
      const dry = await store.run(['user', 'import', file(name!, text!), '--dry-run', '--json']);
      expect(dry.code, name).toBe(2);
      expect(dry.stdout + dry.stderr, name).not.toMatch(/leak|secret99/i);
      const results = join(store.dir, `${name}.results`);
      const real = await store.run(['user', 'import', file(name!, text!), '--results', results]);
      expect(real.code, name).toBe(2);
      expect(real.stdout + real.stderr + (name === 'no-header.csv' ? '' : readFileSync(results, 'utf8')), name).not.toMatch(/leak|secret99/i);
    }
    expect(store.snapshot()).toBe(before);
  });

  it('refuses a file whose quoting breaks after good rows, importing none of them', async () => {
    const before = store.snapshot();
    const r = await store.run(['user', 'import', file('late.csv', 'userid,comment\nlate1,fine\nlate2,fine\nlate3,"never closed\n'), '--json']);
    expect(r.code).toBe(2);
    expect(r.json().error).toEqual({ code: 'invalid_import', message: 'CSV line 4: a quoted field is never closed' });
    expect(oneLineError(r)).toBe('error: CSV line 4: a quoted field is never closed');
    expect(store.snapshot()).toBe(before);
  });

  it('stops reading standard input at a line that refuses it, keeping the rows before it and their secrets', async () => {
    const lines = '{"userid":"std1","tfa":"totp"}\n{"userid":"std2"}\n{"userid":"std3","shoe":"42"}\n{"userid":"std4"}\n';
    const atomic = await store.run(['user', 'import', '-', '--atomic', '--json'], { input: lines });
    expect(atomic.code).toBe(2);
    expect(atomic.json().error.message).toBe('line 3: unknown column "shoe" (known: userid, password, admin, email, comment, expire, tfa)');
    expect(usersStartingWith('std')).toEqual([]);
    const r = await store.run(['user', 'import', '-', '--json'], { input: lines });
    expect(r.code).toBe(2);
    const { ok, error, result } = r.json();
    expect(ok).toBe(false);
    expect(error.code).toBe('invalid_import');
    expect(error.message).toMatch(/^line 3: unknown column "shoe" .*\(the 2 rows before it went through as the results say: fix the input and run the same command again\)$/);
    expect(result).toMatchObject({ created: 2, failed: 0 });
    expect(result.results.map((x: { userid: string }) => x.userid)).toEqual(['std1@local', 'std2@local']);
    expect(result.results[0].totp.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(usersStartingWith('std')).toEqual(['std1@local', 'std2@local']);
    const human = await store.run(['user', 'import', '-'], { input: lines });
    expect(human.code).toBe(2);
    expect(human.stdout).toMatch(/^0 created, 0 updated, 2 skipped, 0 failed/);
    expect(oneLineError(human)).toMatch(/^error: line 3: unknown column "shoe"/);
  });

  it('leaves a consistent store when killed midway, and the same command completes it', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => `bulk${i},bulk password ${i},totp+recovery`).join('\n');
    const csv = file('bulk.csv', `userid,password,tfa\n${rows}\n`);
    // Its output to a pipe: to /dev/null, an import that makes secrets is refused.
    const child = spawn(process.execPath, [BIN, 'user', 'import', csv, '--json'], { env: { ...process.env, ...store.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    // Kill it once a few users are in: mid-import, with hashing and commits in flight.
    const count = () => countStartingWith('bulk');
    for (const started = Date.now(); count() < 3 && Date.now() - started < 30_000; ) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const partial = store
      .read<{ userid: string; factors: { type: string }[] }[]>(['tfa', 'list'])
      .filter((u) => u.userid.startsWith('bulk'))
      .map((u) => ({ userid: u.userid, totp: u.factors.filter((f) => f.type === 'totp').length, recovery: u.factors.filter((f) => f.type === 'recovery').length }));
    expect(partial.length).toBeGreaterThanOrEqual(3);
    expect(partial.length).toBeLessThan(40);
    for (const u of partial) expect([u.totp, u.recovery]).toEqual([1, 1]);
    const again = await store.run(['user', 'import', csv, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json().result).toMatchObject({ created: 40 - partial.length, skipped: partial.length });
    expect(usersStartingWith('bulk')).toHaveLength(40);
  }, 120_000);
});

describe("user import of a spreadsheet's export separated by ';' or tabs", () => {
  it.each([
    ['unquoted', 'userid;password;tfa\nsemi1;semi one password;recovery\n', "';'"],
    ['quoted, with a byte order mark and CR LF', '\ufeff"UserID";"Password";\r\n"semi2";"semi two password";\r\n', "';'"],
    ['quoted, separated by tabs', '"userid"\t"comment"\n"semi3"\t"x y"\n', 'tabs'],
  ])('%s: says what separates the columns (exit 2), nothing imported', async (_what, input, separator) => {
    const before = store.snapshot();
    const r = await store.run(['user', 'import', '-'], { input });
    expect(r.code, r.stderr).toBe(2);
    expect(oneLineError(r)).toBe(`error: line 1: the columns are separated by ${separator}: a CSV file separates them with commas (userid,password,tfa)`);
    expect(store.snapshot()).toBe(before);
  });

  it('a quoted header of unknown columns is still a quoting error, at its line', async () => {
    const r = await store.run(['user', 'import', '-'], { input: '"userid";"bogus"\n' });
    expect(r.code).toBe(2);
    expect(oneLineError(r)).toBe('error: CSV line 1: text after a closing quote');
  });
});

describe('user import --dry-run', () => {
  it('says what each row would do and changes nothing, audit trail included; the import then does just that', async () => {
    await store.addUser('dry-old', 'dry password 0', ['--comment', 'before']);
    const csv = file(
      'dry.csv',
      'userid,password,comment,tfa\n' +
        'dry-new,dry password 1,,totp+recovery\n' +
        'dry-old,,after,\n' +
        'dry-short,short,,\n' +
        'dry-new,,again,\n' +
        'dry-far@nowhere,,,\n',
    );
    const before = store.snapshot();
    const trail = store.auditRows().length;
    const dry = await store.run(['user', 'import', csv, '--update', '--dry-run', '--json']);
    expect(dry.code).toBe(2);
    checkJsonOutput(['user', 'import'], dry.stdout);
    const { error, result } = dry.json();
    expect(error).toEqual({
      code: 'import_incomplete',
      message: '3 rows would fail (the first: line 4: password rejected: it must be 8 to 256 characters long (it has 5); see the results; nothing was changed)',
    });
    expect(result).toMatchObject({ created: 1, updated: 1, skipped: 0, failed: 3, dryRun: true });
    expect(result.results.map((x: { status: string; error: string | null }) => [x.status, x.error?.replace(/:.*/, '') ?? null])).toEqual([
      ['created', null],
      ['updated', null],
      ['failed', 'line 4'],
      ['failed', 'line 5'],
      ['failed', 'line 6'],
    ]);
    // No secrets: none were made that would work.
    expect(result.results.every((x: { totp: unknown; recoveryKeys: unknown }) => x.totp === null && x.recoveryKeys === null)).toBe(true);
    expect(store.snapshot()).toBe(before);
    expect(store.auditRows()).toHaveLength(trail);

    const human = await store.run(['user', 'import', csv, '--update', '--dry-run']);
    expect(human.code).toBe(2);
    expect(human.stdout.split('\n')[0]).toBe('dry run: 1 would be created, 1 updated, 0 skipped, 3 would fail; nothing was changed');
    expect(oneLineError(human)).toMatch(/^error: 3 rows would fail \(the first: line 4: .*; see the results; nothing was changed\)$/);
    expect(store.snapshot()).toBe(before);

    const real = await store.run(['user', 'import', csv, '--update', '--json']);
    expect(real.code).toBe(2);
    const done = real.json().result;
    expect(done).toMatchObject({ created: 1, updated: 1, skipped: 0, failed: 3, dryRun: false });
    expect(done.results.map((x: { status: string; error: string | null }) => [x.status, x.error])).toEqual(
      result.results.map((x: { status: string; error: string | null }) => [x.status, x.error]),
    );
    expect(done.results[0].recoveryKeys).toHaveLength(10);
    expect(store.read<{ comment: string }>(['user', 'show', 'dry-old']).comment).toBe('after');
  });

  it('exits 0 when every row would go in, and writes no users a rerun would skip', async () => {
    const csv = file('dry-good.csv', 'userid,password\ndry-a,dry password 1\ndry-b,dry password 2\n');
    const dry = await store.run(['user', 'import', csv, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe('dry run: 2 would be created, 0 updated, 0 skipped, 0 would fail; nothing was changed\n');
    expect(usersStartingWith('dry-a')).toEqual([]);
    const real = await store.run(['user', 'import', csv]);
    expect(real.stdout).toBe('2 created, 0 updated, 0 skipped, 0 failed\n');
    expect((await login('dry-b', 'dry password 2')).code).toBe(0);
    const again = await store.run(['user', 'import', csv, '--dry-run']);
    expect(again.stdout.split('\n').slice(0, 2)).toEqual([
      'dry run: 0 would be created, 0 updated, 2 skipped, 0 would fail; nothing was changed',
      '  line 2: dry-a@local would be skipped: the user exists (--update changes existing users)',
    ]);
  });

  it('with --atomic says every row would fail when one would, and reads standard input too', async () => {
    const rows = '{"userid":"dry-c","password":"dry password 3"}\n{"userid":"bad@u"}\n';
    const dry = await store.run(['user', 'import', '-', '--atomic', '--dry-run', '--json'], { input: rows });
    expect(dry.code).toBe(2);
    // The error names the row that fails on its own, not one --atomic fails with it.
    expect(dry.json().error.message).toMatch(/^2 rows would fail \(the first: line 2: invalid user id "bad@u"/);
    expect(dry.json().result.results.map((x: { error: string }) => x.error)).toEqual([
      'line 1: would not be imported (--atomic, and another row would fail)',
      expect.stringMatching(/^line 2: /),
    ]);
    const fine = await store.run(['user', 'import', '-', '--atomic', '--dry-run', '--json'], { input: '{"userid":"dry-c","tfa":"recovery"}\n' });
    expect(fine.code, fine.stderr).toBe(0);
    expect(fine.json().result).toMatchObject({ created: 1, dryRun: true, results: [{ status: 'created', recoveryKeys: null }] });
    expect(usersStartingWith('dry-c')).toEqual([]);
  });

  it('is refused beside --results (exit 2, conflicting_options), which would hold no secrets', async () => {
    const results = join(store.dir, 'dry-results.jsonl');
    const r = await store.run(['user', 'import', file('dry-r.csv', 'userid\ndry-d\n'), '--dry-run', '--results', results, '--json']);
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe('conflicting_options');
    expect(() => readFileSync(results)).toThrow();
  });
});

describe('user import on a terminal', () => {
  it('shows a progress bar on a TTY and none in a pipe or with --json', async () => {
    const { spawnSync } = await import('node:child_process');
    const { resolve } = await import('node:path');
    const rows = Array.from({ length: 6 }, (_, i) => `tty${i},tty password ${i}`).join('\n');
    const csv = file('tty.csv', `userid,password\n${rows}\n`);
    const spec = {
      argv: [process.execPath, BIN, 'user', 'import', csv],
      env: { ...store.env, NO_COLOR: null },
      steps: [],
      timeout: 60,
    };
    const driver = resolve(import.meta.dirname, 'pty-driver.py');
    const r = JSON.parse(spawnSync('python3', [driver, JSON.stringify(spec)], { encoding: 'utf8' }).stdout);
    expect(r.status).toBe(0);
    expect(r.output).toMatch(/importing \[[^\]]*\] \d+\/6 users/);
    expect(r.output).toContain('6 created');
    const piped = await store.run(['user', 'import', csv]);
    expect(piped.stderr).not.toContain('importing [');
  });
});

describe('user import --update', () => {
  it('never drops a TOTP secret asked for by name: the same one again is kept, another fails its row', async () => {
    const first = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    expect((await store.run(['user', 'import', file('sec1.csv', `userid,tfa\ndex,totp:${first}\n`)])).code).toBe(0);
    const again = await store.run(['user', 'import', file('sec1.csv', `userid,tfa\ndex,totp:${first}\n`), '--update', '--json']);
    expect(again.code, again.stderr).toBe(0);
    // The row says what the user has: nothing changes, and it is counted skipped.
    expect(again.json().result.results[0]).toMatchObject({ status: 'skipped', totp: null });
    const other = await store.run(['user', 'import', file('sec2.csv', 'userid,email,tfa\ndex,dex@example.org,totp:GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n'), '--update', '--json']);
    expect(other.code).toBe(2);
    expect(other.json().result.results[0]).toMatchObject({
      status: 'failed',
      error: "line 2: dex@local already has a TOTP factor with another secret, so the one in this row was not added: delete it first (tfactl tfa delete dex@local --type totp), or leave the secret out",
    });
    // Nothing of the row went in, and the factor is the first secret's still.
    expect((await store.run(['user', 'show', 'dex', '--json'])).json().result.email).toBeNull();
    const exported = await store.run(['export', 'totp']);
    expect(exported.stdout).toContain(`dex@local,`);
    expect(exported.stdout).toContain(first);
    expect(exported.stdout).not.toContain('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  });

  it("counts a row that says again what the user has as skipped, writes nothing and audits nothing; takes 'never' for no expiry", async () => {
    const csv = file('same.csv', 'userid,email,comment,expire,admin\nsam,sam@example.org,same,2099-01-01,no\n');
    expect((await store.run(['user', 'import', csv])).code).toBe(0);
    const audited = (await store.run(['audit', '--all', '--json'])).json().result.length;
    const again = await store.run(['user', 'import', csv, '--update', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json().result).toMatchObject({ created: 0, updated: 0, skipped: 1, failed: 0 });
    // Only the import's own summary is audited, no user.modify of a row that changed nothing.
    const after = (await store.run(['audit', '--all', '--json'])).json().result as { action: string }[];
    expect(after.slice(audited).map((e) => e.action)).toEqual(['user.import']);
    const never = await store.run(['user', 'import', file('never.csv', 'userid,expire\nsam,never\nsyd,NEVER\n'), '--update', '--json']);
    expect(never.code, never.stderr).toBe(0);
    expect(never.json().result).toMatchObject({ created: 1, updated: 1, failed: 0 });
    expect((await store.run(['user', 'show', 'sam', '--json'])).json().result.expire).toBeNull();
  });

  it('changes only the fields the file has', async () => {
    await store.run(['user', 'add', 'vic', '--admin', '--no-password', '--email', 'vic@example.org', '--comment', 'keep me', '--expire', '2099-01-01']);
    const r = await store.run(['user', 'import', file('upd.csv', 'userid,password\nvic,vic password 1\n'), '--update', '--json']);
    expect(r.json().result.updated).toBe(1);
    const shown = (await store.run(['user', 'show', 'vic', '--json'])).json().result;
    expect(shown).toMatchObject({ admin: true, email: 'vic@example.org', comment: 'keep me', expire: '2099-01-01', password: true });
    const cleared = await store.run(['user', 'import', '-', '--update', '--json'], { input: '{"userid":"vic","comment":null}\n' });
    expect(cleared.code).toBe(0);
    expect((await store.run(['user', 'show', 'vic', '--json'])).json().result).toMatchObject({ comment: null, admin: true });
  });

  it('audits which fields each row changed, and what a created user was given, as user modify and user add do', async () => {
    const r = await store.run(['user', 'import', file('rights.csv', 'userid,password,admin,expire\nwes,wes password 1,true,2099-02-02\n')]);
    expect(r.code, r.stderr).toBe(0);
    // The last entries: the row's, then the import's own summary.
    const added = store.auditRows().at(-2)!;
    expect(added).toMatchObject({ action: 'user.add', target: 'wes@local' });
    expect(JSON.parse(added.detail!)).toEqual({ via: 'import', line: 2, admin: true, expire: '2099-02-02', password: true, totp: false, recovery: false });
    const u = await store.run(['user', 'import', file('demote.csv', 'userid,admin,expire\nwes,false,\n'), '--update']);
    expect(u.code, u.stderr).toBe(0);
    const changed = store.auditRows().at(-2)!;
    expect(changed).toMatchObject({ action: 'user.modify', target: 'wes@local' });
    expect(JSON.parse(changed.detail!)).toEqual({ via: 'import', line: 2, changed: ['admin', 'expire'], admin: false, password: false, totp: false, recovery: false });
  });

  it('prints the secrets already stored when interrupted, and the same command completes the rest', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => `int${i},int password ${i},totp`).join('\n');
    const csv = file('int.csv', `userid,password,tfa\n${rows}\n`);
    const child = spawn(process.execPath, [BIN, 'user', 'import', csv, '--json'], { env: { ...process.env, ...store.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const count = () => countStartingWith('int');
    for (const started = Date.now(); count() < 3 && Date.now() - started < 30_000; ) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGINT');
    const code = await new Promise((r) => child.on('close', r));
    expect(code).toBe(130);
    // One envelope that says it failed (cancelled), never ok:true with exit 130, and still every
    // row read so far under `result`, the secrets of the users created with them.
    const envelope = JSON.parse(out);
    expect(envelope).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    checkJsonOutput(['user', 'import', csv, '--json'], out);
    const results = envelope.result.results as { userid: string; status: string; totp?: { secret: string } }[];
    const created = results.filter((r) => r.status === 'created');
    expect(created.length).toBe(count());
    for (const r of created) expect(r.totp?.secret).toMatch(/^[A-Z2-7]{32}$/);
    const again = await store.run(['user', 'import', csv, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json().result.created).toBe(40 - created.length);
  }, 120_000);
});

describe('user import interrupted twice', () => {
  it('stops at once on the second signal and still prints the secrets of every user it created', async () => {
    // Long enough that it cannot end between the third user and the signals on a loaded machine.
    const ROWS = 120;
    const rows = Array.from({ length: ROWS }, (_, i) => `twice${i},twice password ${i},totp`).join('\n');
    const csv = file('twice.csv', `userid,password,tfa\n${rows}\n`);
    for (const json of [true, false]) {
      const child = spawn(process.execPath, [BIN, 'user', 'import', csv, ...(json ? ['--json'] : [])], { env: { ...process.env, ...store.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const before = countStartingWith('twice');
      for (const started = Date.now(); countStartingWith('twice') < before + 3 && Date.now() - started < 30_000; ) await new Promise((r) => setTimeout(r, 10));
      // Two signals (two kinds: two of one kind may arrive as one), the second before the users in flight are done.
      child.kill('SIGINT');
      child.kill('SIGTERM');
      expect(await new Promise((r) => child.on('close', r))).toBe(130);
      const message = /^interrupted again: stopped at once \(a user whose commit was under way may exist without its secrets shown \(--results FILE keeps them on disk\)\); run the same command again to import the rest$/;
      const inStore = usersStartingWith('twice');
      let shown: { userid: string; secret: string }[];
      if (json) {
        const envelope = JSON.parse(out);
        expect(envelope).toMatchObject({ ok: false, error: { code: 'cancelled', message: expect.stringMatching(message) } });
        checkJsonOutput(['user', 'import', csv, '--json'], out);
        shown = (envelope.result.results as { userid: string; status: string; totp?: { secret: string } }[])
          .filter((r) => r.status === 'created')
          .map((r) => ({ userid: r.userid, secret: r.totp?.secret as string }));
      } else {
        expect(out).toMatch(/^\d+ created, 0 updated, \d+ skipped, 0 failed\n( {2}(line \d+: \S+|and \d+ more) skipped.*\n)*\nUSER +TOTP SECRET +RECOVERY KEYS\n/);
        expect(err.trim().split('\n').at(-1)).toMatch(new RegExp(`^error: ${message.source.slice(1)}`));
        const table = out.split('\n');
        shown = table.slice(table.findIndex((l) => l.startsWith('USER ')) + 1).filter((l) => l !== '').map((l) => {
          const [userid, secret] = l.split(/ +/);
          return { userid: userid!, secret: secret! };
        });
      }
      for (const r of shown) {
        expect(r.secret).toMatch(/^[A-Z2-7]{32}$/);
        expect(inStore).toContain(r.userid);
      }
      // Every user this run created is shown (on PostgreSQL, one whose COMMIT was on the wire may not be: said so).
      const made = inStore.length - before;
      expect(shown.length).toBeGreaterThanOrEqual(3);
      expect(made - shown.length).toBeLessThanOrEqual(BACKEND === 'sqlite' ? 0 : 8);
      expect(made).toBeLessThan(ROWS);
    }
  }, 120_000);
});

describe('user import interrupted without passwords', () => {
  it('hears SIGTERM even when no row waits on argon2 (rows from standard input, none with a password)', async () => {
    const child = spawn(process.execPath, [BIN, 'user', 'import', '-', '--json'], { env: { ...process.env, ...store.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.on('error', () => undefined);
    child.stdin.end(`userid\n${Array.from({ length: 20_000 }, (_, i) => `fast${i}`).join('\n')}\n`);
    const count = () => countStartingWith('fast');
    for (const started = Date.now(); count() < 50 && Date.now() - started < 30_000; ) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGTERM');
    expect(await new Promise((r) => child.on('close', r))).toBe(130);
    const envelope = JSON.parse(out);
    expect(envelope).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    const created = (envelope.result.results as { status: string }[]).filter((r) => r.status === 'created').length;
    expect(created).toBe(count());
    expect(created).toBeLessThan(20_000);
  }, 120_000);
});

describe('user import --atomic interrupted', () => {
  it('imports nothing when interrupted before its commit, whatever rows were ready', async () => {
    const child = spawn(process.execPath, [BIN, 'user', 'import', '-', '--atomic', '--json'], { env: { ...process.env, ...store.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.on('error', () => undefined);
    // Rows ready to commit, then an input that has not ended yet.
    child.stdin.write(`userid,password,tfa\n${Array.from({ length: 20 }, (_, i) => `atom${i},atom password ${i},totp`).join('\n')}\n`);
    await new Promise((r) => setTimeout(r, 2_000));
    child.kill('SIGINT');
    expect(await new Promise((r) => child.on('close', r))).toBe(130);
    const envelope = JSON.parse(out);
    expect(envelope).toMatchObject({ ok: false, error: { code: 'cancelled', message: 'interrupted: nothing was imported (--atomic); run the same command again' } });
    expect((envelope.result.results as { status: string }[]).every((r) => r.status === 'failed')).toBe(true);
    expect(countStartingWith('atom')).toBe(0);
  }, 60_000);
});

describe('user import --results', () => {
  it('has every committed user\'s secrets on disk even when the import is killed outright', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => `res${i},res password ${i},totp`).join('\n');
    const csv = file('res.csv', `userid,password,tfa\n${rows}\n`);
    const results = join(store.dir, 'results.jsonl');
    const child = spawn(process.execPath, [BIN, 'user', 'import', csv, '--results', results], { env: { ...process.env, ...store.env }, stdio: 'ignore' });
    const count = () => countStartingWith('res');
    for (const started = Date.now(); count() < 3 && Date.now() - started < 30_000; ) await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const { readFileSync, statSync } = await import('node:fs');
    expect(statSync(results).mode & 0o777).toBe(0o600);
    const lines = readFileSync(results, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { userid: string; status: string; totp?: { secret: string } });
    const inStore = usersStartingWith('res');
    // Each user's secrets went to disk (a `pending` line) before it committed, so a kill between
    // a commit and its final line loses nothing: every user in the store has its secrets there.
    expect(inStore.length).toBeGreaterThanOrEqual(3);
    for (const userid of inStore) expect(lines.filter((l) => l.userid === userid).map((l) => l.status)).toContain('pending');
    for (const l of lines) {
      expect(['pending', 'created']).toContain(l.status);
      if (l.status === 'created') expect(inStore).toContain(l.userid);
      expect(l.totp?.secret).toMatch(/^[A-Z2-7]{32}$/);
    }
    // A final line has the secrets of its pending one.
    for (const l of lines.filter((l) => l.status === 'created')) expect(lines.find((p) => p.status === 'pending' && p.userid === l.userid)?.totp?.secret).toBe(l.totp?.secret);
  }, 120_000);

  it('on a disk that fills up keeps whole lines only, and still shows every created user\'s secrets (exit 6)', async () => {
    const rows = Array.from({ length: 60 }, (_, i) => `full${i},full password ${i},totp+recovery`).join('\n');
    const csv = file('full.csv', `userid,password,tfa\n${rows}\n`);
    await withFullDisk(
      async (dir) => {
        const results = join(dir, 'results.jsonl');
        const r = await store.run(['user', 'import', csv, '--results', results, '--json']);
        expect(r.code, r.stderr).toBe(6);
        const { error, result } = r.json();
        expect(error.code).toBe('file_error');
        expect(error.message).toMatch(new RegExp(`^cannot write ${results}: no space left on the device \\(ENOSPC\\) \\(the lines before are kept\\) \\(\\d+ users? (was|were) created or updated before it, as the results say: run the same command again once it is mended\\)$`));
        // Every user the store has was handed out with its secrets, and no other.
        const inStore = usersStartingWith('full');
        expect(inStore.length).toBeGreaterThan(1);
        expect(result.results.map((x: { userid: string }) => x.userid).sort()).toEqual([...inStore].sort());
        expect(result.created).toBe(inStore.length);
        for (const x of result.results) expect(x).toMatchObject({ status: 'created', totp: { secret: expect.stringMatching(/^[A-Z2-7]{32}$/) }, recoveryKeys: expect.any(Array) });
        // The file: whole lines; every user in the store has its secrets there (its `pending`
        // line went first: a row whose line could not be written did not commit).
        const text = readFileSync(results, 'utf8');
        expect(text === '' || text.endsWith('\n')).toBe(true);
        const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { userid: string; status: string });
        for (const userid of inStore) expect(lines.filter((l) => l.userid === userid).map((l) => l.status)).toContain('pending');
        for (const l of lines) expect(inStore).toContain(l.userid);
        const first = result.results[0];
        expect((await login(first.userid, `full password ${first.userid.match(/\d+/)[0]}`, first.recoveryKeys[0])).code).toBe(0);
      },
      { free: 4096 },
    );
    // With --atomic, every row's secrets are written before the one commit: a results file that
    // cannot take them all means nothing is imported.
    const atomicCsv = file('atomic-full.csv', `userid,password,tfa\n${Array.from({ length: 40 }, (_, i) => `whole${i},whole password ${i},totp+recovery`).join('\n')}\n`);
    await withFullDisk(
      async (dir) => {
        const results = join(dir, 'results.jsonl');
        const r = await store.run(['user', 'import', atomicCsv, '--atomic', '--results', results, '--json']);
        expect(r.code, r.stderr).toBe(6);
        expect(r.json().error.message).toMatch(new RegExp(`^cannot write ${results}: no space left on the device \\(ENOSPC\\)`));
        expect(usersStartingWith('whole')).toHaveLength(0);
      },
      { free: 4096 },
    );
    // Run again, the rest go in.
    const again = await store.run(['user', 'import', csv, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(usersStartingWith('full')).toHaveLength(60);
  }, 120_000);
});
