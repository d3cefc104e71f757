/**
 * The three databases lfsd runs on, and the one function that opens a Kysely instance for a
 * database location. Each dialect's connection settings live in its own file
 * (`<dialect>-db.ts`), loaded only when that dialect is used: the PostgreSQL and MySQL drivers
 * cost a running process about 15 MB each, which the embedded default should not pay. Everything
 * else in metadata/ is dialect-neutral except sql-portability.ts and the column types in
 * migrations/column-types.ts.
 */
import type { Kysely } from 'kysely';
import type { PoolMeter } from './pool-meter.js';
import type { Database } from './schema.js';

export type DialectName = 'sqlite' | 'postgres' | 'mysql';

export type DatabaseLocation =
  { dialect: 'sqlite'; path: string } | { dialect: 'postgres' | 'mysql'; url: string };

/** A Kysely instance for `location` (`poolSize` connections for PostgreSQL and MySQL). */
export async function createDb(
  location: DatabaseLocation,
  poolSize: number,
  meter?: PoolMeter,
): Promise<Kysely<Database>> {
  switch (location.dialect) {
    case 'sqlite':
      return (await import('./sqlite-db.js')).createSqliteDb(location.path, meter);
    case 'postgres':
      return (await import('./postgres-db.js')).createPostgresDb(location.url, poolSize, meter);
    case 'mysql':
      return (await import('./mysql-db.js')).createMysqlDb(location.url, poolSize, meter);
  }
}
