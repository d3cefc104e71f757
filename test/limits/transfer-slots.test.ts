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

  void it('takes no slot while a request waits, as acquire does', async () => {
    // alice holds her one slot and waits for a second; a process slot is free, but bob queues
    const slots = new TransferSlots({ max: 2, maxPerUser: 1, queueTimeoutMs: 5000 });
    const held = slots.tryAcquire('alice');
    assert.ok(held);
    const waiting = slots.acquire('alice');
    assert.equal(slots.waiting, 1);
    assert.equal(slots.tryAcquire('bob'), undefined, 'a request waits');
    held();
    // the freed slot went to the waiting request
    const granted = await waiting;
    assert.equal(typeof granted, 'function');
    assert.equal(slots.waiting, 0);
    assert.ok(slots.tryAcquire('bob'), 'nobody waits any more');
    (granted as () => void)();
  });
});
