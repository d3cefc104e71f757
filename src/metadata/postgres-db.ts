/** PostgreSQL (Aurora PostgreSQL): the pool lfsd opens. Loaded only when a postgres:// URL is used. */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { PoolMeter } from './pool-meter.js';
import type { Database } from './schema.js';

export function createPostgresDb(url: string, poolSize: number, meter?: PoolMeter): Kysely<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle client that loses its connection emits 'error' on the pool; unhandled, that would
  // crash the process. The pool drops the client, and the next query (or the readiness probe's
  // ping) reports the problem.
  pool.on('error', () => {});
  const dialect = new PostgresDialect({ pool });
  return new Kysely<Database>({
    dialect: meter?.wrap(dialect, () => pool.totalCount) ?? dialect,
    log: meter?.log,
  });
}
