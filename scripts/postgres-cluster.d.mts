/** A throwaway PostgreSQL cluster (scripts/postgres-cluster.mjs). */
export interface PostgresCluster {
  /** postgres://tfactl:PASSWORD@127.0.0.1:PORT/DB for database `db` (default postgres). */
  url(db?: string): string;
  readonly port: number;
  readonly password: string;
  /** A new database; its connection string. */
  createDatabase(name: string): Promise<string>;
  /** pg_ctl stop -m fast (a server going away under clients), then start again. */
  restart(): void;
  stop(): void;
}

export const PG_BIN: string | null;
export function startPostgres(): Promise<PostgresCluster>;
