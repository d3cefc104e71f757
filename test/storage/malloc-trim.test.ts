/**
 * An S3Store raises glibc's malloc trim threshold for its process (src/storage/malloc-trim.ts);
 * other stores leave malloc alone. What that saves, the page faults of every MB an S3 download
 * proxies, is a performance figure and lives in bench figure 7 (lfsd's minor page faults per MB):
 * an assertion on fault counts here failed on a loaded machine (3-13 faults per MB with the fix,
 * 17-70 without it in a test process, so no limit separated them every time).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiskStore } from '../../src/storage/disk-store.js';
import { heapMemoryKept } from '../../src/storage/malloc-trim.js';
import { S3Store } from '../../src/storage/s3-store.js';

void describe('malloc trim threshold', () => {
  void it('is left alone by a disk store and raised once an S3Store is built', async () => {
    assert.equal(heapMemoryKept(), false, 'nothing raised it at import');
    const root = mkdtempSync(join(tmpdir(), 'lfsd-trim-'));
    try {
      new DiskStore({ root });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    assert.equal(heapMemoryKept(), false, 'a disk store does not raise it');
    // never contacted: building the store sends no request
    const store = new S3Store({
      bucket: 'trim-test',
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    try {
      assert.equal(heapMemoryKept(), true, 'an S3Store raises it');
    } finally {
      await store.close();
    }
  });
});
