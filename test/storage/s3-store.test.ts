/**
 * S3Store against a real S3-compatible server (s3rver in a child process, see test/helpers/s3rver.ts),
 * plus the shared ObjectStore conformance suite on VerifyingStore(S3Store), as production composes it.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { StoreError } from '../../src/storage/object-store.js';
import { isNotFound } from '../../src/storage/s3-errors.js';
import {
  MAX_PRESIGNED_UPLOAD_SIZE,
  oidToBase64,
  S3Store,
  type S3StoreOptions,
} from '../../src/storage/s3-store.js';
import { MIN_PART_SIZE, partSizeFor } from '../../src/storage/s3-upload.js';
import { VerifyingStore } from '../../src/storage/verifying-store.js';
import { s3rverClientConfig, startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { hashStream, runObjectStoreConformance } from './conformance.js';

const MiB = 1024 * 1024;
const T = { timeout: 120_000 };

/** S3Store options for a store that builds its own client against s3rver. */
function ownClient(
  endpoint: string,
): Pick<S3StoreOptions, 'endpoint' | 'region' | 'forcePathStyle' | 'credentials'> {
  return {
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
}

/** An S3Client against s3rver that records the name of every command it sends. */
function recordingClient(config: S3ClientConfig): { client: S3Client; sent: string[] } {
  const client = new S3Client(config);
  const sent: string[] = [];
  client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(context.commandName ?? '?');
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  return { client, sent };
}

/** Everything an upload might have left: incomplete uploads by the S3 API, and on s3rver's disk. */
async function leftovers(store: S3Store, server: S3rverHandle): Promise<string[]> {
  const found: string[] = [];
  for await (const upload of store.incompleteUploads()) found.push(`upload ${upload.key} ${upload.uploadId}`);
  for (const id of await server.uploadDirectories()) found.push(`upload directory ${id} on disk`);
  return found;
}

async function assertStoreError(promise: Promise<unknown>, code: StoreError['code']): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

/** `prefix` of `content`, then an error: a body a verifying layer broke before its end. */
function failingBody(prefix: Buffer, error: Error): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < prefix.length; i += 256 * 1024) yield prefix.subarray(i, i + 256 * 1024);
      throw error;
    })(),
    { objectMode: false },
  );
}

void describe('S3Store (no server needed)', () => {
  const oid = sha256(Buffer.from('hello'));
  const offline = (options: Partial<S3StoreOptions> = {}) =>
    new S3Store({ bucket: 'bkt', ...ownClient('http://127.0.0.1:9'), ...options });

  void it('keys objects as <prefix>ab/cd/<oid>', () => {
    assert.equal(offline().keyFor(oid), `${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`);
    assert.equal(offline({ prefix: 'lfs' }).keyFor(oid), `lfs/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`);
    assert.equal(
      offline({ prefix: '/a/b/' }).keyFor(oid),
      `a/b/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`,
    );
    assert.throws(() => offline().keyFor('../../etc/passwd'), TypeError);
  });

  void it('sizes parts at 5 MiB or more, so that 10,000 parts hold any object', () => {
    assert.equal(partSizeFor(0), MIN_PART_SIZE);
    assert.equal(partSizeFor(300_000_000), MIN_PART_SIZE);
    assert.equal(partSizeFor(100 * 1024 ** 3), Math.ceil((100 * 1024 ** 3) / 10_000));
    assert.equal(partSizeFor(10 * MiB, 8 * MiB), 8 * MiB);
    assert.equal(partSizeFor(10 * MiB, 1), MIN_PART_SIZE);
  });

  void it('presigns an upload that signs Content-Length and x-amz-checksum-sha256', async () => {
    const store = offline({ prefix: 'lfs/' });
    const signed = await store.presign('upload', oid, 12345, 900);
    assert.ok(signed);
    const url = new URL(signed.href);
    const q = url.searchParams;
    assert.equal(url.pathname, `/bkt/${store.keyFor(oid)}`);
    assert.equal(q.get('X-Amz-Expires'), '900');
    const signedHeaders = q.get('X-Amz-SignedHeaders')?.split(';') ?? [];
    assert.ok(signedHeaders.includes('content-length'), `SignedHeaders: ${signedHeaders}`);
    assert.ok(signedHeaders.includes('x-amz-checksum-sha256'), `SignedHeaders: ${signedHeaders}`);
    // a checksum hoisted into the query would not bind the body: it must stay a header
    assert.ok(![...q.keys()].some((k) => k.toLowerCase() === 'x-amz-checksum-sha256'));
    assert.equal(signed.header['x-amz-checksum-sha256'], Buffer.from(oid, 'hex').toString('base64'));
    assert.equal(signed.header['x-amz-checksum-sha256'], oidToBase64(oid));
    assert.equal(signed.expiresIn, 900);
    await store.close();
  });

  void it('presigns a download of any size', async () => {
    const store = offline();
    const signed = await store.presign('download', oid, 6 * 1024 ** 3, 60);
    assert.ok(signed);
    const url = new URL(signed.href);
    assert.equal(url.searchParams.get('X-Amz-Expires'), '60');
    assert.equal(url.searchParams.get('x-id'), 'GetObject');
    assert.deepEqual(signed.header, {});
    await store.close();
  });

  void it('does not presign uploads over 5 GiB (one PutObject cannot carry them)', async () => {
    const store = offline();
    assert.ok(await store.presign('upload', oid, MAX_PRESIGNED_UPLOAD_SIZE, 60));
    assert.equal(await store.presign('upload', oid, MAX_PRESIGNED_UPLOAD_SIZE + 1, 60), undefined);
    await store.close();
  });

  void it('recognises not-found errors of every flavour, but not a missing bucket', () => {
    const sdkError = (name: string, status: number, Code?: string) =>
      Object.assign(new Error(name), { name, Code, $metadata: { httpStatusCode: status } });
    assert.ok(isNotFound(sdkError('NoSuchKey', 404, 'NoSuchKey')));
    assert.ok(isNotFound(sdkError('NotFound', 404)));
    assert.ok(isNotFound(sdkError('NoSuchUpload', 404, 'NoSuchUpload')));
    assert.ok(isNotFound(sdkError('UnknownError', 404)), 'plain 404 from an odd S3-compatible server');
    assert.ok(isNotFound({ name: 'NoSuchKey' }), 'no $metadata');
    assert.ok(!isNotFound(sdkError('NoSuchBucket', 404, 'NoSuchBucket')));
    assert.ok(!isNotFound(sdkError('AccessDenied', 403, 'AccessDenied')));
    assert.ok(!isNotFound(new Error('socket hang up')));
    assert.ok(!isNotFound(undefined));
  });
});

void describe('S3Store against s3rver', () => {
  let server: S3rverHandle;
  let store: S3Store;
  let sent: string[];
  let client: S3Client;

  before(async () => {
    server = await startS3rver();
    ({ client, sent } = recordingClient(s3rverClientConfig(server.endpoint)));
    store = new S3Store({ bucket: server.bucket, prefix: 'objects/', client, listPageSize: 2 });
  });
  after(async () => {
    await store?.close();
    client?.destroy();
    await server?.stop();
  });

  // first, before other tests leave freed memory in the heap that would hide this one's growth
  void it(
    'streams 300 MB through VerifyingStore with peak RSS growth under 64 MB',
    { timeout: 600_000 },
    async () => {
      const size = 300_000_000;
      const oid = await oidOfStream('300mb', size);
      const verifying = new VerifyingStore(store);
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
      try {
        await verifying.put(oid, size, pseudoRandomStream('300mb', size));
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      const growthMB = (peak - baseline) / 1e6;
      console.log(`# 300 MB upload: peak RSS growth ${growthMB.toFixed(1)} MB`);
      assert.ok(growthMB < 64, `peak RSS grew by ${growthMB.toFixed(1)} MB`);
      assert.deepEqual(await store.stat(oid), { size });
      const got = await store.get(oid);
      assert.ok(got);
      assert.deepEqual(await hashStream(got.body), { digest: oid, length: size });
      await store.delete(oid);
      assert.deepEqual(await leftovers(store, server), []);
    },
  );

  void it('round-trips a small object with one PutObject', T, async () => {
    const content = pseudoRandomBytes('small', 100_000);
    const oid = sha256(content);
    sent.length = 0;
    await store.put(oid, content.length, bodyOf(content, 3000));
    assert.deepEqual(sent, ['PutObjectCommand']);
    assert.deepEqual(await store.stat(oid), { size: content.length });
    const got = await store.get(oid);
    assert.ok(got);
    assert.equal(got.size, content.length);
    assert.ok((await readAll(got.body)).equals(content));
  });

  void it('round-trips a 12 MiB object as a multipart upload', T, async () => {
    const content = pseudoRandomBytes('multipart', 12 * MiB + 5);
    const oid = sha256(content);
    sent.length = 0;
    await store.put(oid, content.length, bodyOf(content, 100_000));
    assert.deepEqual(sent.filter((name) => name === 'UploadPartCommand').length, 3);
    assert.ok(sent.includes('CompleteMultipartUploadCommand'));
    const got = await store.get(oid);
    assert.ok(got);
    assert.equal(got.size, content.length);
    assert.ok((await readAll(got.body)).equals(content));
    assert.deepEqual(await leftovers(store, server), []);
  });

  void it(
    'takes a put of content it holds, when told it is stored, with one HeadObject; a wrong body still fails',
    T,
    async () => {
      const content = pseudoRandomBytes('stored-again', MIN_PART_SIZE + 7);
      const oid = sha256(content);
      const verifying = new VerifyingStore(store);
      const stored = { stored: true };
      assert.equal(await verifying.put(oid, content.length, bodyOf(content, 100_000)), 'written');
      // a second upload (another repository, a fork): read whole and checked, nothing sent again
      sent.length = 0;
      const body = bodyOf(content, 100_000);
      assert.equal(await verifying.put(oid, content.length, body, stored), 'already-stored');
      assert.deepEqual(sent, ['HeadObjectCommand']);
      assert.equal(body.readableEnded, true, 'the body was read to its end');
      // the proof of possession still holds: wrong bytes of the right size, or too few, fail
      const wrong = Buffer.from(content);
      wrong[100] ^= 1;
      await assertStoreError(
        verifying.put(oid, content.length, bodyOf(wrong, 100_000), stored),
        'hash_mismatch',
      );
      await assertStoreError(
        verifying.put(oid, content.length, bodyOf(content.subarray(1), 100_000), stored),
        'size_mismatch',
      );
      assert.deepEqual(sent, ['HeadObjectCommand', 'HeadObjectCommand', 'HeadObjectCommand']);
      const got = await store.get(oid);
      assert.ok(got);
      assert.ok((await readAll(got.body)).equals(content), 'the stored bytes are untouched');

      // content of another size under the key (damaged) is replaced by the upload
      await client.send(
        new PutObjectCommand({
          Bucket: server.bucket,
          Key: store.keyFor(oid),
          Body: content.subarray(0, 10),
        }),
      );
      sent.length = 0;
      assert.equal(await verifying.put(oid, content.length, bodyOf(content, 100_000), stored), 'written');
      assert.ok(sent.includes('CompleteMultipartUploadCommand'), sent.join());
      const repaired = await store.get(oid);
      assert.ok(repaired);
      assert.ok((await readAll(repaired.body)).equals(content), 'repaired by the upload');
      await store.delete(oid);
      assert.deepEqual(await leftovers(store, server), []);
    },
  );

  void it(
    'asks nothing before writing content not said to be stored; a small stored one is asked for too',
    T,
    async () => {
      const content = pseudoRandomBytes('small-again', 10_000);
      const oid = sha256(content);
      sent.length = 0;
      assert.equal(await store.put(oid, content.length, bodyOf(content)), 'written');
      assert.deepEqual(sent, ['PutObjectCommand'], 'new content: no HeadObject first');
      sent.length = 0;
      assert.equal(await store.put(oid, content.length, bodyOf(content), { stored: true }), 'already-stored');
      assert.deepEqual(sent, ['HeadObjectCommand']);
      // said to be stored but missing (metadata ahead of the bucket): asked, then written
      await store.delete(oid);
      sent.length = 0;
      assert.equal(await store.put(oid, content.length, bodyOf(content), { stored: true }), 'written');
      assert.deepEqual(sent, ['HeadObjectCommand', 'PutObjectCommand']);
      const got = await store.get(oid);
      assert.ok(got);
      assert.ok((await readAll(got.body)).equals(content));
      await store.delete(oid);
    },
  );

  void it('reads ranges, including one byte at either end, with the whole size', T, async () => {
    const content = pseudoRandomBytes('ranges', 1000);
    const oid = sha256(content);
    await store.put(oid, content.length, bodyOf(content));
    for (const [start, end] of [
      [0, 0],
      [0, 9],
      [10, 19],
      [999, 999],
      [990, 5000],
    ] as const) {
      const got = await store.get(oid, { range: { start, end } });
      assert.ok(got);
      assert.equal(got.size, 1000);
      assert.ok((await readAll(got.body)).equals(content.subarray(start, end + 1)), `range ${start}-${end}`);
    }
    await assert.rejects(store.get(oid, { range: { start: 1000, end: 1001 } }), RangeError);
    await assert.rejects(store.get(oid, { range: { start: 5, end: 4 } }), RangeError);
  });

  void it('answers undefined for missing objects, and deletes them without error', T, async () => {
    const oid = sha256(Buffer.from('missing'));
    assert.equal(await store.stat(oid), undefined);
    assert.equal(await store.get(oid), undefined);
    assert.equal(await store.get(oid, { range: { start: 0, end: 10 } }), undefined);
    await store.delete(oid);
  });

  void it(
    'rejects a wrong hash caught by VerifyingStore mid multipart upload, leaving nothing',
    T,
    async () => {
      const content = pseudoRandomBytes('wrong-hash-multipart', 13 * MiB);
      const oid = sha256(Buffer.from('not this content'));
      sent.length = 0;
      const verifying = new VerifyingStore(store);
      await assertStoreError(verifying.put(oid, content.length, bodyOf(content)), 'hash_mismatch');
      assert.ok(sent.includes('CreateMultipartUploadCommand'), 'the test must exercise a multipart upload');
      assert.ok(sent.includes('AbortMultipartUploadCommand'), 'the multipart upload must be aborted');
      assert.ok(!sent.includes('CompleteMultipartUploadCommand'));
      assert.equal(await store.stat(oid), undefined);
      assert.deepEqual(await leftovers(store, server), []);
    },
  );

  void it('keeps the StoreError a body fails with, and aborts the multipart upload', T, async () => {
    const content = pseudoRandomBytes('body-error', 12 * MiB);
    const oid = sha256(content);
    const error = new StoreError('hash_mismatch', 'body says: wrong hash');
    await assert.rejects(
      store.put(oid, content.length, failingBody(content.subarray(0, 11 * MiB), error)),
      error,
    );
    assert.equal(await store.stat(oid), undefined);
    assert.deepEqual(await leftovers(store, server), []);
  });

  void it('reports a plain body error as aborted', T, async () => {
    const content = pseudoRandomBytes('plain-error', 7 * MiB);
    const oid = sha256(content);
    const body = failingBody(content.subarray(0, 6 * MiB), new Error('socket closed'));
    await assertStoreError(store.put(oid, content.length, body), 'aborted');
    assert.deepEqual(await leftovers(store, server), []);
  });

  void it('rejects short and long bodies on its own (size_mismatch)', T, async () => {
    const content = pseudoRandomBytes('sizes', 6 * MiB);
    const oid = sha256(content);
    await assertStoreError(store.put(oid, content.length + 1, bodyOf(content)), 'size_mismatch');
    await assertStoreError(store.put(oid, content.length - 1, bodyOf(content)), 'size_mismatch');
    await assertStoreError(store.put(oid, 10, bodyOf(content.subarray(0, 11))), 'size_mismatch');
    assert.equal(await store.stat(oid), undefined);
    assert.deepEqual(await leftovers(store, server), []);
  });

  void it('aborts mid multipart upload when the signal fires while the body stalls', T, async () => {
    const content = pseudoRandomBytes('abort-stalled', 16 * MiB);
    const oid = sha256(content);
    const controller = new AbortController();
    const body = stalledBody(content.subarray(0, 11 * MiB));
    sent.length = 0;
    const put = store.put(oid, content.length, body, { signal: controller.signal });
    await untilConsumed(body);
    await sleep(200); // let the first parts reach s3rver
    controller.abort();
    await assertStoreError(put, 'aborted');
    assert.ok(sent.includes('AbortMultipartUploadCommand'));
    assert.ok(body.destroyed, 'the body is destroyed so that its sender stops');
    assert.equal(await store.stat(oid), undefined);
    assert.deepEqual(await leftovers(store, server), []);
  });

  void it('aborts part uploads in flight and rejects only once the multipart upload is gone', T, async () => {
    // a client whose part uploads take a second to start, so the abort lands while they are in flight
    const slow = recordingClient(s3rverClientConfig(server.endpoint));
    slow.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UploadPartCommand') await sleep(1000);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'slowParts' },
    );
    const slowStore = new S3Store({ bucket: server.bucket, prefix: 'objects/', client: slow.client });
    const content = pseudoRandomBytes('abort-in-flight', 16 * MiB);
    const oid = sha256(content);
    const controller = new AbortController();
    const put = slowStore.put(oid, content.length, bodyOf(content), { signal: controller.signal });
    await sleep(300);
    assert.ok(slow.sent.includes('UploadPartCommand'), 'parts are in flight');
    controller.abort();
    await assertStoreError(put, 'aborted');
    // no waiting here: when put rejects, the cleanup is already done
    assert.deepEqual(await leftovers(store, server), []);
    assert.equal(await store.stat(oid), undefined);
    slow.client.destroy();
  });

  void it('refuses an invalid size without contacting S3', T, async () => {
    sent.length = 0;
    const body = bodyOf(Buffer.from('abc'));
    await assert.rejects(store.put(sha256(Buffer.from('abc')), -1, body), RangeError);
    await assert.rejects(store.put(sha256(Buffer.from('abc')), 1.5, bodyOf(Buffer.from('abc'))), RangeError);
    assert.ok(body.destroyed);
    assert.deepEqual(sent, []);
  });

  void it('rejects a put whose signal is already aborted without contacting S3', T, async () => {
    const content = pseudoRandomBytes('pre-aborted', 100);
    sent.length = 0;
    await assertStoreError(
      store.put(sha256(content), content.length, bodyOf(content), { signal: AbortSignal.abort() }),
      'aborted',
    );
    assert.deepEqual(sent, []);
  });

  void it('lists only well-formed keys under its prefix, across pages', T, async () => {
    // other content of the bucket is not ours: outside the prefix, or under it but not an object key
    const foreign = ['elsewhere/ab/cd/x', 'objects/README', `objects/00/00/${'1'.repeat(64)}`];
    for (const key of foreign) {
      await client.send(new PutObjectCommand({ Bucket: server.bucket, Key: key, Body: 'x' }));
    }
    const want = new Map<string, number>();
    for (let i = 0; i < 5; i++) {
      const content = pseudoRandomBytes(`listed-${i}`, 10 + i);
      await store.put(sha256(content), content.length, bodyOf(content));
      want.set(sha256(content), content.length);
    }
    const listed = new Map<string, number>();
    for await (const { oid, size } of store.list()) listed.set(oid, size);
    for (const [oid, size] of want) assert.equal(listed.get(oid), size, oid);
    assert.ok(
      ![...listed.keys()].includes('1'.repeat(64)),
      'a key in the wrong fan-out directory is not ours',
    );
    for (const [oid] of listed) assert.ok(await store.stat(oid), `listed ${oid} exists`);
  });

  void it('deletes', T, async () => {
    const content = pseudoRandomBytes('delete', 10);
    const oid = sha256(content);
    await store.put(oid, content.length, bodyOf(content));
    await store.delete(oid);
    assert.equal(await store.stat(oid), undefined);
  });

  void it('presigned URLs work for a real upload and download', T, async () => {
    const content = pseudoRandomBytes('presigned', 4321);
    const oid = sha256(content);
    const upload = await store.presign('upload', oid, content.length, 300);
    assert.ok(upload);
    const put = await fetch(upload.href, { method: 'PUT', headers: upload.header, body: content });
    assert.equal(put.status, 200, await put.text());
    assert.deepEqual(await store.stat(oid), { size: content.length });
    const download = await store.presign('download', oid, content.length, 300);
    assert.ok(download);
    const get = await fetch(download.href);
    assert.equal(get.status, 200);
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(content));
  });

  void it('pings its bucket, and fails for a missing bucket', T, async () => {
    await store.ping();
    const missing = new S3Store({ bucket: 'no-such-bucket', client });
    await assert.rejects(missing.ping());
    // a missing bucket is an error, not "object not found" (HeadObject alone cannot tell)
    await assert.rejects(missing.get(sha256(Buffer.from('x'))));
  });

  void it('destroys only a client it created', T, async () => {
    const owned = new S3Store({ bucket: server.bucket, ...ownClient(server.endpoint) });
    await owned.ping();
    await owned.close();
    const borrowed = new S3Store({ bucket: server.bucket, client });
    await borrowed.close();
    await store.ping(); // the shared client still works
  });
});

runObjectStoreConformance('VerifyingStore(S3Store) on s3rver', async () => {
  const server = await startS3rver();
  const s3 = new S3Store({ bucket: server.bucket, prefix: 'lfs', ...ownClient(server.endpoint) });
  return {
    store: new VerifyingStore(s3),
    leftovers: () => leftovers(s3, server),
    cleanup: async () => {
      await s3.close();
      await server.stop();
    },
  };
});

// ---- content and bodies (local, so that this file does not depend on the suite's helpers) -----

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** AES-CTR keystream from `seed`: fast, deterministic, incompressible. */
function keystream(seed: string) {
  return createCipheriv('aes-256-ctr', createHash('sha256').update(seed).digest(), Buffer.alloc(16));
}

function pseudoRandomBytes(seed: string, length: number): Buffer {
  return keystream(seed).update(Buffer.alloc(length));
}

/** The bytes of `pseudoRandomBytes(seed, length)`, generated 64 KiB at a time and never held. */
function pseudoRandomStream(seed: string, length: number): Readable {
  const cipher = keystream(seed);
  const zeros = Buffer.alloc(64 * 1024);
  let left = length;
  return new Readable({
    highWaterMark: zeros.length,
    read() {
      const n = Math.min(zeros.length, left);
      left -= n;
      this.push(n > 0 ? cipher.update(zeros.subarray(0, n)) : null);
    },
  });
}

async function oidOfStream(seed: string, length: number): Promise<string> {
  return (await hashStream(pseudoRandomStream(seed, length))).digest;
}

function bodyOf(content: Buffer, chunkSize = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < content.length; i += chunkSize) yield content.subarray(i, i + chunkSize);
    })(),
    { objectMode: false },
  );
}

/** Delivers `prefix`, then neither data nor end: a client that stopped sending. */
function stalledBody(prefix: Buffer): Readable {
  const body = new Readable({ read() {} });
  body.push(prefix);
  return body;
}

async function untilConsumed(body: Readable): Promise<void> {
  while (body.readableLength > 0 && !body.destroyed) await nextTurn();
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}
