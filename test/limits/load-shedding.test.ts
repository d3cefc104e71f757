// Load shedding (issue 15, item 3): while the event loop is late past shedAtEventLoopDelay, new
// batch requests get 429 (or shedStatus 503) + Retry-After and /readyz answers 503, while a
// transfer already granted goes on; both recover once the event loop does. The delay is real: this
// process blocks its own event loop.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LoadShedder } from '../../src/limits/load-shedder.js';
import { randomObject } from '../helpers/content.js';
import { waitFor } from '../helpers/wait.js';
import { metric, parseMetrics } from '../ops/ops-helpers.js';
import { batch, plan, putHead, rawRequest, startLimitsServer, type LimitsServer } from './limits-helpers.js';

const MB = 1024 * 1024;

/** blocks the event loop for `busyMs` out of every `busyMs + 50` ms until stopped */
function blockEventLoop(busyMs: number): () => void {
  const timer = setInterval(() => {
    const until = Date.now() + busyMs;
    while (Date.now() < until) {
      // busy: what a CPU-bound handler or a long GC pause does to every other request
    }
  }, 50);
  return () => clearInterval(timer);
}

for (const shedStatus of [429, 503] as const) {
  describe(`load shedding on event loop delay (shedStatus ${shedStatus})`, { timeout: 60_000 }, () => {
    let t: LimitsServer;
    before(async () => {
      t = await startLimitsServer({ shedAtEventLoopDelay: 200, shedStatus });
    });
    after(() => t?.close());

    it('sheds new batch requests and turns /readyz 503 while a granted upload goes on', async () => {
      const alice = t.users.alice!.authorization;
      const obj = randomObject(MB);
      const probe = [{ oid: obj.oid, size: obj.size }];
      // the set-up (hashing two users' passwords) may have kept this process busy: start calm
      await waitFor('calm at start', () => t.server.deps.overload?.shedder?.overloaded() === undefined);
      assert.equal((await batch(t.url, alice, 'alice/s', 'upload', probe)).status, 200);
      assert.equal((await fetch(`${t.url}/readyz`)).status, 200);
      const upload = await rawRequest(
        t.url,
        putHead(await plan(t.url, alice, 'alice/s', 'upload', obj), obj.size),
      );
      upload.socket.write(obj.content.subarray(0, 1000));
      await waitFor('the upload is granted', () => t.server.deps.overload?.transferSlots?.inUse === 1);

      const stop = blockEventLoop(300);
      try {
        await waitFor('overloaded', () => t.server.deps.overload?.shedder?.overloaded() === 'event_loop');
        const shed = await batch(t.url, alice, 'alice/s', 'upload', probe);
        assert.equal(shed.status, shedStatus);
        assert.equal(shed.headers.get('retry-after'), '2');
        assert.match(shed.headers.get('content-type') ?? '', /application\/vnd\.git-lfs\+json/);
        assert.match(((await shed.json()) as { message: string }).message, /overloaded/);
        const ready = await fetch(`${t.url}/readyz`);
        assert.equal(ready.status, 503);
        assert.deepEqual(await ready.json(), { status: 'overloaded', reason: 'event_loop' });
        // the upload granted before goes on to its end
        upload.socket.write(obj.content.subarray(1000));
        assert.equal(await upload.status(), 200);
        const samples = parseMetrics((await t.server.deps.metrics.render()).body);
        assert.ok(metric(samples, 'lfsd_shed_requests_total', { reason: 'event_loop' }) >= 1);
        assert.ok(metric(samples, 'lfsd_event_loop_delay_seconds') > 0.2);
      } finally {
        stop();
        upload.socket.destroy();
      }
      await waitFor('recovered', () => t.server.deps.overload?.shedder?.overloaded() === undefined);
      assert.equal((await batch(t.url, alice, 'alice/s', 'download', probe)).status, 200);
      assert.equal((await fetch(`${t.url}/readyz`)).status, 200);
    });
  });
}

describe('LoadShedder on the database pool', () => {
  it('is overloaded while more callers wait for a connection than shedAtDbWaiting', () => {
    let waiting = 0;
    const shedder = new LoadShedder({ eventLoopDelayMs: 0, dbWaiting: 3, poolWaiting: () => waiting });
    try {
      assert.equal(shedder.overloaded(), undefined);
      waiting = 3;
      assert.equal(shedder.overloaded(), undefined);
      waiting = 4;
      assert.equal(shedder.overloaded(), 'db_pool');
      waiting = 0;
      assert.equal(shedder.overloaded(), undefined);
    } finally {
      shedder.close();
    }
  });
});

describe('LoadShedder on the event loop', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const busy = (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      // one stall, as a long GC pause or a descheduled process makes
    }
  };

  it('sheds on a sustained delay, not on one stall', async () => {
    const samples: number[] = [];
    const shedder = new LoadShedder({
      eventLoopDelayMs: 150,
      dbWaiting: 0,
      poolWaiting: () => 0,
      sampleMs: 100,
      onSample: (seconds) => samples.push(seconds * 1000),
    });
    try {
      await sleep(250);
      busy(400);
      // the stall is seen (one late sample) but is not overload
      const seen: (string | undefined)[] = [];
      for (let i = 0; i < 6; i++) {
        await sleep(50);
        seen.push(shedder.overloaded());
      }
      assert.ok(
        samples.some((ms) => ms > 150),
        `the stall shows in a sample: ${samples.map(Math.round).join(',')}`,
      );
      assert.deepEqual(
        seen.filter((r) => r !== undefined),
        [],
      );
      // late in every period: overloaded
      const stop = blockEventLoop(300);
      try {
        await waitFor('overloaded', () => shedder.overloaded() === 'event_loop');
      } finally {
        stop();
      }
    } finally {
      shedder.close();
    }
  });

  it('forgets the delay of the start once told to (a fresh server is not overloaded)', async () => {
    const shedder = new LoadShedder({
      eventLoopDelayMs: 150,
      dbWaiting: 0,
      poolWaiting: () => 0,
      sampleMs: 100,
    });
    try {
      // a start that kept the event loop busy over several sample periods
      const stop = blockEventLoop(300);
      try {
        await waitFor('overloaded', () => shedder.overloaded() === 'event_loop');
      } finally {
        stop();
      }
      shedder.forgetStartup();
      assert.equal(shedder.overloaded(), undefined);
      assert.equal(shedder.eventLoopDelayMs, 0);
    } finally {
      shedder.close();
    }
  });
});
