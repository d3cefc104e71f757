// Transfer concurrency limits (issue 15, item 2): maxTransfers and maxTransfersPerUser answer 429 +
// Retry-After before any body is read, queued transfers get the slot a finished one frees, and
// clients that go away (mid-body, or while queued) never keep a slot.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LFS_JSON, randomObject } from '../helpers/content.js';
import { waitFor } from '../helpers/wait.js';
import { parseMetrics, metric } from '../ops/ops-helpers.js';
import {
  getHead,
  plan,
  put,
  putHead,
  rawRequest,
  startLimitsServer,
  type LimitsServer,
} from './limits-helpers.js';

const MB = 1024 * 1024;

async function metrics(t: LimitsServer) {
  return parseMetrics((await t.server.deps.metrics.render()).body);
}

describe('maxTransfers: 1, no queue', { timeout: 60_000 }, () => {
  let t: LimitsServer;
  before(async () => {
    t = await startLimitsServer({ maxTransfers: 1, transferQueueTimeout: 0 });
  });
  after(() => t?.close());

  it('a transfer over the limit gets 429 + Retry-After + LFS JSON before its body is read', async () => {
    const alice = t.users.alice!.authorization;
    const held = randomObject(2 * MB);
    const holder = await rawRequest(
      t.url,
      putHead(await plan(t.url, alice, 'alice/r', 'upload', held), held.size),
    );
    holder.socket.write(held.content.subarray(0, MB)); // half the body: the slot is taken
    await waitFor('the slot is taken', () => t.server.deps.overload?.transferSlots?.inUse === 1);

    const big = randomObject(64 * 1024);
    // not one byte of the body sent: the answer cannot have waited for it
    const over = await rawRequest(
      t.url,
      putHead(await plan(t.url, alice, 'alice/r', 'upload', big), big.size),
    );
    assert.equal(await over.status(), 429);
    const answer = over.answer();
    assert.match(answer, /\r\nretry-after: 1\r\n/i);
    assert.match(answer, new RegExp(`\r\ncontent-type: ${LFS_JSON.replace(/[.+]/g, '\\$&')}`, 'i'));
    assert.match(answer, /\r\nconnection: close\r\n/i);
    assert.match(answer, /"message":"Too many transfers in progress: retry later"/);
    await over.closed;

    // a download over the limit too
    const downloadRefused = await rawRequest(
      t.url,
      getHead({ href: `${t.url}/alice/r.git/info/lfs/objects/${held.oid}`, header: {} }),
    );
    assert.equal(await downloadRefused.status(), 429);
    downloadRefused.socket.destroy();

    // the holder finishes: 200, and the refused upload goes through on its retry
    holder.socket.write(held.content.subarray(MB));
    assert.equal(await holder.status(), 200);
    holder.socket.destroy();
    await waitFor('the slot is free', () => t.server.deps.overload?.transferSlots?.inUse === 0);
    assert.equal(await put(await plan(t.url, alice, 'alice/r', 'upload', big), big), 200);
    const samples = await metrics(t);
    assert.equal(metric(samples, 'lfsd_limited_requests_total', { reason: 'transfers' }), 2);
  });
});

describe('maxTransfers: 1 with a queue', { timeout: 60_000 }, () => {
  let t: LimitsServer;
  before(async () => {
    t = await startLimitsServer({ maxTransfers: 1, transferQueueTimeout: 20 });
  });
  after(() => t?.close());

  it('a queued transfer gets the slot the finished one frees (no 429)', async () => {
    const alice = t.users.alice!.authorization;
    const first = randomObject(MB);
    const second = randomObject(MB);
    const holder = await rawRequest(
      t.url,
      putHead(await plan(t.url, alice, 'alice/q', 'upload', first), first.size),
    );
    holder.socket.write(first.content.subarray(0, 1000));
    await waitFor('the slot is taken', () => t.server.deps.overload?.transferSlots?.inUse === 1);
    const queued = put(await plan(t.url, alice, 'alice/q', 'upload', second), second);
    await waitFor('the second waits', () => t.server.deps.overload?.transferSlots?.waiting === 1);
    assert.equal(metric(await metrics(t), 'lfsd_transfers_waiting'), 1);
    holder.socket.write(first.content.subarray(1000));
    assert.equal(await holder.status(), 200);
    assert.equal(await queued, 200);
    holder.socket.destroy();
  });

  it('clients that go away mid-body or while queued never keep a slot', async () => {
    const alice = t.users.alice!.authorization;
    const slots = t.server.deps.overload!.transferSlots!;
    for (let round = 0; round < 3; round++) {
      const held = randomObject(MB);
      const holder = await rawRequest(
        t.url,
        putHead(await plan(t.url, alice, 'alice/a', 'upload', held), held.size),
      );
      holder.socket.write(held.content.subarray(0, 4096));
      await waitFor('the slot is taken', () => slots.inUse === 1);
      const queued = [];
      for (let i = 0; i < 5; i++) {
        const obj = randomObject(MB);
        const action = await plan(t.url, alice, 'alice/a', 'upload', obj);
        // uploads and downloads queue alike
        const head = i % 2 === 0 ? putHead(action, obj.size) : getHead(action);
        queued.push(await rawRequest(t.url, head));
      }
      await waitFor('five wait', () => slots.waiting === 5);
      for (const q of queued) q.socket.destroy(); // gone while queued
      holder.socket.destroy(); // gone mid-body
      await waitFor('no slot held, nobody waiting', () => slots.inUse === 0 && slots.waiting === 0);
    }
    // and the limit still lets one through
    const obj = randomObject(100_000);
    assert.equal(await put(await plan(t.url, alice, 'alice/a', 'upload', obj), obj), 200);
    assert.equal(slots.inUse, 0);
    const samples = await metrics(t);
    assert.equal(metric(samples, 'lfsd_transfers_in_flight'), 0);
    assert.equal(metric(samples, 'lfsd_transfers_waiting'), 0);
  });
});

describe('maxTransfersPerUser: 1', { timeout: 60_000 }, () => {
  let t: LimitsServer;
  before(async () => {
    t = await startLimitsServer({ maxTransfers: 10, maxTransfersPerUser: 1, transferQueueTimeout: 0 });
  });
  after(() => t?.close());

  it("a user's second transfer gets 429 while another user's goes through", async () => {
    const alice = t.users.alice!.authorization;
    const bob = t.users.bob!.authorization;
    const held = randomObject(MB);
    const holder = await rawRequest(
      t.url,
      putHead(await plan(t.url, alice, 'alice/u', 'upload', held), held.size),
    );
    holder.socket.write(held.content.subarray(0, 1000));
    await waitFor('the slot is taken', () => t.server.deps.overload?.transferSlots?.inUse === 1);

    const more = randomObject(1000);
    assert.equal(await put(await plan(t.url, alice, 'alice/u', 'upload', more), more), 429);
    const bobs = randomObject(1000);
    assert.equal(await put(await plan(t.url, bob, 'bob/u', 'upload', bobs), bobs), 200);
    assert.equal(metric(await metrics(t), 'lfsd_limited_requests_total', { reason: 'user_transfers' }), 1);
    holder.socket.destroy();
  });
});
