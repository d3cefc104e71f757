// Basic Transfer API through the HTTP app (LFS-PROTOCOL.md section 3), without a socket.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addUser, batchOne, createTestApp, verifyAction, type TestApp } from '../helpers/test-app.js';
import { LFS_JSON, randomObject, type TestObject } from '../helpers/content.js';

interface Action {
  href: string;
  header: Record<string, string>;
}

describe('basic transfers', () => {
  let t: TestApp;
  let alice: Awaited<ReturnType<typeof addUser>>;
  let bob: Awaited<ReturnType<typeof addUser>>;

  before(async () => {
    t = await createTestApp();
    alice = await addUser(t.deps, 'alice');
    bob = await addUser(t.deps, 'bob');
  });
  after(() => t.close());

  const batch = (
    operation: 'upload' | 'download',
    obj: TestObject,
    repo = 'alice/assets',
    authorization = alice.authorization,
  ) => batchOne(t.app, operation, obj, repo, authorization);

  const path = (href: string) => new URL(href).pathname;

  async function upload(obj: TestObject, repo = 'alice/assets', authorization = alice.authorization) {
    const planned = await batch('upload', obj, repo, authorization);
    const action = planned.actions?.upload as Action;
    return t.app.inject({
      method: 'PUT',
      url: path(action.href),
      headers: { ...action.header, 'content-type': 'image/png' },
      payload: obj.content,
    });
  }

  async function tempFiles() {
    return readdir(join(t.dataDir, 'tmp')).catch(() => []);
  }

  it('uploads, verifies, and then reports the object as present', async () => {
    const obj = randomObject(100_000);
    const planned = await batch('upload', obj);
    const put = await t.app.inject({
      method: 'PUT',
      url: path(planned.actions!.upload!.href),
      headers: { ...planned.actions!.upload!.header, 'content-type': 'text/plain; charset=utf-8' },
      payload: obj.content,
    });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(planned.actions!.verify, undefined, 'proxy mode: no verify action');
    const verifying = verifyAction(t, 'alice/assets', obj, planned.actions!.upload!);
    const verify = await t.app.inject({
      method: 'POST',
      url: path(verifying.href),
      headers: { ...verifying.header, 'content-type': LFS_JSON, accept: LFS_JSON },
      payload: JSON.stringify({ oid: obj.oid, size: obj.size }),
    });
    assert.equal(verify.statusCode, 200);
    assert.match(String(verify.headers['content-type']), /vnd\.git-lfs\+json/);
    const again = await batch('upload', obj);
    assert.equal(again.actions, undefined, 'no actions for an object already present');
    assert.equal(again.size, obj.size);
  });

  it('downloads the exact bytes, with Range 206 and 416', async () => {
    const obj = randomObject(5000);
    assert.equal((await upload(obj)).statusCode, 200);
    const planned = await batch('download', obj);
    const action = planned.actions!.download!;
    const full = await t.app.inject({ method: 'GET', url: path(action.href), headers: action.header });
    assert.equal(full.statusCode, 200);
    assert.equal(full.headers['content-length'], '5000');
    assert.ok(full.rawPayload.equals(obj.content));

    const part = await t.app.inject({
      method: 'GET',
      url: path(action.href),
      headers: { ...action.header, range: 'bytes=1000-4999' },
    });
    assert.equal(part.statusCode, 206);
    assert.equal(part.headers['content-range'], 'bytes 1000-4999/5000');
    assert.ok(part.rawPayload.equals(obj.content.subarray(1000)));

    const suffix = await t.app.inject({
      method: 'GET',
      url: path(action.href),
      headers: { ...action.header, range: 'bytes=-10' },
    });
    assert.equal(suffix.statusCode, 206);
    assert.ok(suffix.rawPayload.equals(obj.content.subarray(4990)));

    const beyond = await t.app.inject({
      method: 'GET',
      url: path(action.href),
      headers: { ...action.header, range: 'bytes=5000-' },
    });
    assert.equal(beyond.statusCode, 416);
    assert.equal(beyond.headers['content-range'], 'bytes */5000');
    assert.match(String(beyond.headers['content-type']), /vnd\.git-lfs\+json/);

    const multi = await t.app.inject({
      method: 'GET',
      url: path(action.href),
      headers: { ...action.header, range: 'bytes=0-1,3-4' },
    });
    assert.equal(multi.statusCode, 200, 'a multi-range request gets the whole object');
  });

  it('refuses bytes that do not hash to the oid and stores nothing', async () => {
    const obj = randomObject(2048);
    const planned = await batch('upload', obj);
    const wrong = Buffer.from(obj.content);
    wrong[100] ^= 1;
    const put = await t.app.inject({
      method: 'PUT',
      url: path(planned.actions!.upload!.href),
      headers: planned.actions!.upload!.header,
      payload: wrong,
    });
    assert.equal(put.statusCode, 400);
    assert.match(put.json().message, /does not match/);
    assert.equal(await t.deps.store.stat(obj.oid), undefined);
    assert.deepEqual(await tempFiles(), []);
    assert.ok((await batch('download', obj)).error, 'not offered for download');
  });

  it('refuses a Content-Length that differs from the object size', async () => {
    const obj = randomObject(64);
    const planned = await batch('upload', obj);
    const put = await t.app.inject({
      method: 'PUT',
      url: path(planned.actions!.upload!.href),
      headers: { ...planned.actions!.upload!.header },
      payload: obj.content.subarray(0, 63),
    });
    assert.equal(put.statusCode, 400);
    assert.equal(await t.deps.store.stat(obj.oid), undefined);
  });

  it('refuses transfers without a valid token for that object, repository and operation', async () => {
    const obj = randomObject(10);
    const other = randomObject(10);
    const planned = await batch('upload', obj);
    const header = planned.actions!.upload!.header;
    const cases = [
      { url: path(planned.actions!.upload!.href), headers: {} },
      { url: path(planned.actions!.upload!.href), headers: { authorization: 'Bearer 1.2.xyz' } },
      { url: path(planned.actions!.upload!.href).replace(obj.oid, other.oid), headers: header },
      { url: path(planned.actions!.upload!.href).replace('alice/assets', 'alice/other'), headers: header },
    ];
    for (const c of cases) {
      const res = await t.app.inject({ method: 'PUT', url: c.url, headers: c.headers, payload: obj.content });
      assert.equal(res.statusCode, 403, c.url);
      assert.match(String(res.headers['content-type']), /vnd\.git-lfs\+json/);
    }
    // an upload token does not open a download
    const get = await t.app.inject({
      method: 'GET',
      url: path(planned.actions!.upload!.href),
      headers: header,
    });
    assert.equal(get.statusCode, 403);
  });

  it('answers verify 404 for an object never uploaded and 422 for a wrong size', async () => {
    const obj = randomObject(10);
    const planned = await batch('upload', obj);
    const verifying = verifyAction(t, 'alice/assets', obj, planned.actions!.upload!);
    const verify = (size: number) =>
      t.app.inject({
        method: 'POST',
        url: path(verifying.href),
        headers: { ...verifying.header, 'content-type': LFS_JSON },
        payload: JSON.stringify({ oid: obj.oid, size }),
      });
    assert.equal((await verify(10)).statusCode, 404);
    await t.app.inject({
      method: 'PUT',
      url: path(planned.actions!.upload!.href),
      headers: planned.actions!.upload!.header,
      payload: obj.content,
    });
    assert.equal((await verify(10)).statusCode, 200);
    assert.equal((await verify(11)).statusCode, 422);
  });

  it('offers an object to another repository only after its bytes were uploaded there', async () => {
    const obj = randomObject(300);
    assert.equal((await upload(obj, 'alice/assets')).statusCode, 200);
    // bob knows the oid: his own repository does not get it
    const fromBob = await batch('download', obj, 'bob/game', bob.authorization);
    assert.equal(fromBob.error?.code, 404);
    const bobUpload = await batch('upload', obj, 'bob/game', bob.authorization);
    assert.ok(bobUpload.actions?.upload, 'bob must upload the bytes himself');
    assert.equal((await upload(obj, 'bob/game', bob.authorization)).statusCode, 200);
    assert.ok((await batch('download', obj, 'bob/game', bob.authorization)).actions?.download);
  });
});
