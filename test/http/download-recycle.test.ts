// Downloads from the disk store reuse their read buffers (FileBody in src/storage/disk-store.ts,
// recycleFlushedChunks in src/http/transfer-handlers.ts): each chunk goes back to the body once the
// response emitted 'drain' after it. Through a real socket on 127.0.0.1, with readers slow enough
// that the server's socket backs up again and again, this checks both halves of that bargain:
// every byte arrives intact (a buffer reused while the socket still held it would corrupt the
// download silently), and buffers really are reused (a layer copying chunks, or a recycle that no
// longer finds its buffer, would silently bring back one allocation per chunk).
import assert from 'node:assert/strict';
import { createHash, type Hash } from 'node:crypto';
import { Agent, type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FileBody } from '../../src/storage/disk-store.js';
import { READ_POOL_BUFFERS } from '../../src/storage/read-budget.js';
import { objectOf, type TestObject } from '../helpers/content.js';
import { addUser, batchOne, createTestApp, type TestApp } from '../helpers/test-app.js';
import { pseudoRandomBytes } from '../storage/conformance.js';

const MiB = 1024 * 1024;
/** a lone download reads 2 MiB chunks (read-budget.ts): 13 chunks, the last one short */
const BIG_SIZE = 24 * MiB + 12_345;
/** no case may take longer than this */
const CASE_TIMEOUT_MS = 60_000;
/** a slow reader takes this many bytes, then pauses for `PAUSE_MS` */
const STEP_BYTES = 192 * 1024;
const PAUSE_MS = 2;
/** connections of pipelined requests per run; a corruption shows in about one of three */
const PIPELINED_ROUNDS = 3;

interface Download {
  status: number | undefined;
  digest: string;
  length: number;
  socket: Socket | undefined;
  reusedSocket: boolean;
}

/** What the FileBodies did while a spy was installed. */
interface BodyRecord {
  /** chunks pushed */
  chunks: number;
  /** distinct memory the chunks lived in */
  backing: Set<ArrayBuffer>;
  /** calls of recycle with a chunk of this body that it had not been given back yet */
  recycled: number;
  /** chunks pushed and not recycled yet */
  outstanding: Set<Buffer>;
}

interface Spy {
  bodies: Map<FileBody, BodyRecord>;
  /** Buffer.allocUnsafeSlow calls for read-sized buffers (64 KiB and more) */
  bigAllocations: number;
  restore(): void;
}

/**
 * Watches every FileBody (push and recycle, wrapped on the prototype) and Buffer.allocUnsafeSlow,
 * which FileBody allocates its buffers with. `restore` puts everything back.
 */
function spyOnBodies(): Spy {
  const proto = FileBody.prototype as FileBody & { push: FileBody['push'] };
  const ownPush = Object.getOwnPropertyDescriptor(proto, 'push');
  const originalRecycle = proto.recycle;
  const originalAlloc = Buffer.allocUnsafeSlow;
  const spy: Spy = {
    bodies: new Map(),
    bigAllocations: 0,
    restore() {
      proto.recycle = originalRecycle;
      if (ownPush) Object.defineProperty(proto, 'push', ownPush);
      else Reflect.deleteProperty(proto, 'push');
      Buffer.allocUnsafeSlow = originalAlloc;
    },
  };
  const recordOf = (body: FileBody): BodyRecord => {
    let record = spy.bodies.get(body);
    if (!record) {
      record = { chunks: 0, backing: new Set(), recycled: 0, outstanding: new Set() };
      spy.bodies.set(body, record);
    }
    return record;
  };
  const inheritedPush = Object.getPrototypeOf(proto).push as FileBody['push'];
  proto.push = function (this: FileBody, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (Buffer.isBuffer(chunk)) {
      const record = recordOf(this);
      record.chunks++;
      record.backing.add(chunk.buffer as ArrayBuffer);
      record.outstanding.add(chunk);
    }
    return inheritedPush.call(this, chunk, encoding);
  };
  proto.recycle = function (this: FileBody, chunk: Buffer): void {
    const record = recordOf(this);
    if (record.outstanding.delete(chunk)) record.recycled++;
    originalRecycle.call(this, chunk);
  };
  Buffer.allocUnsafeSlow = (size: number) => {
    if (size >= 64 * 1024) spy.bigAllocations++;
    return originalAlloc(size);
  };
  return spy;
}

/** Runs `fn` with the spy installed, and always removes it. */
async function spying<T>(fn: (spy: Spy) => Promise<T>): Promise<{ result: T; spy: Spy }> {
  const spy = spyOnBodies();
  try {
    return { result: await fn(spy), spy };
  } finally {
    spy.restore();
  }
}

/**
 * How many of a body's chunks may come in fresh buffers: its pool (READ_POOL_BUFFERS), then at
 * most every other chunk. Measured: the pool is one buffer short of the pipeline behind it (the
 * socket holds one chunk, request-context.ts's counting Transform holds up to two more), so every
 * third chunk finds the pool empty and gets a buffer of its own: 5 buffers for 13 chunks. Without
 * recycling every chunk would be fresh; this bound fails that by far and passes today's behaviour.
 */
const freshAllowed = (chunks: number) => READ_POOL_BUFFERS + Math.ceil((chunks - READ_POOL_BUFFERS) / 2);

/**
 * Every body read in chunks, gave most of them back and reused their buffers, and shared no buffer
 * with another body. Returns a summary for the test's diagnostics.
 */
function assertRecycled(spy: Spy, bodies: number, minChunksEach: number): string {
  assert.equal(spy.bodies.size, bodies, 'one FileBody per download');
  const seen = new Set<ArrayBuffer>();
  let allowed = 0;
  const summary: string[] = [];
  for (const [body, record] of spy.bodies) {
    const what = `a body of ${record.chunks} chunks in ${record.backing.size} buffers`;
    summary.push(`${record.chunks} chunks, ${record.backing.size} buffers, ${record.recycled} recycled`);
    assert.ok(body.destroyed, `${what} was destroyed at its end`);
    assert.ok(record.chunks >= minChunksEach, `${what}: at least ${minChunksEach} chunks expected`);
    allowed += freshAllowed(record.chunks);
    assert.ok(
      record.backing.size <= freshAllowed(record.chunks),
      `${what}: at most ${freshAllowed(record.chunks)} buffers expected, recycling is not reusing them`,
    );
    // each reuse needs a chunk given back first
    assert.ok(
      record.recycled >= record.chunks - record.backing.size,
      `${what}: only ${record.recycled} chunks given back`,
    );
    for (const backing of record.backing) {
      assert.ok(!seen.has(backing), 'no buffer is shared between two downloads');
      seen.add(backing);
    }
  }
  // the same from the allocator's side: FileBody allocates its buffers with allocUnsafeSlow
  assert.ok(
    spy.bigAllocations >= seen.size && spy.bigAllocations <= allowed,
    `${spy.bigAllocations} read buffers allocated for ${bodies} download(s) in ${seen.size} buffers, at most ${allowed} expected`,
  );
  return `${summary.join('; ')}; ${spy.bigAllocations} read buffers allocated`;
}

/**
 * Reads `res` slowly: `STEP_BYTES` at a time, then a pause, so the server's socket fills up and
 * the response waits for 'drain' over and over. Hashes every byte.
 */
function readSlowly(res: IncomingMessage | Socket, onChunk: (chunk: Buffer) => void): void {
  let sincePause = 0;
  res.on('data', (chunk: Buffer) => {
    onChunk(chunk);
    sincePause += chunk.length;
    if (sincePause >= STEP_BYTES) {
      sincePause = 0;
      res.pause();
      setTimeout(() => res.resume(), PAUSE_MS);
    }
  });
}

describe('downloads recycle their read buffers', { timeout: 4 * CASE_TIMEOUT_MS }, () => {
  let t: TestApp;
  let port: number;
  let alice: Awaited<ReturnType<typeof addUser>>;
  let big: TestObject;
  let medium: TestObject;
  let small: TestObject;
  const agents: Agent[] = [];

  const plan = async (operation: 'upload' | 'download', obj: TestObject) => {
    const planned = await batchOne(t.app, operation, obj, 'alice/assets', alice.authorization);
    const action = planned.actions?.[operation];
    assert.ok(action, `a ${operation} action for ${obj.oid}`);
    return { path: new URL(action.href).pathname, header: action.header };
  };

  /** PUT through the socket; resolves with the status. */
  async function upload(obj: TestObject): Promise<number | undefined> {
    const { path, header } = await plan('upload', obj);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'PUT',
          path,
          agent: false,
          headers: { ...header, 'content-type': 'application/octet-stream', 'content-length': obj.size },
          signal: AbortSignal.timeout(CASE_TIMEOUT_MS),
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(obj.content);
    });
  }

  /** GET with a slow reader; `agent` false means a connection of its own. */
  async function download(obj: TestObject, agent: Agent | false = false): Promise<Download> {
    const { path, header } = await plan('download', obj);
    return new Promise((resolve, reject) => {
      const req: ClientRequest = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path,
          agent,
          headers: header,
          signal: AbortSignal.timeout(CASE_TIMEOUT_MS),
        },
        (res) => {
          const hash = createHash('sha256');
          let length = 0;
          readSlowly(res, (chunk) => {
            hash.update(chunk);
            length += chunk.length;
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode,
              digest: hash.digest('hex'),
              length,
              socket: req.socket ?? undefined,
              reusedSocket: req.reusedSocket,
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  function assertIntact(got: Download, obj: TestObject, what: string): void {
    assert.equal(got.status, 200, `${what}: status`);
    assert.equal(got.length, obj.size, `${what}: length`);
    assert.equal(got.digest, obj.oid, `${what}: SHA-256 of the bytes received`);
  }

  before(async () => {
    t = await createTestApp();
    alice = await addUser(t.deps, 'alice');
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
    big = objectOf(pseudoRandomBytes('download-recycle/big', BIG_SIZE));
    // big enough for 10 chunks even at 2 MiB, whichever chunk size the read budget grants them
    medium = objectOf(pseudoRandomBytes('download-recycle/medium', 21 * MiB + 1));
    small = objectOf(pseudoRandomBytes('download-recycle/small', 20 * MiB + 777));
    for (const obj of [big, medium, small]) assert.equal(await upload(obj), 200, 'upload');
  });
  after(async () => {
    for (const agent of agents) agent.destroy();
    await t.close();
  });

  it(
    'a slow reader gets every byte, from buffers reused over and over',
    { timeout: CASE_TIMEOUT_MS },
    async (c) => {
      const { result, spy } = await spying(() => download(big));
      assertIntact(result, big, 'slow download');
      // 24 MiB in 2 MiB chunks: 13 chunks
      c.diagnostic(assertRecycled(spy, 1, 10));
    },
  );

  it('three slow readers at once each get their own bytes', { timeout: CASE_TIMEOUT_MS }, async (c) => {
    const objects = [big, medium, small];
    const { result, spy } = await spying(() => Promise.all(objects.map((obj) => download(obj))));
    objects.forEach((obj, i) => assertIntact(result[i]!, obj, `concurrent download ${i}`));
    // the first takes the whole read budget (2 MiB chunks), the others read 512 KiB at a time
    c.diagnostic(assertRecycled(spy, 3, 10));
  });

  it('two downloads back to back on one keep-alive connection', { timeout: CASE_TIMEOUT_MS }, async (c) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    try {
      // the second request goes out once the first response has ended, on the same connection
      const { result, spy } = await spying(async () => [
        await download(big, agent),
        await download(medium, agent),
      ]);
      const [first, second] = result as [Download, Download];
      assertIntact(first, big, 'first on the connection');
      assertIntact(second, medium, 'second on the connection');
      assert.ok(second.reusedSocket, 'the second request reused the connection');
      assert.equal(second.socket, first.socket, 'one socket for both');
      c.diagnostic(assertRecycled(spy, 2, 10));
    } finally {
      agent.destroy();
    }
  });

  /**
   * GETs of `objects` written at once on one raw connection (HTTP/1.1 pipelining: later requests
   * arrive while the first response streams), the responses read slowly and parsed one after the
   * other by their Content-Length.
   */
  async function pipelinedDownloads(objects: TestObject[]): Promise<Download[]> {
    const plans: Awaited<ReturnType<typeof plan>>[] = [];
    for (const obj of objects) plans.push(await plan('download', obj));
    return new Promise<Download[]>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`pipelined downloads timed out after ${CASE_TIMEOUT_MS} ms`));
      }, CASE_TIMEOUT_MS);
      const done: Download[] = [];
      let head = Buffer.alloc(0);
      let current: { status: number; left: number; length: number; hash: Hash } | undefined;
      const finish = (err?: Error) => {
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(done);
      };
      const take = (data: Buffer) => {
        while (data.length > 0) {
          if (!current) {
            head = Buffer.concat([head, data]);
            const end = head.indexOf('\r\n\r\n');
            if (end < 0) return;
            const text = head.subarray(0, end).toString('latin1');
            data = head.subarray(end + 4);
            head = Buffer.alloc(0);
            const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
            const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0);
            current = { status, left: length, length: 0, hash: createHash('sha256') };
          }
          const body = data.subarray(0, current.left);
          data = data.subarray(body.length);
          current.hash.update(body);
          current.length += body.length;
          current.left -= body.length;
          if (current.left === 0) {
            const { status, hash, length } = current;
            done.push({ status, digest: hash.digest('hex'), length, socket, reusedSocket: done.length > 0 });
            current = undefined;
            if (done.length === plans.length) return finish();
          }
        }
      };
      socket.on('error', finish);
      socket.on('close', () => finish(new Error(`connection closed after ${done.length} responses`)));
      readSlowly(socket, take);
      const requests = plans.map(({ path, header }, i) =>
        [
          `GET ${path} HTTP/1.1`,
          'Host: 127.0.0.1',
          ...Object.entries(header).map(([k, v]) => `${k}: ${v}`),
          ...(i === plans.length - 1 ? ['Connection: close'] : []),
          '',
          '',
        ].join('\r\n'),
      );
      socket.write(requests.join(''));
    });
  }

  it('pipelined downloads on one raw connection', { timeout: CASE_TIMEOUT_MS }, async (c) => {
    for (let round = 0; round < PIPELINED_ROUNDS; round++) {
      // a different order each round: each object is first, in the middle and last once
      const objects = [big, small, medium].map((_, i, all) => all[(i + round) % all.length]!);
      const { result, spy } = await spying(() => pipelinedDownloads(objects));
      objects.forEach((obj, i) => assertIntact(result[i]!, obj, `round ${round}, pipelined download ${i}`));
      c.diagnostic(`round ${round}: ${assertRecycled(spy, objects.length, 10)}`);
    }
  });
});
