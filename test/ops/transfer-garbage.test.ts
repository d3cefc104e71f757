// The young generation collected as SSH transfers move bytes (src/server/transfer-garbage.ts): one
// minor collection per 4 MiB moved, counted over every transfer of the process, and with V8's own
// collector the buffers of packets already passed on are freed at once. The end-to-end bound is
// test/e2e/git-lfs-ssh-memory.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_EVERY_BYTES, TransferGarbage } from '../../src/server/transfer-garbage.js';
import type { Collect } from '../../src/server/v8-gc.js';

const KiB = 1024;

describe('TransferGarbage', () => {
  it('runs one minor collection per 4 MiB moved, whichever transfer moved them', () => {
    const calls: unknown[] = [];
    const collect: Collect = (options) => void calls.push(options);
    const garbage = new TransferGarbage(DEFAULT_EVERY_BYTES, collect);
    const packet = 64 * KiB;
    const perCollection = DEFAULT_EVERY_BYTES / packet;
    for (let i = 0; i < perCollection - 1; i++) garbage.passed(packet);
    assert.equal(calls.length, 0, 'nothing before 4 MiB');
    garbage.passed(packet);
    assert.deepEqual(calls, [{ type: 'minor' }]);
    // two sessions taking turns share the count
    for (let i = 0; i < perCollection; i++) garbage.passed(packet / 2);
    assert.equal(calls.length, 1);
    for (let i = 0; i < perCollection; i++) garbage.passed(packet / 2);
    assert.equal(calls.length, 2);
    assert.equal(garbage.collections, 2);
  });

  it("with V8's collector, frees the buffers of packets that are gone", async () => {
    const garbage = new TransferGarbage(DEFAULT_EVERY_BYTES);
    // settle what the test runner allocated, so that only this test's buffers move the amount
    garbage.passed(DEFAULT_EVERY_BYTES);
    await new Promise((resolve) => setImmediate(resolve));
    const before = process.memoryUsage().arrayBuffers;
    const packet = 32 * KiB;
    let moved = 0;
    let peak = 0;
    for (let i = 0; moved + packet < DEFAULT_EVERY_BYTES; i++, moved += packet) {
      // a decrypted packet: a fresh buffer, handed on and dropped (what ssh2 does per packet)
      Buffer.allocUnsafe(packet).fill(i);
      garbage.passed(packet);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }
    assert.ok(
      peak > DEFAULT_EVERY_BYTES / 2,
      `the dropped buffers are held until a collection (${peak} bytes)`,
    );
    garbage.passed(packet);
    await new Promise((resolve) => setImmediate(resolve));
    const left = process.memoryUsage().arrayBuffers - before;
    assert.ok(left < 256 * KiB, `freed by the minor collection: ${left} bytes left`);
    assert.equal(garbage.collections, 2);
  });
});
