/**
 * SSH public keys (issue 13): a key proves its user's identity over SSH (src/ssh). A key belongs to
 * one user (its SHA-256 fingerprint is unique) and goes with the user (ON DELETE CASCADE).
 * `public_key` is the key's wire-format blob in base64, as in an OpenSSH `authorized_keys` line.
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../dialects.js';
import { addAutoId, columnTypes, tableOptions } from './column-types.js';

export function sshKeysMigration(dialect: DialectName): Migration {
  const type = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const options = await tableOptions(db, dialect);
      await addAutoId(db.schema.createTable('ssh_keys'), dialect, 'integer')
        .$call(options)
        .addColumn('user_id', 'integer', (col) => col.notNull())
        .addColumn('key_type', type.varchar(64), (col) => col.notNull())
        .addColumn('public_key', 'text', (col) => col.notNull())
        .addColumn('fingerprint', type.varchar(64), (col) => col.notNull())
        .addColumn('label', 'text')
        .addColumn('created_at', type.timestamp, (col) => col.notNull())
        .addColumn('last_used_at', type.timestamp)
        .addUniqueConstraint('ssh_keys_fingerprint_key', ['fingerprint'])
        .addForeignKeyConstraint('ssh_keys_user_fk', ['user_id'], 'users', ['id'], (fk) =>
          fk.onDelete('cascade'),
        )
        .execute();
      await db.schema.createIndex('ssh_keys_user_id_idx').on('ssh_keys').column('user_id').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('ssh_keys').execute();
    },
  };
}
