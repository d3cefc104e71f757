/**
 * Storage lifecycle (issue 14): usage, quotas, garbage collection and fsck.
 * - repos.usage_objects / usage_bytes: what the repository links, kept in the same transaction as
 *   every link and unlink (so `lfsd usage` and quota checks never scan repo_objects);
 * - repos.quota_bytes, users.quota_bytes: NULL is no quota (a user's quota covers their namespace);
 * - objects.held_at: the last time the object was linked or unlinked (gc's grace period);
 *   objects.marked_at / deleting_at: gc's mark, then its claim while it deletes the content (a link
 *   waits for neither but refuses a claimed object); objects.broken_at: fsck --repair found the
 *   content missing or corrupt (downloads answer 404, uploads ask for the bytes again);
 * - upload_offers: oids an upload batch offered to a repository and that are not linked yet: gc
 *   keeps their content, and quotas count them as reserved.
 */
import { sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../dialects.js';
import { columnTypes, tableOptions } from './column-types.js';

export function lifecycleMigration(dialect: DialectName): Migration {
  const type = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const options = await tableOptions(db, dialect);
      const schema = db.schema;
      await schema.alterTable('repos').addColumn('quota_bytes', 'bigint').execute();
      await schema
        .alterTable('repos')
        .addColumn('usage_objects', 'bigint', (col) => col.notNull().defaultTo(0))
        .execute();
      await schema
        .alterTable('repos')
        .addColumn('usage_bytes', 'bigint', (col) => col.notNull().defaultTo(0))
        .execute();
      await schema.alterTable('users').addColumn('quota_bytes', 'bigint').execute();
      for (const column of ['held_at', 'marked_at', 'deleting_at', 'broken_at']) {
        await schema.alterTable('objects').addColumn(column, type.timestamp).execute();
      }
      await schema.createIndex('objects_marked_at_idx').on('objects').column('marked_at').execute();

      await schema
        .createTable('upload_offers')
        .$call(options)
        .addColumn('repo_id', 'integer', (col) => col.notNull())
        .addColumn('oid', type.varchar(64), (col) => col.notNull())
        .addColumn('size', 'bigint', (col) => col.notNull())
        .addColumn('offered_at', type.timestamp, (col) => col.notNull())
        .addPrimaryKeyConstraint('upload_offers_pkey', ['repo_id', 'oid'])
        .addForeignKeyConstraint('upload_offers_repo_fk', ['repo_id'], 'repos', ['id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
      await schema.createIndex('upload_offers_oid_idx').on('upload_offers').column('oid').execute();

      // usage of what is already linked
      await sql`update repos set
        usage_objects = (select count(*) from repo_objects where repo_objects.repo_id = repos.id),
        usage_bytes = (select coalesce(sum(objects.size), 0) from repo_objects
          inner join objects on objects.oid = repo_objects.oid where repo_objects.repo_id = repos.id)`.execute(
        db,
      );
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('upload_offers').execute();
      await db.schema.dropIndex('objects_marked_at_idx').on('objects').execute();
      for (const column of ['broken_at', 'deleting_at', 'marked_at', 'held_at']) {
        await db.schema.alterTable('objects').dropColumn(column).execute();
      }
      await db.schema.alterTable('users').dropColumn('quota_bytes').execute();
      for (const column of ['usage_bytes', 'usage_objects', 'quota_bytes']) {
        await db.schema.alterTable('repos').dropColumn(column).execute();
      }
    },
  };
}
