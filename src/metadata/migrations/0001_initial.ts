/**
 * The initial schema (schema.ts describes the columns as the store reads them). Foreign keys are
 * table constraints, not inline REFERENCES, because MySQL silently ignores the inline form.
 */
import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../dialects.js';
import { MAX_REPO_PATH_LENGTH, MAX_USER_NAME_LENGTH } from '../schema.js';
import { addAutoId, columnTypes, tableOptions } from './column-types.js';

export function initialMigration(dialect: DialectName): Migration {
  const type = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const options = await tableOptions(db, dialect);
      const schema = db.schema;

      await addAutoId(schema.createTable('users'), dialect, 'integer')
        .$call(options)
        .addColumn('name', type.varchar(MAX_USER_NAME_LENGTH), (col) => col.notNull())
        .addColumn('is_admin', type.boolean, (col) => col.notNull())
        .addColumn('password_hash', 'text')
        .addColumn('created_at', type.timestamp, (col) => col.notNull())
        .addUniqueConstraint('users_name_key', ['name'])
        .execute();

      await addAutoId(schema.createTable('repos'), dialect, 'integer')
        .$call(options)
        .addColumn('path', type.varchar(MAX_REPO_PATH_LENGTH), (col) => col.notNull())
        .addColumn('is_public', type.boolean, (col) => col.notNull())
        .addColumn('created_at', type.timestamp, (col) => col.notNull())
        .addUniqueConstraint('repos_path_key', ['path'])
        .execute();

      // Content stored once, whichever repositories link it.
      await schema
        .createTable('objects')
        .$call(options)
        .addColumn('oid', type.varchar(64), (col) => col.primaryKey())
        .addColumn('size', 'bigint', (col) => col.notNull())
        .addColumn('created_at', type.timestamp, (col) => col.notNull())
        .execute();

      // Which repository may see which object (proof of possession). An object cannot be deleted
      // while a repository links it.
      await schema
        .createTable('repo_objects')
        .$call(options)
        .addColumn('repo_id', 'integer', (col) => col.notNull())
        .addColumn('oid', type.varchar(64), (col) => col.notNull())
        .addColumn('created_at', type.timestamp, (col) => col.notNull())
        .addPrimaryKeyConstraint('repo_objects_pkey', ['repo_id', 'oid'])
        .addForeignKeyConstraint('repo_objects_repo_fk', ['repo_id'], 'repos', ['id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .addForeignKeyConstraint('repo_objects_object_fk', ['oid'], 'objects', ['oid'])
        .execute();
      await schema.createIndex('repo_objects_oid_idx').on('repo_objects').column('oid').execute();

      await addAutoId(schema.createTable('tokens'), dialect, 'integer')
        .$call(options)
        .addColumn('user_id', 'integer', (col) => col.notNull())
        .addColumn('name', 'text')
        .addColumn('secret_hash', type.varchar(255), (col) => col.notNull())
        .addColumn('created_at', type.timestamp, (col) => col.notNull())
        .addColumn('expires_at', type.timestamp)
        .addColumn('revoked_at', type.timestamp)
        .addUniqueConstraint('tokens_secret_hash_key', ['secret_hash'])
        .addForeignKeyConstraint('tokens_user_fk', ['user_id'], 'users', ['id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
      await schema.createIndex('tokens_user_id_idx').on('tokens').column('user_id').execute();

      await schema
        .createTable('grants')
        .$call(options)
        .addColumn('user_id', 'integer', (col) => col.notNull())
        .addColumn('repo_id', 'integer', (col) => col.notNull())
        .addColumn('permission', type.varchar(16), (col) => col.notNull())
        .addPrimaryKeyConstraint('grants_pkey', ['user_id', 'repo_id'])
        .addCheckConstraint('grants_permission_check', sql`permission in ('read', 'write', 'admin')`)
        .addForeignKeyConstraint('grants_user_fk', ['user_id'], 'users', ['id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .addForeignKeyConstraint('grants_repo_fk', ['repo_id'], 'repos', ['id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
      await schema.createIndex('grants_repo_id_idx').on('grants').column('repo_id').execute();

      // One lock per (repository, path), enforced here and nowhere else. The unique key uses the
      // path's sha256 because MySQL cannot index a 1024-character utf8mb4 column.
      await addAutoId(schema.createTable('locks'), dialect, 'bigint')
        .$call(options)
        .addColumn('repo_id', 'integer', (col) => col.notNull())
        .addColumn('path', 'text', (col) => col.notNull())
        .addColumn('path_hash', type.varchar(64), (col) => col.notNull())
        .addColumn('owner_id', 'integer', (col) => col.notNull())
        .addColumn('ref', 'text')
        .addColumn('locked_at', type.timestamp, (col) => col.notNull())
        .addUniqueConstraint('locks_repo_path_key', ['repo_id', 'path_hash'])
        .addForeignKeyConstraint('locks_repo_fk', ['repo_id'], 'repos', ['id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .addForeignKeyConstraint('locks_owner_fk', ['owner_id'], 'users', ['id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
      // listLocks: one repository's locks in id order
      await schema.createIndex('locks_repo_id_id_idx').on('locks').columns(['repo_id', 'id']).execute();
      await schema.createIndex('locks_owner_id_idx').on('locks').column('owner_id').execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      for (const table of ['locks', 'grants', 'tokens', 'repo_objects', 'objects', 'repos', 'users']) {
        await db.schema.dropTable(table).execute();
      }
    },
  };
}
