/**
 * Transfer mode `direct` on S3 (issue 5): the batch hands out presigned S3 URLs, uploads land in a
 * staging area private to the repository, and `verify` publishes and links them (proof of
 * possession, DESIGN.md). Through the HTTP app (`inject`) against an s3rver child process.
 *
 * s3rver checks neither SigV4 signatures nor `x-amz-checksum-sha256` (it does check that a presigned
 * URL has not expired), so what S3 would enforce is tested here by reading the signed URL: S3 refuses
 * a PUT whose Content-Length or checksum header differs from the signed ones, and a body whose SHA-256
 * is not the signed checksum. The tests that need a wrong body use s3rver's leniency to get one
 * staged, as a store without checksum support would, and show that verify still refuses it.
 */
import assert from 'node:assert/strict';
import { loadSettings } from '../../src/config/load-settings.js';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { stagingScope } from '../../src/lfs/transfer-service.js';
import { StoreError } from '../../src/storage/object-store.js';
import { isNotFound } from '../../src/storage/s3-errors.js';
import { MAX_PRESIGNED_UPLOAD_SIZE, oidToBase64, S3Store } from '../../src/storage/s3-store.js';
import { LFS_JSON, randomObject, type TestObject } from '../helpers/content.js';
import { s3rverClientConfig, startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import {
  addUser,
  batchOne,
  createTestApp,
  type PlannedAction as Action,
  type PlannedObject,
  type TestApp,
  verifyAction,
} from '../helpers/test-app.js';

// the server under test finds its S3 credentials through the SDK's default chain: the environment
process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
process.env.AWS_EC2_METADATA_DISABLED = 'true';

const TTL = 120;
/** presigned URLs live presignedUrlTtl (default 15 minutes: they cannot be revoked), not TTL */
const PRESIGN_TTL = 300;
const PREFIX = 'lfs/';
const T = { timeout: 60_000 };

void describe('direct transfer mode on S3', () => {
  let server: S3rverHandle;
  let t: TestApp;
  let alice: Awaited<ReturnType<typeof addUser>>;
  let bob: Awaited<ReturnType<typeof addUser>>;
  /** a second view of the bucket, to look behind lfsd's back */
  let bucket: S3Store;
  let client: S3Client;

  before(async () => {
    server = await startS3rver();
    t = await createTestApp({
      storage: 's3',
      s3Bucket: server.bucket,
      s3Endpoint: server.endpoint,
      s3ForcePathStyle: true,
      s3Prefix: PREFIX,
      transferMode: 'direct',
      transferTokenTtl: TTL,
      presignedUrlTtl: PRESIGN_TTL,
    });
    alice = await addUser(t.deps, 'alice');
    bob = await addUser(t.deps, 'bob');
    client = new S3Client(s3rverClientConfig(server.endpoint));
    bucket = new S3Store({ bucket: server.bucket, prefix: PREFIX, client });
  });
  after(async () => {
    await t?.close();
    client?.destroy();
    await server?.stop();
  });

  const batch = (
    operation: 'upload' | 'download',
    obj: Pick<TestObject, 'oid' | 'size'>,
    repo = 'alice/assets',
    authorization = alice.authorization,
  ) => batchOne(t.app, operation, obj, repo, authorization);

  /** POST the verify action as the client does */
  async function verify(planned: PlannedObject, size = planned.size) {
    const action = planned.actions!.verify!;
    const res = await t.app.inject({
      method: 'POST',
      url: new URL(action.href).pathname,
      headers: { ...action.header, 'content-type': LFS_JSON, accept: LFS_JSON },
      payload: JSON.stringify({ oid: planned.oid, size }),
    });
    return { status: res.statusCode, body: res.body };
  }

  /** PUT to the presigned URL with the action's headers, as the git-lfs client does */
  async function put(action: Action, body: Buffer) {
    const res = await fetch(action.href, {
      method: 'PUT',
      headers: { ...action.header, 'content-type': 'application/octet-stream' },
      body,
    });
    return { status: res.status, body: await res.text() };
  }

  async function keyExists(key: string): Promise<boolean> {
    try {
      await client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async function repoId(path: string): Promise<number> {
    return (await t.deps.metadata.findRepo(path))!.id;
  }

  void it(
    'presigns the upload to the repository staging key, signing content-length and x-amz-checksum-sha256',
    T,
    async () => {
      const obj = randomObject(4321);
      const planned = await batch('upload', obj);
      assert.equal(planned.authenticated, true);
      const upload = planned.actions!.upload!;
      const url = new URL(upload.href);
      assert.equal(url.origin, server.endpoint);
      const stagingKey = bucket.stagingKeyFor(stagingScope({ id: await repoId('alice/assets') }), obj.oid);
      assert.match(stagingKey, new RegExp(`^${PREFIX}staging/[0-9a-f]{32}/${obj.oid}$`));
      assert.equal(url.pathname, `/${server.bucket}/${stagingKey}`, 'the staging key, never the final key');
      assert.notEqual(stagingKey, bucket.keyFor(obj.oid));
      const q = url.searchParams;
      assert.equal(q.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
      assert.equal(q.get('X-Amz-Expires'), String(PRESIGN_TTL));
      assert.equal(upload.expires_in, PRESIGN_TTL);
      assert.equal(loadSettings({ env: {} }).presignedUrlTtl, 900, 'the default is 15 minutes');
      const signed = q.get('X-Amz-SignedHeaders')?.split(';') ?? [];
      for (const header of ['content-length', 'x-amz-checksum-sha256', 'host']) {
        assert.ok(signed.includes(header), `${header} signed: ${signed.join(';')}`);
      }
      // a checksum hoisted into the query string would not bind the body: it must be a header
      assert.ok(![...q.keys()].some((k) => k.toLowerCase().startsWith('x-amz-checksum')));
      assert.deepEqual(upload.header, { 'x-amz-checksum-sha256': oidToBase64(obj.oid) });
      // the verify action is lfsd's, authorised by a transfer token
      const verifying = planned.actions!.verify!;
      assert.equal(new URL(verifying.href).origin, 'http://lfsd.test');
      assert.match(verifying.header.Authorization!, /^Bearer \S+$/);

      // another repository gets another staging key for the same oid
      const other = await batch('upload', obj, 'bob/assets', bob.authorization);
      const otherPath = new URL(other.actions!.upload!.href).pathname;
      assert.notEqual(otherPath, url.pathname);
      assert.ok(otherPath.endsWith(`/${obj.oid}`));
    },
  );

  void it('upload, verify, download: verify publishes the staged object and links it', T, async () => {
    const obj = randomObject(100_000);
    const planned = await batch('upload', obj);
    assert.equal((await put(planned.actions!.upload!, obj.content)).status, 200);
    const stagingKey = new URL(planned.actions!.upload!.href).pathname.slice(`/${server.bucket}/`.length);
    assert.ok(await keyExists(stagingKey));
    assert.equal(await bucket.stat(obj.oid), undefined, 'nothing visible before verify');
    assert.equal((await batch('download', obj)).error?.code, 404, 'not linked before verify');

    assert.equal((await verify(planned)).status, 200);
    assert.deepEqual(await bucket.stat(obj.oid), { size: obj.size });
    assert.equal(await keyExists(stagingKey), false, 'the staged copy is removed');
    assert.equal((await verify(planned)).status, 200, 'a repeated verify still succeeds');

    assert.equal((await batch('upload', obj)).actions, undefined, 'now present: no actions');
    const download = (await batch('download', obj)).actions!.download!;
    const url = new URL(download.href);
    assert.equal(url.pathname, `/${server.bucket}/${bucket.keyFor(obj.oid)}`);
    assert.equal(url.searchParams.get('X-Amz-Expires'), String(PRESIGN_TTL), 'the download URL expires');
    assert.equal(download.expires_in, PRESIGN_TTL);
    const res = await fetch(download.href, { headers: download.header });
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(obj.content));
  });

  void it('a presigned download URL stops working once expired', T, async () => {
    const obj = randomObject(1000);
    const planned = await batch('upload', obj);
    assert.equal((await put(planned.actions!.upload!, obj.content)).status, 200);
    assert.equal((await verify(planned)).status, 200);
    const signed = await t.deps.store.presign!('download', obj.oid, obj.size, 1);
    assert.equal(new URL(signed!.href).searchParams.get('X-Amz-Expires'), '1');
    assert.equal((await fetch(signed!.href)).status, 200, 'valid at first');
    await sleep(2500);
    const expired = await fetch(signed!.href);
    assert.equal(expired.status, 403);
    assert.match(await expired.text(), /expired/i);
  });

  void it('verify refuses a missing staged object: 404, nothing linked', T, async () => {
    const obj = randomObject(2048);
    const planned = await batch('upload', obj);
    const res = await verify(planned);
    assert.equal(res.status, 404, res.body);
    assert.equal(await bucket.stat(obj.oid), undefined);
    assert.equal((await batch('download', obj)).error?.code, 404);
  });

  void it('verify refuses a staged object of the wrong size: 422, deleted, nothing linked', T, async () => {
    const obj = randomObject(5000);
    const planned = await batch('upload', obj);
    // real S3 refuses this PUT (signed Content-Length and checksum); s3rver stores it
    assert.equal((await put(planned.actions!.upload!, obj.content.subarray(0, 4000))).status, 200);
    const stagingKey = new URL(planned.actions!.upload!.href).pathname.slice(`/${server.bucket}/`.length);
    const res = await verify(planned);
    assert.equal(res.status, 422, res.body);
    assert.match(res.body, /wrong size/);
    assert.equal(await keyExists(stagingKey), false, 'the bad staged object is deleted');
    assert.equal(await bucket.stat(obj.oid), undefined);
    assert.equal((await batch('download', obj)).error?.code, 404);
    assert.equal((await verify(planned)).status, 404, 'and a retry finds nothing staged');
  });

  void it(
    'verify refuses staged bytes of the right size that do not hash to the oid (a store that ignored the checksum)',
    T,
    async () => {
      const obj = randomObject(6000);
      const planned = await batch('upload', obj);
      const wrong = Buffer.from(obj.content);
      wrong[100] ^= 0xff;
      // real S3 refuses this PUT (the signed checksum); s3rver stores it, and records no checksum
      assert.equal((await put(planned.actions!.upload!, wrong)).status, 200);
      const stagingKey = new URL(planned.actions!.upload!.href).pathname.slice(`/${server.bucket}/`.length);
      const res = await verify(planned);
      assert.equal(res.status, 400, res.body);
      assert.match(res.body, /does not match its oid/);
      assert.equal(await keyExists(stagingKey), false, 'the bad staged object is deleted');
      assert.equal(await bucket.stat(obj.oid), undefined, 'never published');
      assert.equal((await batch('download', obj)).error?.code, 404, 'never linked');
    },
  );

  void it('wrong bytes under an oid another repository stores do not get that object linked', T, async () => {
    const obj = randomObject(4444);
    const own = await batch('upload', obj, 'alice/original');
    assert.equal((await put(own.actions!.upload!, obj.content)).status, 200);
    assert.equal((await verify(own)).status, 200);
    const theirs = await batch('upload', obj, 'bob/guess', bob.authorization);
    assert.equal((await put(theirs.actions!.upload!, Buffer.alloc(obj.size))).status, 200);
    assert.equal((await verify(theirs)).status, 400);
    assert.equal((await batch('download', obj, 'bob/guess', bob.authorization)).error?.code, 404);
    // and the published object is still alice's bytes
    const download = (await batch('download', obj, 'alice/original')).actions!.download!;
    assert.ok(Buffer.from(await (await fetch(download.href)).arrayBuffer()).equals(obj.content));
  });

  void it('verify with a size other than the staged one is refused too', T, async () => {
    const obj = randomObject(3000);
    const planned = await batch('upload', obj);
    assert.equal((await put(planned.actions!.upload!, obj.content)).status, 200);
    const res = await verify(planned, obj.size + 1);
    assert.equal(res.status, 422, res.body);
    assert.equal(await bucket.stat(obj.oid), undefined);
  });

  void it(
    'does not link an object never uploaded to this repository, though another repository has it',
    T,
    async () => {
      const obj = randomObject(7777);
      // alice stores it in alice/secret
      const own = await batch('upload', obj, 'alice/secret');
      assert.equal((await put(own.actions!.upload!, obj.content)).status, 200);
      assert.equal((await verify(own)).status, 200);
      assert.deepEqual(await bucket.stat(obj.oid), { size: obj.size });

      // bob knows the oid: his repository must still upload it...
      const theirs = await batch('upload', obj, 'bob/copycat', bob.authorization);
      assert.ok(theirs.actions?.upload, 'bob is asked for the bytes');
      // ...and skipping the PUT, then calling verify, links nothing
      const res = await verify(theirs);
      assert.equal(res.status, 404, res.body);
      const download = await batch('download', obj, 'bob/copycat', bob.authorization);
      assert.equal(download.error?.code, 404);
      assert.equal(download.actions, undefined);
      // alice's copy is untouched
      assert.ok((await batch('download', obj, 'alice/secret')).actions?.download);

      // alice's own upload URL for alice/secret cannot help bob/copycat either: another staging key
      assert.equal((await put(own.actions!.upload!, obj.content)).status, 200);
      assert.equal((await verify(theirs)).status, 404);

      // uploading the bytes himself is what makes it his
      assert.equal((await put(theirs.actions!.upload!, obj.content)).status, 200);
      assert.equal((await verify(theirs)).status, 200);
      assert.ok((await batch('download', obj, 'bob/copycat', bob.authorization)).actions?.download);
    },
  );

  void it('concurrent verifies of one staged upload both succeed', T, async () => {
    const obj = randomObject(64_000);
    const planned = await batch('upload', obj);
    assert.equal((await put(planned.actions!.upload!, obj.content)).status, 200);
    const results = await Promise.all([verify(planned), verify(planned), verify(planned)]);
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200],
      results.map((r) => r.body).join('\n'),
    );
    assert.deepEqual(await bucket.stat(obj.oid), { size: obj.size });
  });

  void it('objects over 5 GiB get lfsd upload hrefs (proxy), even in direct mode', T, async () => {
    const big = { oid: 'ab'.repeat(32), size: MAX_PRESIGNED_UPLOAD_SIZE + 1 };
    const planned = await batch('upload', big);
    const upload = planned.actions!.upload!;
    assert.equal(new URL(upload.href).origin, 'http://lfsd.test');
    assert.match(upload.header.Authorization!, /^Bearer /);
    assert.equal(planned.actions!.verify, undefined, 'the PUT through lfsd links: no verify');
    const atLimit = await batch('upload', { oid: 'cd'.repeat(32), size: MAX_PRESIGNED_UPLOAD_SIZE });
    assert.equal(new URL(atLimit.actions!.upload!.href).origin, server.endpoint);
  });
});

void describe('proxy transfer mode on S3', () => {
  let server: S3rverHandle;
  let t: TestApp;
  let alice: Awaited<ReturnType<typeof addUser>>;

  before(async () => {
    server = await startS3rver();
    t = await createTestApp({
      storage: 's3',
      s3Bucket: server.bucket,
      s3Endpoint: server.endpoint,
      s3ForcePathStyle: true,
    });
    alice = await addUser(t.deps, 'alice');
  });
  after(async () => {
    await t?.close();
    await server?.stop();
  });

  void it('hands out lfsd hrefs only, and verify checks the link alone', T, async () => {
    const obj = randomObject(10_000);
    const planned = await batchOne(t.app, 'upload', obj, 'alice/assets', alice.authorization);
    assert.equal(new URL(planned.actions!.upload!.href).origin, 'http://lfsd.test');
    assert.equal(planned.actions!.verify, undefined);
    // a staged object (as a direct-mode upload would leave) is ignored by proxy mode's verify
    const staged = await t.deps.store.presignStagedUpload!(
      stagingScope((await t.deps.metadata.findRepo('alice/assets'))!),
      obj.oid,
      obj.size,
      60,
    );
    const put = await fetch(staged!.href, { method: 'PUT', headers: staged!.header, body: obj.content });
    assert.equal(put.status, 200);
    const verify = verifyAction(t, 'alice/assets', obj, planned.actions!.upload!);
    /** POST the verify action as the client does */
    const postVerify = () =>
      t.app.inject({
        method: 'POST',
        url: new URL(verify.href).pathname,
        headers: { ...verify.header, 'content-type': LFS_JSON, accept: LFS_JSON },
        payload: JSON.stringify({ oid: obj.oid, size: obj.size }),
      });
    assert.equal((await postVerify()).statusCode, 404);
    // the real upload through lfsd
    const upload = planned.actions!.upload!;
    const putRes = await t.app.inject({
      method: 'PUT',
      url: new URL(upload.href).pathname,
      headers: upload.header,
      payload: obj.content,
    });
    assert.equal(putRes.statusCode, 200, putRes.body);
    assert.equal((await postVerify()).statusCode, 200);
  });
});

void describe('S3Store.commitStagedUpload with scripted S3 answers', () => {
  const oid = 'e3'.repeat(32);
  /** an S3Client stand-in: answers HeadObject from `heads` (by key), records every command */
  function scripted(
    heads: Record<string, { ContentLength: number; ChecksumSHA256?: string; ETag?: string }>,
  ) {
    const sent: { name: string; input: Record<string, unknown> }[] = [];
    const client = {
      send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
        const name = command.constructor.name;
        sent.push({ name, input: command.input });
        if (name === 'HeadObjectCommand') {
          const head = heads[command.input.Key as string];
          if (head) return Promise.resolve(head);
          const err = Object.assign(new Error('NotFound'), {
            name: 'NotFound',
            $metadata: { httpStatusCode: 404 },
          });
          return Promise.reject(err);
        }
        return Promise.resolve({});
      },
    };
    const store = new S3Store({ bucket: 'bkt', prefix: 'p/', client: client as unknown as S3Client });
    return { store, sent };
  }

  void it('refuses and deletes a staged object whose recorded SHA-256 is not the oid (real S3 keeps one)', async () => {
    const key = scripted({}).store.stagingKeyFor('repo:1', oid);
    const { store, sent } = scripted({
      [key]: { ContentLength: 10, ChecksumSHA256: oidToBase64('00'.repeat(32)) },
    });
    await assert.rejects(store.commitStagedUpload('repo:1', oid, 10), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'hash_mismatch');
      return true;
    });
    assert.deepEqual(
      sent.map((c) => c.name),
      ['HeadObjectCommand', 'DeleteObjectCommand'],
    );
    assert.equal(sent[0]!.input.ChecksumMode, 'ENABLED');
    assert.equal(sent[1]!.input.Key, key);
  });

  void it('copies the checked object (If-Match its ETag) to the final key, then deletes the staged one', async () => {
    const key = scripted({}).store.stagingKeyFor('repo:7', oid);
    const { store, sent } = scripted({
      [key]: { ContentLength: 10, ChecksumSHA256: oidToBase64(oid), ETag: '"abc"' },
    });
    assert.equal(await store.commitStagedUpload('repo:7', oid, 10), true);
    assert.deepEqual(
      sent.map((c) => c.name),
      ['HeadObjectCommand', 'HeadObjectCommand', 'CopyObjectCommand', 'DeleteObjectCommand'],
    );
    const copy = sent[2]!.input;
    assert.equal(copy.Key, store.keyFor(oid));
    assert.equal(copy.CopySource, `bkt/${key}`);
    assert.equal(copy.CopySourceIfMatch, '"abc"');
    assert.equal(sent[3]!.input.Key, key);
  });

  void it('hashes the staged bytes itself when the store recorded no checksum', async () => {
    const key = scripted({}).store.stagingKeyFor('repo:3', oid);
    const { store, sent } = scripted({ [key]: { ContentLength: 10, ETag: '"e"' } });
    // the scripted GetObject answers `{}` (no body): the store must have tried to read the bytes
    await assert.rejects(store.commitStagedUpload('repo:3', oid, 10), /no Node.js stream/);
    assert.deepEqual(
      sent.map((c) => c.name),
      ['HeadObjectCommand', 'GetObjectCommand'],
    );
    assert.equal(sent[1]!.input.Key, key);
    assert.equal(sent[1]!.input.IfMatch, '"e"');
  });

  void it('skips the copy when the final key already holds the object', async () => {
    const probe = scripted({});
    const key = probe.store.stagingKeyFor('repo:7', oid);
    const { store, sent } = scripted({
      [key]: { ContentLength: 10, ChecksumSHA256: oidToBase64(oid) },
      [probe.store.keyFor(oid)]: { ContentLength: 10 },
    });
    assert.equal(await store.commitStagedUpload('repo:7', oid, 10), true);
    assert.deepEqual(
      sent.map((c) => c.name),
      ['HeadObjectCommand', 'HeadObjectCommand', 'DeleteObjectCommand'],
    );
  });
});
