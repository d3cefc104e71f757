/**
 * Replicas starting together all migrate: each migration must be applied exactly once, and every
 * replica must come up. PostgreSQL and MariaDB here (Kysely's migration lock); SQLite across
 * processes is in sqlite-cross-process.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMysqlDb } from '../../src/metadata/mysql-db.js';
import { createPostgresDb } from '../../src/metadata/postgres-db.js';
import { createSqliteDb } from '../../src/metadata/sqlite-db.js';
import { migrateToLatest, migrationNames } from '../../src/metadata/migrations/migrate.js';
import {
  migrateDatabase,
  openMetadataStore,
  parseDatabaseUrl,
} from '../../src/metadata/open-metadata-store.js';
import { createTestDatabase, DIALECTS } from './test-databases.js';

const REPLICAS = 4;

for (const dialect of ['postgres', 'mysql'] as const) {
  void describe(`migrations on ${dialect}`, () => {
    void it(`applies each migration once when ${REPLICAS} replicas migrate at the same moment`, async () => {
      const database = await createTestDatabase(dialect);
      const create = dialect === 'postgres' ? createPostgresDb : createMysqlDb;
      const replicas = Array.from({ length: REPLICAS }, () => create(database.url, 2));
      try {
        const applied = await Promise.all(replicas.map((db) => migrateToLatest(db, dialect)));
        assert.deepEqual(applied.flat(), migrationNames(dialect));
        assert.deepEqual(await migrateDatabase(database.url), []);

        const store = await openMetadataStore(database.url, { migrate: false });
        try {
          const repo = await store.createRepo('team/game', { isPublic: false });
          assert.equal((await store.findRepo('team/game'))?.id, repo.id);
        } finally {
          await store.close();
        }
      } finally {
        await Promise.all(replicas.map((db) => db.destroy()));
        await database.drop();
      }
    });
  });
}

void describe('migrations on sqlite', () => {
  void it('leaves a new database empty with migrate: false, and migrateDatabase applies the migrations once', async () => {
    const database = await createTestDatabase('sqlite');
    try {
      const unmigrated = await openMetadataStore(database.url, { migrate: false });
      try {
        await assert.rejects(unmigrated.createRepo('team/game', { isPublic: false }), /no such table/);
      } finally {
        await unmigrated.close();
      }
      assert.deepEqual(await migrateDatabase(database.url), migrationNames('sqlite'));
      assert.deepEqual(await migrateDatabase(database.url), []);
    } finally {
      await database.drop();
    }
  });
});

for (const dialect of DIALECTS) {
  void describe(`upgrades on ${dialect}`, () => {
    void it('0002_credentials: existing users and tokens keep working, with the new columns defaulted', async () => {
      const database = await createTestDatabase(dialect);
      try {
        // the schema as it was before 0002, with a user in it
        const location = parseDatabaseUrl(database.url);
        const db =
          location.dialect === 'sqlite'
            ? createSqliteDb(location.path)
            : (location.dialect === 'postgres' ? createPostgresDb : createMysqlDb)(location.url, 1);
        try {
          assert.deepEqual(await migrateToLatest(db, dialect, '0001_initial'), ['0001_initial']);
          const createdAt = dialect === 'sqlite' ? new Date().toISOString() : new Date();
          const isAdmin = dialect === 'postgres' ? false : 0;
          await db
            .insertInto('users')
            .values({ name: 'olduser', is_admin: isAdmin, password_hash: null, created_at: createdAt })
            .execute();
        } finally {
          await db.destroy();
        }
        const store = await openMetadataStore(database.url);
        try {
          const user = await store.findUserByName('olduser');
          assert.equal(user?.disabled, false);
          assert.equal(user?.authGeneration, 0);
          await store.setPasswordHash(user!.id, 'x');
          assert.equal((await store.findUserByName('olduser'))?.authGeneration, 1);
        } finally {
          await store.close();
        }
      } finally {
        await database.drop();
      }
    });
  });
}
