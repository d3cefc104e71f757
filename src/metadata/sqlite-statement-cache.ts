/**
 * Kysely's SQLite driver prepares every query's SQL again on each call; preparing cost about as
 * much as running the batch route's 100-oid lookup. lfsd issues a small set of distinct SQL
 * strings (Kysely compiles the same query shape to the same text, with values as parameters), so
 * the database handed to Kysely keeps the most recently used prepared statements.
 *
 * Reusing a statement is safe here: Kysely's SQLite driver runs one query at a time on its single
 * connection, so a statement is never executing twice at once.
 */
import type { SqliteDatabase, SqliteStatement } from 'kysely';

export interface PreparingDatabase {
  close(): unknown;
  prepare(sql: string): SqliteStatement;
}

export function cachingStatements(database: PreparingDatabase, capacity = 256): SqliteDatabase {
  // a Map iterates in insertion order: re-inserting on use keeps the least recently used first
  const statements = new Map<string, SqliteStatement>();
  return {
    close: () => {
      statements.clear();
      database.close();
    },
    prepare: (sql) => {
      let statement = statements.get(sql);
      if (statement) {
        statements.delete(sql);
      } else {
        statement = database.prepare(sql);
        if (statements.size >= capacity) statements.delete(statements.keys().next().value as string);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}
