// Transfers that go wrong on the wire (issue 3 "Bad input" and "Fault tests"), through a real socket
// on 127.0.0.1: uploads cut off at any point, wrong bytes, short bytes, lying lengths, and clients
// that walk away from a download. Afterwards nothing is visible, no temp file is left once the
// request has ended, no file handle leaked, and the server still works.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomObject, type TestObject } from '../helpers/content.js';
import { addUser, batchOne, createTestApp, type TestApp } from '../helpers/test-app.js';
import { waitFor } from '../helpers/wait.js';

/** file descriptors of this process (the app runs in it) */
const openFds = () => readdirSync('/proc/self/fd').length;
/** a few descriptors come and go on their own (the test runner, DNS, timers) */
const FD_NOISE = 3;
/** scenarios of few requests run this often, so that one leaked descriptor per request exceeds the noise */
const ROUNDS = FD_NOISE + 2;
/** how long the server may take to clean up after a request */
const WAIT_MS = 5000;

interface RawResponse {
  status: number | undefined;
  head: string;
  body: string;
  /** whether the server closed the connection, or collect gave up waiting */
  closedBy: 'server' | 'timeout';
}

/** Everything the server sent until it closed the connection (or the timeout). */
function collect(socket: Socket, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closedBy: RawResponse['closedBy'] = 'server';
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
      resolve({ status: status === undefined ? undefined : Number(status), head, body, closedBy });
    };
    const timer = setTimeout(() => {
      closedBy = 'timeout';
      socket.destroy();
      finish();
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined); // a reset is an answer too
    socket.on('close', finish);
  });
}

describe('transfer faults through a socket', { timeout: 120_000 }, () => {
  let t: TestApp;
  let port: number;
  let alice: Awaited<ReturnType<typeof addUser>>;

  before(async () => {
    t = await createTestApp();
    alice = await addUser(t.deps, 'alice');
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  after(() => t.close());

  const tmpFiles = () => readdir(join(t.dataDir, 'tmp')).catch(() => [] as string[]);
  const connections = () =>
    new Promise<number>((resolve, reject) =>
      t.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    );

  async function plan(
    operation: 'upload' | 'download',
    obj: TestObject,
  ): Promise<{ path: string; header: Record<string, string> } | undefined> {
    const planned = await batchOne(t.app, operation, obj, 'alice/assets', alice.authorization);
    const action = planned.actions?.[operation];
    return action && { path: new URL(action.href).pathname, header: action.header };
  }

  /** Opens a connection and sends a request head; the body is up to the caller. */
  function send(method: string, path: string, headers: Record<string, string | number>): Socket {
    const socket = connect({ host: '127.0.0.1', port });
    const lines = [
      `${method} ${path} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Connection: close',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    return socket;
  }

  /** No object, no temp file, no open connection, and no more file handles than before. */
  async function assertNothingLeft(obj: TestObject, fdsBefore: number): Promise<void> {
    await waitFor('temp files removed', async () => (await tmpFiles()).length === 0, WAIT_MS);
    await waitFor('connections closed', async () => (await connections()) === 0, WAIT_MS);
    await waitFor(
      `file handles back to ${fdsBefore} (+${FD_NOISE})`,
      () => openFds() <= fdsBefore + FD_NOISE,
      WAIT_MS,
    );
    assert.equal(await t.deps.store.stat(obj.oid), undefined, 'nothing visible in the store');
    assert.equal(await plan('download', obj), undefined, 'not offered for download');
  }

  async function assertHealthy(): Promise<void> {
    const status = await new Promise<number | undefined>((resolve, reject) =>
      httpGet({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject),
    );
    assert.equal(status, 200, '/healthz');
    const obj = randomObject(300_000);
    const upload = (await plan('upload', obj))!;
    const put = send('PUT', upload.path, {
      ...upload.header,
      'Content-Length': obj.size,
      'Content-Type': 'application/octet-stream',
    });
    put.write(obj.content); // not end(): Node aborts a request whose client half-closes
    const answer = await collect(put);
    assert.equal(answer.status, 200, `a normal upload works: ${answer.head}`);
    const download = (await plan('download', obj))!;
    const got = await t.app.inject({ method: 'GET', url: download.path, headers: download.header });
    assert.ok(got.rawPayload.equals(obj.content), 'and downloads intact');
  }

  /** a warm-up, so that lazily opened descriptors (the SQLite file, the tmp dir) are not counted as leaks */
  before(async () => {
    await assertHealthy();
  });

  it('uploads cut off at random points leave nothing behind', async () => {
    const obj = randomObject(3 * 1024 * 1024 + 17);
    const fdsBefore = openFds();
    const cuts = [
      0,
      1,
      65_535,
      65_536,
      obj.size - 1,
      ...Array.from({ length: 6 }, () => randomInt(2, obj.size - 1)),
    ];
    for (const cut of cuts) {
      const upload = (await plan('upload', obj))!;
      const socket = send('PUT', upload.path, { ...upload.header, 'Content-Length': obj.size });
      socket.on('error', () => undefined);
      if (cut > 0) socket.write(obj.content.subarray(0, cut));
      // the server is mid-upload once its temp file exists
      await waitFor(`upload started (cut at ${cut})`, async () => (await tmpFiles()).length > 0, WAIT_MS);
      socket.destroy();
      await assertNothingLeft(obj, fdsBefore);
    }
    await assertHealthy();
  });

  it('a client gone before the server even started the upload leaves nothing behind', async () => {
    const obj = randomObject(1024 * 1024);
    const fdsBefore = openFds();
    for (let i = 0; i < 20; i++) {
      const upload = (await plan('upload', obj))!;
      const socket = send('PUT', upload.path, { ...upload.header, 'Content-Length': obj.size });
      socket.on('error', () => undefined);
      socket.write(obj.content.subarray(0, randomInt(0, 200_000)));
      // no waiting: the connection may close while hooks and the token check still run
      if (i % 2) setImmediate(() => socket.destroy());
      else socket.destroy();
    }
    await assertNothingLeft(obj, fdsBefore);
    await assertHealthy();
  });

  it('wrong bytes: 400 in LFS JSON, nothing stored', async () => {
    const obj = randomObject(2 * 1024 * 1024);
    const fdsBefore = openFds();
    for (let round = 0; round < ROUNDS; round++) {
      const wrong = Buffer.from(obj.content);
      wrong[randomInt(0, wrong.length)] ^= 0x40;
      const upload = (await plan('upload', obj))!;
      const socket = send('PUT', upload.path, { ...upload.header, 'Content-Length': obj.size });
      socket.write(wrong);
      const answer = await collect(socket);
      assert.equal(answer.status, 400, answer.head);
      assert.match(answer.head, /content-type: application\/vnd\.git-lfs\+json/i);
      assert.match(answer.body, /"message":"Content does not match its oid"/);
    }
    await assertNothingLeft(obj, fdsBefore);
  });

  it('short bytes: a body that ends before its Content-Length leaves nothing behind', async () => {
    const obj = randomObject(1024 * 1024);
    const fdsBefore = openFds();
    for (let round = 0; round < ROUNDS; round++) {
      for (const missing of [1, 1000, obj.size - 10]) {
        const upload = (await plan('upload', obj))!;
        const socket = send('PUT', upload.path, { ...upload.header, 'Content-Length': obj.size });
        socket.write(obj.content.subarray(0, obj.size - missing));
        await waitFor('upload started', async () => (await tmpFiles()).length > 0, WAIT_MS);
        socket.end(); // the client is done sending, short of what it promised
        const answer = await collect(socket);
        // Node's parser calls an early end a client error: the connection closes, with a 400 from
        // Fastify's client-error handler if the socket can still take it (plain JSON: no client reads
        // answers on a connection it has half-closed)
        assert.equal(answer.closedBy, 'server', 'the server ends the connection');
        if (answer.head === '') assert.equal(answer.body, '', 'closed without an answer');
        else assert.equal(answer.status, 400, answer.head);
        await assertNothingLeft(obj, fdsBefore);
      }
    }
    await assertHealthy();
  });

  it('a Content-Length other than the object size is refused at once, before the body arrives', async () => {
    const obj = randomObject(500_000);
    const fdsBefore = openFds();
    for (let round = 0; round < ROUNDS; round++) {
      for (const length of [obj.size + 1, obj.size - 1, 10 * obj.size]) {
        const upload = (await plan('upload', obj))!;
        const socket = send('PUT', upload.path, { ...upload.header, 'Content-Length': length });
        socket.write(obj.content.subarray(0, 1000)); // and then nothing: the answer must not wait for more
        const answer = await collect(socket, 5000);
        assert.equal(answer.status, 400, `Content-Length ${length}: ${answer.head}`);
        assert.match(answer.body, /does not match the object size/);
        socket.destroy();
      }
    }
    await assertNothingLeft(obj, fdsBefore);
  });

  it('clients that abort downloads leak no file handle', async () => {
    const obj = randomObject(8 * 1024 * 1024);
    const upload = (await plan('upload', obj))!;
    const put = await t.app.inject({
      method: 'PUT',
      url: upload.path,
      headers: upload.header,
      payload: obj.content,
    });
    assert.equal(put.statusCode, 200);
    const download = (await plan('download', obj))!;
    const fdsBefore = openFds();
    const abortOne = async (range?: string) => {
      const socket = send('GET', download.path, { ...download.header, ...(range ? { Range: range } : {}) });
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.once('data', () => resolve()));
      socket.destroy();
    };
    for (let round = 0; round < 4; round++) {
      await Promise.all([
        abortOne(),
        abortOne(),
        abortOne('bytes=1000-'),
        abortOne(`bytes=${obj.size - 3_000_000}-${obj.size - 1}`),
        abortOne(),
      ]);
    }
    // a client that reads nothing at all and goes away
    for (let i = 0; i < 5; i++) {
      const socket = send('GET', download.path, download.header);
      socket.on('error', () => undefined);
      socket.pause();
      await sleep(20);
      socket.destroy();
    }
    await waitFor('connections closed', async () => (await connections()) === 0, WAIT_MS);
    await waitFor(
      `file handles back to ${fdsBefore} (+${FD_NOISE})`,
      () => openFds() <= fdsBefore + FD_NOISE,
      WAIT_MS,
    );
    // and the object is still served whole
    const whole = await t.app.inject({ method: 'GET', url: download.path, headers: download.header });
    assert.ok(whole.rawPayload.equals(obj.content));
    await assertHealthy();
  });
});
