// The access model of DESIGN.md "Auth" and issue 3, cell by cell, through the HTTP app:
// every caller x private/public repository x operation gets exactly the status it should, and every
// refusal is LFS JSON with a message and a request_id (401s also with LFS-Authenticate).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { generateAccessToken, hashAccessToken } from '../../src/auth/access-token.js';
import { TransferTokens } from '../../src/auth/transfer-token.js';
import { loadSettings } from '../../src/config/load-settings.js';
import { buildApp } from '../../src/http/app.js';
import type { Permission, Repo } from '../../src/metadata/metadata-store.js';
import { createLogger } from '../../src/observability/logger.js';
import { buildDeps } from '../../src/server/build-deps.js';
import { LFS_JSON, randomObject, type TestObject } from '../helpers/content.js';
import {
  addUser,
  basicAuth,
  batchOne,
  createTestApp,
  verifyAction,
  type TestApp,
} from '../helpers/test-app.js';

type Level = 'anonymous' | 'bad-credentials' | 'none' | Permission;
type Operation =
  | 'download batch'
  | 'upload batch'
  | 'verify'
  | 'lock create'
  | 'lock list'
  | 'lock verify'
  | 'unlock'
  | 'force unlock';

const OPERATIONS: readonly Operation[] = [
  'download batch',
  'upload batch',
  'verify',
  'lock create',
  'lock list',
  'lock verify',
  'unlock',
  'force unlock',
];
/** what each operation needs (DESIGN.md "Auth", LFS-PROTOCOL.md section 4) and its success status */
const NEEDS: Record<Operation, { need: Permission; ok: number }> = {
  'download batch': { need: 'read', ok: 200 },
  'upload batch': { need: 'write', ok: 200 },
  verify: { need: 'write', ok: 200 },
  'lock create': { need: 'write', ok: 201 },
  'lock list': { need: 'read', ok: 200 },
  'lock verify': { need: 'write', ok: 200 },
  unlock: { need: 'write', ok: 200 },
  'force unlock': { need: 'admin', ok: 200 },
};

const RANK: Record<Permission, number> = { read: 1, write: 2, admin: 3 };

/**
 * The status the issue prescribes: wrong credentials 401 everywhere; anonymous without the
 * permission 401; signed in without read 404; read but not enough 403. A public repository
 * gives everyone read.
 */
function expectedStatus(level: Level, isPublic: boolean, operation: Operation): number {
  const { need, ok } = NEEDS[operation];
  if (level === 'bad-credentials') return 401;
  let has: Permission | undefined = level === 'anonymous' || level === 'none' ? undefined : level;
  if (!has && isPublic) has = 'read';
  if (has && RANK[has] >= RANK[need]) return ok;
  if (level === 'anonymous') return 401;
  if (!has) return 404;
  return 403;
}

interface CallerRow {
  name: string;
  level: Level;
  /** the user the caller is (for lock ownership), if any */
  userId?: number;
  authorization?: string;
}

interface Response {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json(): unknown;
}

function assertLfsAnswer(res: Response, context: string): void {
  assert.match(String(res.headers['content-type']), /^application\/vnd\.git-lfs\+json(;|$)/, context);
  if (res.statusCode < 400) return;
  const body = res.json() as { message?: unknown; request_id?: unknown };
  assert.equal(typeof body.message, 'string', context);
  assert.ok((body.message as string).length > 0, context);
  assert.equal(typeof body.request_id, 'string', context);
  assert.equal(body.request_id, res.headers['x-request-id'], context);
  if (res.statusCode === 401)
    assert.match(String(res.headers['lfs-authenticate']), /^Basic realm="[^"]+"$/, context);
}

describe('access matrix', () => {
  let t: TestApp;
  const repos: Record<'private' | 'public', Repo> = {} as never;
  const callers: CallerRow[] = [];
  let carl: { id: number };
  let lockCounter = 0;

  before(async () => {
    // every cell sends the wrong-password and unknown-user rows again: no failed sign-in limits
    t = await createTestApp({ signInFailuresPerUser: 0, signInFailuresPerAddress: 0 });
    const { metadata } = t.deps;
    repos.private = await metadata.createRepo('olga/private', { isPublic: false });
    repos.public = await metadata.createRepo('olga/public', { isPublic: true });

    const olga = await addUser(t.deps, 'olga');
    const rita = await addUser(t.deps, 'rita');
    const wade = await addUser(t.deps, 'wade');
    const adam = await addUser(t.deps, 'adam');
    const nina = await addUser(t.deps, 'nina');
    const sam = await addUser(t.deps, 'sam', { admin: true });
    carl = await addUser(t.deps, 'carl'); // owns the locks others try to force-unlock
    for (const repo of Object.values(repos)) {
      await metadata.setGrant(rita.id, repo.id, 'read');
      await metadata.setGrant(wade.id, repo.id, 'write');
      await metadata.setGrant(adam.id, repo.id, 'admin');
      await metadata.setGrant(carl.id, repo.id, 'write');
    }

    const expired = generateAccessToken();
    await metadata.createToken({
      userId: wade.id,
      name: 'expired',
      secretHash: hashAccessToken(expired),
      expiresAt: new Date(Date.now() - 1000),
    });
    const revoked = generateAccessToken();
    const revokedRecord = await metadata.createToken({
      userId: wade.id,
      name: 'revoked',
      secretHash: hashAccessToken(revoked),
      expiresAt: null,
    });
    assert.ok(await metadata.revokeToken(wade.id, revokedRecord.id));

    callers.push(
      { name: 'anonymous', level: 'anonymous' },
      {
        name: 'wrong password',
        level: 'bad-credentials',
        authorization: basicAuth('wade', 'not-the-password'),
      },
      {
        name: 'unknown user',
        level: 'bad-credentials',
        authorization: basicAuth('nobody', 'whatever-password'),
      },
      {
        name: 'token (write grant, Basic)',
        level: 'write',
        userId: wade.id,
        authorization: basicAuth('wade', wade.token),
      },
      {
        name: 'token (read grant, Bearer)',
        level: 'read',
        userId: rita.id,
        authorization: `Bearer ${rita.token}`,
      },
      { name: 'expired token', level: 'bad-credentials', authorization: basicAuth('wade', expired) },
      { name: 'revoked token', level: 'bad-credentials', authorization: basicAuth('wade', revoked) },
      { name: 'signed in, no grant', level: 'none', userId: nina.id, authorization: nina.authorization },
      { name: 'read grant', level: 'read', userId: rita.id, authorization: rita.authorization },
      { name: 'write grant', level: 'write', userId: wade.id, authorization: wade.authorization },
      { name: 'admin grant', level: 'admin', userId: adam.id, authorization: adam.authorization },
      { name: 'namespace owner', level: 'admin', userId: olga.id, authorization: olga.authorization },
      { name: 'site admin', level: 'admin', userId: sam.id, authorization: sam.authorization },
    );
  });
  after(() => t.close());

  const base = (repo: Repo) => `/${repo.path}.git/info/lfs`;
  const headersFor = (caller: CallerRow, json = true) => ({
    accept: LFS_JSON,
    ...(json ? { 'content-type': `${LFS_JSON}; charset=utf-8` } : {}),
    ...(caller.authorization ? { authorization: caller.authorization } : {}),
  });
  const post = (caller: CallerRow, url: string, body: unknown) =>
    t.app.inject({ method: 'POST', url, headers: headersFor(caller), payload: JSON.stringify(body) });

  async function newLock(repo: Repo, ownerId: number) {
    const { lock } = await t.deps.metadata.createLock({
      repoId: repo.id,
      path: `files/lock-${++lockCounter}.psd`,
      ownerId,
      ref: null,
    });
    return lock;
  }

  /** Performs one cell and checks its side effects; returns the decisive response. */
  async function perform(caller: CallerRow, repo: Repo, operation: Operation): Promise<Response> {
    const ref = { name: 'refs/heads/main' };
    switch (operation) {
      case 'download batch':
      case 'upload batch': {
        const obj = randomObject(16);
        const res = await post(caller, `${base(repo)}/objects/batch`, {
          operation: operation === 'download batch' ? 'download' : 'upload',
          objects: [{ oid: obj.oid, size: obj.size }],
          transfers: ['basic'],
          ref,
          hash_algo: 'sha256',
        });
        if (res.statusCode === 200) {
          const [planned] = (
            res.json() as { objects: Array<{ oid: string; actions?: object; error?: object }> }
          ).objects;
          assert.equal(planned?.oid, obj.oid);
          if (operation === 'upload batch') assert.ok(planned?.actions, 'upload actions offered');
          else assert.deepEqual(planned?.error, { code: 404, message: 'Object does not exist' });
        }
        return res;
      }
      case 'verify': {
        // The whole upload a client makes: batch, PUT with the href handed out, and verify with
        // the verify token this server would hand out (it offers none in proxy mode). A caller
        // refused at the batch gets no href; its own credentials must not open the verify endpoint.
        const obj = randomObject(32);
        const planned = await post(caller, `${base(repo)}/objects/batch`, {
          operation: 'upload',
          objects: [{ oid: obj.oid, size: obj.size }],
        });
        if (planned.statusCode !== 200) {
          const own = await post(caller, `${base(repo)}/objects/${obj.oid}/verify`, {
            oid: obj.oid,
            size: obj.size,
          });
          assert.equal(own.statusCode, 403, 'credentials are not a transfer token');
          assertLfsAnswer(own, 'verify with own credentials');
          return planned;
        }
        return uploadAndVerify(planned, obj, repo.path);
      }
      case 'lock create': {
        const path = `files/created-${++lockCounter}.psd`;
        const res = await post(caller, `${base(repo)}/locks`, { path, ref });
        const stored = await t.deps.metadata.listLocks(repo.id, { path, limit: 10 });
        assert.equal(stored.length, res.statusCode === 201 ? 1 : 0, 'a lock exists only when created');
        if (res.statusCode === 201) {
          const { lock } = res.json() as { lock: { path: string; owner: { name: string } } };
          assert.equal(lock.path, path);
          assert.equal(stored[0]?.ownerId, caller.userId);
        }
        return res;
      }
      case 'lock list': {
        const lock = await newLock(repo, carl.id);
        const res = await t.app.inject({
          method: 'GET',
          url: `${base(repo)}/locks?path=${encodeURIComponent(lock.path)}&refspec=refs%2Fheads%2Fmain`,
          headers: headersFor(caller, false),
        });
        if (res.statusCode === 200) {
          const { locks } = res.json() as { locks: Array<{ id: string }> };
          assert.deepEqual(
            locks.map((l) => l.id),
            [lock.id],
          );
        }
        return res;
      }
      case 'lock verify': {
        const mine = caller.userId ? await newLock(repo, caller.userId) : undefined;
        const theirs = await newLock(repo, carl.id);
        const res = await post(caller, `${base(repo)}/locks/verify`, { ref, limit: 1000 });
        if (res.statusCode === 200) {
          const body = res.json() as { ours: Array<{ id: string }>; theirs: Array<{ id: string }> };
          assert.ok(Array.isArray(body.ours) && Array.isArray(body.theirs));
          if (mine)
            assert.ok(
              body.ours.some((l) => l.id === mine.id),
              'own lock in ours',
            );
          assert.ok(
            body.theirs.some((l) => l.id === theirs.id),
            "carl's lock in theirs",
          );
        }
        return res;
      }
      case 'unlock':
      case 'force unlock': {
        // unlock: the caller's own lock (someone else's when the caller is nobody);
        // force unlock: carl's lock, with force
        const force = operation === 'force unlock';
        const lock = await newLock(repo, !force && caller.userId ? caller.userId : carl.id);
        const res = await post(caller, `${base(repo)}/locks/${lock.id}/unlock`, { force, ref });
        const still = await t.deps.metadata.findLock(repo.id, lock.id);
        assert.equal(
          still === undefined,
          res.statusCode === 200,
          'the lock is gone exactly when unlock succeeded',
        );
        if (res.statusCode === 200) assert.equal((res.json() as { lock: { id: string } }).lock.id, lock.id);
        return res;
      }
    }
  }

  async function uploadAndVerify(planned: Response, obj: TestObject, repoPath: string): Promise<Response> {
    const [o] = (
      planned.json() as {
        objects: Array<{ actions: Record<string, { href: string; header: Record<string, string> }> }>;
      }
    ).objects;
    const { upload } = o!.actions;
    assert.equal(o!.actions.verify, undefined, 'proxy mode offers no verify');
    const verify = verifyAction(t, repoPath, obj, upload!);
    const put = await t.app.inject({
      method: 'PUT',
      url: new URL(upload!.href).pathname,
      headers: upload!.header,
      payload: obj.content,
    });
    assert.equal(put.statusCode, 200, put.body);
    return t.app.inject({
      method: 'POST',
      url: new URL(verify.href).pathname,
      headers: { ...verify.header, accept: LFS_JSON, 'content-type': LFS_JSON },
      payload: JSON.stringify({ oid: obj.oid, size: obj.size }),
    });
  }

  it("the issue's table, cell by cell, literally: the server answers each as written", async () => {
    // written out here rather than derived, so that a mistake in expectedStatus cannot hide a
    // wrong answer of the server: each cell is checked against the server and the table
    const cells: [string, boolean, Operation, number][] = [
      ['anonymous', false, 'download batch', 401],
      ['anonymous', true, 'download batch', 200],
      ['anonymous', true, 'upload batch', 401],
      ['signed in, no grant', false, 'download batch', 404],
      ['signed in, no grant', true, 'upload batch', 403],
      ['read grant', false, 'upload batch', 403],
      ['read grant', false, 'lock create', 403],
      ['read grant', false, 'lock list', 200],
      ['write grant', true, 'force unlock', 403],
      ['admin grant', false, 'force unlock', 200],
      ['revoked token', true, 'download batch', 401],
    ];
    for (const [name, isPublic, operation, status] of cells) {
      const caller = callers.find((c) => c.name === name);
      assert.ok(caller, name);
      const context = `${name} / ${isPublic ? 'public' : 'private'} / ${operation}`;
      const res = await perform(caller, repos[isPublic ? 'public' : 'private'], operation);
      assert.equal(res.statusCode, status, `${context}: ${res.body}`);
      assertLfsAnswer(res, context);
      assert.equal(expectedStatus(caller.level, isPublic, operation), status, `the table: ${context}`);
    }
  });

  for (const visibility of ['private', 'public'] as const) {
    for (const operation of OPERATIONS) {
      it(`${visibility} repository, ${operation}: every caller`, async () => {
        const failures: string[] = [];
        for (const caller of callers) {
          const want = expectedStatus(caller.level, visibility === 'public', operation);
          const context = `${caller.name} / ${visibility} / ${operation}`;
          try {
            const res = await perform(caller, repos[visibility], operation);
            assert.equal(res.statusCode, want, `expected ${want}, got ${res.statusCode}: ${res.body}`);
            assertLfsAnswer(res, context);
          } catch (err) {
            failures.push(`${context}: ${(err as Error).message.split('\n')[0]}`);
          }
        }
        assert.deepEqual(failures, []);
      });
    }
  }

  it('revoking or lowering a grant stops new batches at once', async () => {
    const { metadata } = t.deps;
    const gina = await addUser(t.deps, 'gina');
    const repo = repos.private;
    const batch = (operation: 'upload' | 'download', authorization: string) =>
      t.app.inject({
        method: 'POST',
        url: `${base(repo)}/objects/batch`,
        headers: { accept: LFS_JSON, 'content-type': LFS_JSON, authorization },
        payload: JSON.stringify({ operation, objects: [] }),
      });
    const viaToken = basicAuth('gina', gina.token);
    // both by password (whose check the authenticator caches) and by token
    for (const authorization of [gina.authorization, viaToken]) {
      await metadata.setGrant(gina.id, repo.id, 'write');
      assert.equal((await batch('upload', authorization)).statusCode, 200);
      await metadata.setGrant(gina.id, repo.id, 'read');
      assert.equal((await batch('upload', authorization)).statusCode, 403);
      assert.equal((await batch('download', authorization)).statusCode, 200);
      assert.ok(await metadata.removeGrant(gina.id, repo.id));
      assert.equal((await batch('download', authorization)).statusCode, 404);
      assert.equal((await batch('upload', authorization)).statusCode, 404);
    }
    // a token revoked is refused on the next request
    await metadata.setGrant(gina.id, repo.id, 'read');
    assert.equal((await batch('download', viaToken)).statusCode, 200);
    const [record] = await metadata.listTokens(gina.id);
    assert.ok(record && (await metadata.revokeToken(gina.id, record.id)));
    const refused = await batch('download', viaToken);
    assert.equal(refused.statusCode, 401);
    assertLfsAnswer(refused, 'revoked token');
    // a changed password is refused at once, cache or not
    await metadata.setPasswordHash(gina.id, null);
    assert.equal((await batch('download', gina.authorization)).statusCode, 401);
  });

  describe('a transfer token opens exactly one object, in one repository, for one operation', () => {
    let owner: Awaited<ReturnType<typeof addUser>>;
    const obj = randomObject(100);
    const other = randomObject(100);
    let upload: { href: string; header: Record<string, string> };
    let download: { href: string; header: Record<string, string> };
    let verify: { href: string; header: Record<string, string> };

    before(async () => {
      owner = await addUser(t.deps, 'tess');
      const batch = async (repoPath: string, operation: 'upload' | 'download', o: TestObject) =>
        (await batchOne(t.app, operation, o, repoPath, owner.authorization)).actions!;
      // the same content in two repositories, and a second object in the first
      for (const [repoPath, o] of [
        ['tess/one', obj],
        ['tess/two', obj],
        ['tess/one', other],
      ] as const) {
        const actions = await batch(repoPath, 'upload', o);
        const put = await t.app.inject({
          method: 'PUT',
          url: new URL(actions.upload!.href).pathname,
          headers: actions.upload!.header,
          payload: o.content,
        });
        assert.equal(put.statusCode, 200);
      }
      const fresh = randomObject(5);
      upload = (await batch('tess/one', 'upload', fresh)).upload!;
      verify = verifyAction(t, 'tess/one', fresh, upload);
      download = (await batch('tess/one', 'download', obj)).download!;
    });

    const path = (href: string) => new URL(href).pathname;
    const call = (
      method: 'GET' | 'PUT' | 'POST',
      url: string,
      header: Record<string, string>,
      payload?: string | Buffer,
    ) =>
      t.app.inject({
        method,
        url,
        headers: { ...header, 'content-type': LFS_JSON },
        ...(payload === undefined ? {} : { payload }),
      });

    it('the download token works where it was issued', async () => {
      const res = await call('GET', path(download.href), download.header);
      assert.equal(res.statusCode, 200);
      assert.ok(res.rawPayload.equals(obj.content));
    });

    it('opens no other oid, repository or operation', async () => {
      const refusals: Array<
        [string, 'GET' | 'PUT' | 'POST', string, Record<string, string>, (string | Buffer)?]
      > = [
        [
          'another oid in the same repository',
          'GET',
          path(download.href).replace(obj.oid, other.oid),
          download.header,
        ],
        [
          'the same oid in another repository',
          'GET',
          path(download.href).replace('tess/one', 'tess/two'),
          download.header,
        ],
        [
          'a repository path that differs only in case',
          'GET',
          path(download.href).replace('tess/one', 'Tess/one'),
          download.header,
        ],
        ['a download token used to upload', 'PUT', path(download.href), download.header, obj.content],
        [
          'a download token used to verify',
          'POST',
          `${path(download.href)}/verify`,
          download.header,
          JSON.stringify(obj),
        ],
        ['a verify token used to download', 'GET', path(verify.href).replace(/\/verify$/, ''), verify.header],
        ['an upload token used to download', 'GET', path(upload.href), upload.header],
        [
          'an upload token for another oid',
          'PUT',
          path(upload.href).replace(/[0-9a-f]{64}$/, other.oid),
          upload.header,
          other.content,
        ],
        ['a personal access token', 'GET', path(download.href), { authorization: `Bearer ${owner.token}` }],
        ['Basic credentials', 'GET', path(download.href), { authorization: owner.authorization }],
        ['no credentials', 'GET', path(download.href), {}],
      ];
      for (const [name, method, url, header, payload] of refusals) {
        const res = await call(method, url, header, payload);
        assert.equal(res.statusCode, 403, `${name}: ${res.statusCode} ${res.body}`);
        assertLfsAnswer(res, name);
      }
    });

    it('cannot be stretched: a tampered size or expiry, or an expired token, is refused', async () => {
      const token = /^Bearer (\S+)$/.exec(download.header.Authorization!)![1]!;
      const [expiry, size, credential, mac] = token.split('.');
      for (const forged of [
        `${Number(expiry) + 3600}.${size}.${credential}.${mac}`,
        `${expiry}.${Number(size) + 1}.${credential}.${mac}`,
        `${expiry}.${size}.a.${mac}`,
        `${expiry}.${size}.${credential}.${mac}x`,
      ]) {
        const res = await call('GET', path(download.href), { authorization: `Bearer ${forged}` });
        assert.equal(res.statusCode, 403, forged);
      }
      const secret = readFileSync(`${t.dataDir}/secret`, 'utf8').trim();
      const stale = new TransferTokens(secret, 3600, () => Date.now() - 2 * 3600 * 1000).issue({
        operation: 'download',
        repoPath: 'tess/one',
        oid: obj.oid,
        size: obj.size,
        credential: credential!,
      });
      const res = await call('GET', path(download.href), { authorization: `Bearer ${stale}` });
      assert.equal(res.statusCode, 403, 'expired');
      const fresh = new TransferTokens(secret, 3600).issue({
        operation: 'download',
        repoPath: 'tess/one',
        oid: obj.oid,
        size: obj.size,
        credential: credential!,
      });
      assert.equal(
        (await call('GET', path(download.href), { authorization: `Bearer ${fresh}` })).statusCode,
        200,
        'control',
      );
    });

    it('is not a credential for the batch or locking API', async () => {
      for (const url of ['/tess/one.git/info/lfs/objects/batch', '/tess/one.git/info/lfs/locks/verify']) {
        const res = await call(
          'POST',
          url,
          download.header,
          JSON.stringify({ operation: 'download', objects: [] }),
        );
        assert.equal(res.statusCode, 401, url);
        assertLfsAnswer(res, url);
      }
    });

    it('works on a replica sharing the secret and the stores, and on none with another secret', async () => {
      // a second server on the same data dir reads the secret generated there on first start,
      // as replicas share LFSD_SECRET; a third has a secret of its own
      for (const [secret, status] of [
        [undefined, 200],
        ['another-secret-of-at-least-32-characters', 403],
      ] as const) {
        const settings = loadSettings({ env: {}, flags: { dataDir: t.dataDir, logLevel: 'silent', secret } });
        const deps = await buildDeps(
          settings,
          createLogger('silent', { pretty: false }),
          'http://replica.test',
        );
        const replica = buildApp(deps);
        try {
          const res = await replica.inject({
            method: 'GET',
            url: path(download.href),
            headers: download.header,
          });
          assert.equal(res.statusCode, status, `secret ${secret ?? 'from the data dir'}`);
          if (status === 200) assert.ok(res.rawPayload.equals(obj.content));
        } finally {
          await replica.close();
          await deps.close();
        }
      }
    });
  });
});
