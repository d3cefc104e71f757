// The s3rver the tests run must survive what lfsd's gc does to it: a delete of a key racing a put of
// the same key. s3rver's own putObject threw ENOENT from an unhandled stream error and died (the gc
// race test then failed with ECONNREFUSED); test/helpers/s3rver.ts replaces it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { s3rverClientConfig, startS3rver, type S3rverHandle } from '../helpers/s3rver.js';

const RACE_MS = 3000;

describe('s3rver under a delete racing a put of the same key', { timeout: 60_000 }, () => {
  let s3: S3rverHandle;
  let client: S3Client;
  before(async () => {
    s3 = await startS3rver();
    client = new S3Client({ ...s3rverClientConfig(s3.endpoint), maxAttempts: 1 });
  });
  after(async () => {
    client?.destroy();
    await s3?.stop();
  });

  it('stays up, and a put after the race stores its bytes', async () => {
    const body = Buffer.alloc(100_000, 7);
    const refused: string[] = [];
    const deadline = Date.now() + RACE_MS;
    let puts = 0;
    await Promise.all(
      Array.from({ length: 6 }, async (_, worker) => {
        const key = `lfs/ab/cd/key${worker % 3}`;
        while (Date.now() < deadline) {
          try {
            if (worker % 2) {
              await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
              puts++;
            } else {
              await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: key }));
            }
          } catch (err) {
            // a 500 for a put that lost the race is S3's answer to retry; a refused connection is not
            const code = (err as { code?: string }).code;
            if (code === 'ECONNREFUSED' || code === 'ECONNRESET') refused.push(code);
          }
        }
      }),
    );
    assert.deepEqual(refused, [], 's3rver kept answering');
    assert.ok(puts > 0, 'some puts went through');
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: 'lfs/ab/cd/key0', Body: body }));
    const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'lfs/ab/cd/key0' }));
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
  });
});
