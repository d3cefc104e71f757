/**
 * Schema migrations with Kysely's Migrator. The migrations are listed here (a static provider)
 * rather than found by scanning a folder, so they work the same from src/ under tsx and from the
 * compiled dist/.
 *
 * Several replicas may start at once. On PostgreSQL and MySQL Kysely holds a migration lock while
 * it decides what to run (a transaction-scoped advisory lock; GET_LOCK), so exactly one of them
 * applies each migration and the others find nothing left to do. On SQLite Kysely takes no lock
 * and no transaction (it assumes a single process), so sqliteWriteLocked() provides both.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Migrator, sql } from 'kysely';
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { DialectName } from '../dialects.js';
import { isSqliteBusy } from '../sql-portability.js';
import { initialMigration } from './0001_initial.js';
import { credentialsMigration } from './0002_credentials.js';
import { sshKeysMigration } from './0003_ssh_keys.js';
import { lifecycleMigration } from './0004_lifecycle.js';
import { webSessionsMigration } from './0005_web_sessions.js';

/** Names sort in the order they must run. */
function migrations(dialect: DialectName): Record<string, Migration> {
  return {
    '0001_initial': initialMigration(dialect),
    '0002_credentials': credentialsMigration(dialect),
    '0003_ssh_keys': sshKeysMigration(dialect),
    '0004_lifecycle': lifecycleMigration(dialect),
    '0005_web_sessions': webSessionsMigration(dialect),
  };
}

/** The names of every migration, in the order they run. */
export function migrationNames(dialect: DialectName): string[] {
  return Object.keys(migrations(dialect)).sort();
}

/** Apply every pending migration; returns the names of the ones this call applied. */
export async function migrateToLatest<DB>(
  db: Kysely<DB>,
  dialect: DialectName,
  /** stop after this migration (tests of upgrades from an older schema) */
  upTo?: string,
): Promise<string[]> {
  if (dialect === 'sqlite')
    return sqliteWriteLocked(db, (connection) => runMigrator(connection, dialect, upTo));
  return runMigrator(db, dialect, upTo);
}

async function runMigrator<DB>(db: Kysely<DB>, dialect: DialectName, upTo?: string): Promise<string[]> {
  const all = migrations(dialect);
  const wanted =
    upTo === undefined ? all : Object.fromEntries(Object.entries(all).filter(([name]) => name <= upTo));
  const provider: MigrationProvider = { getMigrations: async () => wanted };
  const migrator = new Migrator({
    db,
    provider,
    // lfsd may share a database with other applications; keep its bookkeeping recognisable.
    migrationTableName: 'lfsd_migration',
    migrationLockTableName: 'lfsd_migration_lock',
    // the names are ASCII, so plain code-unit order; Kysely's default, localeCompare, starts ICU's
    // collator, which left some 2 MB of Node's locale data and code resident in every server
    nameComparator: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    const what = failed === undefined ? 'database migration' : `database migration ${failed}`;
    throw new Error(`${what} failed: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** attempts at SQLite's write lock, each waiting up to the busy timeout */
const SQLITE_LOCK_ATTEMPTS = 5;

/**
 * Run `work` inside one `BEGIN IMMEDIATE` transaction on the SQLite connection: it takes the
 * database's write lock up front, so a second process opening a new file at the same time waits,
 * then finds the migrations applied; and a migration that fails halfway leaves no trace (SQLite
 * DDL is transactional). A Kysely SQLite instance has exactly one connection, so everything the
 * migrator runs through `connection` is inside this transaction.
 */
async function sqliteWriteLocked<DB, T>(
  db: Kysely<DB>,
  work: (connection: Kysely<DB>) => Promise<T>,
): Promise<T> {
  return db.connection().execute(async (connection) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await sql`begin immediate`.execute(connection);
        break;
      } catch (err) {
        if (!isSqliteBusy(err) || attempt >= SQLITE_LOCK_ATTEMPTS) throw err;
        await sleep(50 + Math.random() * 100);
      }
    }
    try {
      const result = await work(connection);
      await sql`commit`.execute(connection);
      return result;
    } catch (err) {
      await sql`rollback`.execute(connection);
      throw err;
    }
  });
}
