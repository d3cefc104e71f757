/**
 * Replicas starting together all migrate: each migration must be applied exactly once, and every
 * replica must come up. PostgreSQL and MariaDB here (Kysely's migration lock); SQLite across
 * processes is in sqlite-cross-process.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMysqlDb, createPostgresDb } from '../../src/metadata/dialects.js';
import { migrateToLatest } from '../../src/metadata/migrations/migrate.js';
import { migrateDatabase, openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { createTestDatabase } from './test-databases.js';

const REPLICAS = 4;

for (const dialect of ['postgres', 'mysql'] as const) {
  void describe(`migrations on ${dialect}`, () => {
    void it(`applies each migration once when ${REPLICAS} replicas migrate at the same moment`, async () => {
      const database = await createTestDatabase(dialect);
      const create = dialect === 'postgres' ? createPostgresDb : createMysqlDb;
      const replicas = Array.from({ length: REPLICAS }, () => create(database.url, 2));
      try {
        const applied = await Promise.all(replicas.map((db) => migrateToLatest(db, dialect)));
        assert.deepEqual(applied.flat(), ['0001_initial']);
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
      assert.deepEqual(await migrateDatabase(database.url), ['0001_initial']);
      assert.deepEqual(await migrateDatabase(database.url), []);
    } finally {
      await database.drop();
    }
  });
});
