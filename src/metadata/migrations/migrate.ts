/**
 * Schema migrations with Kysely's Migrator. The migrations are listed here (a static provider)
 * rather than found by scanning a folder, so they work the same from src/ under tsx and from the
 * compiled dist/.
 *
 * Several replicas may start at once: Kysely holds a migration lock while it decides what to run
 * (PostgreSQL: a transaction-scoped advisory lock; MySQL: GET_LOCK), so exactly one of them applies
 * each migration and the others find nothing left to do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Migrator } from 'kysely';
import type { Kysely, Migration, MigrationProvider, MigrationResultSet } from 'kysely';
import type { DialectName } from '../dialects.js';
import { isSqliteBusy } from '../sql-portability.js';
import { initialMigration } from './0001_initial.js';

/** Names sort in the order they must run. */
function migrations(dialect: DialectName): Record<string, Migration> {
  return {
    '0001_initial': initialMigration(dialect),
  };
}

/**
 * SQLite has no migration lock: Kysely relies on there being one connection. When two processes
 * open a new database file together, the second one's transaction fails with SQLITE_BUSY; it then
 * tries again and finds the migrations applied.
 */
const SQLITE_BUSY_ATTEMPTS = 20;

/** Apply every pending migration; returns the names of the ones this call applied. */
export async function migrateToLatest<DB>(db: Kysely<DB>, dialect: DialectName): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) };
  const migrator = new Migrator({
    db,
    provider,
    // lfsd may share a database with other applications; keep its bookkeeping recognisable.
    migrationTableName: 'lfsd_migration',
    migrationLockTableName: 'lfsd_migration_lock',
  });
  for (let attempt = 1; ; attempt++) {
    const result: MigrationResultSet = await migrator.migrateToLatest();
    if (result.error === undefined) {
      return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    }
    if (dialect === 'sqlite' && isSqliteBusy(result.error) && attempt < SQLITE_BUSY_ATTEMPTS) {
      await sleep(20 + Math.random() * 80);
      continue;
    }
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName;
    const what = failed === undefined ? 'database migration' : `database migration ${failed}`;
    throw new Error(`${what} failed: ${describe(result.error)}`, { cause: result.error });
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
