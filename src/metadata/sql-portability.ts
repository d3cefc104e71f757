/**
 * The few places where the store's queries must differ per dialect: how values are bound, how an
 * insert skips or updates an existing row, how the new row's id comes back, and how the drivers
 * report a unique-key violation. The store calls these instead of branching on the dialect itself.
 */
import { sql } from 'kysely';
import type { InsertQueryBuilder, InsertResult, UpdateObject } from 'kysely';
import type { DialectName } from './dialects.js';
import type { DbBoolean, DbTimestamp } from './schema.js';

/** better-sqlite3 binds neither booleans nor Dates; the others take them as they are. */
export function dbBoolean(dialect: DialectName, value: boolean): DbBoolean {
  return dialect === 'sqlite' ? (value ? 1 : 0) : value;
}

/** SQLite keeps timestamps as ISO-8601 UTC text (fixed width, so they also sort as text). */
export function dbTimestamp(dialect: DialectName, value: Date): DbTimestamp {
  return dialect === 'sqlite' ? value.toISOString() : value;
}

/**
 * Turn the insert into a no-op when a row with the same unique key exists. MySQL uses
 * `ON DUPLICATE KEY UPDATE col = col` rather than `INSERT IGNORE`, because IGNORE also turns
 * other errors (too-long values, bad foreign keys) into warnings and stores truncated data.
 */
export function skipDuplicate<DB, TB extends keyof DB, O>(
  dialect: DialectName,
  query: InsertQueryBuilder<DB, TB, O>,
  anyColumn: keyof DB[TB] & string,
): InsertQueryBuilder<DB, TB, O> {
  if (dialect === 'mysql') {
    return query.onDuplicateKeyUpdate({ [anyColumn]: sql.ref(anyColumn) } as UpdateObject<DB, TB, TB>);
  }
  return query.onConflict((conflict) => conflict.doNothing());
}

/** Insert, or update `update`'s columns of the row that has the same `keyColumns`. */
export function upsert<DB, TB extends keyof DB, O>(
  dialect: DialectName,
  query: InsertQueryBuilder<DB, TB, O>,
  keyColumns: ReadonlyArray<keyof DB[TB] & string>,
  update: Partial<Record<keyof DB[TB] & string, unknown>>,
): InsertQueryBuilder<DB, TB, O> {
  if (dialect === 'mysql') return query.onDuplicateKeyUpdate(update as UpdateObject<DB, TB, TB>);
  return query.onConflict((conflict) =>
    conflict.columns(keyColumns).doUpdateSet(update as Parameters<typeof conflict.doUpdateSet>[0]),
  );
}

/**
 * Run the insert and return the autoincrement `id` of the new row as a decimal string (lock ids
 * are 64-bit). PostgreSQL has no insert id and needs RETURNING; MySQL (before MariaDB 10.5) has
 * no RETURNING; SQLite reports the last rowid.
 */
export async function insertReturningId<DB, TB extends keyof DB>(
  dialect: DialectName,
  query: InsertQueryBuilder<DB, TB, InsertResult>,
): Promise<string> {
  if (dialect === 'postgres') {
    // With a generic table Kysely cannot compute the RETURNING row type; it is { id }.
    const row = (await query.returning(sql`id`.as('id')).executeTakeFirstOrThrow()) as {
      id: number | string;
    };
    return String(row.id);
  }
  const result = await query.executeTakeFirstOrThrow();
  if (result.insertId === undefined) throw new Error('the database reported no id for the inserted row');
  return result.insertId.toString();
}

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

/** A unique or primary key violation, as pg, mysql2 and better-sqlite3 report it. */
export function isUniqueViolation(err: unknown): boolean {
  const code = errorCode(err);
  return (
    code === '23505' || // PostgreSQL unique_violation
    code === 'ER_DUP_ENTRY' || // MySQL / MariaDB 1062
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/** The database aborted the statement to break a deadlock; running it again is the remedy. */
export function isDeadlock(err: unknown): boolean {
  const code = errorCode(err);
  return code === '40P01' || code === 'ER_LOCK_DEADLOCK';
}

/**
 * SQLite refused a write because another connection holds or changed the database (after the busy
 * timeout, or at once when a read transaction's snapshot went stale and waiting cannot help).
 */
export function isSqliteBusy(err: unknown): boolean {
  const code = errorCode(err);
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}
