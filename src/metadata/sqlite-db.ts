/** The SQLite database of the embedded default (DESIGN.md "Two ways to run"). */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { PoolMeter } from './pool-meter.js';
import { isSqliteBusy } from './sql-portability.js';
import { cachingStatements } from './sqlite-statement-cache.js';
import type { Database } from './schema.js';

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
  // across process crashes in WAL mode; an OS crash may lose the last commits, so what must
  // survive one waits for MetadataStore.durable() (a grouped fdatasync of the WAL: wal-sync.ts).
  // exec, not pragma(): pragma() prepares a statement that would be left to the garbage collector
  // (see sqlite-statement-cache.ts for why none may be)
  execRetryingBusy(database, 'PRAGMA journal_mode = WAL');
  database.exec(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  database.exec('PRAGMA synchronous = NORMAL');
  database.exec('PRAGMA foreign_keys = ON');
  const dialect = new SqliteDialect({ database: cachingStatements(database) });
  return new Kysely<Database>({
    dialect: meter?.wrap(dialect, () => (database.open ? 1 : 0)) ?? dialect,
    log: meter?.log,
  });
}

/**
 * Turning a new file to WAL takes an exclusive lock, and when another process opens the same new
 * file at that moment SQLite answers SQLITE_BUSY at once, without its busy handler (seen when two
 * `lfsd` processes start on one empty data dir). Retried here, for up to the busy timeout.
 */
function execRetryingBusy(database: BetterSqlite3.Database, sql: string): void {
  const deadline = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      database.exec(sql);
      return;
    } catch (err) {
      if (!isSqliteBusy(err) || Date.now() > deadline) throw err;
      Atomics.wait(pause, 0, 0, 5 + Math.random() * 20); // a synchronous sleep: this runs at open
    }
  }
}
