// /metrics after a push and a clone with the real git-lfs client (issue 6): the counters move by
// exactly the objects, bytes and statuses the client caused. Scraped from a separate metrics
// listener, as a Kubernetes deployment would.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGitSandbox, sha256File, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { delta, metric, scrape, type Sample } from './ops-helpers.js';

const SIZES = [1, 1000, 100_000, 1_500_000, 3_000_000];
const TOTAL = SIZES.reduce((a, b) => a + b, 0);

describe('metrics after a push and a clone with git lfs', { timeout: 300_000 }, () => {
  let server: LfsdServer;
  let sandbox: GitSandbox;
  let metricsUrl: string;
  let samples: Sample[];
  const expected = new Map<string, string>();

  before(async () => {
    sandbox = await createGitSandbox({ username: 'alice', password: 'correct horse battery' });
    const dataDir = join(sandbox.root, 'lfsd-data');
    await lfsdAdmin(['user', 'add', 'alice', '--password-stdin', '--data-dir', dataDir], {
      input: 'correct horse battery\n',
    });
    server = await startLfsd(['--data-dir', dataDir, '--metrics-listen', '127.0.0.1:0']);
    metricsUrl = server.logs.find((l) => l.msg === 'lfsd listening')!.metricsUrl as string;
    assert.match(metricsUrl, /^http:\/\/127\.0\.0\.1:\d+$/);

    await sandbox.git(sandbox.root, ['init', '--bare', '-q', 'remote.git']);
    await sandbox.git(sandbox.root, ['init', '-q', 'work']);
    const work = join(sandbox.root, 'work');
    await sandbox.git(work, ['lfs', 'track', '*.bin']);
    await writeFile(join(work, '.lfsconfig'), `[lfs]\n\turl = ${server.url}/alice/metrics.git/info/lfs\n`);
    for (const size of SIZES) {
      await writeFile(join(work, `f${size}.bin`), randomBytes(size));
      expected.set(`f${size}.bin`, await sha256File(join(work, `f${size}.bin`)));
    }
    await sandbox.git(work, ['add', '.']);
    await sandbox.git(work, ['commit', '-q', '-m', 'assets']);
    await sandbox.git(work, ['remote', 'add', 'origin', join(sandbox.root, 'remote.git')]);
    samples = await scrape(metricsUrl);
  });

  after(async () => {
    const code = await server?.stop();
    await sandbox?.cleanup();
    if (server) assert.equal(code, 0, 'lfsd exits 0 on SIGTERM');
  });

  /** scrape, and return the change of `name{labels}` since the previous scrape */
  async function changes(): Promise<(name: string, labels?: Record<string, string>) => number> {
    const before = samples;
    samples = await scrape(metricsUrl);
    const now = samples;
    return (name, labels = {}) => delta(before, now, name, labels);
  }

  it('serves /metrics on the metrics listener only', async () => {
    assert.equal((await fetch(`${server.url}/metrics`)).status, 404);
    assert.equal((await fetch(`${metricsUrl}/readyz`)).status, 200);
  });

  it('a push moves the upload counters by its objects and bytes', async () => {
    await sandbox.git('work', ['push', '-q', 'origin', 'main']);
    const d = await changes();
    assert.equal(d('lfsd_batch_objects_total', { operation: 'upload', outcome: 'transfer' }), SIZES.length);
    assert.equal(d('lfsd_batch_objects_total', { operation: 'upload', outcome: 'present' }), 0);
    assert.equal(
      d('lfsd_http_requests_total', { route: 'object', method: 'PUT', status: '200' }),
      SIZES.length,
    );
    assert.equal(
      d('lfsd_http_requests_total', { route: 'object', method: 'PUT' }),
      SIZES.length,
      'no failed PUT',
    );
    assert.equal(
      d('lfsd_http_requests_total', { route: 'verify', method: 'POST' }),
      0,
      'proxy mode: the client verifies nothing (the PUT linked the object)',
    );
    assert.equal(d('lfsd_transfer_bytes_total', { direction: 'upload' }), TOTAL);
    assert.equal(d('lfsd_transfers_total', { direction: 'upload', outcome: 'ok' }), SIZES.length);
    assert.equal(d('lfsd_store_bytes_total', { backend: 'disk', direction: 'write' }), TOTAL);
    assert.equal(
      d('lfsd_store_operation_duration_seconds_count', { operation: 'put', outcome: 'ok' }),
      SIZES.length,
    );
    assert.ok(d('lfsd_http_requests_total', { route: 'batch', method: 'POST', status: '200' }) >= 1);
    assert.equal(d('lfsd_transfer_bytes_total', { direction: 'download' }), 0);
    assert.equal(metric(samples, 'lfsd_transfers_in_flight'), 0);
    assert.ok(d('lfsd_db_query_duration_seconds_count', { dialect: 'sqlite' }) > 0);
  });

  it('a clone moves the download counters by its objects and bytes', async () => {
    await sandbox.git(sandbox.root, ['clone', '-q', join(sandbox.root, 'remote.git'), 'clone']);
    for (const [path, sha] of expected)
      assert.equal(await sha256File(join(sandbox.root, 'clone', path)), sha);
    const d = await changes();
    assert.equal(d('lfsd_batch_objects_total', { operation: 'download', outcome: 'transfer' }), SIZES.length);
    assert.equal(d('lfsd_batch_objects_total', { operation: 'download', outcome: 'not_found' }), 0);
    assert.equal(
      d('lfsd_http_requests_total', { route: 'object', method: 'GET', status: '200' }),
      SIZES.length,
    );
    assert.equal(d('lfsd_http_requests_total', { route: 'object', method: 'GET' }), SIZES.length);
    assert.equal(d('lfsd_transfer_bytes_total', { direction: 'download' }), TOTAL);
    assert.equal(d('lfsd_transfers_total', { direction: 'download', outcome: 'ok' }), SIZES.length);
    assert.equal(d('lfsd_store_bytes_total', { backend: 'disk', direction: 'read' }), TOTAL);
    assert.equal(d('lfsd_transfer_bytes_total', { direction: 'upload' }), 0);
  });

  it('pushing the same objects again finds them present and transfers nothing', async () => {
    await sandbox.git('work', ['push', '-q', 'origin', 'main:copy']);
    await sandbox.git('work', ['lfs', 'push', '--all', 'origin']);
    const d = await changes();
    assert.ok(d('lfsd_batch_objects_total', { operation: 'upload', outcome: 'present' }) >= SIZES.length);
    assert.equal(d('lfsd_batch_objects_total', { operation: 'upload', outcome: 'transfer' }), 0);
    assert.equal(d('lfsd_http_requests_total', { route: 'object' }), 0);
    assert.equal(d('lfsd_transfer_bytes_total'), 0);
  });

  it('answered no request with a server error', () => {
    const errors = samples.filter(
      (s) => s.name === 'lfsd_http_requests_total' && s.labels.status!.startsWith('5'),
    );
    assert.deepEqual(errors, []);
    assert.equal(metric(samples, 'lfsd_store_errors_total'), 0);
  });
});
