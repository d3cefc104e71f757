/**
 * Web console sessions (issue 16): server-side, so that signing out, a password change, disabling
 * or removing the user ends them at once (auth/credentials.ts). Only a hash of the cookie's secret
 * is stored. `auth_generation` is the user's generation when the session began: a session whose
 * user has moved on (new password, disabled) is dead. Removing the user removes their sessions.
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../dialects.js';
import { addAutoId, columnTypes, tableOptions } from './column-types.js';

export function webSessionsMigration(dialect: DialectName): Migration {
  const type = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const options = await tableOptions(db, dialect);
      await addAutoId(db.schema.createTable('web_sessions'), dialect, 'integer')
        .$call(options)
        .addColumn('user_id', 'integer', (col) => col.notNull())
        .addColumn('secret_hash', type.varchar(64), (col) => col.notNull())
        .addColumn('auth_generation', 'integer', (col) => col.notNull())
        .addColumn('created_at', type.timestamp, (col) => col.notNull())
        .addColumn('expires_at', type.timestamp, (col) => col.notNull())
        .addUniqueConstraint('web_sessions_secret_hash_key', ['secret_hash'])
        .addForeignKeyConstraint('web_sessions_user_fk', ['user_id'], 'users', ['id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
      await db.schema.createIndex('web_sessions_user_id_idx').on('web_sessions').column('user_id').execute();
      await db.schema
        .createIndex('web_sessions_expires_at_idx')
        .on('web_sessions')
        .column('expires_at')
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('web_sessions').execute();
    },
  };
}
