// S3 dying in the middle of an upload (issue 11 item 9): s3rver is killed while an 8 MB PUT streams
// through lfsd. The client gets a 5xx it retries (503 + Retry-After, LFS JSON), not a 400 blaming
// it; the operator gets an error log line and lfsd_store_errors_total.
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { randomObject } from '../helpers/content.js';
import { startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { addUser, batchOne, createTestApp, type TestApp } from '../helpers/test-app.js';
import { metric, parseMetrics } from '../ops/ops-helpers.js';
import { waitFor } from '../helpers/wait.js';

process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_EC2_METADATA_DISABLED = 'true';

describe('S3 killed mid-upload', { timeout: 120_000 }, () => {
  let s3: S3rverHandle;
  let t: TestApp;
  let alice: Awaited<ReturnType<typeof addUser>>;
  const logs: Record<string, unknown>[] = [];

  before(async () => {
    s3 = await startS3rver();
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString().split('\n'))
          if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
        callback();
      },
    });
    t = await createTestApp(
      { storage: 's3', s3Bucket: s3.bucket, s3Endpoint: s3.endpoint, s3ForcePathStyle: true },
      { logger: pino({ level: 'info' }, sink) },
    );
    alice = await addUser(t.deps, 'alice');
    await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await t?.close();
    await s3?.stop();
  });

  it('answers 503 + Retry-After, logs an error and counts a store error', async () => {
    const obj = randomObject(8 * 1024 * 1024);
    const planned = await batchOne(t.app, 'upload', obj, 'alice/assets', alice.authorization);
    const action = planned.actions!.upload!;
    const port = (t.app.server.address() as AddressInfo).port;
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const head = [
      `PUT ${new URL(action.href).pathname} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Connection: close',
      `Content-Length: ${obj.size}`,
      'Content-Type: application/octet-stream',
      ...Object.entries(action.header).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(head.join('\r\n') + '\r\n\r\n');
    socket.write(obj.content.subarray(0, 2 * 1024 * 1024));
    // lfsd has begun the S3 multipart upload: S3 fails mid-upload, not before it
    await waitFor('the multipart upload started', async () => (await s3.uploadDirectories()).length > 0);
    await s3.stop(); // S3 gone, 2 of 8 MB in
    socket.write(obj.content.subarray(2 * 1024 * 1024));
    await waitFor('an answer', () => Buffer.concat(chunks).includes('\r\n\r\n'), 60_000);
    const [answerHead = '', body = ''] = Buffer.concat(chunks).toString('latin1').split('\r\n\r\n', 2);
    socket.destroy();
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answerHead)?.[1]);
    assert.equal(status, 503, `${answerHead}\n${body}`);
    assert.match(answerHead, /retry-after: 5/i);
    assert.match(answerHead, /content-type: application\/vnd\.git-lfs\+json/i);
    const requestId = /x-request-id: (\S+)/i.exec(answerHead)?.[1];
    await waitFor('the error log line', () =>
      logs.some((l) => l.msg === 'request failed' && l.level === 50 && l.request_id === requestId),
    );
    const scraped = await t.app.inject({ method: 'GET', url: '/metrics' });
    assert.ok(
      metric(parseMetrics(scraped.body), 'lfsd_store_errors_total', { backend: 's3', operation: 'put' }) >= 1,
    );
  });
});
