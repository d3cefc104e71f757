// File Locking API through the HTTP app (LFS-PROTOCOL.md section 4), without a socket.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { passwordCredential } from '../../src/auth/caller.js';
import { LockService } from '../../src/lfs/lock-service.js';
import type { Repo } from '../../src/metadata/metadata-store.js';
import { LFS_JSON } from '../helpers/content.js';
import { addUser, createTestApp, type TestApp } from '../helpers/test-app.js';

type User = Awaited<ReturnType<typeof addUser>>;
interface Reply {
  statusCode: number;
  headers: Record<string, unknown>;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

describe('locking API', () => {
  let t: TestApp;
  let alice: User; // owns the alice/ namespace: admin of alice/*
  let bob: User; // write grant on alice/assets
  let carol: User; // read grant on alice/assets
  let dave: User; // no grant
  let erin: User; // admin grant on alice/assets
  let root: User; // site admin
  let assets: Repo;

  before(async () => {
    t = await createTestApp();
    alice = await addUser(t.deps, 'alice');
    bob = await addUser(t.deps, 'bob');
    carol = await addUser(t.deps, 'carol');
    dave = await addUser(t.deps, 'dave');
    erin = await addUser(t.deps, 'erin');
    root = await addUser(t.deps, 'root', { admin: true });
    assets = await t.deps.metadata.createRepo('alice/assets', { isPublic: false });
    await t.deps.metadata.setGrant(bob.id, assets.id, 'write');
    await t.deps.metadata.setGrant(carol.id, assets.id, 'read');
    await t.deps.metadata.setGrant(erin.id, assets.id, 'admin');
  });
  after(() => t.close());

  const request = (
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    options: { user?: User | null; body?: unknown; raw?: string; repo?: string; accept?: string } = {},
  ): Promise<Reply> =>
    t.app.inject({
      method,
      url: `/${options.repo ?? 'alice/assets'}.git/info/lfs/${path}`,
      headers: {
        accept: options.accept ?? LFS_JSON,
        ...(method === 'POST' ? { 'content-type': `${LFS_JSON}; charset=utf-8` } : {}),
        ...(options.user === null ? {} : { authorization: (options.user ?? alice).authorization }),
      },
      ...(method === 'POST' ? { payload: options.raw ?? JSON.stringify(options.body ?? {}) } : {}),
    });

  const create = (path: string, user: User | null = alice, repo?: string) =>
    request('POST', 'locks', { user, repo, body: { path, ref: { name: 'refs/heads/main' } } });
  const list = (query = '', user: User | null = alice, repo?: string) =>
    request('GET', `locks${query ? `?${query}` : ''}`, { user, repo });
  const verify = (
    body: unknown = { ref: { name: 'refs/heads/main' } },
    user: User | null = alice,
    repo?: string,
  ) => request('POST', 'locks/verify', { user, body, repo });
  const unlock = (id: string, body: unknown = { force: false }, user: User | null = alice, repo?: string) =>
    request('POST', `locks/${id}/unlock`, { user, body, repo });

  const assertLfsJson = (res: Reply) =>
    assert.match(String(res.headers['content-type']), /^application\/vnd\.git-lfs\+json(;|$)/);

  const assertLfsError = (res: Reply, status: number) => {
    assert.equal(res.statusCode, status, JSON.stringify(res.json()));
    assertLfsJson(res);
    const body = res.json();
    assert.equal(typeof body.message, 'string');
    assert.ok(body.message.length > 0);
    assert.equal(body.request_id, res.headers['x-request-id']);
    return body;
  };

  const assertLockShape = (lock: unknown, path: string, owner: string) => {
    assert.deepEqual(Object.keys(lock as object).sort(), ['id', 'locked_at', 'owner', 'path']);
    const l = lock as { id: unknown; path: unknown; locked_at: unknown; owner: unknown };
    assert.equal(typeof l.id, 'string');
    assert.match(l.id as string, /^[A-Za-z0-9_-]+$/, 'URL-safe id');
    assert.equal(l.path, path);
    assert.match(l.locked_at as string, RFC3339);
    assert.ok(Math.abs(Date.parse(l.locked_at as string) - Date.now()) < 60_000);
    assert.deepEqual(l.owner, { name: owner });
  };

  /** a fresh repository in alice's namespace with bob (write) and carol (read) */
  let repoCount = 0;
  const freshRepo = async () => {
    const path = `alice/r${++repoCount}`;
    const repo = await t.deps.metadata.createRepo(path, { isPublic: false });
    await t.deps.metadata.setGrant(bob.id, repo.id, 'write');
    await t.deps.metadata.setGrant(carol.id, repo.id, 'read');
    return { path, repo };
  };

  describe('create', () => {
    it('answers 201 with the lock wrapped in `lock`, no message, and records the ref', async () => {
      const res = await create('art/hero.psd');
      assert.equal(res.statusCode, 201);
      assertLfsJson(res);
      const body = res.json();
      assert.deepEqual(Object.keys(body), ['lock']);
      assertLockShape(body.lock, 'art/hero.psd', 'alice');
      const stored = await t.deps.metadata.findLock(assets.id, body.lock.id);
      assert.equal(stored?.ref, 'refs/heads/main');
      assert.equal(stored?.path, 'art/hero.psd');
    });

    it('keeps the path exactly as sent, accepts ref {} / null / absent and unknown fields', async () => {
      for (const [i, extra] of [
        {},
        { ref: null },
        { ref: {} },
        { ref: { name: 'refs/heads/x', other: 1 }, future: [1] },
      ].entries()) {
        const path = `dir with space/ünï ${i}.bin`;
        const res = await request('POST', 'locks', { body: { path, ...extra } });
        assert.equal(res.statusCode, 201, JSON.stringify(extra));
        assertLockShape(res.json().lock, path, 'alice');
      }
    });

    it('answers 409 with the existing lock and a message when the path is taken, whoever asks', async () => {
      const first = await create('conflict.bin', bob);
      assert.equal(first.statusCode, 201);
      for (const user of [bob, alice, root]) {
        const res = await create('conflict.bin', user);
        const body = assertLfsError(res, 409);
        assert.deepEqual(body.lock, first.json().lock);
        assert.match(body.message, /already created lock/);
      }
    });

    it('treats paths as case- and byte-exact (a different path is a different lock)', async () => {
      assert.equal((await create('Case.bin')).statusCode, 201);
      assert.equal((await create('case.bin')).statusCode, 201);
      assert.equal((await create('case.bin/')).statusCode, 201);
    });

    it('answers 403 to a caller who may read but not write', async () => {
      const body = assertLfsError(await create('readonly.bin', carol), 403);
      assert.match(body.message, /push access/);
    });

    it('answers 401 with LFS-Authenticate to anonymous callers, 404 to signed-in callers without access', async () => {
      const res = await create('anon.bin', null);
      assertLfsError(res, 401);
      assert.match(String(res.headers['lfs-authenticate']), /^Basic realm=/);
      assertLfsError(await create('nope.bin', dave), 404);
      const pub = await t.deps.metadata.createRepo('alice/public', { isPublic: true });
      assert.ok(pub);
      assertLfsError(await create('anon.bin', null, 'alice/public'), 401);
      assertLfsError(await create('anon.bin', dave, 'alice/public'), 403);
    });

    it("creates a namespace owner's repository on their first lock, like a first push", async () => {
      assert.equal(await t.deps.metadata.findRepo('alice/brand-new'), undefined);
      const res = await create('a.bin', alice, 'alice/brand-new');
      assert.equal(res.statusCode, 201);
      assert.ok(await t.deps.metadata.findRepo('alice/brand-new'));
      assertLfsError(await create('a.bin', bob, 'alice/other-new'), 404);
      assert.equal(await t.deps.metadata.findRepo('alice/other-new'), undefined);
    });

    it('answers 422 for malformed bodies, and creates nothing', async () => {
      const { path: repo, repo: record } = await freshRepo();
      for (const body of [
        {},
        { path: '' },
        { path: 42 },
        { path: ['a'] },
        { path: null },
        { path: 'x'.repeat(1025) },
        { path: 'a\u0000b' },
        { path: 'line\nbreak' },
        { path: 'ok.bin', ref: 'refs/heads/main' },
        { path: 'ok.bin', ref: { name: 5 } },
        { path: 'ok.bin', ref: { name: 'r'.repeat(1025) } },
        [{ path: 'ok.bin' }],
        'ok.bin',
        null,
      ]) {
        assertLfsError(await request('POST', 'locks', { repo, body }), 422);
      }
      assertLfsError(await request('POST', 'locks', { repo, raw: '' }), 422);
      assertLfsError(await request('POST', 'locks', { repo, raw: '{"path":' }), 400);
      assert.deepEqual(await t.deps.metadata.listLocks(record.id, { limit: 10 }), []);
    });

    it('answers 406 when the client cannot take LFS JSON', async () => {
      assertLfsError(await request('POST', 'locks', { body: { path: 'x' }, accept: 'text/html' }), 406);
    });

    it('gives one 201 and the rest 409 for simultaneous requests from two users', async () => {
      const { path: repo } = await freshRepo();
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => create('race.bin', i % 2 ? bob : alice, repo)),
      );
      assert.deepEqual(replies.map((r) => r.statusCode).sort(), [201, ...Array<number>(19).fill(409)]);
      const winner = replies.find((r) => r.statusCode === 201)!.json().lock;
      for (const r of replies.filter((x) => x.statusCode === 409)) assert.deepEqual(r.json().lock, winner);
    });
  });

  describe('list', () => {
    it('lists every lock with `locks` an array and no next_cursor when all fit', async () => {
      const { path: repo } = await freshRepo();
      await create('one.bin', alice, repo);
      await create('two.bin', bob, repo);
      const res = await list('', alice, repo);
      assert.equal(res.statusCode, 200);
      assertLfsJson(res);
      const body = res.json();
      assert.deepEqual(Object.keys(body), ['locks']);
      assert.equal(body.locks.length, 2);
      assertLockShape(body.locks[0], 'one.bin', 'alice');
      assertLockShape(body.locks[1], 'two.bin', 'bob');
    });

    it('filters by path and id; accepts refspec, which narrows nothing since locks are per repository', async () => {
      const { path: repo } = await freshRepo();
      const a = (await create('a.bin', alice, repo)).json().lock;
      const b = (await create('dir/b c.bin', bob, repo)).json().lock;
      assert.deepEqual((await list('path=a.bin', alice, repo)).json(), { locks: [a] });
      assert.deepEqual((await list(`path=${encodeURIComponent('dir/b c.bin')}`, carol, repo)).json(), {
        locks: [b],
      });
      assert.deepEqual((await list(`id=${b.id}`, alice, repo)).json(), { locks: [b] });
      assert.deepEqual((await list(`id=${a.id}&path=dir%2Fb%20c.bin`, alice, repo)).json(), { locks: [] });
      assert.deepEqual((await list('path=missing.bin', alice, repo)).json(), { locks: [] });
      assert.deepEqual((await list('id=999999', alice, repo)).json(), { locks: [] });
      assert.deepEqual((await list('id=not-an-id', alice, repo)).json(), { locks: [] });
      assert.deepEqual((await list('path=a.bin&refspec=refs%2Fheads%2Fmain', alice, repo)).json(), {
        locks: [a],
      });
      assert.deepEqual((await list('path=a.bin&refspec=refs%2Fheads%2Fother', alice, repo)).json(), {
        locks: [a],
      });
    });

    it('needs read: reader 200, anonymous 401, signed-in without access 404; anonymous may list a public repository', async () => {
      assert.equal((await list('', carol)).statusCode, 200);
      const anon = await list('', null);
      assertLfsError(anon, 401);
      assert.match(String(anon.headers['lfs-authenticate']), /^Basic realm=/);
      assertLfsError(await list('', dave), 404);
      const pub = await t.deps.metadata.createRepo('alice/pub-list', { isPublic: true });
      await t.deps.metadata.createLock({ repoId: pub.id, path: 'p.bin', ownerId: alice.id, ref: null });
      const res = await list('', null, 'alice/pub-list');
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().locks[0].path, 'p.bin');
    });

    it("answers an empty list for a namespace owner's repository that does not exist yet, without creating it", async () => {
      const res = await list('', alice, 'alice/not-yet');
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { locks: [] });
      assert.equal(await t.deps.metadata.findRepo('alice/not-yet'), undefined);
      assertLfsError(await list('', bob, 'alice/not-yet'), 404);
    });

    it('answers 422 for malformed query values', async () => {
      for (const query of [
        'limit=-1',
        'limit=abc',
        'limit=1.5',
        'limit=',
        'limit=99999999999',
        'cursor=%%%',
        'cursor=bm90LWFuLWlk', // base64url of "not-an-id"
        'cursor=MQ==', // padded: not what the server hands out
        'path=a&path=b',
        'limit=1&limit=2',
      ]) {
        assertLfsError(await list(query), 422);
      }
    });

    it('paginates 230 locks 50 at a time, each exactly once, in a stable order', async () => {
      const { path: repo, repo: record } = await freshRepo();
      for (let i = 0; i < 230; i++) {
        await t.deps.metadata.createLock({
          repoId: record.id,
          path: `p/${i}.bin`,
          ownerId: i % 3 ? alice.id : bob.id,
          ref: null,
        });
      }
      const seen: string[] = [];
      const ids: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const res = await list(
          `limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          carol,
          repo,
        );
        assert.equal(res.statusCode, 200);
        const body = res.json();
        pages++;
        assert.equal(body.locks.length, pages < 5 ? 50 : 30);
        assert.equal('message' in body, false);
        for (const lock of body.locks) {
          seen.push(lock.path);
          ids.push(lock.id);
        }
        cursor = body.next_cursor;
        if (pages < 5) assert.equal(typeof cursor, 'string');
      } while (cursor);
      assert.equal(pages, 5);
      assert.equal(seen.length, 230);
      assert.equal(new Set(seen).size, 230);
      assert.deepEqual(new Set(seen), new Set(Array.from({ length: 230 }, (_, i) => `p/${i}.bin`)));
      assert.deepEqual(
        ids,
        [...ids].sort((x, y) => Number(x) - Number(y)),
        'id order',
      );

      // the default page is 100, a huge limit is capped at the server maximum (1000 > 230)
      const first = (await list('', alice, repo)).json();
      assert.equal(first.locks.length, 100);
      assert.ok(first.next_cursor);
      const all = (await list('limit=100000', alice, repo)).json();
      assert.equal(all.locks.length, 230);
      assert.equal(all.next_cursor, undefined);
      // limit 0 is raised to the minimum of 1
      assert.equal((await list('limit=0', alice, repo)).json().locks.length, 1);
      // a stale cursor (its lock since deleted) still continues after it
      const page1 = (await list('limit=10', alice, repo)).json();
      assert.equal((await unlock(page1.locks[9].id, { force: true }, alice, repo)).statusCode, 200);
      const page2 = (await list(`limit=10&cursor=${page1.next_cursor}`, alice, repo)).json();
      assert.equal(page2.locks[0].id, ids[10]);
    });

    it('caps page sizes at the limits it is given', async () => {
      const { repo } = await freshRepo();
      for (let i = 0; i < 7; i++)
        await t.deps.metadata.createLock({ repoId: repo.id, path: `${i}`, ownerId: alice.id, ref: null });
      const service = new LockService(t.deps.metadata, { defaultLimit: 2, maxLimit: 3 });
      const user = (await t.deps.metadata.findUserByName('alice'))!;
      const caller = { kind: 'user' as const, user, credential: passwordCredential(user) };
      assert.equal((await service.list(caller, repo.path, {})).locks.length, 2);
      const capped = await service.list(caller, repo.path, { limit: '50' });
      assert.equal(capped.locks.length, 3);
      assert.ok(capped.next_cursor);
      const verified = await service.verify(caller, repo.path, { limit: 50 });
      assert.equal(verified.ours.length + verified.theirs.length, 3);
      const every: string[] = [];
      for await (const lock of service.all(repo)) every.push(lock.path);
      assert.deepEqual(every, ['0', '1', '2', '3', '4', '5', '6']);
    });
  });

  describe('verify', () => {
    it("splits locks into the caller's `ours` and everyone else's `theirs`, both arrays always present", async () => {
      const { path: repo } = await freshRepo();
      const empty = await verify(undefined, alice, repo);
      assert.equal(empty.statusCode, 200);
      assertLfsJson(empty);
      assert.deepEqual(empty.json(), { ours: [], theirs: [] });
      const mine = (await create('mine.bin', alice, repo)).json().lock;
      const theirs = (await create('theirs.bin', bob, repo)).json().lock;
      assert.deepEqual((await verify(undefined, alice, repo)).json(), { ours: [mine], theirs: [theirs] });
      assert.deepEqual((await verify(undefined, bob, repo)).json(), { ours: [theirs], theirs: [mine] });
      // no body, an empty body, null: all the first page
      for (const raw of ['', '{}', 'null']) {
        const res = await request('POST', 'locks/verify', { repo, raw });
        assert.deepEqual(res.json(), { ours: [mine], theirs: [theirs] }, raw);
      }
    });

    it('answers empty arrays for a namespace owner whose repository does not exist yet', async () => {
      const res = await verify(undefined, alice, 'alice/never-pushed');
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { ours: [], theirs: [] });
    });

    it('needs write: reader 403, anonymous 401, signed-in without access 404', async () => {
      assertLfsError(await verify(undefined, carol), 403);
      const anon = await verify(undefined, null);
      assertLfsError(anon, 401);
      assert.match(String(anon.headers['lfs-authenticate']), /^Basic realm=/);
      assertLfsError(await verify(undefined, dave), 404);
      assert.equal((await verify(undefined, bob)).statusCode, 200);
    });

    it('answers 422 for malformed bodies', async () => {
      for (const body of [
        [],
        'x',
        { limit: '10' },
        { limit: -1 },
        { limit: 1.5 },
        { cursor: 5 },
        { cursor: 'garbage!' },
        { ref: 'main' },
        { ref: { name: [] } },
      ]) {
        assertLfsError(await verify(body), 422);
      }
    });

    it('paginates 230 locks 50 at a time, each exactly once, ours and theirs split', async () => {
      const { path: repo, repo: record } = await freshRepo();
      const owners = new Map<string, string>();
      for (let i = 0; i < 230; i++) {
        const owner = i % 2 ? bob : alice;
        await t.deps.metadata.createLock({
          repoId: record.id,
          path: `v/${i}.bin`,
          ownerId: owner.id,
          ref: null,
        });
        owners.set(`v/${i}.bin`, owner === bob ? 'bob' : 'alice');
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const res = await verify(
          { ref: { name: 'refs/heads/main' }, limit: 50, ...(cursor ? { cursor } : {}) },
          bob,
          repo,
        );
        assert.equal(res.statusCode, 200);
        const body = res.json();
        pages++;
        assert.ok(Array.isArray(body.ours) && Array.isArray(body.theirs));
        assert.equal(body.ours.length + body.theirs.length, pages < 5 ? 50 : 30);
        for (const lock of body.ours) assert.equal(lock.owner.name, 'bob');
        for (const lock of body.theirs) assert.equal(lock.owner.name, 'alice');
        for (const lock of [...body.ours, ...body.theirs]) {
          assert.equal(owners.get(lock.path), lock.owner.name);
          seen.push(lock.path);
        }
        cursor = body.next_cursor;
      } while (cursor);
      assert.equal(pages, 5);
      assert.equal(seen.length, 230);
      assert.deepEqual(new Set(seen), new Set(owners.keys()));
      // the push-time verifier sends no limit: the first page is the default 100
      const first = (await verify({ ref: { name: 'refs/heads/main' } }, bob, repo)).json();
      assert.equal(first.ours.length + first.theirs.length, 100);
      assert.ok(first.next_cursor);
    });
  });

  describe('unlock', () => {
    it('lets the owner unlock: 200 with the deleted lock wrapped in `lock`, no message', async () => {
      const { path: repo, repo: record } = await freshRepo();
      const lock = (await create('u.bin', bob, repo)).json().lock;
      const res = await unlock(lock.id, { force: false, ref: { name: 'refs/heads/main' } }, bob, repo);
      assert.equal(res.statusCode, 200);
      assertLfsJson(res);
      assert.deepEqual(res.json(), { lock });
      assert.equal(await t.deps.metadata.findLock(record.id, lock.id), undefined);
      assert.deepEqual((await list('', bob, repo)).json(), { locks: [] });
      // the path is free again
      assert.equal((await create('u.bin', alice, repo)).statusCode, 201);
      // unlocking it again: gone
      assertLfsError(await unlock(lock.id, { force: false }, bob, repo), 404);
    });

    it('accepts an owner unlock without a body or with force', async () => {
      const { path: repo } = await freshRepo();
      const a = (await create('a.bin', bob, repo)).json().lock;
      assert.equal(
        (await request('POST', `locks/${a.id}/unlock`, { user: bob, repo, raw: '' })).statusCode,
        200,
      );
      const b = (await create('b.bin', bob, repo)).json().lock;
      assert.equal((await unlock(b.id, { force: true }, bob, repo)).statusCode, 200);
    });

    it("refuses someone else's lock without force (403) and force without admin (403)", async () => {
      const { path: repo } = await freshRepo();
      const lock = (await create('held.bin', alice, repo)).json().lock;
      let body = assertLfsError(await unlock(lock.id, { force: false }, bob, repo), 403);
      assert.match(body.message, /locked by alice/);
      body = assertLfsError(await unlock(lock.id, { force: true }, bob, repo), 403);
      assert.match(body.message, /admin/);
      assertLfsError(await unlock(lock.id, {}, bob, repo), 403);
      // and the namespace owner may not unlock bob's lock without force either
      const bobs = (await create('bobs.bin', bob, repo)).json().lock;
      assertLfsError(await unlock(bobs.id, { force: false }, alice, repo), 403);
      assert.equal((await list('', alice, repo)).json().locks.length, 2);
    });

    it('lets a repository admin force-unlock: namespace owner, site admin, admin grant', async () => {
      for (const admin of [alice, root, erin]) {
        const lock = (
          await create(`forced-by-${admin === alice ? 'alice' : admin === root ? 'root' : 'erin'}.bin`, bob)
        ).json().lock;
        const res = await unlock(lock.id, { force: true }, admin);
        assert.equal(res.statusCode, 200);
        assert.deepEqual(res.json(), { lock });
        assert.equal(await t.deps.metadata.findLock(assets.id, lock.id), undefined);
      }
    });

    it('needs write: reader 403, anonymous 401, signed-in without access 404', async () => {
      const lock = (await create('perm.bin', bob)).json().lock;
      assertLfsError(await unlock(lock.id, { force: true }, carol), 403);
      assertLfsError(await unlock(lock.id, { force: false }, null), 401);
      assertLfsError(await unlock(lock.id, { force: true }, dave), 404);
      assert.ok(await t.deps.metadata.findLock(assets.id, lock.id));
    });

    it('answers 404 for an unknown id, a non-numeric id and a lock of another repository', async () => {
      const { path: other } = await freshRepo();
      const foreign = (await create('foreign.bin', alice, other)).json().lock;
      assertLfsError(await unlock('999999999', { force: true }), 404);
      assertLfsError(await unlock('abc', { force: true }), 404);
      assertLfsError(await unlock(foreign.id, { force: true }), 404);
      assertLfsError(await unlock('1', { force: true }, alice, 'alice/never-existed'), 404);
      assert.equal((await list('', alice, other)).json().locks.length, 1);
    });

    it('answers 422 for a malformed body', async () => {
      const lock = (await create('malformed-unlock.bin')).json().lock;
      for (const body of [{ force: 'yes' }, { force: 1 }, [], 'force', { force: false, ref: 'main' }]) {
        assertLfsError(await unlock(lock.id, body), 422);
      }
      assert.ok(await t.deps.metadata.findLock(assets.id, lock.id));
    });
  });

  describe('routing', () => {
    it('serves the API without .git and without /info/lfs', async () => {
      for (const url of ['/alice/assets/info/lfs/locks', '/alice/assets/locks', '/alice/assets.git/locks']) {
        const res = await t.app.inject({
          method: 'GET',
          url,
          headers: { authorization: alice.authorization },
        });
        assert.equal(res.statusCode, 200, url);
        assert.ok(Array.isArray(res.json().locks));
      }
    });

    it('answers other methods with LFS JSON 405 and Allow', async () => {
      for (const [method, path, allow] of [
        ['GET', 'locks/verify', 'POST'],
        ['GET', 'locks/1/unlock', 'POST'],
        ['PUT', 'locks', 'GET, POST'],
      ] as const) {
        const res = await request(method, path);
        assertLfsError(res, 405);
        assert.equal(res.headers.allow, allow);
      }
    });
  });
});
