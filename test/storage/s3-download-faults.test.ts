/**
 * S3 downloads must not fault their buffers in afresh (src/storage/malloc-trim.ts): Node's HTTP
 * client allocates two buffers per 64 KiB of a response, V8 frees them in batches, and glibc used to
 * hand each batch back to the kernel, so every MB read cost 270-360 minor page faults. A file of its
 * own: the test runs in a process where no other test has shaped the heap. glibc on Linux only
 * (another C library has other rules, and nothing to check here).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '../../src/storage/s3-store.js';
import { s3rverClientConfig, startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { generatedOid, generatedStream, hashStream } from './conformance.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

function usesGlibc(): boolean {
  if (process.platform !== 'linux') return false;
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
  return header?.glibcVersionRuntime !== undefined;
}

void describe('S3Store downloads and the heap', { skip: !usesGlibc() && 'needs glibc' }, () => {
  let server: S3rverHandle;
  let store: S3Store;
  let oid: string;

  before(async () => {
    server = await startS3rver();
    store = new S3Store({
      bucket: server.bucket,
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    oid = generatedOid('faults', SIZE);
    // streamed in 64 KiB chunks: S3Store.put's 5 MiB part buffers would raise glibc's thresholds
    // themselves when freed, and hide what this test looks for
    const client = new S3Client(s3rverClientConfig(server.endpoint));
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: server.bucket,
          Key: store.keyFor(oid),
          Body: generatedStream('faults', SIZE),
          ContentLength: SIZE,
        }),
      );
    } finally {
      client.destroy();
    }
  });
  after(async () => {
    await store?.close();
    await server?.stop();
  });

  void it('reads 4 x 64 MiB with under 10 minor page faults per MB', { timeout: 120_000 }, async () => {
    // the first read warms up code and lets a garbage collection free malloc-trim's buffer
    const first = await store.get(oid);
    assert.ok(first);
    assert.deepEqual(await hashStream(first.body), { digest: oid, length: SIZE });

    const reads = 4;
    const before = process.resourceUsage().minorPageFault;
    for (let i = 0; i < reads; i++) {
      const got = await store.get(oid);
      assert.ok(got);
      assert.deepEqual(await hashStream(got.body), { digest: oid, length: SIZE });
    }
    const perMB = (process.resourceUsage().minorPageFault - before) / ((reads * SIZE) / 1e6);
    console.log(`# ${perMB.toFixed(1)} minor page faults per MB read`);
    assert.ok(perMB < 10, `${perMB.toFixed(1)} minor page faults per MB read`);
  });
});
