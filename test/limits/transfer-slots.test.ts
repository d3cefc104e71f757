/**
 * TransferSlots' synchronous fast path (tryAcquire): a free slot at once, none when the limit is
 * reached or a request already waits (which it must not overtake).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransferSlots } from '../../src/limits/transfer-slots.js';

void describe('TransferSlots.tryAcquire', () => {
  void it('takes a free slot at once and none over the limit', () => {
    const slots = new TransferSlots({ max: 2, maxPerUser: 0, queueTimeoutMs: 1000 });
    const first = slots.tryAcquire('a');
    const second = slots.tryAcquire('b');
    assert.ok(first && second);
    assert.equal(slots.inUse, 2);
    assert.equal(slots.tryAcquire('c'), undefined, 'the process limit');
    first();
    first(); // twice is harmless
    assert.equal(slots.inUse, 1);
    second();
    assert.equal(slots.inUse, 0);
  });

  void it('keeps the per-user limit', () => {
    const slots = new TransferSlots({ max: 0, maxPerUser: 1, queueTimeoutMs: 1000 });
    const alice = slots.tryAcquire('alice');
    assert.ok(alice);
    assert.equal(slots.tryAcquire('alice'), undefined);
    assert.ok(slots.tryAcquire('bob'), 'another user is not limited by alice');
  });

  void it('does not overtake a request that waits', async () => {
    const slots = new TransferSlots({ max: 1, maxPerUser: 0, queueTimeoutMs: 5000 });
    const held = slots.tryAcquire('a');
    assert.ok(held);
    const waiting = slots.acquire('b');
    assert.equal(slots.waiting, 1);
    held();
    // the slot went to the waiting request, not to a later one
    assert.equal(slots.tryAcquire('c'), undefined);
    const granted = await waiting;
    assert.equal(typeof granted, 'function');
    (granted as () => void)();
    assert.ok(slots.tryAcquire('c'));
  });
});
