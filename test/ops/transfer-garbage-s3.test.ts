// The young generation collected as S3 proxy downloads drop buffers (src/server/transfer-garbage.ts):
// the server's S3 store (built by buildDeps, as lfsd serve builds it) tells the process's count
// every chunk of a response body. In a file of its own: the S3 client's modules, loaded into the
// process, would change what transfer-garbage.test.ts measures of V8's young generation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Collect } from '../../src/server/v8-gc.js';
import { startS3rver } from '../helpers/s3rver.js';
import { createTestApp } from '../helpers/test-app.js';
import { S3RVER_ENV } from '../scaleout/helpers/s3-env.js';
import { bodyOf, pseudoRandomBytes, readAll, sha256 } from '../storage/conformance.js';

const KiB = 1024;

describe('TransferGarbage over S3', () => {
  it("over S3, a download's body pays in too: the server's store is wired to the process's count", async () => {
    const s3 = await startS3rver();
    // the S3 client takes its credentials from the environment, as lfsd serve does
    const saved = { ...process.env };
    for (const [name, value] of Object.entries(S3RVER_ENV)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    const calls: unknown[] = [];
    const test = await createTestApp({
      storage: 's3',
      s3Bucket: s3.bucket,
      s3Endpoint: s3.endpoint,
      s3ForcePathStyle: true,
    });
    try {
      const content = pseudoRandomBytes('s3-garbage', 20 * 1024 * 1024);
      const oid = sha256(content);
      await test.deps.store.put(oid, content.length, bodyOf(content, 64 * KiB));
      // count this process's collections from here, with a collector that only records them
      const garbage = test.deps.garbage as unknown as { collect?: Collect; collections: number };
      garbage.collect = (options) => void calls.push(options);
      const before = garbage.collections;
      assert.deepEqual(await readAll((await test.deps.store.get(oid))!.body), content);
      // 20 MiB of body: two collections (8 MiB each), whatever the upload left over
      assert.ok(garbage.collections - before >= 2, `${garbage.collections - before} collections`);
      assert.ok(calls.length >= 2);
    } finally {
      await test.close();
      process.env = saved;
      await s3.stop();
    }
  });
});
