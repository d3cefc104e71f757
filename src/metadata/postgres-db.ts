/** PostgreSQL (Aurora PostgreSQL): the pool lfsd opens. Loaded only when a postgres:// URL is used. */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { PoolMeter } from './pool-meter.js';
import type { Database } from './schema.js';

/** how long opening a connection may take before the query fails as "database unavailable" */
export const CONNECT_TIMEOUT_MS = 10_000;

export function createPostgresDb(url: string, poolSize: number, meter?: PoolMeter): Kysely<Database> {
  // without a connect timeout, a database that drops packets (rather than refusing) holds every
  // request for the kernel's TCP timeout, minutes; with one, requests fail in 10 s with 503
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // An idle client that loses its connection emits 'error' on the pool, and a client in use may
  // emit 'error' itself; unhandled, either would crash the process. The pool drops the client,
  // and the next query (or the readiness probe's ping) reports the problem (503, database-failure.ts).
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const dialect = new PostgresDialect({ pool });
  return new Kysely<Database>({
    dialect: meter?.wrap(dialect, () => pool.totalCount) ?? dialect,
    log: meter?.log,
  });
}
