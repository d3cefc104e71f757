// FaultyStore (src/storage/faulty-store.ts), the fault injection layer of the tests: with no fault
// armed it is a store like any other (the conformance suite), and each armed fault fails its call
// with the backend-failure code of its error, leaving nothing behind.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DiskStore } from '../../src/storage/disk-store.js';
import { FaultyStore, systemError } from '../../src/storage/faulty-store.js';
import { StoreError } from '../../src/storage/object-store.js';
import { VerifyingStore } from '../../src/storage/verifying-store.js';
import { bodyOf, pseudoRandomBytes, runObjectStoreConformance, sha256 } from './conformance.js';

const tmpFiles = (root: string) => readdir(join(root, 'tmp')).catch(() => [] as string[]);

runObjectStoreConformance('VerifyingStore(FaultyStore(DiskStore)), no fault armed', async () => {
  const root = await mkdtemp(join(tmpdir(), 'lfsd-faulty-'));
  return {
    store: new VerifyingStore(new FaultyStore(new DiskStore({ root }))),
    cleanup: () => rm(root, { recursive: true, force: true }),
    leftovers: () => tmpFiles(root),
  };
});

describe('FaultyStore faults', () => {
  let root: string;
  let faulty: FaultyStore;
  let store: VerifyingStore;
  const content = pseudoRandomBytes('faulty', 1024 * 1024);
  const oid = sha256(content);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'lfsd-faulty-'));
    faulty = new FaultyStore(new DiskStore({ root }));
    store = new VerifyingStore(faulty);
  });
  after(() => rm(root, { recursive: true, force: true }));

  const code = (expected: StoreError['code']) => (err: unknown) => {
    assert.ok(err instanceof StoreError, String(err));
    assert.equal(err.code, expected, err.message);
    return true;
  };

  for (const [errno, expected] of [
    ['ENOSPC', 'no_space'],
    ['EDQUOT', 'no_space'],
    ['ECONNREFUSED', 'unavailable'],
    ['EIO', 'io'],
  ] as const) {
    it(`a write failing with ${errno} part way rejects with ${expected} and leaves nothing`, async () => {
      faulty.inject({ at: 'write', afterBytes: 200_000, error: systemError(errno), times: 1 });
      await assert.rejects(store.put(oid, content.length, bodyOf(content, 64 * 1024)), code(expected));
      assert.equal(await store.stat(oid), undefined);
      assert.deepEqual(await tmpFiles(root), []);
    });
  }

  it('fails stat, get, delete, ping and list while armed, and only `times` times', async () => {
    for (const at of ['stat', 'get', 'delete', 'ping'] as const) {
      faulty.inject({ at, error: systemError('ETIMEDOUT'), times: 1 });
      const call = {
        stat: () => store.stat(oid),
        get: () => store.get(oid),
        delete: () => store.delete(oid),
        ping: () => store.ping(),
      }[at];
      await assert.rejects(call(), code('unavailable'), at);
      await call(); // disarmed after one failure
    }
    faulty.inject({ at: 'list', error: systemError('ECONNRESET'), times: 1 });
    await assert.rejects(async () => {
      for await (const _ of store.list()) void _;
    }, code('unavailable'));
  });

  it('a read fault ends the body with the error, after at most the chosen bytes', async () => {
    await store.put(oid, content.length, bodyOf(content));
    faulty.inject({ at: 'read', afterBytes: 100_000, error: systemError('ECONNRESET'), times: 1 });
    const found = await store.get(oid);
    assert.ok(found);
    let received = 0;
    await assert.rejects(async () => {
      for await (const chunk of found.body as AsyncIterable<Buffer>) received += chunk.length;
    }, /ECONNRESET/);
    assert.ok(received <= 100_000, `${received} bytes passed`);
  });
});
