/**
 * Store capabilities are declared data (issue 11 item 14): a layer passes on exactly what its
 * inner store declares, and a setting that needs a capability the store lacks stops the start.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadSettings } from '../../src/config/load-settings.js';
import { buildObjectStore } from '../../src/storage/build-object-store.js';
import { DelegatingStore } from '../../src/storage/delegating-store.js';
import { DiskStore } from '../../src/storage/disk-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { VerifyingStore } from '../../src/storage/verifying-store.js';
import { lfsdCommand } from '../ops/ops-helpers.js';

describe('store capabilities', () => {
  it('a layer declares exactly what its inner store declares', async () => {
    const disk = new DiskStore({ root: '/nonexistent' });
    const s3 = new S3Store({ bucket: 'b', region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
    try {
      assert.deepEqual(
        [...new VerifyingStore(new DelegatingStore(disk)).capabilities],
        ['local-file', 'quarantine', 'temp-cleanup'],
      );
      assert.deepEqual([...new VerifyingStore(new DelegatingStore(s3)).capabilities].sort(), [
        'multipart-cleanup',
        'presign',
        'quarantine',
        'staged-upload',
      ]);
      // the layer still has the methods: a capability check, not `typeof presign`, decides
      assert.equal(typeof new DelegatingStore(disk).presign, 'function');
      assert.equal(await new DelegatingStore(disk).presign('download', 'a'.repeat(64), 1, 60), undefined);
      assert.throws(() => new DelegatingStore(s3).localFile('a'.repeat(64)), /keeps no local files/);
    } finally {
      await s3.close();
    }
  });

  it('transferMode direct on the disk store is refused at start, not ignored', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'lfsd-caps-'));
    try {
      const settings = loadSettings({ env: {}, flags: { dataDir, transferMode: 'direct' } });
      await assert.rejects(buildObjectStore(settings), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /transferMode: direct needs a store with presign and staged-upload/);
        return true;
      });
      const serve = await lfsdCommand([
        'serve',
        '--data-dir',
        dataDir,
        '--listen',
        '127.0.0.1:0',
        '--transfer-mode',
        'direct',
      ]);
      assert.equal(serve.code, 2, serve.stderr);
      assert.match(serve.stderr, /configuration error: transferMode: direct needs/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('download offload on the S3 store is refused at start, not ignored', async () => {
    const settings = loadSettings({
      env: {},
      flags: {
        storage: 's3',
        s3Bucket: 'b',
        s3Endpoint: 'http://127.0.0.1:9',
        downloadOffload: 'x-sendfile',
      },
    });
    await assert.rejects(buildObjectStore(settings), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /downloadOffload needs a store with local-file; storage s3 has not/);
      return true;
    });
  });
});
