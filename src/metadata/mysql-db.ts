/** MySQL / MariaDB (Aurora MySQL): the pool lfsd opens. Loaded only when a mysql:// URL is used. */
import { CompiledQuery, Kysely, MysqlDialect } from 'kysely';
import { createPool } from 'mysql2';
import type { PoolMeter } from './pool-meter.js';
import type { Database } from './schema.js';

/** `url` is a mysql:// (or mariadb://) URL; query parameters become mysql2 options. */
export function createMysqlDb(url: string, poolSize: number, meter?: PoolMeter): Kysely<Database> {
  const pool = createPool({
    uri: url.replace(/^mariadb:/i, 'mysql:'),
    connectionLimit: poolSize,
    // DATETIME has no time zone: read and write it as UTC so a Date round-trips whatever the
    // server's or the process's zone.
    timezone: 'Z',
    dateStrings: false,
    // BIGINT values that fit a JS number come back as numbers, bigger ones as strings (not rounded).
    supportBigNumbers: true,
    bigNumberStrings: false,
  });
  const dialect = new MysqlDialect({
    pool,
    // Keeps NOW() and friends in UTC too, matching what the driver writes.
    onCreateConnection: async (connection) => {
      await connection.executeQuery(CompiledQuery.raw("SET time_zone = '+00:00'"));
    },
  });
  // mysql2 keeps no public count of its connections
  const open = () =>
    (pool as unknown as { _allConnections?: { length: number } })._allConnections?.length ?? 0;
  return new Kysely<Database>({ dialect: meter?.wrap(dialect, open) ?? dialect, log: meter?.log });
}
