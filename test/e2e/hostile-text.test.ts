import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, oneLineError, TempStore } from './harness.js';

/**
 * Text that would rewrite a terminal (ESC sequences, CR/LF, bidi overrides) never gets into the
 * store by any path, and whatever got there some other way is shown escaped, on one line.
 */
const store = new TempStore();
afterAll(() => store.remove());
beforeAll(async () => {
  await store.run(['init']);
  await store.run(['user', 'add', 'vera', '--no-password']);
});

const ESC_RED = '\x1b[31m';
/** Raw characters the text rule refuses; what the output may never carry unescaped. */
const RAW = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function file(name: string, content: string | Buffer): string {
  const path = join(store.dir, name);
  writeFileSync(path, content);
  return path;
}

describe('free text with control characters is refused on every path', () => {
  it.each([
    ['user add --comment with ESC', ['user', 'add', 'mal', '--no-password', '--comment', `hi${ESC_RED}red`], 'invalid comment: it holds U+001B (a control character)'],
    ['user add --email with a newline', ['user', 'add', 'mal', '--no-password', '--email', 'a@b.example\nroot'], 'invalid email address: it holds U+000A'],
    ['user modify --comment with a bidi override', ['user', 'modify', 'vera', '--comment', 'ok\u202eexe.txt'], 'invalid comment: it holds U+202E (a bidirectional override)'],
    ['user modify --email with DEL', ['user', 'modify', 'vera', '--email', 'v\x7f@b.example'], 'invalid email address: it holds U+007F'],
    ['realm add --comment with CR', ['realm', 'add', 'evil', '--comment', 'one\rtwo'], 'invalid comment: it holds U+000D'],
    ['tfa add totp --description with ESC', ['tfa', 'add', 'totp', 'vera', '--no-verify', '--qr', 'none', '--description', `${ESC_RED}x`], 'invalid description: it holds U+001B'],
    ['tfa add totp --issuer with a line separator', ['tfa', 'add', 'totp', 'vera', '--no-verify', '--qr', 'none', '--issuer', 'a\u2028b'], 'invalid issuer: it holds U+2028'],
    ['tfa add yubico --description with a C1 control', ['tfa', 'add', 'yubico', 'vera', '--otp', 'cccccccbcjdkrrfnvkbeljchdtghuufiurjlcnhrhbht', '--description', 'k\x9b2J'], 'invalid description: it holds U+009B'],
    ['settings set totp.issuer with a bidi isolate', ['settings', 'set', 'totp.issuer', 'corp\u2066'], 'invalid issuer: it holds U+2066'],
    ['realm set-yubico --url with a tab', ['realm', 'set-yubico', 'local', '--api-id', '1', '--api-key', 'c2VjcmV0LWFwaS1rZXktMDEyMzQ1Njc4OQ==', '--url', 'https://x.example/\tverify'], 'invalid --url: it holds U+0009'],
  ])('%s: one line naming the code point, never the text, nothing changed (exit 2)', async (_what, args, message) => {
    const before = store.snapshot();
    const r = await store.run(args);
    expect(r.code).toBe(2);
    const line = oneLineError(r);
    expect(line).toContain(message);
    expect(line).not.toMatch(RAW);
    expect(line).not.toMatch(/red|exe|root|two|corp/);
    expect(store.snapshot()).toBe(before);
  });

  it('import proxmox: a comment with ESC or a newline refuses the whole import, naming the line', async () => {
    const tfa = file('tfa.cfg', '{"users":{}}');
    for (const [comment, codePoint] of [['pwn%1B%5B2J', 'U+001B'], ['two%0Auser%3Afake@pve%3A1%3A0', 'U+000A']] as const) {
      const user = file('user.cfg', `user:ok@pve:1:0:::::\nuser:x@pve:1:0:::x@example.org:${comment}::\n`);
      const before = store.snapshot();
      const r = await store.run(['import', 'proxmox', '--tfa-cfg', tfa, '--user-cfg', user]);
      expect(r.code).toBe(2);
      expect(oneLineError(r)).toContain(`user.cfg line 2: invalid comment: it holds ${codePoint}`);
      expect(store.snapshot()).toBe(before);
      expect(store.read<{ userid: string }[]>(['user', 'list']).filter((u) => u.userid.endsWith('@pve'))).toEqual([]);
    }
  });

  it('import proxmox: a factor description with ESC, or a file that is not UTF-8, imports nothing', async () => {
    const user = file('user2.cfg', 'user:ok@pve:1:0:::::\n');
    const tfa = file('tfa2.cfg', JSON.stringify({ users: { 'ok@pve': { yubico: [{ id: 'y', created: 1, entry: 'cccccccbcjdk', description: 'key\x1b]0;owned\x07' }] } } }));
    const before = store.snapshot();
    const described = await store.run(['import', 'proxmox', '--tfa-cfg', tfa, '--user-cfg', user]);
    expect(described.code).toBe(2);
    expect(oneLineError(described)).toContain('yubico entry #1: invalid description: it holds U+001B');
    const latin1 = file('user3.cfg', Buffer.from('user:ok@pve:1:0:::::\nuser:j@pve:1:0:J\xf6rg::::::\n', 'latin1'));
    const notUtf8 = await store.run(['import', 'proxmox', '--tfa-cfg', file('tfa3.cfg', ''), '--user-cfg', latin1]);
    expect(notUtf8.code).toBe(2);
    expect(oneLineError(notUtf8)).toContain(`the --user-cfg file ${latin1}: line 2 is not valid UTF-8`);
    expect(store.snapshot()).toBe(before);
  });

  it('user import: a row with control characters or bytes that are not UTF-8 fails; the others go in', async () => {
    const csv = file(
      'rows.csv',
      Buffer.concat([
        Buffer.from('userid,password,email,comment\n'),
        Buffer.from(`ok1,,ok1@example.org,fine\nesc,,,"${ESC_RED}red"\nnl,,,"two\nlines"\nbidi,,\u202eb@x.example,\n`),
        Buffer.from('bytes,,,J\xf6rg\n', 'latin1'),
        Buffer.from('pw,caf\xe9 password,,\n', 'latin1'),
        Buffer.from('ok2,,,also fine\n'),
      ]),
    );
    const r = await store.run(['user', 'import', csv, '--json']);
    expect(r.code).toBe(2);
    const details = r.json().result;
    expect(details).toMatchObject({ created: 2, failed: 5 });
    expect(details.results.filter((x: { status: string }) => x.status === 'failed').map((x: { error: string }) => x.error)).toEqual([
      expect.stringMatching(/^line 3: invalid comment: it holds U\+001B/),
      expect.stringMatching(/^line 4: invalid comment: it holds U\+000A/),
      expect.stringMatching(/^line 6: invalid email address: it holds U\+202E/),
      'line 7: the comment field is not valid UTF-8 (or holds a lone surrogate)',
      'line 8: the password field is not valid UTF-8 (or holds a lone surrogate)',
    ]);
    const tried = ['ok1@local', 'ok2@local', 'esc@local', 'nl@local', 'bidi@local', 'bytes@local', 'pw@local'];
    expect(store.read<{ userid: string }[]>(['user', 'list']).map((u) => u.userid).filter((u) => tried.includes(u))).toEqual(['ok1@local', 'ok2@local']);
    expect(r.stdout).not.toMatch(RAW);
  });

  it('an argument that is not UTF-8 is refused (exit 2), never stored as U+FFFD, and not echoed', async () => {
    await store.run(['user', 'add', 'ulla', '--no-password', '--comment', 'as it was']);
    const before = store.snapshot();
    // bash hands the byte 0xFF to tfactl as it is; Node reads it as U+FFFD.
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" user modify ulla --comment "$(printf 'caf\\351 \\377')" --json`], { env: { ...process.env, ...store.env }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(2);
    expect(JSON.parse(r.stdout).error).toEqual({ code: 'invalid_text', message: 'argument 5 of the command line is not valid UTF-8 (or holds U+FFFD, the replacement character): give text in UTF-8' });
    expect(r.stderr).not.toContain('caf');
    expect(store.snapshot()).toBe(before);
  });

  it('a new password that is not UTF-8 is refused, not stored as U+FFFD', async () => {
    const r = await store.run(['user', 'add', 'wes', '--password-stdin'], { input: Buffer.from('caf\xe9 latin-1 password\n', 'latin1') });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: password rejected: it is not valid UTF-8\n');
    expect(store.hasUser('wes')).toBe(false);
  });
});

describe('restore refuses a backup holding such text', () => {
  it.each([
    ['users', "UPDATE users SET comment = 'pwn\x1b[2J' WHERE userid = 'vera@local'", 'its users row "vera@local" holds U+001B (a control character) in comment'],
    ['realms', "UPDATE realms SET comment = 'a\nb' WHERE name = 'local'", 'its realms row "local" holds U+000A (a control character) in comment'],
    ['settings', "INSERT INTO settings (key, value) VALUES ('totp.issuer', 'corp\u202e')", 'its settings row "totp.issuer" holds U+202E (a bidirectional override) in value'],
    ['factors', "INSERT INTO factors (id, userid, type, description, created) VALUES ('f-1', 'vera@local', 'webauthn', 'key\u2028two', 1)", 'its factors row "f-1" holds U+2028 (a line or paragraph separator) in description'],
  ])('whole, with one line naming table and row (exit 6), when its %s hold it', async (_table, sql, message) => {
    const backup = join(store.dir, `doctored-${_table}.db`);
    expect((await store.run(['backup', backup])).code).toBe(0);
    // A backup is a SQLite file on every backend.
    const db = new Database(backup);
    db.exec(sql);
    db.close();
    const before = store.snapshot();
    const r = await store.run(['restore', backup, '--yes']);
    expect(r.code).toBe(6);
    const line = oneLineError(r);
    expect(line).toBe(`error: refusing to restore ${backup}: ${message}, which tfactl never stores`);
    expect(store.snapshot()).toBe(before);
    expect(store.auditRows().at(-1)).toMatchObject({ action: 'store.restore', outcome: 'refused' });
  });
});

describe('a store doctored to hold such text', () => {
  const doctored = new TempStore();
  afterAll(() => doctored.remove());
  const COMMENT = 'x\x1b[31mred\nmallory  yes    enabled  set\r\u202eexe.txt\u2028';

  beforeAll(async () => {
    await doctored.run(['init']);
    await doctored.run(['user', 'add', 'eve', '--no-password', '--email', 'eve@example.org']);
    await doctored.run(['tfa', 'add', 'totp', 'eve', '--no-verify', '--qr', 'none']);
    doctored.tamper('UPDATE users SET comment = ?, email = ? WHERE userid = ?', COMMENT, 'eve\t@example.org', 'eve@local');
    doctored.tamper("UPDATE factors SET description = ? WHERE userid = 'eve@local'", '\x1b[2Jwiped');
    doctored.tamper("INSERT INTO users (userid, realm, created, modified) VALUES ('ev\x1b[1mil@local', 'local', 1, 1)");
  });

  it('lists the row escaped, on one line, in user list', async () => {
    const r = await doctored.run(['user', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(RAW);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.find((l) => l.startsWith('eve@local'))).toMatch(/eve\\t@example\.org +x\\x1b\[31mred\\nmallory {2}yes {4}enabled {2}set\\r\\u202eexe\.txt\\u2028$/);
    expect(lines.some((l) => l.startsWith('ev\\x1b[1mil@local'))).toBe(true);
  });

  it('shows it escaped in user show, tfa list, export totp and the audit trail', async () => {
    for (const args of [['user', 'show', 'eve'], ['tfa', 'list'], ['export', 'totp'], ['audit'], ['user', 'show', 'eve', '--json']]) {
      const r = await doctored.run(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stdout, args.join(' ')).not.toMatch(RAW);
      expect(r.stderr, args.join(' ')).not.toMatch(RAW);
    }
    const shown = await doctored.run(['user', 'show', 'eve']);
    expect(shown.stdout).toContain('comment:  x\\x1b[31mred\\nmallory');
    const factors = await doctored.run(['tfa', 'list', 'eve']);
    expect(factors.stdout).toContain('\\x1b[2Jwiped');
  });

  it('keeps our own colours on a terminal while escaping the data', async () => {
    const { main, processContext } = await import('../../src/main.js');
    const out: string[] = [];
    const code = await main(['user', 'show', 'eve'], {
      io: { stdout: { write: (t) => out.push(t), isTTY: true, columns: 200 }, stderr: { write: () => true, isTTY: true }, stdinIsTTY: false, stdinChunks: async function* () {}, readLine: async () => null, onInterrupt: () => () => undefined },
      prompter: { password: async () => '', input: async () => '', confirm: async () => false },
      clock: { nowSeconds: () => 1_800_000_000, sleep: async () => undefined },
      random: { bytes: (n) => Buffer.alloc(n) },
      env: { ...doctored.env },
      uid: process.getuid?.() ?? 0,
      home: doctored.dir,
      hostname: 'test',
      // The stores tfactl itself opens, SQLite's or PostgreSQL's.
      openStore: processContext().openStore,
    });
    expect(code).toBe(0);
    const text = out.join('');
    // Our escapes: bold keys and the green state. The data's: shown as text.
    expect(text).toContain('\x1b[1mcomment: \x1b[22m x\\x1b[31mred');
    expect(text).toContain('\x1b[32menabled\x1b[39m');
    expect(text.replace(/\x1b\[(1|22|31|32|39)m/g, '')).not.toMatch(RAW);
  });

  it('JSON output carries the text exactly, with separators and bidi characters escaped too', async () => {
    const r = await doctored.run(['user', 'show', 'eve', '--json']);
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stdout).toContain('\\u202e');
    expect(r.stdout).toContain('\\u2028');
    expect(r.json().result.comment).toBe(COMMENT);
  });

  it('warnings naming such a user, and errors repeating such input, are escaped too', async () => {
    const warned = await doctored.run(['realm', 'set-enforce', 'local', 'totp']);
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr).toContain('ev\\x1b[1mil@local');
    expect(warned.stderr).not.toMatch(RAW);
    await doctored.run(['realm', 'set-enforce', 'local', 'none']);
    const missing = await doctored.run(['restore', join(doctored.dir, 'no\x1b[31mne.db'), '--yes']);
    expect(missing.code).toBe(2);
    expect(oneLineError(missing)).toMatch(/no\\x1b\[31mne\.db: no such file or directory \(ENOENT\)$/);
  });
});
