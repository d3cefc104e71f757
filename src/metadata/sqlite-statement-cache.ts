/**
 * The better-sqlite3 database that Kysely gets: it prepares each SQL text once, and it keeps every
 * database and statement referenced until the process exits.
 *
 * Why once: Kysely's SQLite driver prepares every query's SQL again on each call, and preparing
 * cost about as much as running the batch route's 100-oid lookup. lfsd issues a bounded set of SQL
 * texts (Kysely compiles values to parameters; the one variable shape is the IN list of up to 500
 * oids of a linked-objects lookup), so the statements are simply all kept.
 *
 * Why until exit: on Node.js 24.19 and later, a better-sqlite3 12 Database or Statement finalized by
 * a garbage collection that runs outside JavaScript (an idle GC) aborts the process ("Assertion
 * failed: (env) != nullptr" in node::RemoveEnvironmentCleanupHook; better-sqlite3 13 fixes it but
 * does not run on Node 20). Objects still referenced at exit are destroyed by Node's own cleanup,
 * which is safe. lfsd opens one database per process, so this keeps next to nothing alive.
 *
 * Reusing a statement is safe: Kysely's SQLite driver runs one query at a time on its single
 * connection, so a statement never executes twice at once.
 */
import type { SqliteDatabase, SqliteStatement } from 'kysely';

export interface PreparingDatabase {
  close(): unknown;
  prepare(sql: string): SqliteStatement;
}

/** databases and statement maps that must outlive their use (see above) */
const retainedUntilExit: object[] = [];

export function cachingStatements(database: PreparingDatabase): SqliteDatabase {
  const statements = new Map<string, SqliteStatement>();
  retainedUntilExit.push(database, statements);
  return {
    close: () => {
      database.close();
    },
    prepare: (sql) => {
      let statement = statements.get(sql);
      if (!statement) {
        statement = database.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}
