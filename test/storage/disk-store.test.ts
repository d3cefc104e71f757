import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import { DiskStore } from '../../src/storage/disk-store.js';
import { StoreError } from '../../src/storage/object-store.js';
import { SMALL_READ_BYTES } from '../../src/storage/quick-fs.js';
import { VerifyingStore } from '../../src/storage/verifying-store.js';
import {
  bodyOf,
  generatedOid,
  generatedStream,
  pseudoRandomBytes,
  runObjectStoreConformance,
  sha256,
  stalledBody,
  untilConsumed,
} from './conformance.js';

const MiB = 1024 * 1024;

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'lfsd-disk-store-'));
}

async function tmpFiles(root: string): Promise<string[]> {
  return readdir(join(root, 'tmp')).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
}

runObjectStoreConformance('VerifyingStore(DiskStore)', async () => {
  const root = await tempRoot();
  return {
    store: new VerifyingStore(new DiskStore({ root })),
    cleanup: () => rm(root, { recursive: true, force: true }),
    leftovers: () => tmpFiles(root),
  };
});

// the same with every file-system call through the thread pool (quick-fs.ts): a limit of
// 0 ms trips the guard at the first call, and the cooldown outlasts the suite
runObjectStoreConformance('VerifyingStore(DiskStore), file-system calls in the thread pool', async () => {
  const root = await tempRoot();
  const disk = new DiskStore({ root, quickFs: { slowMs: 0, cooldownMs: 3_600_000 } });
  return {
    store: new VerifyingStore(disk),
    cleanup: async () => {
      assert.equal(disk.fs.pooled, true, 'the calls went through the thread pool');
      await rm(root, { recursive: true, force: true });
    },
    leftovers: () => tmpFiles(root),
  };
});

void describe('DiskStore', () => {
  let root: string;
  let disk: DiskStore;
  let store: VerifyingStore;

  before(async () => {
    root = await tempRoot();
    disk = new DiskStore({ root });
    store = new VerifyingStore(disk);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  void it('stores objects at objects/ab/cd/<oid>', async () => {
    const content = pseudoRandomBytes('layout', 5000);
    const oid = sha256(content);
    await store.put(oid, content.length, bodyOf(content));
    const path = join(root, 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
    assert.ok((await readFile(path)).equals(content));
    assert.deepEqual(await tmpFiles(root), []);
    assert.equal(store.kind, 'disk');
  });

  void it('takes a put of content it holds, when told it is stored, without writing it again; a wrong body still fails', async () => {
    const content = pseudoRandomBytes('stored-again', 20_000);
    const oid = sha256(content);
    const path = join(root, 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
    const stored = { stored: true };
    assert.equal(await store.put(oid, content.length, bodyOf(content)), 'written');
    const first = await stat(path);
    // a second upload (another repository, a re-push): read whole and checked, the file kept
    const body = bodyOf(content);
    assert.equal(await store.put(oid, content.length, body, stored), 'already-stored');
    assert.equal(body.readableEnded, true, 'the body was read to its end');
    assert.equal((await stat(path)).ino, first.ino, 'the same file: not written again');
    assert.ok((await readFile(path)).equals(content));
    // the proof of possession still holds: wrong bytes of the right size, or too few, fail
    const wrong = Buffer.from(content);
    wrong[100] ^= 1;
    await assert.rejects(store.put(oid, content.length, bodyOf(wrong), stored), { code: 'hash_mismatch' });
    await assert.rejects(store.put(oid, content.length, bodyOf(content.subarray(1)), stored), {
      code: 'size_mismatch',
    });
    assert.equal((await stat(path)).ino, first.ino);
    assert.ok((await readFile(path)).equals(content), 'the stored bytes are untouched');
    assert.deepEqual(await tmpFiles(root), []);

    // not told it is stored (the metadata knows nothing of it): written as new content, no open first
    assert.equal(await store.put(oid, content.length, bodyOf(content)), 'written');
    const rewritten = await stat(path);
    assert.notEqual(rewritten.ino, first.ino);

    // a stored file of another size (truncated) is replaced by the upload
    await writeFile(path, content.subarray(0, 10));
    assert.equal(await store.put(oid, content.length, bodyOf(content), stored), 'written');
    assert.notEqual((await stat(path)).ino, rewritten.ino);
    assert.ok((await readFile(path)).equals(content), 'repaired by the upload');
    await store.delete(oid);
  });

  void it('creates tmp/ and the object directories when they are missing (they are not made on every put)', async () => {
    const first = pseudoRandomBytes('dirs-1', 100);
    await store.put(sha256(first), first.length, bodyOf(first));
    await rm(join(root, 'tmp'), { recursive: true });
    await rm(join(root, 'objects'), { recursive: true });
    const second = pseudoRandomBytes('dirs-2', 100);
    const oid = sha256(second);
    await store.put(oid, second.length, bodyOf(second));
    assert.ok((await readFile(join(root, 'objects', oid.slice(0, 2), oid.slice(2, 4), oid))).equals(second));
    assert.deepEqual(await tmpFiles(root), []);
  });

  for (const [layer, target] of [
    ['DiskStore alone', () => disk],
    ['VerifyingStore(DiskStore)', () => store],
  ] as const) {
    void it(
      `leaves no temp file when the source is destroyed mid-way (${layer})`,
      { timeout: 10_000 },
      async () => {
        const content = pseudoRandomBytes(`destroyed-${layer}`, 2 * MiB);
        const oid = sha256(content);
        const body = stalledBody(content.subarray(0, MiB));
        const put = target().put(oid, content.length, body);
        await untilConsumed(body);
        // the verifier may take the bytes before the temp file exists: wait for the upload to show up
        while ((await tmpFiles(root)).length === 0) await setTimeout(5);
        body.destroy();
        await assert.rejects(put, (err: unknown) => err instanceof StoreError && err.code === 'aborted');
        assert.deepEqual(await tmpFiles(root), []);
        assert.equal(await disk.stat(oid), undefined);
      },
    );
  }

  // issue 11 item 18: the shutdown deadline may cut an upload at any point of its put
  void it('an abort while the put fsyncs comes too late: the object is stored whole, no temp file', async () => {
    const content = pseudoRandomBytes('abort-at-fsync', 3 * MiB);
    const oid = sha256(content);
    const aborted = new AbortController();
    const fsync = disk.fs.fsync.bind(disk.fs);
    let abortedAtSync = false;
    disk.fs.fsync = async (fd: number) => {
      if (!abortedAtSync) {
        abortedAtSync = true;
        aborted.abort(new Error('client gone'));
        await setTimeout(50);
      }
      return fsync(fd);
    };
    try {
      await store.put(oid, content.length, bodyOf(content), { signal: aborted.signal });
    } finally {
      disk.fs.fsync = fsync;
    }
    assert.ok(abortedAtSync, 'the abort happened during the fsync');
    assert.ok((await readFile(join(root, 'objects', oid.slice(0, 2), oid.slice(2, 4), oid))).equals(content));
    assert.deepEqual(await tmpFiles(root), []);
  });

  void it('a failure after every byte arrived (no directory to rename into) leaves no temp file', async () => {
    const content = pseudoRandomBytes('rename-fails', MiB);
    const oid = sha256(content);
    // the object's directory cannot be created: a file stands where it goes
    await mkdir(join(root, 'objects'), { recursive: true });
    await writeFile(join(root, 'objects', oid.slice(0, 2)), 'in the way');
    try {
      await assert.rejects(
        store.put(oid, content.length, bodyOf(content)),
        (err: unknown) => err instanceof StoreError && err.code === 'io',
      );
      assert.deepEqual(await tmpFiles(root), []);
    } finally {
      await rm(join(root, 'objects', oid.slice(0, 2)));
    }
  });

  void it('checks the byte count by itself, without the verifier', async () => {
    const content = pseudoRandomBytes('raw-size', 10_000);
    const oid = sha256(content);
    const isSizeMismatch = (err: unknown) => err instanceof StoreError && err.code === 'size_mismatch';
    await assert.rejects(disk.put(oid, content.length + 1, bodyOf(content)), isSizeMismatch);
    await assert.rejects(disk.put(oid, content.length - 1, bodyOf(content)), isSizeMismatch);
    assert.equal(await disk.stat(oid), undefined);
    assert.deepEqual(await tmpFiles(root), []);
  });

  void it('reports file system failures as io and releases the body', async () => {
    const notADirectory = join(root, 'plain-file');
    await writeFile(notADirectory, '');
    const broken = new DiskStore({ root: notADirectory });
    const content = Buffer.from('data');
    const body = bodyOf(content);
    await assert.rejects(
      broken.put(sha256(content), content.length, body),
      (err: unknown) => err instanceof StoreError && err.code === 'io',
    );
    assert.ok(body.destroyed);
  });

  void it('refuses oids that are not 64 lowercase hex (they become paths)', async () => {
    await assert.rejects(disk.stat('../../../etc/passwd'), TypeError);
    await assert.rejects(disk.get('A'.repeat(64)), TypeError);
    await assert.rejects(store.put('../x', 1, bodyOf(Buffer.from('x'))), TypeError);
  });

  void it('refuses a range that starts outside the object', async () => {
    const content = pseudoRandomBytes('bad-range', 100);
    const oid = sha256(content);
    await store.put(oid, content.length, bodyOf(content));
    await assert.rejects(store.get(oid, { range: { start: 100, end: 200 } }), RangeError);
    await assert.rejects(store.get(oid, { range: { start: 10, end: 9 } }), RangeError);
  });

  void it('lists only well-formed oids in the right directories', async () => {
    const oid = sha256(Buffer.from('x'));
    await store.put(oid, 1, bodyOf(Buffer.from('x')));
    const stray = sha256(Buffer.from('stray'));
    const leaf = join(root, 'objects', oid.slice(0, 2), oid.slice(2, 4));
    await writeFile(join(leaf, `${oid}~`), 'editor backup');
    await writeFile(join(leaf, stray), 'oid in the wrong directory');
    await mkdir(join(root, 'objects', 'zz', 'yy'), { recursive: true });
    await writeFile(join(root, 'objects', 'zz', 'yy', stray), 'bad fan-out');
    const oids = [];
    for await (const entry of disk.list()) oids.push(entry.oid);
    assert.ok(oids.includes(oid));
    assert.ok(!oids.includes(stray));
    assert.ok(oids.every((o) => /^[0-9a-f]{64}$/.test(o)));
  });

  void it('cleanTemp removes only stale temp files', async () => {
    await mkdir(join(root, 'tmp'), { recursive: true });
    await writeFile(join(root, 'tmp', 'stale.tmp'), 'crashed upload');
    await writeFile(join(root, 'tmp', 'fresh.tmp'), 'upload in progress');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(root, 'tmp', 'stale.tmp'), twoHoursAgo, twoHoursAgo);
    assert.equal(await disk.cleanTemp(3600_000), 1);
    assert.deepEqual(await tmpFiles(root), ['fresh.tmp']);
    await rm(join(root, 'tmp', 'fresh.tmp'));
  });

  void it('ping fails when the data directory is missing', async () => {
    await disk.ping();
    const missing = new DiskStore({ root: join(root, 'does-not-exist') });
    await assert.rejects(missing.ping(), (err: unknown) => err instanceof StoreError && err.code === 'io');
  });

  void it('streams a 256 MiB put in bounded memory', { timeout: 120_000 }, async () => {
    const size = 256 * MiB;
    const oid = generatedOid('memory', size);
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);
    try {
      await store.put(oid, size, generatedStream('memory', size));
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    const grownMiB = (peak - before) / MiB;
    assert.ok(grownMiB < 64, `RSS grew by ${grownMiB.toFixed(1)} MiB during a 256 MiB put`);
    assert.deepEqual(await store.stat(oid), { size });
    await store.delete(oid);
  });

  void it('reads a small object or range whole, its file closed before the body is read; a larger one streams', async () => {
    const openFiles = async () => (await readdir('/proc/self/fd')).length;
    const content = pseudoRandomBytes('small-reads', SMALL_READ_BYTES + 10);
    const oid = sha256(content);
    await store.put(oid, content.length, bodyOf(content));
    const small = pseudoRandomBytes('small-object', 10 * 1024);
    const smallOid = sha256(small);
    await store.put(smallOid, small.length, bodyOf(small));
    const readAll = async (body: NodeJS.ReadableStream) => {
      const chunks: Buffer[] = [];
      for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
      return Buffer.concat(chunks);
    };
    const before = await openFiles();
    for (const [what, id, range, expected] of [
      ['a small object', smallOid, undefined, small],
      ['the last bytes of a larger one', oid, { start: 10, end: content.length - 1 }, content.subarray(10)],
    ] as const) {
      const found = await disk.get(id, range ? { range } : {});
      assert.equal(await openFiles(), before, `${what}: no descriptor left open`);
      assert.ok((await readAll(found!.body)).equals(expected), `${what}: the bytes`);
    }
    const streamed = await disk.get(oid);
    assert.equal(await openFiles(), before + 1, 'the whole larger object streams from its open file');
    assert.ok((await readAll(streamed!.body)).equals(content));
    await setTimeout(10); // the stream closes its file once destroyed (after its end)
    assert.equal(await openFiles(), before);
    await store.delete(oid);
    await store.delete(smallOid);
  });

  void it('downloads share a read budget: a lone one reads big chunks, and every one gives its share back', async () => {
    const content = pseudoRandomBytes('budget', 5 * MiB + 123);
    const oid = sha256(content);
    await store.put(oid, content.length, bodyOf(content));
    const chunkSizes = async (body: NodeJS.ReadableStream) => {
      const sizes: number[] = [];
      const chunks: Buffer[] = [];
      for await (const chunk of body as AsyncIterable<Buffer>) {
        sizes.push(chunk.length);
        chunks.push(chunk);
      }
      return { sizes, bytes: Buffer.concat(chunks) };
    };
    assert.equal(disk.readBudget.inUse, 0);
    const first = await disk.get(oid);
    const second = await disk.get(oid);
    assert.ok(first && second);
    assert.ok(disk.readBudget.inUse > 0);
    const [a, b] = await Promise.all([chunkSizes(first.body), chunkSizes(second.body)]);
    assert.ok(a.bytes.equals(content) && b.bytes.equals(content), 'both downloads read the object');
    assert.equal(Math.max(...a.sizes), 2 * MiB, 'the first download reads 2 MiB chunks');
    assert.equal(
      Math.max(...b.sizes),
      512 * 1024,
      'the second one, while the first holds the budget, 512 KiB',
    );
    assert.equal(disk.readBudget.inUse, 0, 'both gave their share back at the end');

    // a download destroyed half way (a client gone) gives its share back too, and so does a range
    const cut = await disk.get(oid);
    cut!.body.once('data', () => cut!.body.destroy());
    await new Promise((resolve) => cut!.body.once('close', resolve));
    const range = await disk.get(oid, { range: { start: 10, end: 20 } });
    const ranged = await chunkSizes(range!.body);
    assert.deepEqual(ranged.sizes, [11]);
    assert.ok(ranged.bytes.equals(content.subarray(10, 21)));
    assert.equal(disk.readBudget.inUse, 0);
    await store.delete(oid);
  });
});
