/**
 * One function per database that creates the Kysely instance with the connection settings lfsd
 * relies on. Everything else in metadata/ is dialect-neutral except sql-portability.ts and the
 * column types in migrations/column-types.ts.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { CompiledQuery, Kysely, MysqlDialect, PostgresDialect, SqliteDialect } from 'kysely';
import { createPool } from 'mysql2';
import pg from 'pg';
import type { PoolMeter } from './pool-meter.js';
import { cachingStatements } from './sqlite-statement-cache.js';
import type { Database } from './schema.js';

export type DialectName = 'sqlite' | 'postgres' | 'mysql';

/**
 * How long a SQLite writer waits for another connection's write lock before SQLITE_BUSY. Several
 * processes (the server and an `lfsd` admin command) may share one database file.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/** `path` is a file path or `:memory:`. */
export function createSqliteDb(path: string, meter?: PoolMeter): Kysely<Database> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const database = new BetterSqlite3(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
  // WAL lets readers run beside the one writer, also across processes; NORMAL sync is durable
  // across process crashes in WAL mode (only an OS crash may lose the last commits).
  // exec, not pragma(): pragma() prepares a statement that would be left to the garbage collector
  // (see sqlite-statement-cache.ts for why none may be)
  database.exec('PRAGMA journal_mode = WAL');
  database.exec(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  database.exec('PRAGMA synchronous = NORMAL');
  database.exec('PRAGMA foreign_keys = ON');
  const dialect = new SqliteDialect({ database: cachingStatements(database) });
  return new Kysely<Database>({
    dialect: meter?.wrap(dialect, () => (database.open ? 1 : 0)) ?? dialect,
    log: meter?.log,
  });
}

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
