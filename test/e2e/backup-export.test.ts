import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LATEST_VERSION } from '../../src/store/migrations/index.js';
import { BACKEND, nowSeconds, oathtool, oneLineError, SimulatedYubiKey, TempStore, withFullDisk } from './harness.js';

const store = new TempStore();
afterAll(() => store.remove());
const PW = 'backup test password';

beforeAll(async () => {
  await store.run(['init']);
  await store.run(['user', 'add', 'adm', '--admin', '--password-stdin'], { input: `${PW}\n` });
  await store.run(['user', 'add', 'bea', '--no-password', '--tfa', 'totp', '--totp-secret', 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', '--no-verify']);
});

describe('backup and restore', () => {
  it('takes a consistent 0600 snapshot while other processes keep writing, and says to keep the key file', async () => {
    const file = join(store.dir, 'snap.db');
    const writers = Promise.all(Array.from({ length: 10 }, (_, i) => store.run(['user', 'add', `w${i}`, '--no-password'])));
    const r = await store.run(['backup', file, '--json']);
    await writers;
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().warnings[0]).toContain(store.keyFile);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const db = new Database(file, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    const again = await store.run(['backup', file]);
    expect(again.code).toBe(4);
  });

  it('checks the key file it says to keep: another store\'s, a missing or a readable one is exit 6, and no backup', async () => {
    const other = new TempStore();
    try {
      await other.run(['init']);
      const cases: [Record<string, string>, string, () => void, () => void][] = [
        [{ TFACTL_KEY_FILE: other.keyFile }, 'key_mismatch', () => undefined, () => undefined],
        [{ TFACTL_KEY_FILE: join(store.dir, 'no-such.key') }, 'key_file', () => undefined, () => undefined],
        [{}, 'key_permissions', () => chmodSync(store.keyFile, 0o644), () => chmodSync(store.keyFile, 0o600)],
      ];
      for (const [env, code, before, after] of cases) {
        const file = join(store.dir, `unkeyed-${code}.db`);
        before();
        try {
          const r = await store.run(['backup', file, '--json'], { env });
          expect(r.code, r.stderr).toBe(6);
          expect(r.json().error.code).toBe(code);
          expect(existsSync(file)).toBe(false);
        } finally {
          after();
        }
      }
    } finally {
      other.remove();
    }
  });

  it('never leaves a file that looks whole: written beside and renamed, a full disk leaves nothing', async () => {
    const file = join(store.dir, 'staged', 'snap.db');
    mkdirSync(join(store.dir, 'staged'), { mode: 0o700 });
    // What a backup killed on its way left beside the name goes once the name is claimed again.
    writeFileSync(join(store.dir, 'staged', '.snap.db.partial-0123456789ab'), 'a dead copy');
    writeFileSync(join(store.dir, 'staged', '.snap.db.partial-0123456789ab-journal'), 'its journal');
    writeFileSync(join(store.dir, 'staged', '.other.db.partial-0123456789ab'), 'not this name');
    expect((await store.run(['backup', file])).code).toBe(0);
    expect(readdirSync(join(store.dir, 'staged')).sort()).toEqual(['.other.db.partial-0123456789ab', 'snap.db']);
    await withFullDisk(async (dir) => {
      const r = await store.run(['backup', join(dir, 'snap.db'), '--json']);
      expect(r.code, r.stderr).toBe(6);
      expect(readdirSync(dir)).toEqual(['filler']);
    });
  });

  it('refuses to write where another user could swap a directory on the way, exit 6, making and removing nothing', async () => {
    // Their home, and a folder in it they could move aside for a symlink to root's files.
    const home = join(store.dir, 'their-home');
    mkdirSync(join(home, 'drop'), { recursive: true, mode: 0o755 });
    chownSync(home, 65534, 65534);
    chownSync(join(home, 'drop'), 65534, 65534);
    const open = join(store.dir, 'open-to-all');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    for (const [file, why] of [
      [join(home, 'drop', 'b.db'), `the directory ${home} belongs to uid 65534`],
      [join(open, 'b.db'), `the directory ${open} is writable by others (mode 0777)`],
    ] as const) {
      for (const args of [['backup', file], ['tfa', 'add', 'recovery', 'bea', '--output', file], ['export', 'totp', '--output', file], ['export', 'totp', '--format', 'png-dir', '--output', file]]) {
        const r = await store.run([...args, '--json']);
        expect(r.code, args.join(' ')).toBe(6);
        const what = args.includes('png-dir') ? 'the directory' : 'the file';
        expect(r.json().error).toEqual({ code: 'file_permissions', message: `${what} ${file} is not safe to use: ${why}, so another user could have put it there or could swap it; keep it where only root and you may write` });
      }
    }
    expect([readdirSync(join(home, 'drop')), readdirSync(open)]).toEqual([[], []]);
  });

  it('writes nothing through a name another could swap: a racer with the right to write the directory gets no file of root', async () => {
    // As soon as a staging file shows, the racer puts symlinks to root's files in its place and in
    // its journal's. The backup once had SQLite open the staging file (and its journal) by name
    // again, so root wrote the store through them. Only root and this user may write a directory
    // tfactl writes secrets in (above): the racer here is root itself.
    const shared = join(store.dir, 'shared');
    const guarded = join(store.dir, 'guarded');
    mkdirSync(shared, { mode: 0o700 });
    mkdirSync(guarded, { mode: 0o700 });
    const precious = join(guarded, 'precious');
    writeFileSync(precious, 'not to be touched\n');
    const racer = join(store.dir, 'racer.cjs');
    writeFileSync(
      racer,
      `const fs = require('node:fs'), path = require('node:path');
const [dir, guarded, precious] = process.argv.slice(2);
fs.watch(dir, (event, name) => {
  if (!name || !/\\.partial-[0-9a-f]+$/.test(name)) return;
  const p = path.join(dir, name);
  try { fs.symlinkSync(precious, p + '-journal'); } catch {}
  try { if (!fs.lstatSync(p).isSymbolicLink()) { fs.unlinkSync(p); fs.symlinkSync(path.join(guarded, name), p); } } catch {}
});
process.stdout.write('watching\\n');
`,
    );
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [racer, shared, guarded, precious], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => child.stdout!.once('data', resolve));
      let replaced = 0;
      for (let i = 0; i < 10; i++) {
        const file = join(shared, `race${i}.db`);
        const r = await store.run(['backup', file, '--json']);
        // Swapped, it says so and keeps nothing; else the backup is whole, at its name, 0600.
        if (r.code === 6) {
          replaced++;
          expect(r.json().error).toEqual({ code: 'file_replaced', message: `${file} was replaced while it was written, so nothing was kept: someone else may write to ${shared}; write it where only you may` });
          expect(existsSync(file)).toBe(false);
        } else {
          expect(r.code, r.stderr).toBe(0);
          expect(lstatSync(file).isFile() && (lstatSync(file).mode & 0o777) === 0o600).toBe(true);
        }
      }
      // The racer did race (writing and flushing a backup takes it long enough to win).
      expect(replaced).toBeGreaterThan(0);
    } finally {
      child.kill();
    }
    expect(readdirSync(guarded)).toEqual(['precious']);
    expect(readFileSync(precious, 'utf8')).toBe('not to be touched\n');
  });

  it('refuses a backup with a rollback journal beside it: a copy that never finished', async () => {
    const file = join(store.dir, 'journalled.db');
    expect((await store.run(['backup', file])).code).toBe(0);
    writeFileSync(`${file}-journal`, Buffer.alloc(512, 1));
    const before = store.snapshot();
    const r = await store.run(['restore', file, '--yes', '--json']);
    expect(r.code).toBe(6);
    expect(r.json().error).toEqual({ code: 'backup_invalid', message: `refusing to restore ${file}: ${file}-journal beside it says a write to it never finished (a copy cut short?), so the file is not whole; restore another backup` });
    expect(store.snapshot()).toBe(before);
  });

  it('refuses a backup another user could have written (open to writing, another owner, a directory others may write), dry run too, changing nothing', async () => {
    const file = join(store.dir, 'writable.db');
    expect((await store.run(['backup', file])).code).toBe(0);
    const before = store.snapshot();
    const refused = async (expected: RegExp) => {
      for (const how of [['--yes'], ['--dry-run']]) {
        const r = await store.run(['restore', file, ...how, '--json']);
        expect(r.code, r.stderr).toBe(6);
        expect(r.json().error.code).toBe('store_permissions');
        expect(r.json().error.message).toMatch(expected);
      }
      expect(store.snapshot()).toBe(before);
    };
    chmodSync(file, 0o666);
    await refused(/^refusing the backup .*writable\.db: it is writable by others \(mode 0666\), so another user could put something else in its place/);
    chmodSync(file, 0o600);
    chownSync(file, 65534, 65534);
    await refused(/^refusing the backup .*writable\.db: it belongs to uid 65534/);
    chownSync(file, 0, 0);
    const open = join(store.dir, 'open-dir');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    const inOpen = join(open, 'b.db');
    renameSync(file, inOpen);
    for (const how of [['--yes'], ['--dry-run']]) {
      const r = await store.run(['restore', inOpen, ...how]);
      expect(r.code).toBe(6);
      expect(oneLineError(r)).toMatch(/the directory .*open-dir is writable by others \(mode 0777\)/);
    }
    chmodSync(open, 0o700);
    expect((await store.run(['restore', inOpen, '--dry-run'])).code).toBe(0);
  });

  it('restores the snapshot, replacing what changed since', async () => {
    const file = join(store.dir, 'before-cleo.db');
    await store.run(['backup', file]);
    await store.run(['user', 'add', 'cleo', '--no-password']);
    const r = await store.run(['restore', file, '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(store.hasUser('cleo')).toBe(false);
    expect(store.hasUser('bea')).toBe(true);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'store.restore', outcome: 'ok' });
    const login = await store.run(['login', 'adm', '--password-stdin'], { input: `${PW}\n` });
    expect(login.code).toBe(0);
  });

  it('refuses a damaged file, a foreign store and a non-root actor, changing nothing', async () => {
    const before = store.snapshot();
    const junk = join(store.dir, 'junk.db');
    writeFileSync(junk, 'not a database'.repeat(500));
    const damaged = await store.run(['restore', junk, '--yes']);
    expect(damaged.code).toBe(6);
    expect(oneLineError(damaged)).toContain('damaged');
    const other = new TempStore();
    await other.run(['init']);
    const otherBackup = join(other.dir, 'other.db');
    expect((await other.run(['backup', otherBackup])).code).toBe(0);
    const foreign = await store.run(['restore', otherBackup, '--yes']);
    expect(foreign.code).toBe(4);
    expect(oneLineError(foreign)).toContain('another key file');
    other.remove();
    const asAdmin = await store.runAs('adm', PW, ['restore', join(store.dir, 'snap.db'), '--yes']);
    expect(asAdmin.code).toBe(4);
    const noYes = await store.run(['restore', join(store.dir, 'snap.db')]);
    expect(noYes.code).toBe(2);
    expect(store.snapshot()).toBe(before);
  });
});

describe('a file named -', () => {
  it('is refused wherever standard input or output is not what - means, before anything is written or read', async () => {
    const here = join(store.dir, 'dash-cwd');
    mkdirSync(here, { recursive: true });
    const inHere = ['sh', '-c', `cd '${here}' && exec "$0" "$@"`];
    const before = store.snapshot();
    const cases: [string[], string][] = [
      [['backup', '-'], 'backup'],
      [['restore', '-', '--yes'], 'restore'],
      [['tfa', 'add', 'recovery', 'bea', '--output', '-'], '--output'],
      [['export', 'totp', '--output', '-'], '--output'],
      [['user', 'import', '-', '--results', '-'], '--results'],
      [['import', 'proxmox', '--tfa-cfg', '-', '--user-cfg', 'user.cfg'], '--tfa-cfg'],
      [['tfa', 'add', 'totp', 'bea', '--no-verify', '--qr', 'png:-'], '--qr png:'],
      [['serve', '--socket', join(here, 'never.sock'), '--listen', '127.0.0.1:0', '--tls-cert', '-', '--tls-key', 'key.pem'], '--tls-cert'],
    ];
    for (const [args, what] of cases) {
      const r = await store.run([...args, '--json'], { prefix: inHere, input: 'userid\nnobody\n' });
      expect({ args, code: r.code, error: r.json().error }).toEqual({
        args,
        code: 2,
        error: { code: 'usage', message: expect.stringMatching(new RegExp(`^${what.replace(/[.-]/g, '\\$&')} takes a file name, not - \\(standard (input or )?output is not used here; \\./- is a file named -\\)$`)) },
      });
    }
    expect(readdirSync(here)).toEqual([]);
    const empty = await store.run(['backup', '', '--json'], { prefix: inHere });
    expect({ code: empty.code, error: empty.json().error }).toEqual({ code: 2, error: { code: 'usage', message: 'backup takes a file name, and it is empty' } });
    const blank = await store.run(['tfa', 'add', 'totp', 'bea', '--no-verify', '--qr', 'png: ', '--json'], { prefix: inHere });
    expect({ code: blank.code, error: blank.json().error }).toEqual({ code: 2, error: { code: 'usage', message: '--qr png: takes a file name, and it is empty' } });
    expect(store.snapshot()).toBe(before);
  });

  it('an empty file at the name (what a killed backup leaves) is not overwritten, and the refusal says what to do', async () => {
    const left = join(store.dir, 'killed-backup.db');
    writeFileSync(left, '', { mode: 0o600 });
    // Alone, an empty file is a placeholder (mktemp, touch): said as empty, and nothing more.
    const placeholder = await store.run(['backup', left]);
    expect({ code: placeholder.code, error: oneLineError(placeholder) }).toEqual({
      code: 4,
      error: `error: ${left} exists (empty): tfactl does not overwrite files that hold secrets, and writes them only to a new file`,
    });
    // With the hidden copy a killed backup was writing beside it: what happened, and what to do.
    const partial = join(store.dir, '.killed-backup.db.partial-0a1b2c3d4e5f');
    writeFileSync(partial, 'a store half copied', { mode: 0o600 });
    const r = await store.run(['backup', left]);
    expect(r.code).toBe(4);
    expect(oneLineError(r)).toBe(
      `error: ${left} exists (empty, with .killed-backup.db.partial-… beside it, as a backup or export cut short leaves them; delete it and run again, which also removes what it left beside it): tfactl does not overwrite files that hold secrets, and writes them only to a new file`,
    );
    // As it says: the copy a killed backup was writing goes with the next backup to the name.
    rmSync(left);
    expect((await store.run(['backup', left])).code).toBe(0);
    expect(existsSync(partial)).toBe(false);
    rmSync(left);
  });

  it('/dev/null is not taken for an empty file left behind: nothing there could be deleted and run again', async () => {
    for (const args of [['backup', '/dev/null'], ['export', 'totp', '--output', '/dev/null']]) {
      const r = await store.run(args);
      expect(r.code).toBe(4);
      expect(oneLineError(r)).toBe('error: /dev/null exists and is not a regular file (a device, a directory, a link): tfactl does not overwrite files that hold secrets, and writes them only to a new file');
    }
  });
});

describe('export', () => {
  it('stops at a secret that does not open, says so (exit 6) and audits the export as cut short', async () => {
    const s = new TempStore();
    try {
      await s.run(['user', 'add', 'ann', '--no-password']);
      await s.run(['user', 'add', 'bob', '--no-password']);
      expect((await s.run(['tfa', 'add', 'totp', 'ann', '--no-verify'])).code).toBe(0);
      expect((await s.run(['tfa', 'add', 'totp', 'bob', '--no-verify'])).code).toBe(0);
      // bob's factor now holds ann's sealed secret: sealed for another user and factor, it must not open.
      s.tamper("UPDATE factors SET secret = (SELECT secret FROM factors WHERE userid = 'ann@local') WHERE userid = 'bob@local'");
      const r = await s.run(['export', 'totp', '--json']);
      expect(r.code).toBe(6);
      expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(/^error: the TOTP secret of factor .* cannot be decrypted/);
      // Still one JSON document: ok false, the error, and what was read before it.
      expect(r.json()).toMatchObject({ ok: false, error: { code: 'key_mismatch' }, result: [{ userid: 'ann@local' }] });
      expect(s.auditRows().at(-1)).toMatchObject({ action: 'export.totp', outcome: 'failed' });
      expect(JSON.parse(s.auditRows().at(-1)?.detail ?? '{}')).toEqual({ factors: 1, complete: false });
    } finally {
      s.remove();
    }
  });

  it('exports TOTP secrets as CSV and URIs that oathtool agrees with, audited', async () => {
    const csv = await store.run(['export', 'totp']);
    expect(csv.code).toBe(0);
    const [header, ...rows] = csv.stdout.trim().split('\n');
    expect(header).toBe('userid,id,description,enabled,secret,algorithm,digits,period,issuer,uri');
    expect(rows).toEqual([expect.stringMatching(/^bea@local,[0-9a-f-]{36},TOTP,true,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP,SHA1,6,30,tfactl@[^,]+,otpauth:/)]);
    expect(csv.stderr).toContain('plain text');
    const uri = await store.run(['export', 'totp', '--format', 'uri']);
    expect(uri.stdout).toMatch(/^otpauth:\/\/totp\/.*:bea%40local\?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&/);
    expect(store.auditRows().filter((a) => a.action === 'export.totp')).toHaveLength(2);
  });

  it("says when an admin's export leaves out root@local's factors, which only root@local exports", async () => {
    const s = new TempStore();
    try {
      await s.run(['init']);
      await s.addUser('adm', PW, ['--admin']);
      expect((await s.run(['user', 'add', 'amy', '--no-password', '--tfa', 'totp', '--no-verify', '--qr', 'none'])).code).toBe(0);
      for (const d of ['phone', 'tablet']) expect((await s.run(['tfa', 'add', 'totp', 'root@local', '--no-verify', '--qr', 'none', '--description', d])).code).toBe(0);
      const byAdmin = await s.runAs('adm', PW, ['export', 'totp', '--json']);
      expect(byAdmin.code).toBe(0);
      expect(byAdmin.json().result.map((e: { userid: string }) => e.userid)).toEqual(['amy@local']);
      expect(byAdmin.json().warnings).toContain("root@local's 2 TOTP factors are not in it: only root@local exports its own");
      expect(JSON.parse(s.auditRows().at(-1)!.detail!)).toEqual({ factors: 1, complete: true, leftOut: 2 });
      // root@local's own export holds them all, and says nothing of the kind.
      const byRoot = await s.run(['export', 'totp', '--json']);
      expect(byRoot.json().result).toHaveLength(3);
      expect(byRoot.json().warnings.join('\n')).not.toContain('not in it');
    } finally {
      s.remove();
    }
  });

  it('writes a description a spreadsheet would take for a formula as text (a leading \', quoted)', async () => {
    const s = new TempStore();
    try {
      await s.run(['user', 'add', 'ann', '--no-password']);
      expect((await s.run(['tfa', 'add', 'totp', 'ann', '--no-verify', '--qr', 'none', '--description', '=HYPERLINK("http://evil","x")'])).code).toBe(0);
      expect((await s.run(['tfa', 'add', 'totp', 'ann', '--no-verify', '--qr', 'none', '--description', '@SUM(1)'])).code).toBe(0);
      const rows = (await s.run(['export', 'totp'])).stdout.trim().split('\n').slice(1);
      expect(rows.map((r) => r.split(',')[2]).sort()).toEqual(['"\'=HYPERLINK(""http://evil""', '"\'@SUM(1)"'].sort());
    } finally {
      s.remove();
    }
  });

  it('gives back the URI each user scanned: the issuer it was enrolled with, not today\'s setting', async () => {
    const s = new TempStore();
    try {
      await s.run(['user', 'add', 'ann', '--no-password']);
      await s.run(['user', 'add', 'bob', '--no-password']);
      await s.run(['user', 'add', 'cid', '--no-password']);
      await s.run(['settings', 'set', 'totp.issuer', 'Old Corp']);
      const named = (await s.run(['tfa', 'add', 'totp', 'ann', '--issuer', 'VPN / East', '--no-verify', '--json'])).json().result;
      const byDefault = (await s.run(['tfa', 'add', 'totp', 'bob', '--no-verify', '--json'])).json().result;
      expect([named.issuer, byDefault.issuer]).toEqual(['VPN / East', 'Old Corp']);
      await s.run(['tfa', 'add', 'totp', 'cid', '--no-verify']);
      // cid's factor as tfactl kept it before issuers were stored.
      s.tamper("UPDATE factors SET issuer = NULL WHERE userid = 'cid@local'");
      await s.run(['settings', 'set', 'totp.issuer', 'New Corp']);
      const exported = (await s.run(['export', 'totp', '--json'])).json().result as { userid: string; issuer: string; uri: string }[];
      expect(exported.map((e) => [e.userid, e.issuer])).toEqual([['ann@local', 'VPN / East'], ['bob@local', 'Old Corp'], ['cid@local', 'New Corp']]);
      expect(exported[0]?.uri).toBe(named.uri);
      expect(exported[1]?.uri).toBe(byDefault.uri);
      expect(exported[2]?.uri).toMatch(/^otpauth:\/\/totp\/New%20Corp:cid%40local\?/);
      const listed = (await s.run(['tfa', 'list', '--json'])).json().result as { userid: string; factors: { totp: { issuer: string | null } }[] }[];
      expect(Object.fromEntries(listed.filter((u) => u.factors.length > 0).map((u) => [u.userid, u.factors[0]?.totp.issuer]))).toEqual({
        'ann@local': 'VPN / East',
        'bob@local': 'Old Corp',
        'cid@local': null,
      });
    } finally {
      s.remove();
    }
  });

  it('writes one decodable QR code a factor with png-dir', async () => {
    const dir = join(store.dir, 'qr');
    const r = await store.run(['export', 'totp', '--format', 'png-dir', '--output', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result).toEqual({ output: dir, format: 'png-dir', factors: 1 });
    expect(r.stdout).not.toContain('JBSWY3DP');
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const decoded = spawnSync('zbarimg', ['--raw', '-q', join(dir, files[0]!)], { encoding: 'utf8' }).stdout.trim();
    const uri = (await store.run(['export', 'totp', '--format', 'uri'])).stdout.trim();
    expect(decoded).toBe(uri);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    // Again into what is there: refused as a file that exists is (exit 4, file_exists), nothing written.
    const again = await store.run(['export', 'totp', '--format', 'png-dir', '--output', dir, '--json']);
    expect(again.code, again.stderr).toBe(4);
    expect(again.json().error).toEqual({ code: 'file_exists', message: `${dir} exists: tfactl does not write secrets into what is there, only into a new directory` });
    expect(readdirSync(dir)).toEqual(files);
  });

  it('names each QR code file within the 255 bytes a name may have, however long the user id is in UTF-8', async () => {
    const own = new TempStore();
    try {
      await own.run(['init']);
      const name = '\u{20000}'.repeat(64);
      expect((await own.run(['user', 'add', name, '--no-password', '--tfa', 'totp', '--no-verify', '--qr', 'none'])).code).toBe(0);
      const dir = join(own.dir, 'qr');
      const r = await own.run(['export', 'totp', '--format', 'png-dir', '--output', dir, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const [file] = readdirSync(dir);
      expect(Buffer.byteLength(file!)).toBeLessThanOrEqual(255);
      expect(file!.startsWith('\u{20000}'.repeat(37))).toBe(true);
    } finally {
      own.remove();
    }
  });

  it('keeps root@local\'s secrets from admins and everything from ordinary users', async () => {
    await store.run(['tfa', 'add', 'totp', 'root@local', '--no-verify']);
    const root = await store.run(['export', 'totp', '--json']);
    expect(root.json().result.map((e: { userid: string }) => e.userid)).toContain('root@local');
    const admin = await store.runAs('adm', PW, ['export', 'totp', '--json']);
    expect(admin.json().result.map((e: { userid: string }) => e.userid)).toEqual(['bea@local']);
    await store.run(['user', 'add', 'plain', '--password-stdin'], { input: `${PW}\n` });
    expect((await store.runAs('plain', PW, ['export', 'totp'])).code).toBe(4);
  });

  it('exports users and factor metadata without hashes or secrets', async () => {
    const r = await store.run(['export', 'users', '--json']);
    expect(r.code).toBe(0);
    const text = r.stdout;
    expect(text).not.toContain('argon2');
    expect(text).not.toContain('JBSWY3DP');
    const bea = r.json().result.users.find((u: { user: { userid: string } }) => u.user.userid === 'bea@local');
    expect(bea.factors).toEqual([expect.objectContaining({ type: 'totp', enabled: true })]);
    const file = join(store.dir, 'out.csv');
    await store.run(['export', 'totp', '--output', file]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain('bea@local');
  });
});

describe('restore after use', () => {
  /** A fresh store with `userid` (password PW) for `fn`, which calls `backup()` when it is set up. */
  const afterBackup = async (userid: string, name: string, fn: (s: TempStore, backup: () => Promise<string>) => Promise<void>) => {
    const s = new TempStore();
    try {
      await s.addUser(userid, PW);
      await fn(s, async () => {
        const file = join(s.dir, name);
        expect((await s.run(['backup', file])).code).toBe(0);
        return file;
      });
    } finally {
      s.remove();
    }
  };

  it('keeps codes and keys used since the backup used, and keeps the audit trail since', async () => {
    await afterBackup('rui', 'before-use.db', async (s, backup) => {
      const keys = (await s.run(['tfa', 'add', 'recovery', 'rui', '--json'])).json().result.keys as string[];
      const file = await backup();
      const use = () => s.run(['login', 'rui', '--password-stdin', '--code', keys[0]!], { input: `${PW}\n` });
      expect((await use()).code).toBe(0);
      expect((await s.run(['restore', file, '--yes'])).code).toBe(0);
      expect((await use()).code).toBe(5);
      const logins = s.auditRows().filter((a) => a.action === 'login' && a.target === 'rui@local').map((a) => a.outcome);
      expect(logins).toEqual(['ok', 'failed']);
    });
  });

  it('says what the backup brings back that was revoked since, restores it all, and audits the counts', async () => {
    await afterBackup('kim', 'before-revocations.db', async (s, backup) => {
      const ok0 = async (args: string[]) => expect((await s.run(args)).code).toBe(0);
      await s.addUser('lee', PW, ['--admin']);
      await s.addUser('max', PW);
      await s.addUser('ned', PW);
      const KIM_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
      const totp = (user: string, extra: string[] = []) => s.run(['tfa', 'add', 'totp', user, '--no-verify', '--json', ...extra]).then((r) => r.json().result.id as string);
      const [kimTotp, leeTotp] = [await totp('kim', ['--secret', KIM_SECRET]), await totp('lee')];
      await totp('max');
      for (const name of ['ci', 'deploy', 'audit', 'keep']) expect((await s.run(['token', 'add', 'kim', name])).code).toBe(0);
      expect((await s.run(['token', 'add', 'lee', 'ro', '--privileges', 'read-only'])).code).toBe(0);
      await ok0(['realm', 'add', 'corp']);
      const file = await backup();

      // Revocations, each of a kind, and changes that revoke nothing (a user, factor and token added).
      const ok = async (args: string[], input?: string) => expect((await s.run(args, input === undefined ? {} : { input })).code).toBe(0);
      await ok(['user', 'delete', 'ned', '--yes']);
      await ok(['user', 'modify', 'max', '--disabled']);
      await ok(['user', 'modify', 'lee', '--no-admin']);
      await ok(['user', 'passwd', 'kim', '--password-stdin'], 'a new password for kim\n');
      await ok(['tfa', 'delete', 'kim', kimTotp, '--yes']);
      await ok(['tfa', 'disable', 'lee', leeTotp]);
      await ok(['token', 'delete', 'kim', 'ci']);
      await ok(['token', 'delete', 'kim', 'deploy']);
      await ok(['token', 'add', 'kim', 'deploy']);
      await ok(['token', 'delete', 'kim', 'audit']);
      await ok(['token', 'add', 'kim', 'audit', '--privileges', 'read-only']);
      await ok(['realm', 'set-enforce', 'corp', 'totp']);
      await ok(['settings', 'set', 'lockout.password-ban-seconds', '1800']);
      await s.addUser('oto', PW);
      await ok(['tfa', 'add', 'totp', 'oto', '--no-verify']);
      await ok(['token', 'add', 'oto', 'new']);

      // A dry run says it all first, and changes nothing.
      const before = s.snapshot();
      const dry = await s.run(['restore', file, '--dry-run', '--json']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(s.snapshot()).toBe(before);

      const r = await s.run(['restore', file, '--yes', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const { result, warnings } = r.json();
      expect(dry.json().result).toEqual({ ...result, dryRun: true });
      expect(dry.json().warnings).toEqual(warnings.map((w: string) => w.replace('the backup brings back', 'the backup would bring back').replace('the restore took away', 'the restore would take away')));
      expect(result.dryRun).toBe(false);
      expect(result.revived).toEqual({
        users: ['ned@local'],
        enabled: ['max@local'],
        admins: ['lee@local'],
        passwords: ['kim@local'],
        factors: [
          { userid: 'kim@local', id: kimTotp, type: 'totp' },
          { userid: 'lee@local', id: leeTotp, type: 'totp' },
        ],
        tokens: ['kim@local!audit', 'kim@local!ci', 'kim@local!deploy'],
        realms: ['corp'],
        settings: ['lockout.password-ban-seconds'],
      });
      // And what it takes away: what was added since (oto, with their factor and token), and the
      // secrets of the two tokens made again since, which stop working.
      expect(result.removed).toEqual({ users: ['oto@local'], factors: [], tokens: ['kim@local!audit', 'kim@local!deploy'], realms: [] });
      expect(warnings).toEqual([
        `the backup brings back what was revoked since it was made: users deleted (1: ned@local); users disabled, expired or given an earlier expiry (1: max@local); admin rights taken away (1: lee@local); passwords changed (1: kim@local); second factors deleted or disabled (2: kim@local totp ${kimTotp.slice(0, 8)}, lee@local totp ${leeTotp.slice(0, 8)}); API tokens deleted, replaced, expired or made read-only (3: kim@local!audit, kim@local!ci, kim@local!deploy); realms made to require a second factor (1: corp); settings changed (1: lockout.password-ban-seconds); revoke again what should stay revoked`,
        'the restore took away what the store has and the backup does not: users (1: oto@local); API tokens (2: kim@local!audit, kim@local!deploy)',
      ]);
      expect(JSON.parse(s.auditRows().at(-1)!.detail!)).toMatchObject({
        revived: { users: 1, enabled: 1, admins: 1, passwords: 1, factors: 2, tokens: 3, realms: 1, settings: 1 },
        removed: { users: 1, factors: 0, tokens: 2, realms: 0 },
      });

      // It is all back, as the store had it when the backup was made.
      const code = oathtool(KIM_SECRET);
      expect((await s.login('kim', 'a new password for kim', code)).code).toBe(5);
      const signedIn = await s.login('kim', PW, code);
      expect(signedIn.code, signedIn.stderr).toBe(0);
      expect(signedIn.json().result.method).toBe('totp');
      const users = (await s.run(['user', 'list', '--json'])).json().result as { userid: string; admin: boolean; enabled: boolean }[];
      expect(users.map((u) => u.userid)).toEqual(['kim@local', 'lee@local', 'max@local', 'ned@local', 'root@local']);
      expect(users.find((u) => u.userid === 'lee@local')).toMatchObject({ admin: true });
      expect(users.find((u) => u.userid === 'max@local')).toMatchObject({ enabled: true });
      const tokens = (await s.run(['token', 'list', '--json'])).json().result as { tokenid: string; privileges: string }[];
      expect(tokens.map((t) => `${t.tokenid} ${t.privileges}`)).toEqual(['kim@local!audit inherit', 'kim@local!ci inherit', 'kim@local!deploy inherit', 'kim@local!keep inherit', 'lee@local!ro read-only']);

      // Restoring the same backup again brings nothing back: the store is what the backup holds.
      const again = await s.run(['restore', file, '--yes']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toBe('');
    });
  });

  it('brings nothing back into a new store that takes in the backup (a site moved by init, then restore)', async () => {
    await afterBackup('uma', 'move.db', async (s, backup) => {
      expect((await s.run(['token', 'add', 'uma', 'ci'])).code).toBe(0);
      expect((await s.run(['tfa', 'add', 'totp', 'uma', '--no-verify'])).code).toBe(0);
      const file = await backup();
      // The new store's root@local must be created in a later second than the old one's, as any
      // store made after the backup is.
      const rootCreated = Date.parse((await s.run(['user', 'show', 'root@local', '--json'])).json().result.created as string);
      while (Date.now() < rootCreated + 1000) await new Promise((r) => setTimeout(r, 50));
      const moved = new TempStore();
      try {
        const env = { TFACTL_KEY_FILE: s.keyFile };
        expect((await moved.run(['init'], { env })).code).toBe(0);
        // Nothing of the new store was revoked, but what it holds already goes, and is said to.
        expect((await moved.run(['user', 'add', 'zoe', '--no-password'], { env })).code).toBe(0);
        const gone = 'the restore would take away what the store has and the backup does not: users (1: zoe@local)';
        const dry = await moved.run(['restore', file, '--dry-run', '--json'], { env });
        expect(dry.code, dry.stderr).toBe(0);
        expect(dry.json().warnings).toEqual([gone]);
        const r = await moved.run(['restore', file, '--yes', '--json'], { env });
        expect(r.code, r.stderr).toBe(0);
        expect(r.json().warnings).toEqual([gone.replace('would take', 'took')]);
        expect(r.json().result.revived).toEqual({ users: [], enabled: [], admins: [], passwords: [], factors: [], tokens: [], realms: [], settings: [] });
        expect((await moved.run(['token', 'list', '--json'], { env })).json().result.map((t: { tokenid: string }) => t.tokenid)).toEqual(['uma@local!ci']);
      } finally {
        moved.remove();
      }
    });
  });

  it('makes nothing on a dry run: no store where there is none, no key file, no audit entry', async () => {
    await afterBackup('vic', 'dry.db', async (s, backup) => {
      const file = await backup();
      const before = s.snapshot();
      const audited = s.auditRows();
      const damaged = join(s.dir, 'damaged.db');
      writeFileSync(damaged, 'not a database'.repeat(500));
      const refused = await s.run(['restore', damaged, '--dry-run']);
      expect(refused.code).toBe(6);
      expect(s.snapshot()).toBe(before);
      expect((await s.run(['restore', file, '--dry-run'])).code).toBe(0);
      expect(s.auditRows()).toEqual(audited);
      expect((await s.run(['restore', file, '--yes', '--dry-run'])).code).toBe(2);
      if (BACKEND === 'sqlite') {
        const dir = join(s.dir, 'new-site');
        const env = { TFACTL_DB: join(dir, 'tfactl.db'), TFACTL_KEY_FILE: s.keyFile };
        const r = await s.run(['restore', file, '--dry-run'], { env });
        expect(r.code).toBe(6);
        expect(oneLineError(r)).toBe(`error: there is no tfactl store at ${env.TFACTL_DB} (its owner makes one with tfactl init)`);
        expect(readdirSync(s.dir)).not.toContain('new-site');
        // Nor with an acting user signed in, whose sign-in would write.
        const as = await s.run(['--as', 'root@local', '--password-stdin', 'restore', file, '--dry-run'], { env, input: 'any password\n' });
        expect(as.code).toBe(6);
        expect(readdirSync(s.dir)).not.toContain('new-site');
      }
    });
  });

  it('shows at most five names of a kind in its warning, and every one in --json', async () => {
    await afterBackup('pia', 'many.db', async (s, backup) => {
      const names = Array.from({ length: 7 }, (_, i) => `t${i}`);
      for (const n of names) expect((await s.run(['token', 'add', 'pia', n])).code).toBe(0);
      const file = await backup();
      for (const n of names) expect((await s.run(['token', 'delete', 'pia', n])).code).toBe(0);
      const human = await s.run(['restore', file, '--yes'], { env: { NO_COLOR: '1' } });
      expect(human.code, human.stderr).toBe(0);
      expect(human.stderr).toBe(
        'warning: the backup brings back what was revoked since it was made: API tokens deleted, replaced, expired or made read-only (7: pia@local!t0, pia@local!t1, pia@local!t2, pia@local!t3, pia@local!t4 and 2 more); revoke again what should stay revoked\n',
      );
      for (const n of names) expect((await s.run(['token', 'delete', 'pia', n])).code).toBe(0);
      const json = await s.run(['restore', file, '--yes', '--json']);
      expect(json.json().result.revived.tokens).toEqual(names.map((n) => `pia@local!${n}`));
    });
  });

  it('never lets a recovery key work twice when sign-ins race with the restore', async () => {
    await afterBackup('rio', 'race.db', async (s, backup) => {
      const keys = (await s.run(['tfa', 'add', 'recovery', 'rio', '--json'])).json().result.keys as string[];
      const file = await backup();
      const use = (key: string) => s.run(['login', 'rio', '--password-stdin', '--code', key], { input: `${PW}\n` });
      // Six sign-ins, each with its own key, started around a restore from before any was used.
      const racing = keys.slice(0, 6);
      const [restore, ...logins] = await Promise.all([
        new Promise<Awaited<ReturnType<typeof use>>>((r) => setTimeout(() => r(s.run(['restore', file, '--yes'])), 40)),
        ...racing.map((k, i) => new Promise<Awaited<ReturnType<typeof use>>>((r) => setTimeout(() => r(use(k)), i * 15))),
      ]);
      expect(restore!.code, restore!.stderr).toBe(0);
      const succeeded = racing.filter((_, i) => logins[i]!.code === 0);
      expect(succeeded.length).toBeGreaterThan(0);
      // Whatever landed before, during or after the restore: a key that signed in is spent.
      for (const key of succeeded) expect((await use(key)).code, key).toBe(5);
      // Nothing beside a SQLite store but its key and SQLite's own files: no copy of the backup left.
      if (BACKEND === 'sqlite') expect(readdirSync(join(s.dir, 'store')).filter((f) => !/^tfactl\.db(\.key|-wal|-shm)?$/.test(f))).toEqual([]);
    });
  });

  it("appends the backup's audit trail once into another store, however often it is restored there", async () => {
    await afterBackup('twice', 'twice.db', async (s, backup) => {
      const file = await backup();
      const other = new TempStore();
      try {
        const env = { TFACTL_KEY_FILE: s.keyFile };
        expect((await other.run(['init'], { env })).code).toBe(0);
        const added = () => other.auditRows().filter((e) => e.action === 'user.add' && e.target === 'twice@local').length;
        expect((await other.run(['restore', file, '--yes'], { env })).code).toBe(0);
        const once = other.auditRows().length;
        expect(added()).toBe(1);
        expect((await other.run(['restore', file, '--yes'], { env })).code).toBe(0);
        // The second restore adds its own entry, and none of the backup's again.
        expect(other.auditRows().length).toBe(once + 1);
        expect(added()).toBe(1);
      } finally {
        other.remove();
      }
    });
  });

  it("says, after a restore with the backup's key named by TFACTL_KEY_FILE, that the store's usual key file is the old store's", async () => {
    await afterBackup('keyed', 'keyed.db', async (s, backup) => {
      const file = await backup();
      const other = new TempStore();
      try {
        expect((await other.run(['init'])).code).toBe(0);
        const r = await other.run(['restore', file, '--yes', '--json'], { env: { TFACTL_KEY_FILE: s.keyFile } });
        expect(r.code, r.stderr).toBe(0);
        // On PostgreSQL every run of these tests names its key file (TFACTL_KEY_FILE): there is no usual one beside a store.
        const said = `the store's secrets now open with ${s.keyFile} only: the key file ${other.keyFile}, where commands look without TFACTL_KEY_FILE, is the old store's; copy ${s.keyFile} over it`;
        expect(r.json().warnings.includes(said)).toBe(BACKEND === 'sqlite');
      } finally {
        other.remove();
      }
    });
  });

  it('refuses a backup whose rows refer to rows it does not have, naming the backup, audited, changing nothing', async () => {
    await afterBackup('ray', 'broken.db', async (s, backup) => {
      const file = await backup();
      const db = new Database(file);
      db.pragma('foreign_keys = OFF');
      db.prepare("UPDATE users SET realm = 'nowhere' WHERE userid = 'ray@local'").run();
      db.close();
      const before = s.snapshot();
      const r = await s.run(['restore', file, '--yes', '--json']);
      expect(r.code).toBe(6);
      expect(r.json().error.code).toBe('backup_invalid');
      expect(r.json().error.message).toContain(file);
      expect(s.snapshot()).toBe(before);
      expect(s.auditRows().at(-1)).toMatchObject({ action: 'store.restore', outcome: 'refused' });
    });
  });

  it('refuses a backup holding values tfactl refuses (a setting out of range, an expiry that is no date), changing nothing', async () => {
    await afterBackup('val', 'values.db', async (s, backup) => {
      expect((await s.run(['token', 'add', 'val', 'ci', '--expire', '2099-01-01'])).code).toBe(0);
      expect((await s.run(['tfa', 'add', 'totp', 'val', '--no-verify', '--qr', 'none'])).code).toBe(0);
      expect((await s.run(['realm', 'add', 'yk'])).code).toBe(0);
      expect((await s.run(['realm', 'set-yubico', 'yk', '--api-id', '1', '--api-key', Buffer.alloc(20, 7).toString('base64'), '--url', 'https://yk.example.com/wsapi/2.0/verify'])).code).toBe(0);
      expect((await s.run(['tfa', 'add', 'recovery', 'val'])).code).toBe(0);
      const totpId = s.factorsOf('val@local').find((f) => f.type === 'totp')?.id as string;
      const recoveryId = s.factorsOf('val@local').find((f) => f.type === 'recovery')?.id as string;
      const file = await backup();
      const pristine = readFileSync(file);
      const before = s.snapshot();
      for (const [sql, message] of [
        ["INSERT OR REPLACE INTO settings (key, value) VALUES ('lockout.failures', '-5')", `its setting lockout.failures is "-5", which settings set refuses (invalid lockout.failures "-5": expected a whole number from 1 to 100000)`],
        ["INSERT OR REPLACE INTO settings (key, value) VALUES ('session.minutes', 'forever')", 'its setting session.minutes is "forever", which settings set refuses'],
        ["INSERT OR REPLACE INTO settings (key, value) VALUES ('password.min-length', '200'), ('password.max-length', '100')", 'its password.min-length is more than its password.max-length, which settings set refuses'],
        ["UPDATE users SET expire = 'not-a-date' WHERE userid = 'val@local'", 'the expiry date of user "val@local" is "not-a-date", not a date (YYYY-MM-DD)'],
        ["UPDATE api_tokens SET expires = '2099-02-30' WHERE name = 'ci'", 'the expiry date of API token "val@local!ci" is "2099-02-30", not a date (YYYY-MM-DD)'],
        // Rows the store would read back as damage, or a restore into STRICT tables would fail on.
        ["UPDATE factors SET digits = NULL WHERE type = 'totp'", `its totp factor "${totpId}" lacks what a totp factor has (its secret, or its parameters)`],
        ["UPDATE users SET tfa_locked_until = 9999999999999 WHERE userid = 'val@local'", 'its users row "val@local" holds "9999999999999" in tfa_locked_until, a time no date can show'],
        ["UPDATE users SET created = 253402300800 WHERE userid = 'val@local'", 'its users row "val@local" holds "253402300800" in created, a time no date can show'],
        ["UPDATE users SET modified = -1 WHERE userid = 'val@local'", 'its users row "val@local" holds "-1" in modified, a time no date can show'],
        ["UPDATE api_tokens SET created = 9007199254740993 WHERE name = 'ci'", 'its api_tokens row "val@local!ci" holds "9007199254740992" in created, which is no whole number tfactl stores'],
        // Numbers past what tfactl writes there (and past PostgreSQL's 32-bit INTEGER: refused by both backends alike).
        ["UPDATE factors SET period = 2147483648 WHERE type = 'totp'", `its factors row "${totpId}" holds "2147483648" in period, outside what tfactl stores there (10 to 300)`],
        ["UPDATE factors SET period = 5 WHERE type = 'totp'", `its factors row "${totpId}" holds "5" in period, outside what tfactl stores there (10 to 300)`],
        ["UPDATE users SET totp_failures = 3000000000 WHERE userid = 'val@local'", 'its users row "val@local" holds "3000000000" in totp_failures, outside what tfactl stores there (0 to 2147483647)'],
        ["UPDATE users SET tfa_failures = -1 WHERE userid = 'val@local'", 'its users row "val@local" holds "-1" in tfa_failures, outside what tfactl stores there (0 to 2147483647)'],
        // A sealed secret that does not open with the backup's own key (damaged, or moved to another row).
        ["UPDATE factors SET secret = randomblob(length(secret)) WHERE type = 'totp'", `the totp secret of val@local (factor ${totpId}) does not open with its key file, which is the backup's own: the backup is damaged`],
        // A table without a column its version has: refused as such, never an internal error.
        ['ALTER TABLE factors RENAME COLUMN secret TO secret_x', 'its table factors has no column secret'],
        // Tables, columns, views and triggers of its own: a restore would drop them unsaid.
        ['ALTER TABLE users ADD COLUMN note TEXT', 'its table users has a column "note" that tfactl never made'],
        ['CREATE TABLE extra (x TEXT)', 'it has a table "extra" that tfactl never made'],
        ['CREATE VIEW admins AS SELECT userid FROM users WHERE admin = 1', 'it has a view "admins" that tfactl never made'],
        ["CREATE TRIGGER sneaky AFTER INSERT ON audit BEGIN DELETE FROM audit; END", 'it has a trigger "sneaky" that tfactl never made'],
        // A schema version older than its tables: bringing it up to date fails.
        ['PRAGMA user_version = 13', 'its tables are not those of its schema version (bringing it up to date failed: duplicate column name: issuer)'],
        // Names and keys no command would write: restored, they could be listed but neither shown nor deleted.
        ["INSERT INTO settings (key, value) VALUES ('evil.setting', 'x')", 'it holds a setting "evil.setting": tfactl has no such setting'],
        ["INSERT INTO realms (name, created) VALUES ('c o r p', 0)", 'its realm "c o r p" is no realm name tfactl takes'],
        ["INSERT INTO realms (name, builtin, created) VALUES ('corp', 1, 0)", 'its realm "corp" is marked built in, which only local is'],
        ["INSERT INTO users (userid, realm, created, modified) VALUES ('bob', 'local', 0, 0)", 'its user "bob" is no user id tfactl takes'],
        ["INSERT INTO realms (name, created) VALUES ('corp', 0); INSERT INTO users (userid, realm, created, modified) VALUES ('bob@local', 'corp', 0, 0)", 'its user "bob@local" is in realm "corp", not in the realm its id names'],
        // A hash whose parameters would make each sign-in attempt of the user cost 4 GiB; one that is no argon2id.
        ["UPDATE users SET password_hash = '$argon2id$v=19$m=4194304,t=1000,p=1$5H416CLlucbG/NIQNGbz+g$obsbecjS2HWHACfSlYtDgblumIeonbJtTcRuNrCNz8w' WHERE userid = 'val@local'", 'the password hash of user "val@local" is refused: its argon2 parameters (m=4194304, t=1000, p=1) are outside what tfactl checks'],
        ["UPDATE users SET password_hash = 'hunter2' WHERE userid = 'val@local'", 'the password hash of user "val@local" is refused: it is not an argon2id hash (version 19) as tfactl writes them'],
        ["UPDATE api_tokens SET comment = 'x' || char(27) || '[2J' WHERE name = 'ci'", 'its api_tokens row "ci" holds U+001B (a control character) in comment, which tfactl never stores'],
        // A realm's validation URLs as set-yubico would never store them: every command reading the realm would fail.
        [`UPDATE realms SET yubico_urls = '["https://x' WHERE name = 'yk'`, 'its realm "yk" is damaged: its validation URLs are not JSON'],
        [`UPDATE realms SET yubico_urls = '{"a":1}' WHERE name = 'yk'`, 'its realm "yk" is damaged: its validation URLs are not a list of one or more URLs'],
        [`UPDATE realms SET yubico_urls = '["https://user:pw@yk.example.com/"]' WHERE name = 'yk'`, 'its realm "yk" is damaged: a validation URL holds a user or password'],
        // What was spent as no command writes it: a recovery slot far out would be read at every sign-in; a hash that is none is a key that never works.
        ['INSERT INTO recovery_slots (factor_id, slot, hash) SELECT factor_id, 50000000, hash FROM recovery_slots WHERE slot = 0', `its recovery keys "${recoveryId}" have a slot 50000000 (tfactl keeps at most 100)`],
        ["UPDATE recovery_slots SET hash = 'zz' WHERE slot = 0", `its recovery key "${recoveryId}" slot 0 has a hash that is no HMAC-SHA256 (64 hex digits)`],
        // Audit entries `tfactl audit` could not list once merged into the store's trail.
        ["INSERT INTO audit (id, ts, actor, action, target, outcome, detail) VALUES (999999, 1, 'x', 'y', NULL, 'ok', '{\"expire\":full')", 'its audit entry 999999 has a detail that is not JSON'],
        ["INSERT INTO audit (id, ts, actor, action, target, outcome, detail) VALUES (999998, 1, 'x' || char(0) || 'y', 'y', NULL, 'ok', NULL)", 'its audit entry 999998 holds a NUL character'],
        // Keys edited so that SQLite cannot check them: refused as such, never an internal error.
        ['PRAGMA foreign_keys = OFF; CREATE TABLE users_copy AS SELECT * FROM users; DROP TABLE users; ALTER TABLE users_copy RENAME TO users', 'its tables are not as tfactl makes them (foreign key mismatch'],
      ] as const) {
        writeFileSync(file, pristine);
        const db = new Database(file);
        db.exec(sql);
        db.close();
        for (const args of [['--dry-run'], ['--yes']]) {
          const r = await s.run(['restore', file, ...args, '--json']);
          expect({ code: r.code, error: r.json().error.code }).toEqual({ code: 6, error: 'backup_invalid' });
          expect(r.json().error.message).toContain(`refusing to restore ${file}: ${message}`);
        }
      }
      expect(s.snapshot()).toBe(before);
      // An @ in a validation URL's query (a client name, as Proxmox imports keep) is no password.
      writeFileSync(file, pristine);
      const db = new Database(file);
      db.exec(`UPDATE realms SET yubico_urls = '["https://yk.example.com/wsapi/2.0/verify?client=pve@corp"]' WHERE name = 'yk'`);
      db.close();
      const dry = await s.run(['restore', file, '--dry-run', '--json']);
      expect(dry.code, dry.stderr).toBe(0);
      // Untouched, it restores.
      writeFileSync(file, pristine);
      expect((await s.run(['restore', file, '--yes'])).code).toBe(0);
    });
  }, 180_000);

  it('restores a backup from an older tfactl (schema 4), bringing it up to date in memory', async () => {
    await afterBackup('old', 'schema4.db', async (s, backup) => {
      const file = await backup();
      // What tfactl 4 wrote: the realms check before migration 5, and user_version 4.
      const db = new Database(file);
      db.unsafeMode(true);
      db.pragma('writable_schema = ON');
      db.prepare("UPDATE sqlite_schema SET sql = replace(sql, 'IN (6, 7, 8)', 'IN (6, 8)') WHERE name = 'realms'").run();
      db.pragma(`schema_version = ${(db.pragma('schema_version', { simple: true }) as number) + 1}`);
      db.pragma('writable_schema = OFF');
      // Nor had it the tables and triggers of later migrations (tfactl 4 had no triggers).
      for (const trigger of db.prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger'").pluck().all()) db.exec(`DROP TRIGGER "${String(trigger)}"`);
      db.exec('DROP TABLE password_failures; DROP TABLE password_checks; DROP TABLE replay_ledger; DROP TABLE challenges; DROP TABLE api_tokens; DROP TABLE sessions');
      db.exec('DROP INDEX factors_credential; DROP INDEX factors_credential_any; DROP INDEX factors_public_id');
      for (const column of ['credential_id', 'public_key', 'algorithm_id', 'rp_id', 'transports', 'issuer', 'secret_mark']) db.exec(`ALTER TABLE factors DROP COLUMN ${column}`);
      db.pragma('user_version = 4');
      db.close();
      expect((await s.run(['user', 'delete', 'old', '--yes'])).code).toBe(0);
      expect((await s.login('old', PW)).code).toBe(5);
      const r = await s.run(['restore', file, '--yes']);
      expect(r.code, r.stderr).toBe(0);
      expect((await s.login('old', PW)).code).toBe(0);
      // A SQLite store keeps its own schema, not the backup's (PostgreSQL's is its own anyway).
      if (BACKEND === 'sqlite') {
        expect(s.query("SELECT sql FROM sqlite_schema WHERE name = 'realms'")[0]).toEqual({ sql: expect.stringContaining('IN (6, 7, 8)') });
        expect(s.query('PRAGMA user_version')).toEqual([{ user_version: LATEST_VERSION }]);
      }
      // The backup file itself is left as it was.
      expect(new Database(file, { readonly: true }).pragma('user_version', { simple: true })).toBe(4);
    });
  });

  it('never lifts a lockout that happened since the backup', async () => {
    await afterBackup('liz', 'before-lock.db', async (s, backup) => {
      await s.run(['tfa', 'add', 'recovery', 'liz']);
      await s.run(['settings', 'set', 'lockout.failures', '2']);
      const file = await backup();
      for (let i = 0; i < 3; i++) await s.run(['login', 'liz', '--password-stdin', '--code', '0000-0000-0000-0000'], { input: `${PW}\n` });
      const lock = () => s.read<{ lock: { secondFactorsUntil: string | null } }>(['user', 'show', 'liz']).lock;
      const locked = lock();
      expect(Date.parse(locked.secondFactorsUntil!)).toBeGreaterThan(Date.now());
      expect((await s.run(['restore', file, '--yes'])).code).toBe(0);
      expect(lock().secondFactorsUntil).toBe(locked.secondFactorsUntil);
    });
  });

  it('keeps a recovery key used since the backup used after the set was regenerated', async () => {
    await afterBackup('reg', 'before-regenerate.db', async (s, backup) => {
      const keys = (await s.run(['tfa', 'add', 'recovery', 'reg', '--json'])).json().result.keys as string[];
      const file = await backup();
      const use = (key: string) => s.login('reg', PW, key);
      expect((await use(keys[0]!)).code).toBe(0);
      // The used key's set is gone from the store: only the ledger remembers the key was used.
      expect((await s.run(['tfa', 'add', 'recovery', 'reg', '--regenerate', '--yes'])).code).toBe(0);
      expect((await s.run(['restore', file, '--yes'])).code).toBe(0);
      const replay = await use(keys[0]!);
      expect(replay.code).toBe(5);
      // The backup's set is back, its other keys unused.
      expect((await use(keys[1]!)).code).toBe(0);
    });
  });

  it('holds TOTP steps the backup says were spent more than a day ahead (a clock that ran ahead) to now, and says so', async () => {
    await afterBackup('ada', 'clock-ahead.db', async (s, backup) => {
      const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJS';
      const add = await s.run(['tfa', 'add', 'totp', 'ada', '--secret', secret, '--no-verify', '--json']);
      expect(add.code, add.stderr).toBe(0);
      const id = add.json().result.id as string;
      const file = await backup();
      // As a sign-in while the host's clock was 25 hours ahead leaves it, and a factor deleted then (10 s steps).
      const ahead = Math.floor((nowSeconds() + 25 * 3600) / 30);
      const gone = Math.floor((nowSeconds() + 25 * 3600) / 10);
      const db = new Database(file);
      db.prepare('UPDATE factors SET last_step = ? WHERE id = ?').run(ahead, id);
      db.prepare("INSERT INTO replay_ledger (factor_id, guard, slot, spent, userid, device) VALUES ('gone', 'totp-step', 0, ?, 'ada@local', NULL)").run(gone);
      db.close();
      const before = s.snapshot();
      const said = new RegExp(`^the backup says TOTP codes were used at a time still to come \\(a clock that ran ahead\\?\\): their steps (would be|were) held to now's: factors \\(2: ada@local ${id.slice(0, 8)} step ${ahead}, ada@local gone step ${gone}\\)$`);
      const dry = await s.run(['restore', file, '--dry-run', '--json']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.json().warnings).toContainEqual(expect.stringMatching(said));
      const held = dry.json().result.held as { userid: string; factor: string; step: number; heldTo: number }[];
      expect(held).toHaveLength(2);
      expect(held).toContainEqual({ userid: 'ada@local', factor: id, step: ahead, heldTo: expect.any(Number) });
      expect(held).toContainEqual({ userid: 'ada@local', factor: 'gone', step: gone, heldTo: expect.any(Number) });
      // Now's step, or the next one should the clock have turned it meanwhile.
      const mine = held.find((h) => h.factor === id)!;
      expect(mine.heldTo).toBeGreaterThanOrEqual(Math.floor(nowSeconds() / 30) - 1);
      expect(mine.heldTo).toBeLessThanOrEqual(Math.floor(nowSeconds() / 30));
      expect(s.snapshot()).toBe(before);
      const r = await s.run(['restore', file, '--yes', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json().warnings).toContainEqual(expect.stringMatching(said));
      expect(r.json().result.held).toHaveLength(2);
      expect(s.auditRows().at(-1)).toMatchObject({ action: 'store.restore', outcome: 'ok', detail: expect.stringContaining('"held":2') });
      // The factor takes codes again (the next step's: one step of drift ahead), and spends them.
      const next = oathtool(secret, { epoch: nowSeconds() + 30 });
      expect((await s.login('ada', PW, next)).code).toBe(0);
      expect((await s.login('ada', PW, next)).code).toBe(5);
      // Restored again, the backup's steps are held again, and the code spent since stays spent.
      const again = await s.run(['restore', file, '--yes', '--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.json().result.held).toHaveLength(2);
      expect((await s.login('ada', PW, next)).code).toBe(5);
    });
  });

  it('keeps a TOTP code used since the backup used after its factor was deleted', async () => {
    await afterBackup('tia', 'before-delete.db', async (s, backup) => {
      const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
      const add = await s.run(['tfa', 'add', 'totp', 'tia', '--secret', secret, '--no-verify', '--json']);
      expect(add.code, add.stderr).toBe(0);
      const id = add.json().result.id as string;
      const file = await backup();
      const code = oathtool(secret);
      expect((await s.login('tia', PW, code)).code).toBe(0);
      expect((await s.run(['tfa', 'delete', 'tia', id])).code).toBe(0);
      expect((await s.run(['restore', file, '--yes'])).code).toBe(0);
      // The code is still within the drift window: only the ledger refuses it.
      const replay = await s.login('tia', PW, code);
      expect(replay.code).toBe(5);
      expect(replay.json().error.message).not.toContain(code);
      // The restored factor takes the next step's code (one step of drift ahead).
      expect((await s.login('tia', PW, oathtool(secret, { epoch: nowSeconds() + 30 }))).code).toBe(0);
    });
  });

  it('keeps a TOTP code used since the backup used when the factor was deleted and its secret added again', async () => {
    await afterBackup('tim', 'before-totp-readd.db', async (s, backup) => {
      const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJR';
      const add = await s.run(['tfa', 'add', 'totp', 'tim', '--secret', secret, '--no-verify', '--json']);
      expect(add.code, add.stderr).toBe(0);
      const file = await backup();
      expect((await s.run(['tfa', 'delete', 'tim', add.json().result.id as string])).code).toBe(0);
      expect((await s.run(['tfa', 'add', 'totp', 'tim', '--secret', secret, '--no-verify'])).code).toBe(0);
      const code = oathtool(secret);
      expect((await s.login('tim', PW, code)).code).toBe(0);
      // The backup's factor, under its old id, comes back: the ledger knows the code by the secret.
      expect((await s.run(['restore', file, '--yes'])).code).toBe(0);
      expect((await s.login('tim', PW, code)).code).toBe(5);
      expect((await s.login('tim', PW, oathtool(secret, { epoch: nowSeconds() + 30 }))).code).toBe(0);
    });
  });

  it('keeps YubiKey OTPs used since the backup used after the key was deleted and added again', async () => {
    await afterBackup('yul', 'before-readd.db', async (s, backup) => {
      const key = new SimulatedYubiKey(s.dir, 'yul', 'cccjgjgkhcrl', '1f1e1d1c1b1a19181716151413121110', '0a0b0c0d0e0f');
      const first = await s.run(['tfa', 'add', 'yubico', 'yul', '--otp', key.otp(), ...key.material, '--json']);
      expect(first.code, first.stderr).toBe(0);
      const file = await backup();
      const used = key.otp();
      expect((await s.login('yul', PW, used)).code).toBe(0);
      expect((await s.run(['tfa', 'delete', 'yul', first.json().result.id])).code).toBe(0);
      const readdedWith = key.otp();
      expect((await s.run(['tfa', 'add', 'yubico', 'yul', '--otp', readdedWith, ...key.material])).code).toBe(0);
      expect((await s.run(['restore', file, '--yes'])).code).toBe(0);
      // The restored factor is the one from before the deletion: the OTP it accepted after the
      // backup, and the one the same key spent on the factor that replaced it, stay spent.
      expect((await s.login('yul', PW, used)).code).toBe(5);
      expect((await s.login('yul', PW, readdedWith)).code).toBe(5);
      expect((await s.login('yul', PW, key.otp())).code).toBe(0);
    });
  });

  describe('refuses a backup tfactl did not write, audited, changing nothing', () => {
    /** Restores a copy of a fresh backup that `damage` changed, expecting the refusal `message`. */
    const refused = (name: string, damage: (db: Database.Database) => void, message: string) =>
      afterBackup('rex', name, async (s, backup) => {
        const file = await backup();
        const db = new Database(file);
        db.pragma('foreign_keys = OFF');
        damage(db);
        db.close();
        const before = s.snapshot();
        const ledger = s.atRest('SELECT * FROM replay_ledger ORDER BY factor_id, guard, slot');
        const r = await s.run(['restore', file, '--yes', '--json']);
        expect(r.code).toBe(6);
        expect(oneLineError(r)).toContain(message);
        expect(r.json().error.code).toBe('backup_invalid');
        expect(s.snapshot()).toBe(before);
        expect(s.atRest('SELECT * FROM replay_ledger ORDER BY factor_id, guard, slot')).toEqual(ledger);
        expect(s.auditRows().at(-1)).toMatchObject({ action: 'store.restore', outcome: 'refused' });
      });

    it('without root@local', () => refused('no-root.db', (db) => db.exec("DELETE FROM users WHERE userid = 'root@local'"), 'it has no root@local'));

    it('without the built-in realm local', () =>
      refused(
        'no-local.db',
        (db) => db.exec("UPDATE realms SET name = 'lokal' WHERE name = 'local'; UPDATE users SET realm = 'lokal' WHERE realm = 'local'"),
        'it has no built-in realm local',
      ));

    it('without a key fingerprint', () =>
      refused('no-fingerprint.db', (db) => db.exec("DELETE FROM settings WHERE key = 'key.fingerprint'"), 'it has no key fingerprint'));

    it('of this schema without the replay ledger', () =>
      refused(
        'no-ledger.db',
        (db) => {
          for (const trigger of db.prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger'").pluck().all()) db.exec(`DROP TRIGGER "${String(trigger)}"`);
          db.exec('DROP TABLE replay_ledger');
        },
        'it has no table replay_ledger',
      ));
  });

  it('is refused to admins, like restore', async () => {
    const r = await store.runAs('adm', PW, ['backup', join(store.dir, 'by-admin.db')]);
    expect(r.code).toBe(4);
  });

  it('says first that a backup file does not exist (exit 2, as for any file it reads), --yes or not', async () => {
    const nope = join(store.dir, 'nope.db');
    for (const args of [['--yes'], [], ['--dry-run']]) {
      const r = await store.run(['restore', nope, ...args, '--json']);
      expect(r.code).toBe(2);
      expect(r.json().error).toEqual({ code: 'file_error', message: `cannot read the backup ${nope}: no such file or directory (ENOENT)` });
    }
  });
});
