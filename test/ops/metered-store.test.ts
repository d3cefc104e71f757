// MeteredStore: a transparent layer (the conformance suite passes through it) that reports
// latency, bytes and backend errors by backend and operation.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMetrics, type LfsdMetrics } from '../../src/observability/metrics.js';
import { DiskStore } from '../../src/storage/disk-store.js';
import { DelegatingStore } from '../../src/storage/delegating-store.js';
import { MeteredStore } from '../../src/storage/metered-store.js';
import {
  StoreError,
  type ObjectStore,
  type PutResult,
  type StoreCapability,
} from '../../src/storage/object-store.js';
import { VerifyingStore } from '../../src/storage/verifying-store.js';
import {
  bodyOf,
  pseudoRandomBytes,
  readAll,
  runObjectStoreConformance,
  sha256,
} from '../storage/conformance.js';
import { delta, metric, parseMetrics, type Sample } from './ops-helpers.js';

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'lfsd-metered-'));
}

runObjectStoreConformance('VerifyingStore(MeteredStore(DiskStore))', async () => {
  const root = await tempRoot();
  return {
    store: new VerifyingStore(
      new MeteredStore(new DiskStore({ root }), createMetrics({ defaultMetrics: false })),
    ),
    cleanup: () => rm(root, { recursive: true, force: true }),
    leftovers: () => readdir(join(root, 'tmp')).catch(() => []),
  };
});

/** a backend whose every call fails, as an unreachable S3 would */
class BrokenStore extends DelegatingStore {
  override get kind() {
    return 'broken';
  }
  override async stat(): Promise<undefined> {
    throw new Error('connection refused');
  }
  override async put(_oid: string, _size: number, body: Readable): Promise<PutResult> {
    body.destroy();
    throw new StoreError('io', 'connection refused');
  }
}

describe('MeteredStore metrics', () => {
  let root: string;
  let metrics: LfsdMetrics;
  let store: ObjectStore;
  const samples = async (): Promise<Sample[]> => parseMetrics((await metrics.render()).body);
  const count = (s: Sample[], operation: string, outcome: string, backend = 'disk') =>
    metric(s, 'lfsd_store_operation_duration_seconds_count', { backend, operation, outcome });

  before(async () => {
    root = await tempRoot();
    metrics = createMetrics({ defaultMetrics: false });
    store = new VerifyingStore(new MeteredStore(new DiskStore({ root }), metrics));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('names the backend, not the layer', () => {
    assert.equal(store.kind, 'disk');
  });

  it('counts a put, a full get, a ranged get and a stat, with their bytes', async () => {
    const content = pseudoRandomBytes('metered', 300_000);
    const oid = sha256(content);
    await store.put(oid, content.length, bodyOf(content));
    assert.deepEqual(await readAll((await store.get(oid))!.body), content);
    const ranged = await store.get(oid, { range: { start: 10, end: 109 } });
    assert.equal((await readAll(ranged!.body)).length, 100);
    assert.deepEqual(await store.stat(oid), { size: content.length });
    assert.equal(await store.stat(sha256(Buffer.from('absent'))), undefined, 'not found is not an error');
    const s = await samples();
    assert.equal(count(s, 'put', 'ok'), 1);
    assert.equal(count(s, 'get', 'ok'), 2);
    assert.equal(count(s, 'stat', 'ok'), 2);
    assert.equal(
      metric(s, 'lfsd_store_bytes_total', { backend: 'disk', direction: 'write' }),
      content.length,
    );
    assert.equal(
      metric(s, 'lfsd_store_bytes_total', { backend: 'disk', direction: 'read' }),
      content.length + 100,
    );
    assert.equal(metric(s, 'lfsd_store_errors_total'), 0);
  });

  it('counts no bytes written for a put of content the store already holds', async () => {
    const content = pseudoRandomBytes('metered-again', 50_000);
    const oid = sha256(content);
    await store.put(oid, content.length, bodyOf(content));
    const before = await samples();
    assert.equal(await store.put(oid, content.length, bodyOf(content), { stored: true }), 'already-stored');
    const after = await samples();
    const written = { backend: 'disk', direction: 'write' };
    assert.equal(delta(before, after, 'lfsd_store_bytes_total', written), 0);
    assert.equal(count(after, 'put', 'ok') - count(before, 'put', 'ok'), 1, 'still a put that succeeded');
  });

  it('a download closed early and an upload with wrong content are cancelled, not backend errors', async () => {
    const content = pseudoRandomBytes('metered-2', 2_000_000);
    const oid = sha256(content);
    await store.put(oid, content.length, bodyOf(content));
    const found = await store.get(oid);
    found!.body.once('data', () => found!.body.destroy());
    await new Promise((resolve) => found!.body.once('close', resolve));
    await assert.rejects(
      store.put(sha256(Buffer.from('other')), content.length, bodyOf(content)),
      StoreError,
    );
    const s = await samples();
    assert.equal(count(s, 'get', 'cancelled'), 1);
    assert.equal(count(s, 'put', 'cancelled'), 1);
    assert.equal(metric(s, 'lfsd_store_errors_total'), 0);
  });

  it('backend failures count as errors by backend and operation', async () => {
    const broken = new VerifyingStore(new MeteredStore(new BrokenStore(new DiskStore({ root })), metrics));
    await assert.rejects(broken.stat(sha256(Buffer.from('x'))), /connection refused/);
    const content = Buffer.from('hello');
    await assert.rejects(broken.put(sha256(content), content.length, bodyOf(content)), StoreError);
    const s = await samples();
    assert.equal(metric(s, 'lfsd_store_errors_total', { backend: 'broken', operation: 'stat' }), 1);
    assert.equal(metric(s, 'lfsd_store_errors_total', { backend: 'broken', operation: 'put' }), 1);
    assert.equal(count(s, 'stat', 'error', 'broken'), 1);
  });

  it("meters direct-upload staging: presign and commit, a wrong staged object being the client's doing", async () => {
    class StagingStore extends DelegatingStore {
      override get kind() {
        return 'staging';
      }
      // Declares what it overrides: MeteredStore asks the capability set, not the method.
      override get capabilities() {
        return new Set<StoreCapability>(['staged-upload']);
      }
      override async presignStagedUpload() {
        return { href: 'https://s3.example/staged', header: {}, expiresIn: 60 };
      }
      override async commitStagedUpload(_scope: string, oid: string): Promise<boolean> {
        if (oid === 'bad') throw new StoreError('hash_mismatch', 'staged bytes do not match');
        if (oid === 'down') throw new Error('S3 unreachable');
        return true;
      }
    }
    const staging = new MeteredStore(new StagingStore(new DiskStore({ root })), metrics);
    assert.ok(await staging.presignStagedUpload('scope', 'good', 1, 60));
    assert.equal(await staging.commitStagedUpload('scope', 'good', 1), true);
    await assert.rejects(staging.commitStagedUpload('scope', 'bad', 1), StoreError);
    await assert.rejects(staging.commitStagedUpload('scope', 'down', 1), /unreachable/);
    const s = await samples();
    assert.equal(count(s, 'presign', 'ok', 'staging'), 1);
    assert.equal(count(s, 'commit', 'ok', 'staging'), 1);
    assert.equal(count(s, 'commit', 'cancelled', 'staging'), 1);
    assert.equal(count(s, 'commit', 'error', 'staging'), 1);
    assert.equal(metric(s, 'lfsd_store_errors_total', { backend: 'staging', operation: 'commit' }), 1);
  });

  it('times list to its end and a get to its last byte', async () => {
    // a store of its own (on the same metrics), so that what it lists does not depend on the other tests
    const ownRoot = await tempRoot();
    try {
      const own = new VerifyingStore(new MeteredStore(new DiskStore({ root: ownRoot }), metrics));
      const content = pseudoRandomBytes('slow', 1000);
      const oid = sha256(content);
      const other = pseudoRandomBytes('listed', 1000);
      await own.put(oid, content.length, bodyOf(content));
      await own.put(sha256(other), other.length, bodyOf(other));
      const listed = [];
      for await (const entry of own.list()) listed.push(entry);
      assert.equal(listed.length, 2);
      const beforeGet = await samples();
      assert.equal(count(beforeGet, 'list', 'ok'), 1);
      const found = await own.get(oid);
      await sleep(300); // the consumer is slow to read: that time is part of the get
      await readAll(found!.body);
      const afterGet = await samples();
      const getOk = { backend: 'disk', operation: 'get', outcome: 'ok' };
      assert.equal(
        delta(beforeGet, afterGet, 'lfsd_store_operation_duration_seconds_count', getOk),
        1,
        'one get',
      );
      assert.equal(
        delta(beforeGet, afterGet, 'lfsd_store_operation_duration_seconds_bucket', { ...getOk, le: '0.25' }),
        0,
        'the get took longer than 0.25 s',
      );
    } finally {
      await rm(ownRoot, { recursive: true, force: true });
    }
  });
});
