// The young generation collected as transfers drop buffers (src/server/transfer-garbage.ts): one
// minor collection per 8 MiB dropped, counted over every transfer of the process; with V8's own
// collector the buffers of packets already passed on are freed at once; the store tells it every
// upload chunk (and over S3 the client every body chunk: transfer-garbage-s3.test.ts). The
// end-to-end bounds are test/e2e/git-lfs-ssh-memory.test.ts and bench figures 5 and 7.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { DiskStore } from '../../src/storage/disk-store.js';
import { VerifyingStore } from '../../src/storage/verifying-store.js';
import { bodyOf, pseudoRandomBytes, readAll, sha256 } from '../storage/conformance.js';
import { DEFAULT_EVERY_BYTES, TransferGarbage } from '../../src/server/transfer-garbage.js';
import type { Collect } from '../../src/server/v8-gc.js';

const KiB = 1024;

describe('TransferGarbage', () => {
  it('runs one minor collection per 8 MiB of buffers dropped, whichever transfer dropped them', () => {
    const calls: unknown[] = [];
    const collect: Collect = (options) => void calls.push(options);
    const garbage = new TransferGarbage(DEFAULT_EVERY_BYTES, collect);
    const packet = 64 * KiB;
    const perCollection = DEFAULT_EVERY_BYTES / packet;
    for (let i = 0; i < perCollection - 1; i++) garbage.drop(packet);
    assert.equal(calls.length, 0, 'nothing before 8 MiB');
    garbage.drop(packet);
    assert.deepEqual(calls, [{ type: 'minor' }]);
    // two sessions taking turns share the count
    for (let i = 0; i < perCollection; i++) garbage.drop(packet / 2);
    assert.equal(calls.length, 1);
    for (let i = 0; i < perCollection; i++) garbage.drop(packet / 2);
    assert.equal(calls.length, 2);
    assert.equal(garbage.collections, 2);
  });

  it("with V8's collector, frees the buffers of packets that are gone", async () => {
    const garbage = new TransferGarbage(DEFAULT_EVERY_BYTES);
    // settle what the test runner allocated, so that only this test's buffers move the amount
    garbage.drop(DEFAULT_EVERY_BYTES);
    await nextTurn();
    const before = process.memoryUsage().arrayBuffers;
    const packet = 32 * KiB;
    let moved = 0;
    let peak = 0;
    for (let i = 0; moved + packet < DEFAULT_EVERY_BYTES; i++, moved += packet) {
      // a decrypted packet: a fresh buffer, handed on and dropped (what ssh2 does per packet)
      Buffer.allocUnsafe(packet).fill(i);
      garbage.drop(packet);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }
    assert.ok(
      peak > DEFAULT_EVERY_BYTES / 2,
      `the dropped buffers are held until a collection (${peak} bytes)`,
    );
    garbage.drop(packet);
    // V8 frees the buffers of the collected objects from a thread of its own, a few milliseconds
    // after the collection (later on a busy machine); without a collection an idle process keeps
    // them for seconds, so waiting up to 1 s still tells the two apart
    let left = process.memoryUsage().arrayBuffers - before;
    for (let wait = 0; wait < 100 && left >= 256 * KiB; wait++) {
      await sleep(10);
      left = process.memoryUsage().arrayBuffers - before;
    }
    assert.ok(left < 256 * KiB, `freed by the minor collection: ${left} bytes left`);
    assert.equal(garbage.collections, 2);
  });

  it('is told every chunk of an upload, by the store, and of a refused one too', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lfsd-garbage-'));
    try {
      const told: number[] = [];
      const store = new VerifyingStore(new DiskStore({ root }), (bytes) => told.push(bytes));
      const content = pseudoRandomBytes('garbage', 300_000);
      const oid = sha256(content);
      assert.equal(await store.put(oid, content.length, bodyOf(content, 64 * KiB)), 'written');
      assert.deepEqual(told, [65536, 65536, 65536, 65536, 37856]);
      assert.deepEqual(await readAll((await store.get(oid))!.body), content);
      told.length = 0;
      const wrong = Buffer.from(content);
      wrong[0]! ^= 1;
      await assert.rejects(store.put(oid, wrong.length, bodyOf(wrong, 100_000)), { code: 'hash_mismatch' });
      assert.deepEqual(told, [100_000, 100_000, 100_000]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
