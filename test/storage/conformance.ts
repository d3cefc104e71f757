/**
 * The ObjectStore conformance suite (DESIGN.md "ObjectStore"): every backend runs it, wrapped in
 * VerifyingStore as production composes it. Call it from a `*.test.ts` file:
 *
 *   runObjectStoreConformance('disk', async () => ({ store, cleanup, leftovers }));
 *
 * The factory must return a fresh, empty store; it is called once per describe block below.
 * `leftovers()` lists what the backend holds for unfinished puts (disk: files in tmp/, S3:
 * incomplete multipart uploads); it must be empty whenever no put is running.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type ObjectStore, StoreError } from '../../src/storage/object-store.js';

export interface ConformanceTarget {
  store: ObjectStore;
  cleanup: () => Promise<void>;
  leftovers?: () => Promise<string[]>;
}

const MiB = 1024 * 1024;
/** generous: these tests hang, rather than fail, when a store ignores an abort or an error */
const T = { timeout: 30_000 };

export function runObjectStoreConformance(name: string, factory: () => Promise<ConformanceTarget>): void {
  void describe(`ObjectStore conformance: ${name}`, () => {
    let target: ConformanceTarget;
    /** what the store must hold: oid -> content, kept in step by the tests */
    const expected = new Map<string, Buffer>();
    const store = () => target.store;

    before(async () => {
      target = await factory();
    });
    after(async () => {
      await target?.cleanup();
    });

    async function putOk(content: Buffer, chunkSize?: number): Promise<string> {
      const oid = sha256(content);
      await store().put(oid, content.length, bodyOf(content, chunkSize));
      expected.set(oid, content);
      return oid;
    }

    /** a failed put left nothing: no object, no temp data */
    async function assertNothingLeft(oid: string): Promise<void> {
      if (!expected.has(oid)) {
        assert.equal(await store().stat(oid), undefined, 'failed put is visible to stat');
        assert.equal(await store().get(oid), undefined, 'failed put is visible to get');
      }
      assert.deepEqual((await target.leftovers?.()) ?? [], [], 'failed put left temp data behind');
    }

    async function assertStoreError(promise: Promise<unknown>, code: StoreError['code']): Promise<void> {
      await assert.rejects(promise, (err: unknown) => {
        assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
        assert.equal(err.code, code, err.message);
        return true;
      });
    }

    void describe('put and get', () => {
      for (const size of [0, 1, 1 * MiB + 3]) {
        void it(`round-trips ${size} bytes exactly`, T, async () => {
          const content = pseudoRandomBytes(`round-trip-${size}`, size);
          const oid = await putOk(content, 40_000);
          assert.deepEqual(await store().stat(oid), { size });
          const got = await store().get(oid);
          assert.ok(got);
          assert.equal(got.size, size);
          assert.ok((await readAll(got.body)).equals(content), 'content differs');
          assert.deepEqual((await target.leftovers?.()) ?? [], []);
        });
      }

      void it('round-trips a 20 MB streamed object', T, async () => {
        const size = 20_000_000 + 7;
        const oid = generatedOid('streamed-20mb', size);
        await store().put(oid, size, generatedStream('streamed-20mb', size));
        assert.deepEqual(await store().stat(oid), { size });
        const got = await store().get(oid);
        assert.ok(got);
        assert.equal(got.size, size);
        const { digest, length } = await hashStream(got.body);
        assert.equal(length, size);
        assert.equal(digest, oid);
        await store().delete(oid); // too big to keep a copy in `expected`
      });

      void it('answers undefined for a missing object', T, async () => {
        const oid = sha256(Buffer.from('never stored'));
        assert.equal(await store().stat(oid), undefined);
        assert.equal(await store().get(oid), undefined);
        assert.equal(await store().get(oid, { range: { start: 0, end: 0 } }), undefined);
      });

      void it('accepts a second put of an existing object', T, async () => {
        const content = pseudoRandomBytes('put-twice', 100_000);
        const oid = await putOk(content);
        await putOk(content, 7_000);
        const got = await store().get(oid);
        assert.ok(got && (await readAll(got.body)).equals(content));
      });
    });

    void describe('range reads', () => {
      const content = pseudoRandomBytes('ranges', 1 * MiB + 3);
      let oid: string;
      before(async () => {
        oid = await putOk(content);
      });

      const cases: [string, number, number][] = [
        ['the start', 0, 99],
        ['the middle', 500_000, 600_123],
        ['the end', content.length - 1000, content.length - 1],
        ['a single byte', 777_777, 777_777],
        ['the last byte', content.length - 1, content.length - 1],
        ['the whole object', 0, content.length - 1],
      ];
      for (const [what, start, end] of cases) {
        void it(`reads ${what} (${start}-${end})`, T, async () => {
          const got = await store().get(oid, { range: { start, end } });
          assert.ok(got);
          assert.equal(got.size, content.length, 'size must be the whole object');
          assert.ok(
            (await readAll(got.body)).equals(content.subarray(start, end + 1)),
            'range content differs',
          );
        });
      }

      void it('clamps an end past the object, as HTTP does', T, async () => {
        const start = content.length - 10;
        const got = await store().get(oid, { range: { start, end: content.length + 1000 } });
        assert.ok(got);
        assert.equal(got.size, content.length);
        assert.ok((await readAll(got.body)).equals(content.subarray(start)));
      });
    });

    void describe('failed puts leave nothing behind', () => {
      void it('rejects content that does not hash to its oid (hash_mismatch)', T, async () => {
        const content = pseudoRandomBytes('wrong-hash', 300_000);
        const oid = sha256(Buffer.from('something else entirely'));
        await assertStoreError(store().put(oid, content.length, bodyOf(content)), 'hash_mismatch');
        await assertNothingLeft(oid);
      });

      void it('rejects one flipped bit in the last byte (hash_mismatch)', T, async () => {
        const content = pseudoRandomBytes('flipped-bit', 200_001);
        const oid = sha256(content);
        const bad = Buffer.from(content);
        bad[bad.length - 1] ^= 1;
        await assertStoreError(store().put(oid, content.length, bodyOf(bad)), 'hash_mismatch');
        await assertNothingLeft(oid);
      });

      void it('keeps an existing object intact when a bad put of its oid fails', T, async () => {
        const content = pseudoRandomBytes('keep-existing', 150_000);
        const oid = await putOk(content);
        const bad = pseudoRandomBytes('impostor', content.length);
        await assertStoreError(store().put(oid, content.length, bodyOf(bad)), 'hash_mismatch');
        const got = await store().get(oid);
        assert.ok(got && (await readAll(got.body)).equals(content), 'existing object was damaged');
        await assertNothingLeft(oid);
      });

      void it('rejects a short body (size_mismatch)', T, async () => {
        const content = pseudoRandomBytes('short', 100_000);
        const oid = sha256(content);
        await assertStoreError(
          store().put(oid, content.length, bodyOf(content.subarray(0, 99_999))),
          'size_mismatch',
        );
        await assertNothingLeft(oid);
      });

      void it('rejects a long body without reading all of it (size_mismatch)', T, async () => {
        const content = pseudoRandomBytes('long', 100_000);
        const oid = sha256(content);
        // an endless body: a store that reads to the end before checking the size never returns
        await assertStoreError(store().put(oid, content.length, endlessBody(content)), 'size_mismatch');
        await assertNothingLeft(oid);
      });

      void it('rejects a body that errors half way (aborted)', T, async () => {
        const content = pseudoRandomBytes('body-error', 2 * MiB);
        const oid = sha256(content);
        const body = Readable.from(
          (async function* () {
            yield content.subarray(0, MiB);
            await nextTurn();
            throw new Error('client went away');
          })(),
          { objectMode: false },
        );
        await assertStoreError(store().put(oid, content.length, body), 'aborted');
        await assertNothingLeft(oid);
      });

      void it('rejects a body that is destroyed half way (aborted)', T, async () => {
        const content = pseudoRandomBytes('body-destroyed', 2 * MiB);
        const oid = sha256(content);
        const body = stalledBody(content.subarray(0, MiB));
        const put = store().put(oid, content.length, body);
        await untilConsumed(body);
        body.destroy();
        await assertStoreError(put, 'aborted');
        await assertNothingLeft(oid);
      });

      void it('stops when its AbortSignal fires mid-stream (aborted)', T, async () => {
        const content = pseudoRandomBytes('abort', 2 * MiB);
        const oid = sha256(content);
        const controller = new AbortController();
        const body = stalledBody(content.subarray(0, MiB));
        const put = store().put(oid, content.length, body, { signal: controller.signal });
        await untilConsumed(body);
        controller.abort();
        await assertStoreError(put, 'aborted');
        await assertNothingLeft(oid);
      });

      void it('rejects a put whose signal is already aborted (aborted)', T, async () => {
        const content = pseudoRandomBytes('pre-aborted', 1000);
        const oid = sha256(content);
        await assertStoreError(
          store().put(oid, content.length, bodyOf(content), { signal: AbortSignal.abort() }),
          'aborted',
        );
        await assertNothingLeft(oid);
      });
    });

    void describe('concurrency', () => {
      void it('ends 8 concurrent puts of one oid with one correct object', T, async () => {
        const content = pseudoRandomBytes('concurrent', 1 * MiB + 3);
        const oid = sha256(content);
        await Promise.all(
          Array.from({ length: 8 }, (_, i) => store().put(oid, content.length, bodyOf(content, 16_384 + i))),
        );
        expected.set(oid, content);
        const got = await store().get(oid);
        assert.ok(got);
        assert.equal(got.size, content.length);
        assert.ok((await readAll(got.body)).equals(content));
        assert.deepEqual((await target.leftovers?.()) ?? [], []);
      });

      void it('lets bad puts racing good ones fail without damaging the object', T, async () => {
        const content = pseudoRandomBytes('race-good', 1 * MiB);
        const bad = pseudoRandomBytes('race-bad', content.length);
        const oid = sha256(content);
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            store().put(oid, content.length, bodyOf(i % 2 ? bad : content, 32_768)),
          ),
        );
        results.forEach((result, i) => {
          if (i % 2 === 0) assert.equal(result.status, 'fulfilled', `good put ${i} failed`);
          else
            assert.ok(
              result.status === 'rejected' && result.reason?.code === 'hash_mismatch',
              `bad put ${i}`,
            );
        });
        expected.set(oid, content);
        const got = await store().get(oid);
        assert.ok(got && (await readAll(got.body)).equals(content), 'a bad put damaged the object');
        assert.deepEqual((await target.leftovers?.()) ?? [], []);
      });
    });

    void describe('delete, list, ping', () => {
      void it('deletes an object, and a missing one without error', T, async () => {
        const content = pseudoRandomBytes('delete-me', 10_000);
        const oid = await putOk(content);
        await store().delete(oid);
        expected.delete(oid);
        assert.equal(await store().stat(oid), undefined);
        assert.equal(await store().get(oid), undefined);
        await store().delete(oid);
      });

      void it('lists exactly the objects stored, with their sizes', T, async () => {
        await putOk(pseudoRandomBytes('listed', 4321));
        const listed = new Map<string, number>();
        for await (const { oid, size } of store().list()) {
          assert.ok(!listed.has(oid), `${oid} listed twice`);
          listed.set(oid, size);
        }
        const want = new Map([...expected].map(([oid, content]) => [oid, content.length]));
        assert.deepEqual(listed, want);
      });

      void it('pings', T, async () => {
        await store().ping();
      });
    });
  });
}

// ---- deterministic content -------------------------------------------------------------------

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** AES-CTR keystream of a key derived from `seed`: fast, deterministic, not periodic. */
function keystream(seed: string) {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
}

export function pseudoRandomBytes(seed: string, length: number): Buffer {
  return keystream(seed).update(Buffer.alloc(length));
}

const BLOCK = 64 * 1024;

/**
 * `length` bytes made of 16 pseudo-random 64 KiB blocks in a pseudo-random order. The same Buffer
 * objects are handed out again and again (nobody may mutate a chunk), so generating even 256 MiB
 * allocates nothing per chunk and memory measurements see the store, not the generator's garbage.
 */
function* generatedChunks(seed: string, length: number): Generator<Buffer> {
  const blocks = Array.from({ length: 16 }, (_, i) => pseudoRandomBytes(`${seed}/${i}`, BLOCK));
  const order = pseudoRandomBytes(`${seed}/order`, Math.ceil(length / BLOCK));
  for (let i = 0, left = length; left > 0; i++, left -= BLOCK) {
    yield blocks[order[i] % 16].subarray(0, Math.min(BLOCK, left));
  }
}

/** A body streaming `generatedChunks(seed, length)`, never held in memory. */
export function generatedStream(seed: string, length: number): Readable {
  return Readable.from(generatedChunks(seed, length), { objectMode: false, highWaterMark: BLOCK });
}

export function generatedOid(seed: string, length: number): string {
  const hash = createHash('sha256');
  for (const chunk of generatedChunks(seed, length)) hash.update(chunk);
  return hash.digest('hex');
}

// ---- bodies ----------------------------------------------------------------------------------

/** A byte stream of `content` in chunks of `chunkSize`, like a socket would deliver it. */
export function bodyOf(content: Buffer, chunkSize = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < content.length; i += chunkSize) yield content.subarray(i, i + chunkSize);
    })(),
    { objectMode: false },
  );
}

/** `content` then more of it, forever. */
function endlessBody(content: Buffer): Readable {
  return new Readable({
    read() {
      this.push(content);
    },
  });
}

/** Delivers `prefix`, then neither data nor end: a client that stopped sending. */
export function stalledBody(prefix: Buffer): Readable {
  const body = new Readable({ read() {} });
  body.push(prefix);
  return body;
}

/** Resolves once the store has taken everything `stalledBody` had buffered. */
export async function untilConsumed(body: Readable): Promise<void> {
  while (body.readableLength > 0 && !body.destroyed) await nextTurn();
}

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export async function hashStream(body: Readable): Promise<{ digest: string; length: number }> {
  const hash = createHash('sha256');
  let length = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    hash.update(chunk);
    length += chunk.length;
  }
  return { digest: hash.digest('hex'), length };
}
