/**
 * The S3 client's HTTP handler (src/storage/s3-http-handler.ts): the SDK's calls over undici against
 * a real S3-compatible server (s3rver), the body bytes it reports for the process's garbage pacing,
 * and its failures in the shapes the SDK's retries and lfsd's backend-failure rules expect, against
 * loopback servers that refuse, drop or never answer.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { classifyBackendFailure } from '../../src/storage/backend-failure.js';
import { s3ClientConfig } from '../../src/storage/s3-client.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { generatedOid, generatedStream, pseudoRandomBytes, readAll, sha256 } from './conformance.js';

const T = { timeout: 60_000 };
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** a client of lfsd's configuration against `endpoint`, trying each call `attempts` times */
function clientFor(endpoint: string, attempts: number): S3Client {
  return new S3Client({
    ...s3ClientConfig({ endpoint, forcePathStyle: true, credentials: CREDENTIALS }),
    maxAttempts: attempts,
  });
}

/** A loopback TCP server that does `onConnection` with every connection; counts them. */
async function rawServer(onConnection: (socket: Socket) => void): Promise<{
  endpoint: string;
  connections: () => number;
  close: () => Promise<void>;
}> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('S3 HTTP handler against s3rver', () => {
  let server: S3rverHandle;

  before(async () => {
    server = await startS3rver();
  });

  after(async () => {
    await server?.stop();
  });

  it('tells the size of every body chunk of a download, all of its bytes and no more', T, async () => {
    const told: number[] = [];
    const store = new S3Store({
      bucket: server.bucket,
      prefix: 'counted/',
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: CREDENTIALS,
      onBodyBytes: (bytes) => told.push(bytes),
    });
    try {
      const content = pseudoRandomBytes('counted', 3_000_000);
      const oid = sha256(content);
      await store.put(oid, content.length, Readable.from([content]));
      told.length = 0;
      const got = await store.get(oid);
      assert.ok(got);
      assert.deepEqual(await readAll(got.body), content);
      assert.ok(told.length > 1, `chunks as they came: ${told.length}`);
      assert.equal(
        told.reduce((sum, bytes) => sum + bytes, 0),
        content.length,
      );
      told.length = 0;
      const range = await store.get(oid, { range: { start: 1000, end: 1999 } });
      assert.deepEqual(await readAll(range!.body), content.subarray(1000, 2000));
      assert.deepEqual(told, [1000]);
    } finally {
      await store.close();
    }
  });

  it('holds a download back while its reader waits: memory stays bounded', T, async () => {
    const store = new S3Store({
      bucket: server.bucket,
      prefix: 'slow/',
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: CREDENTIALS,
    });
    try {
      const size = 150_000_000;
      const oid = generatedOid('slow-reader', size);
      await store.put(oid, size, generatedStream('slow-reader', size));
      const got = await store.get(oid);
      assert.ok(got);
      const before = process.memoryUsage().arrayBuffers;
      const reader = got.body[Symbol.asyncIterator]();
      let length = ((await reader.next()).value as Buffer).length;
      // s3rver sends as fast as it can; undici stops reading its socket while the body is full
      await sleep(1500);
      const held = process.memoryUsage().arrayBuffers - before;
      console.log(`# held ${held} bytes while the reader waited`);
      assert.ok(held < 16_000_000, `held ${held} bytes while the reader waited`);
      for (let chunk = await reader.next(); !chunk.done; chunk = await reader.next()) {
        length += (chunk.value as Buffer).length;
      }
      assert.equal(length, size, 'then the whole body arrives');
    } finally {
      await store.close();
    }
  });

  it('sends a streamed request body of a known length intact', T, async () => {
    const client = clientFor(server.endpoint, 1);
    try {
      const content = pseudoRandomBytes('streamed', 1_500_000);
      const chunks = [
        content.subarray(0, 100_000),
        content.subarray(100_000, 900_000),
        content.subarray(900_000),
      ];
      await client.send(
        new PutObjectCommand({
          Bucket: server.bucket,
          Key: 'streamed',
          Body: Readable.from(chunks),
          ContentLength: content.length,
        }),
      );
      const head = await client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: 'streamed' }));
      assert.equal(head.ContentLength, content.length);
      const got = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: 'streamed' }));
      assert.deepEqual(await readAll(got.Body as Readable), content);
    } finally {
      client.destroy();
    }
  });
});

/** What `call` with a client of lfsd's configuration against `endpoint` fails with (it must fail). */
async function failureOf(
  endpoint: string,
  attempts: number,
  call: (client: S3Client) => Promise<unknown>,
): Promise<Error & { code?: string }> {
  const client = clientFor(endpoint, attempts);
  try {
    return await call(client).then(
      () => assert.fail('answered'),
      (err: unknown) => err as Error & { code?: string },
    );
  } finally {
    client.destroy();
  }
}

const headObject = (client: S3Client) => client.send(new HeadObjectCommand({ Bucket: 'b', Key: 'k' }));

describe('S3 HTTP handler failures', () => {
  it('a refused connection keeps its system error code: the backend is unavailable', T, async () => {
    const closed = await rawServer(() => undefined);
    await closed.close(); // nothing listens on its port now
    const err = await failureOf(closed.endpoint, 1, headObject);
    assert.equal(err.code, 'ECONNREFUSED');
    assert.equal(classifyBackendFailure(err), 'unavailable');
  });

  it(
    'a dropped connection is ECONNRESET, which the SDK retries and lfsd reports as unavailable',
    T,
    async () => {
      // reads the request, then closes the connection without an answer
      const dropping = await rawServer((socket) => socket.once('data', () => socket.destroy()));
      try {
        const err = await failureOf(dropping.endpoint, 3, headObject);
        assert.equal(err.code, 'ECONNRESET');
        assert.equal(classifyBackendFailure(err), 'unavailable');
        assert.equal(dropping.connections(), 3, 'tried three times');
      } finally {
        await dropping.close();
      }
    },
  );

  it("a call's AbortSignal cancels it while the server does not answer", T, async () => {
    const silent = await rawServer(() => undefined);
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const started = Date.now();
      const err = await failureOf(silent.endpoint, 1, (client) =>
        client.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }), { abortSignal: controller.signal }),
      );
      assert.equal(err.name, 'AbortError');
      assert.ok(Date.now() - started < 10_000, 'cancelled, not timed out');
    } finally {
      await silent.close();
    }
  });
});
