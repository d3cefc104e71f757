// Batch API through the HTTP app (LFS-PROTOCOL.md section 2), without a socket.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addUser, createTestApp, type TestApp } from '../helpers/test-app.js';
import { LFS_JSON, objectOf, randomObject } from '../helpers/content.js';

describe('batch API', () => {
  let t: TestApp;
  let alice: Awaited<ReturnType<typeof addUser>>;
  let bob: Awaited<ReturnType<typeof addUser>>;

  before(async () => {
    t = await createTestApp({ maxBatchObjects: 50, maxObjectSize: 1000, jsonBodyLimit: 4096 });
    alice = await addUser(t.deps, 'alice');
    bob = await addUser(t.deps, 'bob');
  });
  after(() => t.close());

  const batch = (
    body: unknown,
    options: { repo?: string; authorization?: string; accept?: string; raw?: string } = {},
  ) =>
    t.app.inject({
      method: 'POST',
      url: `/${options.repo ?? 'alice/assets'}.git/info/lfs/objects/batch`,
      headers: {
        'content-type': `${LFS_JSON}; charset=utf-8`,
        accept: options.accept ?? LFS_JSON,
        ...(options.authorization === ''
          ? {}
          : { authorization: options.authorization ?? alice.authorization }),
      },
      payload: options.raw ?? JSON.stringify(body),
    });

  const assertLfsError = (
    res: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
    status: number,
  ) => {
    assert.equal(res.statusCode, status);
    assert.match(String(res.headers['content-type']), /^application\/vnd\.git-lfs\+json/);
    const body = res.json() as { message: unknown; request_id: unknown };
    assert.equal(typeof body.message, 'string');
    assert.ok((body.message as string).length > 0);
    assert.equal(body.request_id, res.headers['x-request-id']);
    return body;
  };

  it('answers an upload with an upload action and no verify (the PUT links), echoing the size', async () => {
    const obj = randomObject(10);
    const res = await batch({
      operation: 'upload',
      objects: [{ oid: obj.oid, size: obj.size }],
      transfers: ['lfs-standalone-file', 'basic', 'ssh'],
      ref: { name: 'refs/heads/main' },
      hash_algo: 'sha256',
    });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/vnd\.git-lfs\+json(;|$)/);
    const body = res.json();
    assert.equal(body.transfer, 'basic');
    assert.equal(body.hash_algo, 'sha256');
    assert.equal(body.objects.length, 1);
    const [o] = body.objects;
    assert.equal(o.oid, obj.oid);
    assert.equal(o.size, 10);
    assert.equal(o.authenticated, true);
    assert.equal(o.actions.upload.href, `http://lfsd.test/alice/assets.git/info/lfs/objects/${obj.oid}`);
    assert.deepEqual(Object.keys(o.actions), ['upload']);
    assert.match(o.actions.upload.header.Authorization, /^Bearer \S+$/);
    assert.ok(Number.isInteger(o.actions.upload.expires_in) && o.actions.upload.expires_in >= 3600);
  });

  it('is lenient: transfers absent, ref null or {}, unknown fields, no Accept header', async () => {
    const obj = randomObject(3);
    for (const extra of [
      {},
      { ref: null },
      { ref: {} },
      { future_field: [1, 2], ref: { name: 'x', other: 1 } },
    ]) {
      const res = await batch({
        operation: 'upload',
        objects: [{ oid: obj.oid, size: obj.size, authenticated: true }],
        ...extra,
      });
      assert.equal(res.statusCode, 200, JSON.stringify(extra));
    }
    const noAccept = await t.app.inject({
      method: 'POST',
      url: '/alice/assets.git/info/lfs/objects/batch',
      headers: { 'content-type': LFS_JSON, authorization: alice.authorization },
      payload: JSON.stringify({ operation: 'download', objects: [] }),
    });
    assert.equal(noAccept.statusCode, 200);
    assert.deepEqual(noAccept.json().objects, []);
  });

  it('gives per-object 404 on download of an unknown object', async () => {
    const obj = randomObject(5);
    const res = await batch({ operation: 'download', objects: [{ oid: obj.oid, size: 5 }] });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().objects[0], {
      oid: obj.oid,
      size: 5,
      error: { code: 404, message: 'Object does not exist' },
    });
  });

  it('gives per-object 422 for an invalid object next to a valid one, whole 422 when none is valid', async () => {
    const good = randomObject(4);
    const res = await batch({
      operation: 'upload',
      objects: [
        { oid: good.oid, size: 4 },
        { oid: 'A'.repeat(64), size: 1 },
      ],
    });
    assert.equal(res.statusCode, 200);
    const [first, second] = res.json().objects;
    assert.ok(first.actions.upload);
    assert.equal(second.error.code, 422);

    for (const bad of [
      { oid: '../../etc/passwd', size: 1 },
      { oid: good.oid, size: -1 },
      { oid: good.oid, size: 1.5 },
      { oid: good.oid, size: '4' },
      { oid: good.oid, size: 2 ** 60 },
      { oid: good.oid.slice(1), size: 1 },
      'not an object',
    ]) {
      assertLfsError(await batch({ operation: 'upload', objects: [bad] }), 422);
    }
  });

  it('gives per-object 422 past the maximum object size', async () => {
    const obj = randomObject(1);
    const res = await batch({ operation: 'upload', objects: [{ oid: obj.oid, size: 1001 }] });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().objects[0].error.code, 422);
    assert.match(res.json().objects[0].error.message, /maximum/);
  });

  it('gives per-object 409 for an unsupported hash_algo', async () => {
    const obj = randomObject(1);
    const res = await batch({
      operation: 'upload',
      objects: [{ oid: obj.oid, size: 1 }],
      hash_algo: 'sha512',
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().objects[0].error.code, 409);
  });

  it('answers one entry per oid when the request repeats one', async () => {
    const obj = randomObject(2);
    const res = await batch({
      operation: 'upload',
      objects: [obj, obj].map(({ oid, size }) => ({ oid, size })),
    });
    assert.equal(res.json().objects.length, 1);
  });

  it('rejects malformed requests as a whole', async () => {
    assertLfsError(await batch({ operation: 'delete', objects: [] }), 422);
    assertLfsError(await batch({ operation: 'upload' }), 422);
    assertLfsError(await batch({ operation: 'upload', objects: {} }), 422);
    assertLfsError(await batch([1, 2]), 422);
    assertLfsError(await batch({ operation: 'upload', objects: [], transfers: 'basic' }), 422);
    assertLfsError(await batch(undefined, { raw: '{"operation":' }), 400);
  });

  it('answers 413 for too many objects and for an oversized body', async () => {
    const objects = Array.from({ length: 51 }, (_, i) => ({ oid: objectOf(String(i)).oid, size: 1 }));
    // 51 objects > maxBatchObjects 50 but the body also exceeds 4096 bytes: use a larger limit app
    const big = await createTestApp({ maxBatchObjects: 50 });
    try {
      const u = await addUser(big.deps, 'alice');
      const res = await big.app.inject({
        method: 'POST',
        url: '/alice/assets.git/info/lfs/objects/batch',
        headers: { 'content-type': LFS_JSON, accept: LFS_JSON, authorization: u.authorization },
        payload: JSON.stringify({ operation: 'download', objects }),
      });
      const body = assertLfsError(res, 413);
      assert.match(body.message as string, /Too many objects/);
    } finally {
      await big.close();
    }
    assertLfsError(
      await batch(undefined, {
        raw: JSON.stringify({ operation: 'upload', objects: [], pad: 'x'.repeat(5000) }),
      }),
      413,
    );
  });

  it('answers 406 when the client cannot take LFS JSON', async () => {
    assertLfsError(await batch({ operation: 'download', objects: [] }, { accept: 'text/html' }), 406);
  });

  it('answers 401 with LFS-Authenticate to anonymous and wrong credentials on a private repository', async () => {
    for (const authorization of [
      '',
      'Basic ' + Buffer.from('alice:wrong').toString('base64'),
      'Basic !!!',
      'Digest x',
    ]) {
      const res = await batch({ operation: 'download', objects: [] }, { authorization });
      assertLfsError(res, 401);
      assert.match(String(res.headers['lfs-authenticate']), /^Basic realm=/);
    }
  });

  it('accepts a personal access token as the Basic password', async () => {
    const res = await batch(
      { operation: 'download', objects: [] },
      { authorization: `Basic ${Buffer.from(`alice:${alice.token}`).toString('base64')}` },
    );
    assert.equal(res.statusCode, 200);
  });

  it("answers 404 to a signed-in user without access, so the repository's existence does not leak", async () => {
    assertLfsError(
      await batch({ operation: 'download', objects: [] }, { authorization: bob.authorization }),
      404,
    );
    assertLfsError(
      await batch({ operation: 'upload', objects: [] }, { authorization: bob.authorization }),
      404,
    );
  });

  it('serves the same API without .git and without /info/lfs, and for nested repository paths', async () => {
    for (const url of [
      '/alice/assets/info/lfs/objects/batch',
      '/alice/assets/objects/batch',
      '/alice/team/assets.git/info/lfs/objects/batch',
      '/alice/org/team/assets/objects/batch',
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': LFS_JSON, accept: LFS_JSON, authorization: alice.authorization },
        payload: JSON.stringify({ operation: 'download', objects: [] }),
      });
      assert.equal(res.statusCode, 200, url);
    }
  });

  it('refuses path traversal and malformed repository paths with LFS JSON 404', async () => {
    for (const url of [
      '/alice/../bob/assets.git/info/lfs/objects/batch',
      '/alice/%2e%2e/assets/objects/batch',
      '/alice/%2Fetc/objects/batch',
      '//objects/batch',
      '/objects/batch',
      '/alice/a%00b/objects/batch',
      `/alice/${Array.from({ length: 6 }, () => 'x'.repeat(99)).join('/')}/objects/batch`, // longer than 512
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': LFS_JSON, authorization: alice.authorization },
        payload: JSON.stringify({ operation: 'download', objects: [] }),
      });
      assertLfsError(res, 404);
    }
  });
});
