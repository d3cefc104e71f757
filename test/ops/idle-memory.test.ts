// Memory back after a burst (issue 12, target 2): once transfers are over and buffers past the
// threshold are held, one full collection frees them, without waiting for V8's memory reducer; and
// once the process is quiet with a young generation past its threshold (Node 24 keeps it large).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectGarbageWhenIdle } from '../../src/server/idle-memory.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;

describe('collectGarbageWhenIdle', () => {
  it('collects once after a quiet period with buffers held, not while work runs or buffers move', async () => {
    let inFlight = 0;
    let held = 0;
    const collected: number[] = [];
    const collector = collectGarbageWhenIdle({
      inFlight: () => inFlight,
      arrayBuffers: () => held,
      youngGeneration: () => 0,
      collect: () => {
        collected.push(held);
        held = 4 * MiB; // what stays alive after the collection
      },
      periodMs: 20,
    });
    try {
      // a transfer runs: buffers come and go, one handler in flight
      inFlight = 1;
      for (let i = 0; i < 10; i++) {
        held = (40 + i) * MiB;
        await sleep(25);
      }
      assert.deepEqual(collected, [], 'nothing while a handler runs');
      // over, but the amount still moves (a transfer on another way in, e.g. SSH)
      inFlight = 0;
      for (let i = 0; i < 40; i++) {
        held = (60 + i) * MiB;
        await sleep(5);
      }
      assert.deepEqual(collected, [], 'nothing while buffers come and go');
      await waitFor('the collection', () => collected.length === 1);
      assert.equal(collected[0], 99 * MiB);
      // quiet from here on: what the collection left does not cause another
      await sleep(150);
      assert.equal(collector.collections, 1);
      // below the threshold over what was left: still nothing
      held = 12 * MiB;
      await sleep(150);
      assert.equal(collector.collections, 1);
      // the next burst's garbage does
      held = 30 * MiB;
      await waitFor('the second collection', () => collector.collections === 2);
    } finally {
      collector.close();
    }
  });

  it('collects once when quiet with a large young generation, again only if it regrows', async () => {
    let inFlight = 1;
    let started = 0;
    let young = 9 * MiB; // what Node 24 keeps after start
    let shrinks = true;
    const collector = collectGarbageWhenIdle({
      inFlight: () => inFlight,
      started: () => started,
      arrayBuffers: () => 2 * MiB,
      youngGeneration: () => young,
      collect: () => {
        if (shrinks) young = MiB / 2;
      },
      periodMs: 20,
    });
    try {
      await sleep(100);
      assert.equal(collector.collections, 0, 'nothing while a handler runs');
      // short requests, none running when the collector looks: not quiet either
      inFlight = 0;
      for (let i = 0; i < 20; i++) {
        started++;
        await sleep(10);
      }
      assert.equal(collector.collections, 0, 'nothing while requests keep coming');
      await waitFor('the collection', () => collector.collections === 1);
      await sleep(100);
      assert.equal(collector.collections, 1, 'a small young generation causes none');
      // a collection that does not shrink it is not repeated every period
      shrinks = false;
      young = 9 * MiB;
      await waitFor('the second collection', () => collector.collections === 2);
      await sleep(150);
      assert.equal(collector.collections, 2);
      young = 14 * MiB; // past what the last collection left by the threshold
      await waitFor('the third collection', () => collector.collections === 3);
    } finally {
      collector.close();
    }
  });

  it("frees dropped buffers with V8's own collector", async () => {
    const before = process.memoryUsage().arrayBuffers;
    let buffers: Buffer[] | undefined = [];
    for (let i = 0; i < 32; i++) buffers.push(Buffer.allocUnsafeSlow(MiB).fill(i));
    buffers = undefined; // garbage now, freed at the next collection
    // the amount as the collector sees it is fixed here: this test process (its reporter, its
    // timers) allocates buffers of its own, which must not keep it from looking idle
    const collector = collectGarbageWhenIdle({
      inFlight: () => 0,
      arrayBuffers: () => 32 * MiB,
      periodMs: 50,
    });
    try {
      await waitFor('a collection', () => collector.collections >= 1);
      // V8 releases the freed buffers' memory right after the collection, off the main thread
      await waitFor(
        `buffers freed (${process.memoryUsage().arrayBuffers} bytes held, ${before} before)`,
        () => process.memoryUsage().arrayBuffers < before + 8 * MiB,
        5000,
      );
    } finally {
      collector.close();
    }
    assert.equal(buffers, undefined);
  });
});
