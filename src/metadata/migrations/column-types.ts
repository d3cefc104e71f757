/**
 * Column types and table options per dialect, for migrations. Migrations must keep creating the
 * same schema forever, so change what these return only by adding new helpers.
 */
import { sql } from 'kysely';
import type { ColumnDataType, CreateTableBuilder, Kysely } from 'kysely';
import type { DialectName } from '../dialects.js';

export interface ColumnTypes {
  /** a point in time with millisecond precision that round-trips a JS Date */
  timestamp: ColumnDataType;
  boolean: ColumnDataType;
  /** text with a length limit where an index needs one (SQLite ignores lengths anyway) */
  varchar(length: number): ColumnDataType;
}

export function columnTypes(dialect: DialectName): ColumnTypes {
  return {
    // timestamptz: an instant, independent of the session's zone. MySQL DATETIME(3) is zoneless:
    // the connection writes and reads it as UTC (dialects.ts). SQLite: ISO-8601 text.
    timestamp: dialect === 'postgres' ? 'timestamptz' : dialect === 'mysql' ? 'datetime(3)' : 'text',
    // MySQL's boolean is tinyint(1); SQLite has no boolean type at all.
    boolean: dialect === 'sqlite' ? 'integer' : 'boolean',
    varchar: (length) => (dialect === 'sqlite' ? 'text' : `varchar(${length})`),
  };
}

/**
 * Add an autoincrement integer primary key `id`. SQLite gets AUTOINCREMENT so that ids of deleted
 * rows are never handed out again (a lock id is a client-visible handle and a list cursor).
 */
export function addAutoId<TB extends string, C extends string>(
  table: CreateTableBuilder<TB, C>,
  dialect: DialectName,
  size: 'integer' | 'bigint',
): CreateTableBuilder<TB, C | 'id'> {
  if (dialect === 'postgres') {
    return table.addColumn('id', size === 'bigint' ? 'bigserial' : 'serial', (col) => col.primaryKey());
  }
  // SQLite only makes `INTEGER PRIMARY KEY` an alias of the rowid, whatever the size.
  const type = dialect === 'sqlite' ? 'integer' : size;
  return table.addColumn('id', type, (col) => col.primaryKey().autoIncrement());
}

/**
 * MySQL tables: InnoDB, utf8mb4, and a binary collation so that names and paths compare exactly
 * as on PostgreSQL and SQLite (the default collations ignore case, and PAD SPACE collations ignore
 * trailing spaces). Other dialects need no table options.
 */
export async function tableOptions(db: Kysely<unknown>, dialect: DialectName): Promise<TableOptions> {
  if (dialect !== 'mysql') return (table) => table;
  const collation = await mysqlBinaryCollation(db);
  return (table) =>
    table.modifyEnd(sql`engine = InnoDB default charset = utf8mb4 collate = ${sql.raw(collation)}`);
}

export type TableOptions = <TB extends string, C extends string>(
  table: CreateTableBuilder<TB, C>,
) => CreateTableBuilder<TB, C>;

/** utf8mb4_0900_bin (MySQL 8) or utf8mb4_nopad_bin (MariaDB) are NO PAD; utf8mb4_bin is the fallback. */
async function mysqlBinaryCollation(db: Kysely<unknown>): Promise<string> {
  const { rows } = await sql<{ name: string }>`
    select collation_name as name from information_schema.collations
    where collation_name in ('utf8mb4_0900_bin', 'utf8mb4_nopad_bin')`.execute(db);
  return rows[0]?.name ?? 'utf8mb4_bin';
}
