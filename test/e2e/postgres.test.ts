import { spawn, spawnSync } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BEFORE_CANONICAL_NAMES, storeBeforeCanonicalNames } from '../fixtures/old-store.js';
import { startPostgres, type PostgresCluster } from '../fixtures/postgres.js';
import { BIN, nowSeconds, oathtool, oneLineError, runBin, startServe, type RunOptions } from './harness.js';
import { NOBODY, RUNUSER } from './nobody.js';

/**
 * The store on PostgreSQL (issue 13), through the built CLI: `--db postgres://...` (or TFACTL_DB),
 * a throwaway cluster (initdb and pg_ctl as the postgres user, a random port, password logins).
 * State is checked through the CLI, never with SQL. Several "hosts" are several processes, each
 * with its own connection.
 */
let cluster: PostgresCluster;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'tfactl-pg-e2e-'));
const KEY = join(dir, 'tfactl.key');
const PW = 'postgres store password';
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

const run = (args: readonly string[], options: RunOptions = {}) => runBin(args, { ...options, env: { TFACTL_DB: url, TFACTL_KEY_FILE: KEY, ...options.env } });
const login = (userid: string, code: string) => run(['login', userid, '--password-stdin', '--code', code, '--json'], { input: `${PW}\n` });

beforeAll(async () => {
  cluster = await startPostgres();
  url = await cluster.createDatabase('tfactl');
}, 60_000);
afterAll(() => {
  cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('tfactl on a PostgreSQL store', () => {
  it('creates the store and its key file, never showing the connection string\'s password', async () => {
    const r = await run(['init', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result).toMatchObject({ created: true, keyCreated: true, keyFile: KEY });
    expect(r.json().result.store).toBe(url.replace(cluster.password, '***'));
    expect(r.stdout + r.stderr).not.toContain(cluster.password);
    const again = await run(['init']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^using store postgres:\/\/tfactl:\*\*\*@127\.0\.0\.1:\d+\/tfactl$/m);
  });

  it('adds a user with TOTP and signs them in with a code from oathtool, once', async () => {
    const added = await run(['user', 'add', 'alice', '--password-stdin', '--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none'], { input: `${PW}\n` });
    expect(added.code, added.stderr).toBe(0);
    const code = oathtool(SECRET);
    const first = await login('alice', code);
    expect(first.code, first.stderr).toBe(0);
    expect(first.json().result.method).toBe('totp');
    const replay = await login('alice', code);
    expect(replay.code).toBe(5);
    const listed = (await run(['tfa', 'list', 'alice', '--json'])).json().result[0];
    expect(listed.factors[0]).toMatchObject({ type: 'totp', verified: true });
    const audit = (await run(['audit', '--user', 'alice@local', '--json'])).json().result as { action: string; outcome: string }[];
    expect(audit.filter((a) => a.action === 'login').map((a) => a.outcome)).toEqual(['ok', 'failed']);
  });

  it('lets exactly one of several hosts racing one recovery key in', async () => {
    const keys = (await run(['tfa', 'add', 'recovery', 'alice', '--json'])).json().result.keys as string[];
    const racing = await Promise.all(Array.from({ length: 8 }, () => login('alice', keys[0]!)));
    expect(racing.filter((r) => r.code === 0)).toHaveLength(1);
    expect(racing.filter((r) => r.code === 5)).toHaveLength(7);
    const left = (await run(['tfa', 'list', 'alice', '--json'])).json().result[0].factors.find((f: { type: string }) => f.type === 'recovery');
    expect(left.recoveryKeysLeft).toBe(9);
  });

  it('counts 30 racing wrong codes exactly: TOTP locks at its limit, the rest are refused as locked', async () => {
    await run(['user', 'add', 'bob', '--password-stdin', '--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none'], { input: `${PW}\n` });
    const wrong = await Promise.all(Array.from({ length: 30 }, (_, i) => login('bob', String(100000 + i))));
    expect(wrong.every((r) => r.code === 5)).toBe(true);
    const checked = wrong.filter((r) => !/TOTP is locked after too many failures/.test(r.json().error.message));
    expect(checked).toHaveLength(8);
    const bob = (await run(['user', 'show', 'bob', '--json'])).json().result;
    expect(bob.lock).toMatchObject({ totp: true });
  });

  it('says what is wrong with the connection in one line, exit 6, without the password', async () => {
    const down = await runBin(['user', 'list'], { env: { TFACTL_DB: url.replace(/:(\d+)\//, ':1/'), TFACTL_KEY_FILE: KEY } });
    expect(down.code).toBe(6);
    expect(oneLineError(down)).toMatch(/PostgreSQL store postgres:\/\/tfactl:\*\*\*@127\.0\.0\.1:1\/tfactl: nothing answers there/);
    const refused = await runBin(['user', 'list'], { env: { TFACTL_DB: url.replace(cluster.password, 'not-the-password'), TFACTL_KEY_FILE: KEY } });
    expect(refused.code).toBe(6);
    expect(oneLineError(refused)).toMatch(/refused the user name or password/);
    const nodb = await runBin(['user', 'list'], { env: { TFACTL_DB: url.replace(/\/tfactl$/, '/nowhere'), TFACTL_KEY_FILE: KEY } });
    expect(oneLineError(nodb)).toMatch(/: database "nowhere" does not exist$/);
    // sslmode=require against a server without TLS: pg's own nine-line notice about sslmode is not shown.
    const tls = await runBin(['user', 'list'], { env: { TFACTL_DB: `${url}?sslmode=require`, TFACTL_KEY_FILE: KEY } });
    expect(tls.code).toBe(6);
    expect(oneLineError(tls)).toMatch(/^error: PostgreSQL store postgres:\/\/tfactl:\*\*\*@127\.0\.0\.1:\d+\/tfactl: the server offers no TLS, which the connection string asks for \(sslmode\)$/);
    const nopassword = await runBin(['user', 'list'], { env: { TFACTL_DB: url.replace(`:${cluster.password}@`, '@'), TFACTL_KEY_FILE: KEY } });
    expect(nopassword.code).toBe(6);
    expect(oneLineError(nopassword)).toMatch(/: the server asks for a password, and the connection string has none \(postgres:\/\/USER:PASSWORD@HOST\/DB\)$/);
    const nosocket = await runBin(['user', 'list'], { env: { TFACTL_DB: `postgres://tfactl:${cluster.password}@%2Fnowhere%2Fsocket/tfactl`, TFACTL_KEY_FILE: KEY } });
    expect(nosocket.code).toBe(6);
    expect(oneLineError(nosocket)).toMatch(/: nothing answers there \(is PostgreSQL running\?\)$/);
    for (const r of [down, refused, nodb, tls, nopassword, nosocket]) expect(r.stdout + r.stderr).not.toContain(cluster.password);
  });

  it('refuses a database that is not a tfactl store, and one from a newer tfactl, exit 6', async () => {
    const other = await cluster.createDatabase('other');
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: other });
    await client.connect();
    await client.query('CREATE TABLE inventory (id integer)');
    await client.end();
    const foreign = await runBin(['user', 'list'], { env: { TFACTL_DB: other, TFACTL_KEY_FILE: KEY } });
    expect(foreign.code).toBe(6);
    expect(oneLineError(foreign)).toMatch(/holds tables but is not a tfactl store/);
    // A view alone is another program's too; a marker table without its row is no store either.
    for (const [name, ddl, message] of [
      ['viewonly', 'CREATE VIEW report AS SELECT 1 AS n', /holds tables but is not a tfactl store/],
      ['markeronly', "CREATE TABLE tfactl_store (application TEXT NOT NULL CHECK (application = 'tfactl'), version INTEGER NOT NULL)", /has a tfactl_store table without its row: it is not a tfactl store, or it was damaged$/],
    ] as const) {
      const db = await cluster.createDatabase(name);
      const c = new pg.Client({ connectionString: db });
      await c.connect();
      await c.query(ddl);
      await c.end();
      for (const args of [['init'], ['user', 'list']]) {
        const r = await runBin(args, { env: { TFACTL_DB: db, TFACTL_KEY_FILE: join(dir, `${name}.key`) } });
        expect({ args, code: r.code }).toEqual({ args, code: 6 });
        expect(oneLineError(r)).toMatch(message);
      }
    }

    const newer = await cluster.createDatabase('newer');
    expect((await runBin(['init'], { env: { TFACTL_DB: newer, TFACTL_KEY_FILE: join(dir, 'newer.key') } })).code).toBe(0);
    const bump = new pg.Client({ connectionString: newer });
    await bump.connect();
    await bump.query('UPDATE tfactl_store SET version = 99');
    await bump.end();
    const r = await runBin(['user', 'list'], { env: { TFACTL_DB: newer, TFACTL_KEY_FILE: join(dir, 'newer.key') } });
    expect(r.code).toBe(6);
    // Said as SQLite's is (test/e2e/store.test.ts).
    expect(oneLineError(r)).toMatch(/^error: the store at postgres:\/\/\S+ is from a newer tfactl \(schema 99; this tfactl knows up to \d+\): upgrade tfactl$/);
  });

  it('completes nothing from a database that holds no store, another program\'s tables or an older store, and changes none of them', async () => {
    const { default: pg } = await import('pg');
    const sql = async (db: string, text: string) => {
      const client = new pg.Client({ connectionString: db });
      await client.connect();
      try {
        return (await client.query(text)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    };
    const tables = (db: string) => sql(db, "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY tablename");
    const empty = await cluster.createDatabase('complete_empty');
    const foreign = await cluster.createDatabase('complete_foreign');
    await sql(foreign, 'CREATE TABLE inventory (id integer)');
    const older = await cluster.createDatabase('complete_older');
    const olderKey = join(dir, 'older.key');
    expect((await runBin(['user', 'add', 'erin', '--no-password'], { env: { TFACTL_DB: older, TFACTL_KEY_FILE: olderKey } })).code).toBe(0);
    await sql(older, 'UPDATE tfactl_store SET version = version - 1');
    // Each key file there, ours: completion answers only the owner of the key file (or root).
    const emptyKey = join(dir, 'empty.key');
    writeFileSync(emptyKey, '', { mode: 0o600 });
    for (const [db, key] of [[empty, emptyKey], [foreign, KEY], [older, olderKey]] as const) {
      const before = JSON.stringify({ tables: await tables(db), marker: db === older ? await sql(db, 'SELECT * FROM tfactl_store') : null });
      const r = await runBin(['__complete', 'users'], { env: { TFACTL_DB: db, TFACTL_KEY_FILE: key } });
      expect(r.code, db).toBe(0);
      expect(r.stdout, db).toBe('');
      expect(r.stderr, db).toBe('');
      expect(JSON.stringify({ tables: await tables(db), marker: db === older ? await sql(db, 'SELECT * FROM tfactl_store') : null }), db).toBe(before);
    }
    // An up-to-date store is answered.
    expect((await run(['__complete', 'users'])).stdout).toContain('alice@local\n');
  });

  it('fails cleanly when the server restarts under a command (exit 6, no user half-written), and the same command then completes', async () => {
    const csv = join(dir, 'users.csv');
    writeFileSync(csv, `userid,password,tfa\n${Array.from({ length: 40 }, (_, i) => `imp${i},import password ${i},totp:${SECRET}`).join('\n')}\n`, { mode: 0o600 });
    const importing = run(['user', 'import', csv, '--json']);
    await new Promise((r) => setTimeout(r, 400));
    cluster.restart();
    const cut = await importing;
    expect(cut.code, cut.stdout + cut.stderr).toBe(6);
    expect(cut.stdout + cut.stderr, cut.stdout + cut.stderr).toMatch(/the server closed the connection|nothing answers there|the database system is shutting down/);
    // Each user that is there is whole: its TOTP factor came with it.
    const partial = (await run(['user', 'list', '--json'])).json().result as { userid: string; factors: { totp: number } }[];
    const imported = partial.filter((u) => u.userid.startsWith('imp'));
    expect(imported.length).toBeLessThan(40);
    for (const u of imported) expect(u.factors.totp, u.userid).toBe(1);
    const again = await run(['user', 'import', csv, '--update', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const all = (await run(['user', 'list', '--json'])).json().result as { userid: string; factors: { totp: number } }[];
    expect(all.filter((u) => u.userid.startsWith('imp') && u.factors.totp === 1)).toHaveLength(40);
  }, 60_000);

  it('gives up on a lock another session holds after 30 s, as SQLite does (exit 6 store_busy), and goes on once it is let go', async () => {
    expect((await run(['init'])).code).toBe(0);
    expect((await run(['user', 'add', 'lockee', '--password-stdin'], { input: `${PW}\n` })).code).toBe(0);
    const { default: pg } = await import('pg');
    // Sessions left in a transaction (a psql left open): one holding the store's write lock (src/store/postgres.ts), one the users table.
    const holders = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })] as const;
    for (const h of holders) await h.connect();
    try {
      for (const h of holders) await h.query('BEGIN');
      await holders[0].query('SELECT pg_advisory_xact_lock(127978286708844)');
      await holders[1].query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const [write, read, signIn] = await Promise.all([
        run(['user', 'add', 'waiting', '--no-password', '--json']),
        run(['user', 'list', '--json']),
        // A sign-in too: once, not a second time for an audit entry the locked store cannot take.
        run(['login', 'lockee', '--password-stdin', '--json'], { input: `${PW}\n` }),
      ]);
      const waited = Date.now() - started;
      expect(waited).toBeLessThan(50_000);
      for (const r of [write, read, signIn]) {
        expect({ code: r.code, error: r.json().error }).toEqual({ code: 6, error: { code: 'store_busy', message: `the store at ${url.replace(cluster.password, '***')} stayed locked by another process for too long` } });
      }
      expect(waited).toBeGreaterThanOrEqual(29_000);
      for (const h of holders) await h.query('ROLLBACK');
      expect((await run(['user', 'add', 'waiting', '--no-password'])).code).toBe(0);
      expect((await run(['user', 'delete', 'waiting', '--yes'])).code).toBe(0);
    } finally {
      for (const h of holders) await h.end();
    }
  }, 90_000);

  it('frees the write lock of a host whose network went silent mid-command within a minute, as the server ends its stalled session', async () => {
    expect((await run(['init'])).code).toBe(0);
    expect((await run(['user', 'add', 'stalled', '--no-password'])).code).toBe(0);
    // Between one host and the server: traffic passes until the host has the write lock, then
    // nothing moves either way and both connections stay open (a cable pulled, a VPN gone).
    let stalled = false;
    const held: Socket[] = [];
    const proxy = createServer((client) => {
      const server = connect(cluster.port, '127.0.0.1');
      held.push(client, server);
      client.on('data', (chunk: Buffer) => {
        if (stalled) return;
        server.write(chunk);
        if (chunk.includes('pg_advisory_xact_lock')) stalled = true;
      });
      server.on('data', (chunk: Buffer) => {
        if (!stalled) client.write(chunk);
      });
      for (const s of [client, server]) s.on('error', () => undefined);
    });
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
    const viaProxy = url.replace(`:${cluster.port}/`, `:${(proxy.address() as AddressInfo).port}/`);
    const host = spawn(process.execPath, [BIN, 'user', 'modify', 'stalled', '--comment', 'never'], { env: { ...process.env, TFACTL_DB: viaProxy, TFACTL_KEY_FILE: KEY }, stdio: ['ignore', 'ignore', 'pipe'] });
    let said = '';
    host.stderr!.on('data', (d: Buffer) => (said += d.toString()));
    const exited = new Promise<number | null>((r) => host.once('exit', r));
    try {
      await vi.waitFor(() => expect(stalled).toBe(true), { timeout: 20_000, interval: 50 });
      const since = Date.now();
      // Another host's command that waits out its 30 s lock timeout meanwhile is store_busy, as
      // for any held lock; once the server has ended the stalled session (60 s), commands go on.
      await new Promise((r) => setTimeout(r, 62_000 - (Date.now() - since)));
      const after = await run(['user', 'modify', 'stalled', '--comment', 'went on', '--json']);
      expect(after.code, after.stderr).toBe(0);
      expect((await run(['user', 'show', 'stalled', '--json'])).json().result.comment).toBe('went on');
      // The silent host gives up 120 s after its last question (exit 6), without waiting as long again to roll back.
      expect(await exited).toBe(6);
      expect(Date.now() - since).toBeLessThan(135_000);
      expect(said).toMatch(/no answer from the server within 120 s \(is the network to it down\?\): nothing of the command was kept; run it again\n$/);
    } finally {
      host.kill('SIGKILL');
      for (const s of held) s.destroy();
      proxy.close();
    }
  }, 180_000);

  it("tells the service's clients that its store cannot be reached, not where it is (the log says why)", async () => {
    expect((await run(['init'])).code).toBe(0);
    const held: Socket[] = [];
    const proxy = createServer((client) => {
      const server = connect(cluster.port, '127.0.0.1');
      held.push(client, server);
      client.pipe(server).pipe(client);
      for (const s of [client, server]) s.on('error', () => undefined);
    });
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
    const port = (proxy.address() as AddressInfo).port;
    const sock = join(dir, 'down', 'tfactl.sock');
    const { child: server, log } = await startServe(sock, { TFACTL_DB: url.replace(`:${cluster.port}/`, `:${port}/`), TFACTL_KEY_FILE: KEY });
    try {
      // The database goes away: nothing answers at its address any more.
      await new Promise<void>((closed) => {
        proxy.close(() => closed());
        for (const s of held) s.destroy();
      });
      const health = await new Promise<{ status: number; body: string }>((done, fail) => {
        request({ socketPath: sock, path: '/api/v1/health' }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d)).on('end', () => done({ status: res.statusCode ?? 0, body }));
        })
          .on('error', fail)
          .end();
      });
      expect(health.status).toBe(503);
      expect(JSON.parse(health.body).error).toEqual({ code: 'store_unavailable', message: "the tfactl service cannot reach its store (its owner finds why in the service's log): try again later" });
      expect(health.body).not.toContain(String(port));
      // The log says why, and where: its line names the store (a message of the service's connections names none, as it may go to a client).
      await vi.waitFor(() => expect(log()).toMatch(new RegExp(`"store":"postgres://tfactl:\\*\\*\\*@127\\.0\\.0\\.1:${port}/tfactl","trouble":"PostgreSQL store postgres://\\.\\.\\.: nothing answers there`)), { timeout: 5000 });
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('serves the store through tfactl serve: 10 racing answers with one TOTP code through the API, one signs in', async () => {
    const sock = join(dir, 'run', 'tfactl.sock');
    await run(['user', 'add', 'web', '--admin', '--no-password']);
    await run(['user', 'add', 'cara', '--password-stdin', '--tfa', 'totp', '--totp-secret', SECRET, '--no-verify', '--qr', 'none'], { input: `${PW}\n` });
    const token = (await run(['token', 'add', 'web', 'app', '--privileges', 'read-only', '--json'])).json().result.value as string;
    const { child: server } = await startServe(sock, { TFACTL_DB: url, TFACTL_KEY_FILE: KEY });
    try {
      const post = (body: unknown) =>
        new Promise<{ status: number; json: { ok: boolean; result?: { challenge?: string; method?: string } } }>((done, fail) => {
          const text = JSON.stringify(body);
          const req = request({ socketPath: sock, path: '/api/v1/login', method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } }, (res) => {
            let answer = '';
            res.on('data', (d) => (answer += d)).on('end', () => done({ status: res.statusCode ?? 0, json: JSON.parse(answer) }));
          });
          req.on('error', fail).end(text);
        });
      const begun = await Promise.all(Array.from({ length: 10 }, () => post({ userid: 'cara', password: PW })));
      expect(begun.every((b) => b.status === 200 && b.json.result?.challenge)).toBe(true);
      const code = oathtool(SECRET);
      const answers = await Promise.all(begun.map((b) => post({ userid: 'cara', challenge: b.json.result!.challenge, response: code })));
      expect(answers.filter((a) => a.status === 200 && a.json.result?.method === 'totp')).toHaveLength(1);
      expect(answers.filter((a) => a.status === 401)).toHaveLength(9);
      // A server restart ends the service's pooled connections: the next sign-ins open new ones
      // (they used to answer 503 until the service was restarted too).
      await run(['user', 'add', 'dora', '--password-stdin'], { input: `${PW}\n` });
      cluster.restart();
      const after = await Promise.all(Array.from({ length: 3 }, () => post({ userid: 'dora', password: PW })));
      expect(after.map((a) => [a.status, a.json.result?.method])).toEqual(Array.from({ length: 3 }, () => [200, 'password']));
    } finally {
      server.kill('SIGTERM');
    }
  });

  it("takes the store and key file from this host's config, so the connection string is in no environment and no PAM file", async () => {
    const config = join(dir, 'config');
    writeFileSync(config, `# this host's tfactl\ndb = ${url}\nkey-file = ${KEY}\n`, { mode: 0o600 });
    const r = await runBin(['user', 'list', '--json'], { env: { TFACTL_CONFIG: config } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.json().result.map((u: { userid: string }) => u.userid)).toContain('alice@local');
    // pam config names no store: pam_exec runs tfactl as root, who reads the config.
    const lines = await runBin(['pam', 'config', 'sshd'], { env: { TFACTL_CONFIG: config } });
    expect(lines.code, lines.stderr).toBe(0);
    expect(lines.stdout).toMatch(/ pam check --realm local$/m);
    expect(lines.stdout).not.toContain('--db');
    expect(lines.stdout).not.toContain(cluster.password);
    // A config its group or others may read or write is refused: it holds the password and names the store everyone here uses.
    chmodSync(config, 0o640);
    const open = await runBin(['user', 'list'], { env: { TFACTL_CONFIG: config } });
    expect(open.code).toBe(6);
    expect(oneLineError(open)).toBe(`error: the config file ${config} is readable by its group (mode 0640): run 'chmod 600 ${config}'`);
    chmodSync(config, 0o600);
    writeFileSync(config, `db = ${url}\nport = 5432\n`);
    const unknown = await runBin(['user', 'list'], { env: { TFACTL_CONFIG: config } });
    expect(unknown.code).toBe(6);
    expect(oneLineError(unknown)).toBe(`error: ${config} line 2: not a setting tfactl knows (it knows db, key-file)`);
    expect(unknown.stderr).not.toContain(cluster.password);
  });

  it('signs in over SSH on two bastions sharing the store: a code used at one is spent at the other, a lockout counts at both', async () => {
    // Each bastion has its own /etc/tfactl/config (the store and its copy of the key file) and the
    // PAM lines `pam config` printed there, pasted as printed. pamtester runs under pam_wrapper in
    // a mount namespace of its own whose /etc is the real one with that config laid over it
    // (overlayfs): nothing in the real /etc changes.
    expect((await run(['realm', 'add', 'corp'])).code).toBe(0);
    const ZOE = 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U';
    const added = await run(['user', 'add', 'zoe@corp', '--no-password', '--tfa', 'totp', '--totp-secret', ZOE, '--no-verify', '--qr', 'none']);
    expect(added.code, added.stderr).toBe(0);
    const bastion = async (name: string) => {
      const root = join(dir, `bastion-${name}`);
      for (const d of ['etc/tfactl', 'work', 'pam.d']) mkdirSync(join(root, d), { recursive: true, mode: 0o700 });
      copyFileSync(KEY, join(root, 'tfactl.key'));
      const config = join(root, 'etc', 'tfactl', 'config');
      writeFileSync(config, `db = ${url}\nkey-file = ${join(root, 'tfactl.key')}\n`, { mode: 0o600 });
      const printed = await runBin(['pam', 'config', 'sshd', '--realm', 'corp'], { env: { TFACTL_CONFIG: config } });
      expect(printed.code, printed.stderr).toBe(0);
      expect(printed.stdout).not.toContain(cluster.password);
      writeFileSync(join(root, 'pam.d', 'sshd'), printed.stdout);
      return (user: string, answer: string) => {
        const mountEtc = 'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc && shift 2 && exec "$@"';
        const r = spawnSync('unshare', ['--mount', 'sh', '-c', mountEtc, 'sh', join(root, 'etc'), join(root, 'work'), 'pamtester', '-v', '-I', `rhost=bastion-${name}`, 'sshd', user, 'authenticate'], {
          input: `${answer}\n`,
          encoding: 'utf8',
          env: { PATH: process.env.PATH, LD_PRELOAD: 'libpam_wrapper.so', PAM_WRAPPER: '1', PAM_WRAPPER_SERVICE_DIR: join(root, 'pam.d') },
          timeout: 30_000,
        });
        return { ok: r.status === 0 && /successfully authenticated/.test(r.stdout + r.stderr), output: `${r.stdout}${r.stderr}` };
      };
    };
    const [east, west] = [await bastion('east'), await bastion('west')];
    const code = oathtool(ZOE);
    const first = east('zoe', code);
    expect(first.ok, first.output).toBe(true);
    const replayed = west('zoe', code);
    expect(replayed.ok, replayed.output).toBe(false);
    const next = west('zoe', oathtool(ZOE, { epoch: nowSeconds() + 30 }));
    expect(next.ok, next.output).toBe(true);
    // Wrong codes at either bastion count toward one lockout: 8 lock TOTP, for both.
    for (let i = 0; i < 8; i++) expect((i % 2 ? east : west)('zoe', '000000').ok).toBe(false);
    const shown = (await run(['user', 'show', 'zoe@corp', '--json'])).json().result;
    expect(shown.lock).toMatchObject({ totp: true, totpFailures: 8 });
    const audit = (await run(['audit', '--user', 'zoe@corp', '--all', '--json'])).json().result as { action: string; outcome: string; detail: { pam?: { rhost?: string } } }[];
    const pam = audit.filter((a) => a.action === 'pam');
    expect(pam.map((a) => [a.outcome, a.detail.pam?.rhost])).toEqual([
      ['ok', 'bastion-east'],
      ['failed', 'bastion-west'],
      ['ok', 'bastion-west'],
      ...Array.from({ length: 8 }, (_, i) => ['failed', i % 2 ? 'bastion-east' : 'bastion-west']),
    ]);
  });

  it('backs up to the portable format, a store file that restores into SQLite and keeps what was spent spent', async () => {
    const keys = (await run(['tfa', 'add', 'recovery', 'cara', '--json'])).json().result.keys as string[];
    expect((await login('cara', keys[0]!)).code).toBe(0);
    const file = join(dir, 'backup.db');
    const b = await run(['backup', file, '--json']);
    expect(b.code, b.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const users = async (env: Record<string, string>) => ((await runBin(['user', 'list', '--json'], { env: { TFACTL_KEY_FILE: KEY, ...env } })).json().result as { userid: string }[]).map((u) => u.userid);
    const onPg = await users({ TFACTL_DB: url });
    // The file opens as a store as it is...
    expect(await users({ TFACTL_DB: file })).toEqual(onPg);
    // ...and restores into a new SQLite store with the same key.
    const lite = join(dir, 'moved.db');
    expect((await runBin(['init'], { env: { TFACTL_DB: lite, TFACTL_KEY_FILE: KEY } })).code).toBe(0);
    const restored = await runBin(['restore', file, '--yes', '--json'], { env: { TFACTL_DB: lite, TFACTL_KEY_FILE: KEY } });
    expect(restored.code, restored.stderr).toBe(0);
    expect(await users({ TFACTL_DB: lite })).toEqual(onPg);
    const pgFactors = (await run(['tfa', 'list', 'alice', '--json'])).json().result[0].factors;
    const liteFactors = (await runBin(['tfa', 'list', 'alice', '--json'], { env: { TFACTL_DB: lite, TFACTL_KEY_FILE: KEY } })).json().result[0].factors;
    expect(liteFactors).toEqual(pgFactors);
    // The recovery key spent on PostgreSQL is spent in the moved store too; another one signs in there.
    const onLite = (code: string) => runBin(['login', 'cara', '--password-stdin', '--code', code, '--json'], { input: `${PW}\n`, env: { TFACTL_DB: lite, TFACTL_KEY_FILE: KEY } });
    expect((await onLite(keys[0]!)).code).toBe(5);
    const other = await onLite(keys[1]!);
    expect(other.code, other.stderr).toBe(0);
    expect(other.json().result).toMatchObject({ method: 'recovery', recoveryKeysLeft: 8 });
  });

  it('moves a site from SQLite to PostgreSQL by backup and restore, what was spent staying spent', async () => {
    const lite = join(dir, 'moved.db');
    const liteBackup = join(dir, 'lite-backup.db');
    const liteEnv = { TFACTL_DB: lite, TFACTL_KEY_FILE: KEY };
    expect((await runBin(['backup', liteBackup], { env: liteEnv })).code).toBe(0);
    const target = await cluster.createDatabase('moved');
    const pgEnv = { TFACTL_DB: target, TFACTL_KEY_FILE: KEY };
    expect((await runBin(['init'], { env: pgEnv })).code).toBe(0);
    const restored = await runBin(['restore', liteBackup, '--yes', '--json'], { env: pgEnv });
    expect(restored.code, restored.stderr).toBe(0);
    const list = async (env: Record<string, string>) => (await runBin(['tfa', 'list', '--json'], { env })).json().result;
    expect(await list(pgEnv)).toEqual(await list(liteEnv));
    // cara spent two recovery keys before the move (one on each backend): both stay spent.
    const keys = (await runBin(['tfa', 'list', 'cara', '--json'], { env: pgEnv })).json().result[0].factors.find((f: { type: string }) => f.type === 'recovery');
    expect(keys.recoveryKeysLeft).toBe(8);
    const code = oathtool(SECRET, { epoch: Math.floor(Date.now() / 1000) + 30 });
    const signIn = await runBin(['login', 'cara', '--password-stdin', '--code', code, '--json'], { input: `${PW}\n`, env: pgEnv });
    expect(signIn.code, signIn.stderr).toBe(0);
    expect(signIn.json().result.method).toBe('totp');
  });

  it('restores a backup from before canonical names, its secrets sealed again under the new ids', async () => {
    const old = join(dir, 'before-names', 'tfactl.db');
    const oldKey = join(dir, 'before-names', 'tfactl.key');
    await storeBeforeCanonicalNames(old, oldKey);
    const env = { TFACTL_DB: await cluster.createDatabase('before_names'), TFACTL_KEY_FILE: oldKey };
    expect((await runBin(['init'], { env })).code).toBe(0);
    const restored = await runBin(['restore', old, '--yes', '--json'], { env });
    expect(restored.code, restored.stderr).toBe(0);
    const { password, secret, recoveryKey } = BEFORE_CANONICAL_NAMES;
    const login = (answer: string) => runBin(['login', 'Alice@pve', '--password-stdin', '--code', answer, '--json'], { input: `${password}\n`, env });
    const totp = await login(oathtool(secret, { epoch: Math.floor(Date.now() / 1000) }));
    expect(totp.code, totp.stderr).toBe(0);
    expect(totp.json().result).toMatchObject({ userid: 'alice@pve', method: 'totp' });
    const recovery = await login(recoveryKey);
    expect(recovery.code, recovery.stderr).toBe(0);
    expect(recovery.json().result).toMatchObject({ userid: 'alice@pve', method: 'recovery', recoveryKeysLeft: 0 });
  });

  it("makes no OS user root@local by the connection string alone: one without the store's key file is refused, changing nothing", async () => {
    const home = mkdtempSync(join(tmpdir(), 'tfactl-pg-nobody-'));
    chmodSync(home, 0o755);
    chownSync(home, NOBODY, NOBODY);
    const asNobody = (args: readonly string[], env: Record<string, string> = {}) =>
      runBin(args, { prefix: [...RUNUSER, 'env', '-C', home], env: { TFACTL_DB: url, HOME: home, ...env } });
    try {
      const before = (await run(['user', 'list', '--json'])).stdout + (await run(['token', 'list', '--json'])).stdout;
      for (const args of [['user', 'list'], ['user', 'add', 'mallory', '--admin', '--no-password'], ['token', 'add', 'root@local', 'stolen']]) {
        const r = await asNobody(args);
        expect(r.code, r.stderr).toBe(4);
        // (Where they look for it, the key file is not there, or, on a host with a config, root's.)
        expect(oneLineError(r)).toMatch(/^error: you do not own the PostgreSQL store's key file /);
      }
      // A database with no store yet: whoever makes the store owns it, and its key file.
      const theirs = { TFACTL_DB: await cluster.createDatabase('nobodys_own'), TFACTL_KEY_FILE: join(home, 'tfactl.key') };
      const made = await asNobody(['user', 'add', 'first', '--no-password'], theirs);
      expect(made.code, made.stderr).toBe(0);
      expect(statSync(theirs.TFACTL_KEY_FILE).uid).toBe(NOBODY);
      const listed = await asNobody(['user', 'list'], theirs);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toContain('first@local');
      // A key file of their own is not this store's: that of their store, or one just made.
      writeFileSync(join(home, 'made.key'), '', { mode: 0o600 });
      chownSync(join(home, 'made.key'), NOBODY, NOBODY);
      for (const [key, why] of [[theirs.TFACTL_KEY_FILE, 'belongs to another store'], [join(home, 'made.key'), 'is damaged']]) {
        for (const args of [['user', 'list'], ['token', 'add', 'root@local', 'stolen']]) {
          const r = await asNobody(args, { TFACTL_KEY_FILE: key as string });
          expect(r.code, r.stderr).toBe(4);
          expect(oneLineError(r)).toBe(`error: you do not own the PostgreSQL store (key file ${key} ${why}): name the acting user with --as USERID (or TFACTL_AS)`);
        }
      }
      expect((await run(['user', 'list', '--json'])).stdout + (await run(['token', 'list', '--json'])).stdout).toBe(before);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('refuses pam config with the store on the command line: the password would go into a PAM file', async () => {
    const p = await run(['pam', 'config', 'sshd']);
    expect(p.code).toBe(2);
    expect(oneLineError(p)).toMatch(/connection string would go into the PAM file/);
  });
});
