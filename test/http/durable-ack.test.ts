/**
 * An upload is acknowledged only once its link is durable (issue 12): every path that links an
 * object waits for MetadataStore.durable() before it answers.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TransferService } from '../../src/lfs/transfer-service.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { randomObject } from '../helpers/content.js';
import { addUser, batchOne, createTestApp, type TestApp } from '../helpers/test-app.js';

/** durable() of the app's metadata store, held until the test releases it */
function gateDurable(t: TestApp) {
  const metadata = t.deps.metadata;
  const original = metadata.durable.bind(metadata);
  let release!: () => void;
  let calls = 0;
  const gate = new Promise<void>((resolve) => (release = resolve));
  metadata.durable = async () => {
    calls++;
    await gate;
    await original();
  };
  return {
    release,
    calls: () => calls,
    restore: () => {
      metadata.durable = original;
    },
  };
}

void describe('uploads are acknowledged after the link is durable', { timeout: 60_000 }, () => {
  let t: TestApp;
  let authorization: string;
  let repoId: number;

  before(async () => {
    t = await createTestApp();
    ({ authorization } = await addUser(t.deps, 'alice'));
    repoId = (await t.deps.metadata.createRepo('alice/assets', { isPublic: false })).id;
  });
  after(() => t.close());

  void it('a proxied PUT waits for durable()', async () => {
    const obj = randomObject(10_240);
    const planned = await batchOne(t.app, 'upload', obj, 'alice/assets', authorization);
    const upload = planned.actions!.upload!;
    const gate = gateDurable(t);
    try {
      let answered = false;
      const put = t.app
        .inject({
          method: 'PUT',
          url: new URL(upload.href).pathname,
          headers: upload.header,
          payload: obj.content,
        })
        .finally(() => (answered = true));
      for (let i = 0; i < 100 && gate.calls() === 0; i++) await sleep(10);
      assert.equal(gate.calls(), 1, 'the upload asked for durability');
      await sleep(100);
      assert.equal(answered, false, 'no answer while durable() is pending');
      gate.release();
      const res = await put;
      assert.equal(res.statusCode, 200, res.body);
    } finally {
      gate.restore();
    }
  });

  void it('a direct-mode verify that publishes a staged upload waits for durable()', async () => {
    const obj = randomObject(1_000);
    let committed = false;
    const store = {
      capabilities: new Set(['staged-upload']),
      commitStagedUpload: () => {
        committed = true;
        return Promise.resolve(true);
      },
    } as unknown as ObjectStore;
    const transfers = new TransferService({
      metadata: t.deps.metadata,
      store,
      maxObjectSize: 1 << 30,
      transferMode: 'direct',
    });
    const gate = gateDurable(t);
    try {
      let answered = false;
      const verify = transfers.verify('alice/assets', obj.oid, obj.size).finally(() => (answered = true));
      for (let i = 0; i < 100 && gate.calls() === 0; i++) await sleep(10);
      assert.ok(committed);
      assert.equal(gate.calls(), 1);
      await sleep(50);
      assert.equal(answered, false, 'verify does not answer before the link is durable');
      gate.release();
      await verify;
      assert.equal((await t.deps.metadata.findLinkedObjects(repoId, [obj.oid])).get(obj.oid), obj.size);
    } finally {
      gate.restore();
    }
  });

  void it('an upload through the service (HTTP and SSH both call it) waits for durable()', async () => {
    const obj = randomObject(2_000);
    const gate = gateDurable(t);
    try {
      let answered = false;
      const upload = t.deps.transfers
        .upload('alice/assets', obj.oid, obj.size, Readable.from([obj.content]), new AbortController().signal)
        .finally(() => (answered = true));
      for (let i = 0; i < 100 && gate.calls() === 0; i++) await sleep(10);
      assert.equal(gate.calls(), 1);
      await sleep(50);
      assert.equal(answered, false);
      gate.release();
      await upload;
    } finally {
      gate.restore();
    }
  });
});
