// The metadata store's pool statistics and query hook (for lfsd_db_* metrics), on every dialect.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { AlreadyExistsError, type MetadataStore, type PoolStats } from '../../src/metadata/metadata-store.js';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { DIALECTS, createTestDatabase, type TestDatabase } from '../metadata/test-databases.js';

const POOL_SIZE = 3;

for (const dialect of DIALECTS) {
  describe(`pool statistics and query timing: ${dialect}`, () => {
    let db: TestDatabase;
    let store: MetadataStore;
    const queries: { seconds: number; failed: boolean }[] = [];

    before(async () => {
      db = await createTestDatabase(dialect);
      store = await openMetadataStore(db.url, {
        poolSize: POOL_SIZE,
        onQuery: (seconds, failed) => queries.push({ seconds, failed }),
      });
    });
    after(async () => {
      await store?.close();
      await db?.drop();
    });

    it('reports connections open, in use and callers waiting while queries run, and none after', async () => {
      const idle = store.poolStats!()!;
      assert.ok(idle.open >= 1 && idle.open <= POOL_SIZE, `open ${idle.open}`);
      assert.deepEqual({ inUse: idle.inUse, waiting: idle.waiting }, { inUse: 0, waiting: 0 });

      const seen: PoolStats[] = [];
      let running = true;
      const work = Promise.all(
        Array.from({ length: 40 }, (_, i) => store.findRepo(`team/repo-${i}`)),
      ).finally(() => (running = false));
      while (running) {
        seen.push(store.poolStats!()!);
        await nextTurn();
      }
      await work;
      const maxInUse = Math.max(...seen.map((s) => s.inUse));
      const maxWaiting = Math.max(...seen.map((s) => s.waiting));
      const limit = dialect === 'sqlite' ? 1 : POOL_SIZE;
      assert.ok(maxInUse <= limit, `in use at most ${limit}, saw ${maxInUse}`);
      // SQLite answers synchronously: its forty queries finish within the turn that issued them
      if (dialect !== 'sqlite') {
        assert.ok(maxInUse >= 1, 'connections were seen in use');
        assert.ok(maxWaiting > 0, 'forty queries on a small pool: some waited');
      }
      assert.ok(seen.every((s) => s.open <= limit && s.inUse >= 0 && s.waiting >= 0));
      const done = store.poolStats!()!;
      assert.deepEqual({ inUse: done.inUse, waiting: done.waiting }, { inUse: 0, waiting: 0 });
      assert.ok(done.open >= 1 && done.open <= limit);
    });

    it('times every query, and flags the failed ones', async () => {
      queries.length = 0;
      await store.createRepo('team/once', { isPublic: false });
      await assert.rejects(store.createRepo('team/once', { isPublic: false }), AlreadyExistsError);
      assert.ok(queries.length >= 2);
      assert.ok(queries.every((q) => q.seconds >= 0 && q.seconds < 10));
      assert.ok(
        queries.some((q) => q.failed),
        'the unique violation is a failed query',
      );
      assert.ok(queries.some((q) => !q.failed));
    });
  });
}
