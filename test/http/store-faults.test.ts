// What clients and operators see when the object store fails (issue 11 items 9 and 10): faults
// injected right above the disk backend (FaultyStore) answer 503 + Retry-After for a backend that
// is unreachable or failing, 507 for a full disk or exhausted quota, always in LFS JSON; each is
// logged at error level and counted in lfsd_store_errors_total; a failed upload leaves nothing.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { FaultyStore, systemError, type Fault } from '../../src/storage/faulty-store.js';
import { LFS_JSON, randomObject, type TestObject } from '../helpers/content.js';
import { addUser, batchOne, createTestApp, type TestApp } from '../helpers/test-app.js';
import { metric, parseMetrics } from '../ops/ops-helpers.js';

/** an AWS SDK error as S3 answering 503 produces it */
function s3ServiceError(status: number, code: string): Error {
  return Object.assign(new Error(`${code} from S3`), { name: code, $metadata: { httpStatusCode: status } });
}

describe('HTTP answers to object store faults', { timeout: 60_000 }, () => {
  let t: TestApp;
  let faulty: FaultyStore;
  let alice: Awaited<ReturnType<typeof addUser>>;
  const logs: Record<string, unknown>[] = [];

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n'))
          if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    t = await createTestApp(
      {},
      {
        logger: pino({ level: 'info' }, sink),
        wrapBackend: (backend) => (faulty = new FaultyStore(backend)),
      },
    );
    alice = await addUser(t.deps, 'alice');
  });
  after(() => t.close());
  beforeEach(() => faulty.clear());

  const tmpFiles = () => readdir(join(t.dataDir, 'tmp')).catch(() => [] as string[]);

  async function storeErrors(operation: string): Promise<number> {
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    return metric(parseMetrics(res.body), 'lfsd_store_errors_total', { backend: 'disk', operation });
  }

  async function put(obj: TestObject) {
    const planned = await batchOne(t.app, 'upload', obj, 'alice/assets', alice.authorization);
    const action = planned.actions?.upload;
    assert.ok(action, 'an upload action');
    return t.app.inject({
      method: 'PUT',
      url: new URL(action.href).pathname,
      headers: { ...action.header, 'content-type': 'application/octet-stream' },
      payload: obj.content,
    });
  }

  async function linked(obj: TestObject): Promise<boolean> {
    const planned = await batchOne(t.app, 'download', obj, 'alice/assets', alice.authorization);
    return planned.actions?.download !== undefined;
  }

  function assertLfsAnswer(
    res: { statusCode: number; headers: Record<string, unknown>; body: string },
    status: number,
  ) {
    assert.equal(res.statusCode, status, res.body);
    assert.match(String(res.headers['content-type']), new RegExp(`^${LFS_JSON.replace(/[+.]/g, '\\$&')}`));
    const body = JSON.parse(res.body) as { message?: string; request_id?: string };
    assert.equal(typeof body.message, 'string');
    assert.equal(typeof body.request_id, 'string');
    if (status === 503) assert.equal(res.headers['retry-after'], '5');
    const logged = logs.find((l) => l.msg === 'request failed' && l.request_id === body.request_id);
    assert.ok(logged, 'an error log line for the request');
    assert.equal(logged.level, 50, 'logged at error level');
  }

  const uploadCases: [string, Fault, number][] = [
    [
      'disk full mid-upload (ENOSPC)',
      { at: 'write', afterBytes: 300_000, error: systemError('ENOSPC') },
      507,
    ],
    ['disk quota exhausted at the start (EDQUOT)', { at: 'put', error: systemError('EDQUOT') }, 507],
    [
      'backend refusing connections mid-upload',
      { at: 'write', afterBytes: 300_000, error: systemError('ECONNREFUSED') },
      503,
    ],
    ['backend timing out', { at: 'write', afterBytes: 0, error: systemError('ETIMEDOUT') }, 503],
    ['S3 answering 503 SlowDown', { at: 'put', error: s3ServiceError(503, 'SlowDown') }, 503],
  ];

  for (const [what, fault, status] of uploadCases) {
    it(`upload, ${what}: ${status}, an error metric, nothing stored`, async () => {
      const obj = randomObject(1024 * 1024);
      const before = await storeErrors('put');
      faulty.inject(fault);
      const res = await put(obj);
      assertLfsAnswer(res, status);
      assert.equal(await storeErrors('put'), before + 1, 'lfsd_store_errors_total{operation="put"}');
      assert.deepEqual(await tmpFiles(), [], 'no temp file left');
      assert.equal(await linked(obj), false, 'not linked');
      faulty.clear();
      assert.equal((await put(obj)).statusCode, 200, 'the retry succeeds once the backend is back');
      assert.ok(await linked(obj));
    });
  }

  it('download, backend unreachable: 503 + Retry-After', async () => {
    const obj = randomObject(10_000);
    assert.equal((await put(obj)).statusCode, 200);
    const planned = await batchOne(t.app, 'download', obj, 'alice/assets', alice.authorization);
    const action = planned.actions!.download!;
    faulty.inject({ at: 'get', error: systemError('ECONNREFUSED') });
    const before = await storeErrors('get');
    const res = await t.app.inject({
      method: 'GET',
      url: new URL(action.href).pathname,
      headers: action.header,
    });
    assertLfsAnswer(res, 503);
    assert.equal(await storeErrors('get'), before + 1);
  });

  it('an unrecognised backend failure is still a 500 in LFS JSON', async () => {
    faulty.inject({ at: 'put', error: new Error('something else broke') });
    const res = await put(randomObject(1000));
    assertLfsAnswer(res, 500);
  });

  it('/readyz answers 503 while the store is unreachable, and 200 again after', async () => {
    faulty.inject({ at: 'ping', error: systemError('ECONNREFUSED') });
    const down = await t.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(down.statusCode, 503);
    assert.equal((JSON.parse(down.body) as { checks: { store: string } }).checks.store, 'failed');
    faulty.clear();
    assert.equal((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  });
});
