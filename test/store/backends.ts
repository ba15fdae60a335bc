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
  /** Stops what it started. */
  stop(): void;
}

let databases = 0;

export async function sqliteBackend(): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'tfactl-contract-'));
  let n = 0;
  return {
    name: 'sqlite',
    async open(now = 1000) {
      const { openSqliteStore } = await import('../../src/store/sqlite.js');
      return (await openSqliteStore(join(dir, `s${++n}.db`), { now })).store as Store & { close(): void };
    },
    stop: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function postgresBackend(cluster?: PostgresCluster): Promise<Backend & { readonly cluster: PostgresCluster }> {
  const pg = cluster ?? (await startPostgres());
  return {
    name: 'postgres',
    cluster: pg,
    async open(now = 1000) {
      const url = await pg.createDatabase(`contract_${process.pid}_${++databases}`);
      const { openPostgresStore } = await import('../../src/store/postgres.js');
      return (await openPostgresStore(url, { now })).store as Store & { close(): void };
    },
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
export function onEveryBackend(body: (store: () => Store & { close(): void }) => void): void {
  describe.each(BACKENDS)('on %s', (_name, start) => {
    let backend: Backend | undefined;
    let store: (Store & { close(): void }) | undefined;
    beforeAll(async () => {
      backend = await start();
      store = await backend.open();
    }, 60_000);
    afterAll(() => {
      store?.close();
      backend?.stop();
    });
    body(() => store!);
  });
}
