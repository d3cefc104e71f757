/**
 * Group commit (issue 12): concurrent callers share fsyncs, none is answered by a flush that began
 * before it asked, and the SQLite store's durable() flushes the WAL through one such group.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { GroupedSync } from '../../src/durability/grouped-sync.js';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { WalSync } from '../../src/metadata/wal-sync.js';

/** a flush that completes when the test says so */
function manualFlushes() {
  const pending: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  const flush = () =>
    new Promise<void>((resolve, reject) => {
      pending.push({ resolve, reject });
    });
  return { pending, flush };
}

/** settles `promise` into a flag the test can read without awaiting it */
function track(promise: Promise<void>) {
  const state = { done: false, error: undefined as unknown };
  promise.then(
    () => (state.done = true),
    (err: unknown) => (state.error = err),
  );
  return state;
}

void describe('GroupedSync', () => {
  void it('serves callers arriving during a flush with the one next flush', async () => {
    const { pending, flush } = manualFlushes();
    const group = new GroupedSync(flush);
    const first = track(group.sync());
    assert.equal(pending.length, 1, 'an idle group flushes at once');
    // their writes may have landed after the running flush began: it cannot vouch for them
    const second = Array.from({ length: 10 }, () => track(group.sync()));
    await tick();
    assert.equal(pending.length, 1, 'callers arriving during a flush do not start another at once');
    pending[0]!.resolve();
    await tick();
    assert.ok(first.done, 'the first flush answers who asked before it');
    assert.ok(!second.some((s) => s.done), 'but not those who asked while it ran');
    assert.equal(pending.length, 2, 'the next flush starts when the first ends, one for all ten');
    const third = Array.from({ length: 10 }, () => track(group.sync()));
    await tick();
    assert.equal(pending.length, 2);
    pending[1]!.resolve();
    await tick();
    assert.ok(second.every((s) => s.done));
    assert.ok(!third.some((s) => s.done), 'asked during the second flush: wait for a third');
    assert.equal(pending.length, 3);
    pending[2]!.resolve();
    await tick();
    assert.ok(third.every((s) => s.done));
    assert.equal(group.flushes, 3, '21 callers, 3 flushes');
  });

  void it('passes a failed flush to its callers, and the next callers get a fresh flush', async () => {
    const { pending, flush } = manualFlushes();
    const group = new GroupedSync(flush);
    const failing = track(group.sync());
    const waiting = track(group.sync().catch(() => assert.fail('the next flush succeeded')));
    pending[0]!.reject(new Error('EIO'));
    await tick();
    await tick();
    assert.match(String(failing.error), /EIO/);
    assert.equal(pending.length, 2);
    pending[1]!.resolve();
    await tick();
    await tick();
    assert.ok(waiting.done);
    const later = track(group.sync());
    assert.equal(pending.length, 3, 'idle again: a new caller starts a flush at once');
    pending[2]!.resolve();
    await tick();
    assert.ok(later.done);
  });
});

void describe('WalSync and the SQLite store', () => {
  void it('fdatasyncs the WAL once for many concurrent commits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lfsd-walsync-'));
    try {
      const path = join(dir, 'lfsd.db');
      const store = await openMetadataStore(`sqlite:${path}`);
      try {
        const repo = await store.createRepo('alice/assets', { isPublic: false });
        const walSync = (store as unknown as { walSync: WalSync }).walSync;
        assert.ok(walSync instanceof WalSync, 'a file database gets a WalSync');
        const before = walSync.flushes;
        await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            await store.linkObject(repo.id, i.toString(16).padStart(64, '0'), 10);
            await store.durable();
          }),
        );
        const flushes = walSync.flushes - before;
        assert.ok(flushes >= 1 && flushes <= 2, `50 concurrent durable() calls cost ${flushes} flushes`);
      } finally {
        await store.close();
      }
      // the flush opens the WAL by name: without one there is nothing it could have synced
      await assert.rejects(new WalSync(join(dir, 'missing.db')).sync(), /ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void it('keeps the WAL open between flushes, and closes it with the store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lfsd-walsync-'));
    /** descriptors of this process open on the WAL (SQLite's own and the flush's) */
    const walDescriptors = async () => {
      let count = 0;
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (target === join(dir, 'lfsd.db-wal')) count++;
      }
      return count;
    };
    try {
      const store = await openMetadataStore(`sqlite:${join(dir, 'lfsd.db')}`);
      const walSync = (store as unknown as { walSync: WalSync }).walSync;
      const repo = await store.createRepo('alice/assets', { isPublic: false });
      const sqliteOwn = await walDescriptors();
      await store.linkObject(repo.id, '1'.repeat(64), 10);
      await store.durable();
      assert.equal(await walDescriptors(), sqliteOwn + 1, 'the first flush opened the WAL');
      for (let i = 2; i < 6; i++) {
        await store.linkObject(repo.id, String(i).repeat(64), 10);
        await store.durable();
      }
      assert.equal(await walDescriptors(), sqliteOwn + 1, 'later flushes use the same descriptor');
      await store.close();
      assert.equal(await walDescriptors(), 0, 'nothing left open on the WAL');
      await assert.rejects(walSync.sync(), /closed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void it('has nothing to flush for :memory:', async () => {
    const store = await openMetadataStore('sqlite::memory:');
    try {
      assert.equal((store as unknown as { walSync?: WalSync }).walSync, undefined);
      await store.durable();
    } finally {
      await store.close();
    }
  });
});
