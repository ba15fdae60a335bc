import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type PostgresCluster } from '../fixtures/postgres.js';
import type { Store } from '../../src/store/types.js';

/**
 * The backends every store contract test runs on: a SQLite file, and a database of a throwaway
 * PostgreSQL cluster (test/fixtures/postgres.ts). `open()` gives a new, empty store each time.
 */
export interface Backend {
  readonly name: 'sqlite' | 'postgres';
  open(now?: number): Promise<Store & { close(): void }>;
  /** Another connection to the store `open()` last made, as another process (or host) has. */
  connectAgain(): Promise<Store & { close(): void }>;
  /** Stops what it started. */
  stop(): void;
}

let databases = 0;

export async function sqliteBackend(): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'tfactl-contract-'));
  let n = 0;
  const connect = async (now = 1000) => {
    const { openSqliteStore } = await import('../../src/store/sqlite.js');
    return (await openSqliteStore(join(dir, `s${n}.db`), { now })).store as Store & { close(): void };
  };
  return {
    name: 'sqlite',
    async open(now = 1000) {
      n++;
      return connect(now);
    },
    connectAgain: () => connect(),
    stop: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function postgresBackend(cluster?: PostgresCluster): Promise<Backend & { readonly cluster: PostgresCluster }> {
  const pg = cluster ?? (await startPostgres());
  let url = '';
  const connect = async (now = 1000) => {
    const { openPostgresStore } = await import('../../src/store/postgres.js');
    return (await openPostgresStore(url, { now })).store as Store & { close(): void };
  };
  return {
    name: 'postgres',
    cluster: pg,
    async open(now = 1000) {
      url = await pg.createDatabase(`contract_${process.pid}_${++databases}`);
      return connect(now);
    },
    connectAgain: () => connect(),
    stop: () => {
      if (!cluster) pg.stop();
    },
  };
}

/** Both backends, for describe.each: started lazily, in the suite's beforeAll. */
export const BACKENDS = [
  ['sqlite', sqliteBackend],
  ['postgres', postgresBackend],
] as const;

/**
 * `body` once per backend, in a describe of its own ("on sqlite", "on postgres"), with a new store
 * opened before its tests (`store()`) and closed after them.
 */
export function onEveryBackend(body: (store: () => Store & { close(): void }, others: (n: number) => Promise<Store[]>) => void): void {
  describe.each(BACKENDS)('on %s', (_name, start) => {
    let backend: Backend | undefined;
    let store: (Store & { close(): void }) | undefined;
    beforeAll(async () => {
      backend = await start();
      store = await backend.open();
    }, 60_000);
    const opened: (Store & { close(): void })[] = [];
    afterAll(() => {
      for (const o of opened) o.close();
      store?.close();
      backend?.stop();
    });
    const others = async (n: number) => {
      const more = await Promise.all(Array.from({ length: n }, () => backend!.connectAgain()));
      opened.push(...more);
      return more;
    };
    body(() => store!, others);
  });
}
