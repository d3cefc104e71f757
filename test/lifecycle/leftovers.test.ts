/**
 * gc removes the leftovers of uploads that never finished, older than the grace: incomplete S3
 * multipart uploads and staged direct uploads (s3rver), and disk temp files; younger ones stay.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { CreateMultipartUploadCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { runGc } from '../../src/lifecycle/gc.js';
import type { MetadataStore } from '../../src/metadata/metadata-store.js';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { DiskStore } from '../../src/storage/disk-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { randomObject } from '../helpers/content.js';
import { s3rverClientConfig, startS3rver, type S3rverHandle } from '../helpers/s3rver.js';

void describe('gc and the leftovers of unfinished uploads', () => {
  let dir: string;
  let metadata: MetadataStore;
  let s3: S3rverHandle;
  let client: S3Client;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsd-leftovers-'));
    metadata = await openMetadataStore(`sqlite:${join(dir, 'lfsd.db')}`);
    s3 = await startS3rver();
    client = new S3Client(s3rverClientConfig(s3.endpoint));
  });
  after(async () => {
    await metadata?.close();
    client?.destroy();
    await s3?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  void it('aborts incomplete multipart uploads and deletes staged uploads older than the grace', async () => {
    const store = new S3Store({ bucket: s3.bucket, prefix: 'lfs/', client });
    const object = randomObject(100);
    await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: store.keyFor(object.oid) }));
    await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: store.stagingKeyFor('repo:1', object.oid),
        Body: object.content,
      }),
    );
    // S3 keeps these times to the second
    await sleep(1100);
    let report = await runGc(metadata, store, { graceMs: 3_600_000 });
    assert.deepEqual([report.multipartUploads, report.staging.count], [0, 0], 'younger than the grace');
    report = await runGc(metadata, store, { graceMs: 0 });
    assert.equal(report.multipartUploads, 1);
    assert.deepEqual(report.staging, { count: 1, bytes: 100 });
    const left: unknown[] = [];
    for await (const upload of store.incompleteUploads()) left.push(upload);
    assert.deepEqual(left, []);
  });

  void it('removes disk temp files older than the grace', async () => {
    const root = join(dir, 'disk');
    const store = new DiskStore({ root });
    await mkdir(join(root, 'tmp'), { recursive: true });
    await writeFile(join(root, 'tmp', 'old.tmp'), 'x');
    await writeFile(join(root, 'tmp', 'new.tmp'), 'y');
    const dayAgo = new Date(Date.now() - 86_400_000);
    await utimes(join(root, 'tmp', 'old.tmp'), dayAgo, dayAgo);
    const report = await runGc(metadata, store, { graceMs: 3_600_000 });
    assert.equal(report.tempFiles, 1);
    assert.deepEqual(await readdir(join(root, 'tmp')), ['new.tmp']);
  });
});
