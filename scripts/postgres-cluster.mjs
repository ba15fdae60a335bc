import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A throwaway PostgreSQL cluster, for the tests (test/fixtures/postgres.ts) and the bench.
/**
 * A throwaway PostgreSQL cluster for tests (Debian's `postgresql`): initdb and pg_ctl in a
 * temporary directory, as the unprivileged `postgres` user when run as root (PostgreSQL refuses
 * root), on a random loopback port, with password (SCRAM) authentication, so connection strings
 * are the kind sites write. Stopped and removed by `stop()`.
 */

export const PG_BIN = (() => {
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    return versions.length ? join('/usr/lib/postgresql', versions[0], 'bin') : null;
  } catch {
    return null;
  }
})();

/** @returns {{ uid: number, gid: number }} */
function postgresUser() {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user: install the Debian package postgresql');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** @returns {Promise<number>} */
async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = /** @type {{ port: number }} */ (server.address());
  await new Promise((r) => server.close(r));
  return port;
}

/** @returns {Promise<import('./postgres-cluster.d.mts').PostgresCluster>} */
export async function startPostgres() {
  if (!PG_BIN) throw new Error('PostgreSQL is not installed (Debian package postgresql): npm test installs it');
  const dir = mkdtempSync(join(tmpdir(), 'tfactl-pg-'));
  const asRoot = process.getuid?.() === 0;
  // The postgres user Debian's package makes (uid and gid from /etc/passwd).
  const owner = asRoot ? postgresUser() : null;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  /** @param {string[]} argv */
  const run = (argv) => {
    const [cmd, ...args] = argv;
    const r = asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) chownSync(pwfile, owner.uid, owner.gid);
  const data = join(dir, 'data');
  run([join(PG_BIN, 'initdb'), '-D', data, '-U', 'tfactl', '--pwfile', pwfile, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  const port = await freePort();
  const start = () =>
    run([join(PG_BIN, 'pg_ctl'), '-D', data, '-l', join(dir, 'log'), '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`, 'start']);
  start();
  const url = (db = 'postgres') => `postgres://tfactl:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;
  return {
    url,
    port,
    password,
    /** @param {string} name */
    async createDatabase(name) {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    restart() {
      run([join(PG_BIN, 'pg_ctl'), '-D', data, '-m', 'fast', '-w', 'stop']);
      start();
    },
    stop() {
      try {
        run([join(PG_BIN, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
