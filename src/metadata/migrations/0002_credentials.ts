/**
 * Credentials that can be revoked at once (issue 11, DESIGN.md "Auth"):
 * - users.disabled: a disabled user signs in nowhere and every credential of theirs stops working;
 * - users.auth_generation: bumped when the password changes or the user is disabled, so transfer
 *   tokens (and console sessions) granted under the old password stop working at once;
 * - tokens.scopes: what a personal access token may do besides the LFS API (comma-separated;
 *   NULL is the default set, see auth/token-scopes.ts).
 */
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../dialects.js';
import { columnTypes } from './column-types.js';

export function credentialsMigration(dialect: DialectName): Migration {
  const type = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('users')
        .addColumn('disabled', type.boolean, (col) => col.notNull().defaultTo(false))
        .execute();
      await db.schema
        .alterTable('users')
        .addColumn('auth_generation', 'integer', (col) => col.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('tokens').addColumn('scopes', type.varchar(255)).execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('tokens').dropColumn('scopes').execute();
      await db.schema.alterTable('users').dropColumn('auth_generation').execute();
      await db.schema.alterTable('users').dropColumn('disabled').execute();
    },
  };
}
