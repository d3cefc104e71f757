// /metrics, /healthz, /readyz and the per-request log line, through the HTTP app (issue 6).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadSettings } from '../../src/config/load-settings.js';
import { buildApp } from '../../src/http/app.js';
import { buildDeps, type BuiltDeps } from '../../src/server/build-deps.js';
import { LFS_JSON, randomObject, type TestObject } from '../helpers/content.js';
import { addUser } from '../helpers/test-app.js';
import { declaredMetrics, delta, metric, parseMetrics, type Sample } from './ops-helpers.js';

interface Action {
  href: string;
  header: Record<string, string>;
}

describe('metrics, probes and request logs through the app', () => {
  let dataDir: string;
  let deps: BuiltDeps;
  let app: FastifyInstance;
  let alice: Awaited<ReturnType<typeof addUser>>;
  const logs: Record<string, unknown>[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lfsd-metrics-'));
    const settings = loadSettings({ env: {}, flags: { dataDir } });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n'))
          if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    deps = await buildDeps(settings, pino({ level: 'info' }, sink), 'http://lfsd.test');
    app = buildApp(deps);
    await app.ready();
    alice = await addUser(deps, 'alice');
  });
  after(async () => {
    await app.close();
    await deps.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const scrape = async (): Promise<Sample[]> => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/plain; version=0\.0\.4/);
    return parseMetrics(res.body);
  };

  const batch = async (operation: 'upload' | 'download', objects: { oid: string; size: number }[]) => {
    const res = await app.inject({
      method: 'POST',
      url: '/alice/assets.git/info/lfs/objects/batch',
      headers: { 'content-type': LFS_JSON, accept: LFS_JSON, authorization: alice.authorization },
      payload: JSON.stringify({ operation, objects }),
    });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { objects: { oid: string; actions?: Record<string, Action> }[] }).objects;
  };
  const path = (href: string) => new URL(href).pathname;

  it('exports process, Node.js and lfsd metrics, every name prefixed lfsd_', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    const names = declaredMetrics(res.body);
    for (const name of [
      'lfsd_process_cpu_seconds_total',
      'lfsd_process_resident_memory_bytes',
      'lfsd_nodejs_eventloop_lag_seconds',
      'lfsd_nodejs_heap_size_used_bytes',
      'lfsd_http_requests_total',
      'lfsd_http_request_duration_seconds',
      'lfsd_batch_objects_total',
      'lfsd_transfer_bytes_total',
      'lfsd_transfers_in_flight',
      'lfsd_transfers_total',
      'lfsd_store_operation_duration_seconds',
      'lfsd_store_errors_total',
      'lfsd_store_bytes_total',
      'lfsd_db_pool_connections_open',
      'lfsd_db_pool_connections_in_use',
      'lfsd_db_pool_waiting',
      'lfsd_db_pool_connections_max',
      'lfsd_db_query_duration_seconds',
      'lfsd_lock_operations_total',
      'lfsd_draining',
    ]) {
      assert.ok(names.has(name), `${name} is exported`);
    }
    for (const name of names) assert.match(name, /^lfsd_/);
  });

  it('counts batch objects by outcome, transfers and their bytes, and requests by route', async () => {
    const before = await scrape();
    const objects: TestObject[] = [randomObject(1000), randomObject(70_000), randomObject(5)];
    const invalid = { oid: 'not-an-oid', size: 1 };
    const planned = await batch('upload', [...objects, invalid]);
    for (const obj of objects) {
      const action = planned.find((p) => p.oid === obj.oid)!.actions!.upload!;
      const res = await app.inject({
        method: 'PUT',
        url: path(action.href),
        headers: action.header,
        payload: obj.content,
      });
      assert.equal(res.statusCode, 200, res.body);
    }
    assert.deepEqual(
      (await batch('upload', objects.slice(0, 1))).map((o) => o.actions),
      [undefined],
      'already present',
    );
    const missing = randomObject(10);
    const downloads = await batch('download', [...objects.slice(0, 2), missing]);
    for (const planned of downloads.filter((o) => o.actions)) {
      const res = await app.inject({
        method: 'GET',
        url: path(planned.actions!.download!.href),
        headers: planned.actions!.download!.header,
      });
      assert.equal(res.statusCode, 200);
    }
    const after = await scrape();
    const d = (name: string, labels: Record<string, string> = {}) => delta(before, after, name, labels);
    const uploaded = objects.reduce((sum, o) => sum + o.size, 0);
    const downloaded = objects[0]!.size + objects[1]!.size;

    assert.equal(d('lfsd_batch_objects_total', { operation: 'upload', outcome: 'transfer' }), 3);
    assert.equal(d('lfsd_batch_objects_total', { operation: 'upload', outcome: 'rejected' }), 1);
    assert.equal(d('lfsd_batch_objects_total', { operation: 'upload', outcome: 'present' }), 1);
    assert.equal(d('lfsd_batch_objects_total', { operation: 'download', outcome: 'transfer' }), 2);
    assert.equal(d('lfsd_batch_objects_total', { operation: 'download', outcome: 'not_found' }), 1);
    assert.equal(d('lfsd_transfer_bytes_total', { direction: 'upload' }), uploaded);
    assert.equal(d('lfsd_transfer_bytes_total', { direction: 'download' }), downloaded);
    assert.equal(d('lfsd_transfers_total', { direction: 'upload', outcome: 'ok' }), 3);
    assert.equal(d('lfsd_transfers_total', { direction: 'download', outcome: 'ok' }), 2);
    assert.equal(metric(after, 'lfsd_transfers_in_flight'), 0);
    assert.equal(d('lfsd_http_requests_total', { route: 'batch', method: 'POST', status: '200' }), 3);
    assert.equal(d('lfsd_http_requests_total', { route: 'object', method: 'PUT', status: '200' }), 3);
    assert.equal(d('lfsd_http_requests_total', { route: 'object', method: 'GET', status: '200' }), 2);
    assert.equal(d('lfsd_http_request_duration_seconds_count', { route: 'object', method: 'PUT' }), 3);
    assert.equal(d('lfsd_store_bytes_total', { backend: 'disk', direction: 'write' }), uploaded);
    assert.equal(d('lfsd_store_bytes_total', { backend: 'disk', direction: 'read' }), downloaded);
    assert.ok(
      d('lfsd_store_operation_duration_seconds_count', {
        backend: 'disk',
        operation: 'put',
        outcome: 'ok',
      }) === 3,
    );
    assert.ok(d('lfsd_db_query_duration_seconds_count', { dialect: 'sqlite', outcome: 'ok' }) > 0);
    // labels are endpoint kinds, never paths, repositories or oids
    for (const sample of after.filter((s) => s.name === 'lfsd_http_requests_total')) {
      assert.doesNotMatch(sample.labels.route!, /[/.]|alice|[0-9a-f]{64}/);
    }
  });

  it('a failed upload counts as an error transfer and does not add to the store', async () => {
    const before = await scrape();
    const obj = randomObject(2000);
    const action = (await batch('upload', [obj]))[0]!.actions!.upload!;
    const res = await app.inject({
      method: 'PUT',
      url: path(action.href),
      headers: action.header,
      payload: randomObject(2000).content,
    });
    assert.equal(res.statusCode, 400);
    const after = await scrape();
    assert.equal(delta(before, after, 'lfsd_transfers_total', { outcome: 'error' }), 1);
    assert.equal(metric(after, 'lfsd_http_requests_total', { route: 'object', status: '400' }), 1);
    assert.equal(metric(after, 'lfsd_store_errors_total'), 0, 'a bad body is not a store error');
  });

  it('counts lock operations by operation and outcome', async () => {
    const lockRequest = (method: 'GET' | 'POST', suffix: string, body?: unknown) =>
      app.inject({
        method,
        url: `/alice/assets.git/info/lfs/${suffix}`,
        headers: { 'content-type': LFS_JSON, accept: LFS_JSON, authorization: alice.authorization },
        ...(body ? { payload: JSON.stringify(body) } : {}),
      });
    const created = await lockRequest('POST', 'locks', { path: 'a.psd' });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal((await lockRequest('POST', 'locks', { path: 'a.psd' })).statusCode, 409);
    assert.equal((await lockRequest('GET', 'locks')).statusCode, 200);
    assert.equal((await lockRequest('POST', 'locks/verify', {})).statusCode, 200);
    const id = (created.json() as { lock: { id: string } }).lock.id;
    assert.equal((await lockRequest('POST', `locks/${id}/unlock`, {})).statusCode, 200);
    assert.equal((await lockRequest('POST', `locks/${id}/unlock`, {})).statusCode, 404);
    const s = await scrape();
    const locks = (operation: string, outcome: string) =>
      metric(s, 'lfsd_lock_operations_total', { operation, outcome });
    assert.equal(locks('create', 'ok'), 1);
    assert.equal(locks('create', 'conflict'), 1);
    assert.equal(locks('list', 'ok'), 1);
    assert.equal(locks('verify', 'ok'), 1);
    assert.equal(locks('unlock', 'ok'), 1);
    assert.equal(locks('unlock', 'not_found'), 1);
  });

  it('reads the database pool when scraped', async () => {
    const s = await scrape();
    assert.equal(metric(s, 'lfsd_db_pool_connections_open', { dialect: 'sqlite' }), 1);
    assert.equal(metric(s, 'lfsd_db_pool_connections_in_use', { dialect: 'sqlite' }), 0);
    assert.equal(metric(s, 'lfsd_db_pool_waiting', { dialect: 'sqlite' }), 0);
    assert.equal(metric(s, 'lfsd_db_pool_connections_max', { dialect: 'sqlite' }), 1);
  });

  it('/healthz is alive; /readyz checks the stores, and answers 503 once draining', async () => {
    assert.deepEqual((await app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready', checks: { metadata: 'ok', store: 'ok' } });
    assert.equal(ready.headers['cache-control'], 'no-store');

    const failing = Object.create(deps.store) as typeof deps.store;
    failing.ping = () => Promise.reject(new Error('/secret/path is gone'));
    const broken = buildApp({ ...deps, store: failing });
    try {
      const notReady = await broken.inject({ method: 'GET', url: '/readyz' });
      assert.equal(notReady.statusCode, 503);
      assert.deepEqual(notReady.json(), {
        status: 'unavailable',
        checks: { metadata: 'ok', store: 'failed' },
      });
      assert.doesNotMatch(notReady.body, /secret/, 'the reason is logged, not answered');
    } finally {
      await broken.close();
    }

    const draining = buildApp({ ...deps, isDraining: () => true });
    try {
      const res = await draining.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.json(), { status: 'draining' });
      assert.equal(res.headers.connection, 'close', 'while draining, connections close after their response');
      assert.equal(
        (await draining.inject({ method: 'GET', url: '/healthz' })).statusCode,
        200,
        'still alive',
      );
    } finally {
      await draining.close();
    }
  });

  it('writes one JSON line per request with request_id, repo, user, route, status, bytes and duration', async () => {
    logs.length = 0;
    const obj = randomObject(4321);
    const action = (await batch('upload', [obj]))[0]!.actions!.upload!;
    const put = await app.inject({
      method: 'PUT',
      url: path(action.href),
      headers: action.header,
      payload: obj.content,
    });
    const notFound = await app.inject({
      method: 'POST',
      url: '/alice/assets/info/lfs/objects/batch',
      headers: { 'content-type': LFS_JSON, accept: LFS_JSON, authorization: alice.authorization },
      payload: JSON.stringify({ operation: 'delete', objects: [{ oid: obj.oid, size: obj.size }] }),
    });
    await app.inject({ method: 'GET', url: '/healthz' });
    const lines = logs.filter((l) => l.msg === 'request');
    assert.equal(lines.length, 3, 'one line per request; probes are logged at debug level only');
    const [batchLine, putLine, errorLine] = lines as Record<string, unknown>[];
    assert.equal(batchLine!.route, 'batch');
    assert.equal(batchLine!.repo, 'alice/assets');
    assert.equal(batchLine!.user, 'alice');
    assert.equal(batchLine!.status, 200);
    assert.equal(typeof batchLine!.duration_ms, 'number');
    assert.equal(putLine!.route, 'object');
    assert.equal(putLine!.method, 'PUT');
    assert.equal(putLine!.bytes_in, 4321);
    assert.equal(putLine!.request_id, put.headers['x-request-id']);
    // the request_id of an error answer is in its body, its header and its log line
    const body = notFound.json() as { request_id: string };
    assert.equal(notFound.statusCode, 422);
    assert.equal(body.request_id, notFound.headers['x-request-id']);
    assert.equal(errorLine!.request_id, body.request_id);
    assert.equal(errorLine!.status, 422);
    for (const line of lines) assert.equal(Object.keys(line).filter((k) => k === 'request_id').length, 1);
  });
});
