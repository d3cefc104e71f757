/**
 * The MetadataStore contract, run unchanged against SQLite (a temporary file), PostgreSQL and
 * MariaDB (a fresh database each, dropped afterwards). Tests in a suite share one store and use
 * their own names so that they do not depend on each other's data.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AlreadyExistsError } from '../../src/metadata/metadata-store.js';
import type { Lock, MetadataStore, User } from '../../src/metadata/metadata-store.js';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { RuleViolation } from '../../src/rules.js';
import { createTestDatabase, DIALECTS } from './test-databases.js';
import type { TestDatabase } from './test-databases.js';

function unique(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

function randomOid(): string {
  return randomBytes(32).toString('hex');
}

for (const dialect of DIALECTS) {
  void describe(`MetadataStore on ${dialect}`, () => {
    let database: TestDatabase | undefined;
    let store: MetadataStore;

    before(async () => {
      database = await createTestDatabase(dialect);
      store = await openMetadataStore(database.url);
    });

    after(async () => {
      await store?.close();
      await database?.drop();
    });

    async function newUser(name = unique('user')): Promise<User> {
      return store.createUser({ name, isAdmin: false, passwordHash: null });
    }

    void it('reports its dialect and answers ping', async () => {
      assert.equal(store.dialect, dialect);
      await store.ping();
    });

    void describe('repositories', () => {
      void it('creates and finds a repository, dates and flags round-tripping', async () => {
        const path = unique('team/game');
        const created = await store.createRepo(path, { isPublic: true });
        assert.equal(created.path, path);
        assert.equal(created.isPublic, true);
        assert.ok(Number.isInteger(created.id));
        assert.deepEqual(await store.findRepo(path), created);

        const hidden = await store.createRepo(unique('org/sub/game'), { isPublic: false });
        assert.equal((await store.findRepo(hidden.path))?.isPublic, false);
        assert.equal(await store.findRepo(unique('missing')), undefined);
      });

      void it('rejects a taken path with AlreadyExistsError', async () => {
        const path = unique('dup');
        await store.createRepo(path, { isPublic: false });
        await assert.rejects(store.createRepo(path, { isPublic: true }), AlreadyExistsError);
      });

      void it('compares paths exactly: case matters on every dialect', async () => {
        const path = unique('case/repo');
        const lower = await store.createRepo(path, { isPublic: false });
        const upper = await store.createRepo(path.toUpperCase(), { isPublic: false });
        assert.notEqual(lower.id, upper.id);
        assert.equal((await store.findRepo(path.toUpperCase()))?.id, upper.id);
        assert.equal((await store.findRepo(path))?.id, lower.id);
      });

      void it('accepts paths up to the length limit and rejects longer ones', async () => {
        // 5 segments of 100 characters and one of 7: 512 characters with the slashes
        const long = [unique('p').padEnd(100, 'x'), ...Array(4).fill('y'.repeat(100)), 'z'.repeat(7)].join(
          '/',
        );
        assert.equal(long.length, 512);
        assert.equal((await store.createRepo(long, { isPublic: false })).path, long);
        assert.equal((await store.findRepo(long))?.path, long);
        await assert.rejects(store.createRepo(`${long}y`, { isPublic: false }), RuleViolation);
      });

      void it('stores only canonical paths the HTTP router can reach (rules.ts)', async () => {
        for (const bad of [
          'team/b.git/c',
          'a/b/c/d/e/f/g/h/i',
          '/alice/x',
          'alice/x/',
          'x ',
          'a/../b',
          '.hidden/x',
        ]) {
          await assert.rejects(store.createRepo(bad, { isPublic: false }), RuleViolation, bad);
          await assert.rejects(store.ensureRepo(bad), RuleViolation, bad);
        }
        assert.equal((await store.listRepos()).filter((r) => r.path.includes('b.git')).length, 0);
      });

      void it('sets the public flag', async () => {
        const repo = await store.createRepo(unique('flag'), { isPublic: false });
        await store.setRepoPublic(repo.id, true);
        assert.equal((await store.findRepo(repo.path))?.isPublic, true);
        await store.setRepoPublic(repo.id, false);
        assert.equal((await store.findRepo(repo.path))?.isPublic, false);
      });

      void it('lists repositories by path', async () => {
        const prefix = unique('list');
        const b = await store.createRepo(`${prefix}/b`, { isPublic: false });
        const a = await store.createRepo(`${prefix}/a`, { isPublic: true });
        const listed = (await store.listRepos()).filter((r) => r.path.startsWith(prefix));
        assert.deepEqual(listed, [a, b]);
      });

      void it('ensureRepo: 20 concurrent callers get the same single row', async () => {
        const path = unique('ensure/repo');
        const repos = await Promise.all(Array.from({ length: 20 }, () => store.ensureRepo(path)));
        assert.equal(new Set(repos.map((r) => r.id)).size, 1);
        assert.equal(repos[0]?.isPublic, false);
        assert.equal((await store.listRepos()).filter((r) => r.path === path).length, 1);
        assert.deepEqual(await store.ensureRepo(path), await store.findRepo(path));
      });

      void it('ensureRepo returns an existing repository unchanged', async () => {
        const repo = await store.createRepo(unique('existing'), { isPublic: true });
        assert.deepEqual(await store.ensureRepo(repo.path), repo);
      });
    });

    void describe('users', () => {
      void it('creates and finds users by name and id', async () => {
        const admin = await store.createUser({
          name: unique('zoe'),
          isAdmin: true,
          passwordHash: 'scrypt$abc',
        });
        assert.equal(admin.isAdmin, true);
        assert.deepEqual(await store.findUserByName(admin.name), admin);
        assert.deepEqual(await store.findUserById(admin.id), admin);

        const plain = await newUser();
        assert.equal((await store.findUserById(plain.id))?.isAdmin, false);
        assert.equal((await store.findUserById(plain.id))?.passwordHash, null);
        assert.equal(await store.findUserByName(unique('nobody')), undefined);
        assert.equal(await store.findUserById(987654321), undefined);
      });

      void it('refuses names the rules forbid, identically on every dialect', async () => {
        for (const bad of ['zoë', 'a\u0000b', 'x.git', '-dash', 'a b', 'n'.repeat(101), '']) {
          await assert.rejects(newUser(bad), RuleViolation, JSON.stringify(bad));
        }
      });

      void it('rejects a taken name with AlreadyExistsError, case-sensitively', async () => {
        const user = await newUser();
        await assert.rejects(newUser(user.name), AlreadyExistsError);
        await newUser(user.name.toUpperCase());
      });

      void it('sets and clears the password hash', async () => {
        const user = await newUser();
        await store.setPasswordHash(user.id, 'scrypt$new');
        assert.equal((await store.findUserByName(user.name))?.passwordHash, 'scrypt$new');
        await store.setPasswordHash(user.id, null);
        assert.equal((await store.findUserByName(user.name))?.passwordHash, null);
      });

      void it('lists users by name', async () => {
        const prefix = unique('lu');
        const b = await newUser(`${prefix}-b`);
        const a = await newUser(`${prefix}-a`);
        assert.deepEqual(
          (await store.listUsers()).filter((u) => u.name.startsWith(prefix)),
          [a, b],
        );
      });
    });

    void describe('tokens', () => {
      void it('finds a token and its user by secret hash, expiry round-tripping to the millisecond', async () => {
        const user = await newUser();
        const expiresAt = new Date('2031-05-06T07:08:09.123Z');
        const secretHash = randomOid();
        const token = await store.createToken({ userId: user.id, name: 'laptop', secretHash, expiresAt });
        assert.equal(token.userId, user.id);
        assert.equal(token.revokedAt, null);
        const found = await store.findTokenBySecretHash(secretHash);
        assert.deepEqual(found, { token, user });
        assert.equal(found?.token.expiresAt?.toISOString(), '2031-05-06T07:08:09.123Z');
        assert.equal(await store.findTokenBySecretHash(randomOid()), undefined);
      });

      void it('stores tokens without name or expiry', async () => {
        const user = await newUser();
        const secretHash = randomOid();
        const token = await store.createToken({ userId: user.id, name: null, secretHash, expiresAt: null });
        const found = await store.findTokenBySecretHash(secretHash);
        assert.deepEqual(found?.token, token);
        assert.equal(found?.token.name, null);
        assert.equal(found?.token.expiresAt, null);
      });

      void it("lists a user's tokens in creation order", async () => {
        const user = await newUser();
        const other = await newUser();
        const first = await store.createToken({
          userId: user.id,
          name: 'a',
          secretHash: randomOid(),
          expiresAt: null,
        });
        await store.createToken({ userId: other.id, name: 'x', secretHash: randomOid(), expiresAt: null });
        const second = await store.createToken({
          userId: user.id,
          name: 'b',
          secretHash: randomOid(),
          expiresAt: null,
        });
        assert.deepEqual(await store.listTokens(user.id), [first, second]);
      });

      void it('revokes a token once; revoked tokens are still found (auth decides)', async () => {
        const user = await newUser();
        const intruder = await newUser();
        const secretHash = randomOid();
        const token = await store.createToken({ userId: user.id, name: null, secretHash, expiresAt: null });

        assert.equal(await store.revokeToken(intruder.id, token.id), false);
        assert.equal((await store.findTokenBySecretHash(secretHash))?.token.revokedAt, null);

        const before = Date.now();
        assert.equal(await store.revokeToken(user.id, token.id), true);
        const revokedAt = (await store.findTokenBySecretHash(secretHash))?.token.revokedAt;
        assert.ok(revokedAt instanceof Date);
        assert.ok(Math.abs(revokedAt.getTime() - before) < 60_000);

        assert.equal(await store.revokeToken(user.id, token.id), true);
        assert.deepEqual((await store.findTokenBySecretHash(secretHash))?.token.revokedAt, revokedAt);
        assert.deepEqual((await store.listTokens(user.id))[0]?.revokedAt, revokedAt);
        assert.equal(await store.revokeToken(user.id, 987654321), false);
      });
    });

    void describe('SSH keys', () => {
      const keyFor = (fingerprint = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`) => ({
        type: 'ssh-ed25519',
        publicKey: randomBytes(51).toString('base64'),
        fingerprint,
      });

      void it('adds, finds (by fingerprint and id, with the user), lists and removes a key', async () => {
        const user = await newUser();
        const other = await newUser();
        const key = await store.addSshKey({ userId: user.id, label: 'laptop', ...keyFor() });
        assert.equal(key.userId, user.id);
        assert.equal(key.lastUsedAt, null);
        assert.deepEqual(await store.findSshKeyByFingerprint(key.fingerprint), { key, user });
        assert.deepEqual(await store.findSshKeyById(key.id), { key, user });
        assert.equal(await store.findSshKeyByFingerprint(keyFor().fingerprint), undefined);

        const second = await store.addSshKey({ userId: user.id, label: null, ...keyFor() });
        const theirs = await store.addSshKey({ userId: other.id, label: null, ...keyFor() });
        assert.deepEqual(await store.listSshKeys(user.id), [key, second]);
        const all = await store.listAllSshKeys();
        assert.deepEqual(
          all.filter(({ key: k }) => [key.id, theirs.id].includes(k.id)),
          [
            { key, userName: user.name },
            { key: theirs, userName: other.name },
          ],
        );

        assert.equal(await store.deleteSshKey(other.id, key.id), false, "another user's key");
        assert.equal(await store.deleteSshKey(user.id, key.id), true);
        assert.equal(await store.findSshKeyById(key.id), undefined);
        assert.equal(await store.deleteSshKey(user.id, key.id), false);
      });

      void it('refuses a fingerprint already registered, for any user', async () => {
        const user = await newUser();
        const other = await newUser();
        const key = keyFor();
        await store.addSshKey({ userId: user.id, label: null, ...key });
        await assert.rejects(store.addSshKey({ userId: other.id, label: null, ...key }), AlreadyExistsError);
        await assert.rejects(store.addSshKey({ userId: user.id, label: null, ...key }), AlreadyExistsError);
      });

      void it('records the last use to the millisecond; keys go with their user', async () => {
        const user = await newUser();
        const key = await store.addSshKey({ userId: user.id, label: null, ...keyFor() });
        const at = new Date('2030-01-02T03:04:05.678Z');
        await store.touchSshKey(key.id, at);
        assert.equal((await store.findSshKeyById(key.id))?.key.lastUsedAt?.toISOString(), at.toISOString());
        assert.equal(await store.deleteUser(user.id), true);
        assert.equal(await store.findSshKeyById(key.id), undefined);
        assert.deepEqual(await store.listSshKeys(user.id), []);
      });
    });

    void describe('grants', () => {
      void it('sets, replaces, finds and removes a grant', async () => {
        const user = await newUser();
        const repo = await store.createRepo(unique('grants'), { isPublic: false });
        const otherRepo = await store.createRepo(unique('grants'), { isPublic: false });
        assert.equal(await store.findGrant(user.id, repo.id), undefined);

        await store.setGrant(user.id, repo.id, 'read');
        assert.equal(await store.findGrant(user.id, repo.id), 'read');
        await store.setGrant(user.id, repo.id, 'write');
        assert.equal(await store.findGrant(user.id, repo.id), 'write');
        await store.setGrant(user.id, repo.id, 'admin');
        assert.equal(await store.findGrant(user.id, repo.id), 'admin');
        assert.equal(await store.findGrant(user.id, otherRepo.id), undefined);

        assert.equal(await store.removeGrant(user.id, repo.id), true);
        assert.equal(await store.findGrant(user.id, repo.id), undefined);
        assert.equal(await store.removeGrant(user.id, repo.id), false);
      });

      void it('keeps grants per user and repository', async () => {
        const alice = await newUser();
        const bob = await newUser();
        const repo = await store.createRepo(unique('shared'), { isPublic: false });
        await store.setGrant(alice.id, repo.id, 'write');
        await store.setGrant(bob.id, repo.id, 'read');
        assert.equal(await store.findGrant(alice.id, repo.id), 'write');
        assert.equal(await store.findGrant(bob.id, repo.id), 'read');
      });
    });

    void describe('objects', () => {
      void it('links an object idempotently and reports its size, 64-bit sizes included', async () => {
        const repo = await store.createRepo(unique('objects'), { isPublic: false });
        const small = randomOid();
        const large = randomOid();
        const huge = randomOid();
        await store.linkObject(repo.id, small, 0);
        await store.linkObject(repo.id, small, 0);
        await store.linkObject(repo.id, large, 5 * 2 ** 30 + 1);
        await store.linkObject(repo.id, huge, 2 ** 53 - 1);
        const found = await store.findLinkedObjects(repo.id, [small, large, huge, randomOid()]);
        assert.deepEqual(
          found,
          new Map([
            [small, 0],
            [large, 5 * 2 ** 30 + 1],
            [huge, 2 ** 53 - 1],
          ]),
        );
        assert.deepEqual(await store.findLinkedObjects(repo.id, []), new Map());
      });

      void it("does not show another repository's objects (proof of possession)", async () => {
        const mine = await store.createRepo(unique('mine'), { isPublic: false });
        const theirs = await store.createRepo(unique('theirs'), { isPublic: true });
        const oid = randomOid();
        await store.linkObject(theirs.id, oid, 42);
        assert.deepEqual(await store.findLinkedObjects(mine.id, [oid]), new Map());
        await store.linkObject(mine.id, oid, 42);
        assert.deepEqual(await store.findLinkedObjects(mine.id, [oid]), new Map([[oid, 42]]));
      });

      void it('survives concurrent links of one object to several repositories', async () => {
        const repos = await Promise.all(
          [1, 2, 3].map(() => store.createRepo(unique('race'), { isPublic: false })),
        );
        const oid = randomOid();
        await Promise.all(
          Array.from({ length: 30 }, (_, i) => store.linkObject(repos[i % repos.length]!.id, oid, 1234)),
        );
        for (const repo of repos) {
          assert.deepEqual(await store.findLinkedObjects(repo.id, [oid]), new Map([[oid, 1234]]));
        }
      });

      void it('answers for more oids than fit one query, duplicates included', async () => {
        const repo = await store.createRepo(unique('many'), { isPublic: false });
        const oids = Array.from({ length: 1200 }, randomOid);
        const linked = oids.filter((_, i) => i % 2 === 0);
        for (let start = 0; start < linked.length; start += 50) {
          const batch = linked.slice(start, start + 50);
          await Promise.all(batch.map((oid, i) => store.linkObject(repo.id, oid, start + i)));
        }
        const found = await store.findLinkedObjects(repo.id, [...oids, ...linked.slice(0, 10)]);
        assert.equal(found.size, linked.length);
        for (const [i, oid] of linked.entries()) assert.equal(found.get(oid), i);
      });

      void it('unlinks an object from one repository only', async () => {
        const a = await store.createRepo(unique('unlink'), { isPublic: false });
        const b = await store.createRepo(unique('unlink'), { isPublic: false });
        const oid = randomOid();
        await store.linkObject(a.id, oid, 7);
        await store.linkObject(b.id, oid, 7);
        assert.equal(await store.unlinkObject(a.id, oid), true);
        assert.equal(await store.unlinkObject(a.id, oid), false);
        assert.deepEqual(await store.findLinkedObjects(a.id, [oid]), new Map());
        assert.deepEqual(await store.findLinkedObjects(b.id, [oid]), new Map([[oid, 7]]));
        await store.linkObject(a.id, oid, 7);
        assert.deepEqual(await store.findLinkedObjects(a.id, [oid]), new Map([[oid, 7]]));
      });
    });

    void describe('locks', () => {
      let alice: User;
      let bob: User;
      before(async () => {
        alice = await newUser(unique('alice'));
        bob = await newUser(unique('bob'));
      });

      void it('creates a lock and finds it by id', async () => {
        const repo = await store.createRepo(unique('locks'), { isPublic: false });
        const result = await store.createLock({
          repoId: repo.id,
          path: 'assets/a.psd',
          ownerId: alice.id,
          ref: 'refs/heads/main',
        });
        assert.equal(result.created, true);
        const lock = result.lock;
        assert.match(lock.id, /^[1-9][0-9]*$/);
        assert.equal(lock.repoId, repo.id);
        assert.equal(lock.path, 'assets/a.psd');
        assert.equal(lock.ownerId, alice.id);
        assert.equal(lock.ownerName, alice.name);
        assert.equal(lock.ref, 'refs/heads/main');
        assert.ok(lock.lockedAt instanceof Date);
        assert.deepEqual(await store.findLock(repo.id, lock.id), lock);

        const other = await store.createRepo(unique('locks'), { isPublic: false });
        assert.equal(await store.findLock(other.id, lock.id), undefined);
        assert.equal(await store.findLock(repo.id, 'not-a-number'), undefined);
        assert.equal(await store.findLock(repo.id, '99999999999'), undefined);
      });

      void it('answers a conflicting create with the existing lock and its owner', async () => {
        const repo = await store.createRepo(unique('conflict'), { isPublic: false });
        const first = await store.createLock({
          repoId: repo.id,
          path: 'model.fbx',
          ownerId: alice.id,
          ref: null,
        });
        const second = await store.createLock({
          repoId: repo.id,
          path: 'model.fbx',
          ownerId: bob.id,
          ref: 'refs/heads/x',
        });
        assert.deepEqual(second, { created: false, lock: first.lock });
        assert.equal(second.lock.ownerName, alice.name);
        assert.equal(second.lock.ref, null);

        // the same path in another repository is a different lock
        const elsewhere = await store.createRepo(unique('conflict'), { isPublic: false });
        assert.equal(
          (await store.createLock({ repoId: elsewhere.id, path: 'model.fbx', ownerId: bob.id, ref: null }))
            .created,
          true,
        );
      });

      void it('gives exactly one winner among 40 concurrent creates', async () => {
        const repo = await store.createRepo(unique('race'), { isPublic: false });
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            store.createLock({
              repoId: repo.id,
              path: 'hot/file.bin',
              ownerId: i % 2 ? alice.id : bob.id,
              ref: null,
            }),
          ),
        );
        const winners = results.filter((r) => r.created);
        assert.equal(winners.length, 1);
        const winner = winners[0]!.lock;
        for (const result of results) assert.deepEqual(result.lock, winner);
        assert.deepEqual(await store.listLocks(repo.id, { limit: 100 }), [winner]);
      });

      void it('keys long and non-ASCII paths exactly', async () => {
        const repo = await store.createRepo(unique('paths'), { isPublic: false });
        const long = `dir/${'ü'.repeat(1000)}-${'x'.repeat(18)}.bin`.slice(0, 1024);
        assert.equal(long.length, 1024);
        const a = await store.createLock({ repoId: repo.id, path: long, ownerId: alice.id, ref: null });
        const b = await store.createLock({
          repoId: repo.id,
          path: `${long.slice(0, -1)}n`,
          ownerId: alice.id,
          ref: null,
        });
        const c = await store.createLock({
          repoId: repo.id,
          path: 'Assets/A.psd',
          ownerId: alice.id,
          ref: null,
        });
        const d = await store.createLock({
          repoId: repo.id,
          path: 'assets/a.psd',
          ownerId: alice.id,
          ref: null,
        });
        assert.ok(a.created && b.created && c.created && d.created);
        assert.equal((await store.findLock(repo.id, a.lock.id))?.path, long);
        assert.deepEqual(await store.listLocks(repo.id, { path: long, limit: 10 }), [a.lock]);
      });

      void it('refuses paths and refs that some dialect could not store exactly', async () => {
        const repo = await store.createRepo(unique('text'), { isPublic: false });
        const lock = (path: string, ref: string | null = null) =>
          store.createLock({ repoId: repo.id, path, ownerId: alice.id, ref });
        // NUL: PostgreSQL refuses it; lone surrogates: SQLite and MySQL store U+FFFD instead
        for (const bad of ['a\u0000b', 'q\ud800', 'q\udc00x', 'tab\there', '']) {
          await assert.rejects(lock(bad), RuleViolation, JSON.stringify(bad));
        }
        await assert.rejects(lock('ok.bin', 'refs/heads/\u0000'), RuleViolation);
        await assert.rejects(lock('ok.bin', 'refs/heads/\ud800'), RuleViolation);
        assert.ok((await lock('q\ufffd')).created);
        assert.ok((await lock('ok.bin', 'refs/heads/main')).created);
        assert.equal((await store.listLocks(repo.id, { limit: 10 })).length, 2);
      });

      void it('lists with filters by path, id and owner, in id order', async () => {
        const repo = await store.createRepo(unique('filters'), { isPublic: false });
        const other = await store.createRepo(unique('filters'), { isPublic: false });
        const make = async (path: string, owner: User): Promise<Lock> => {
          const result = await store.createLock({ repoId: repo.id, path, ownerId: owner.id, ref: null });
          return result.lock;
        };
        const l1 = await make('a.bin', alice);
        const l2 = await make('b.bin', bob);
        const l3 = await make('c.bin', alice);
        await store.createLock({ repoId: other.id, path: 'a.bin', ownerId: alice.id, ref: null });

        assert.deepEqual(await store.listLocks(repo.id, { limit: 100 }), [l1, l2, l3]);
        assert.deepEqual(await store.listLocks(repo.id, { path: 'b.bin', limit: 100 }), [l2]);
        assert.deepEqual(await store.listLocks(repo.id, { path: 'missing.bin', limit: 100 }), []);
        assert.deepEqual(await store.listLocks(repo.id, { id: l3.id, limit: 100 }), [l3]);
        assert.deepEqual(await store.listLocks(other.id, { id: l3.id, limit: 100 }), []);
        assert.deepEqual(await store.listLocks(repo.id, { id: 'x', limit: 100 }), []);
        assert.deepEqual(await store.listLocks(repo.id, { ownerId: alice.id, limit: 100 }), [l1, l3]);
        assert.deepEqual(await store.listLocks(repo.id, { ownerId: bob.id, limit: 100 }), [l2]);
        assert.deepEqual(
          await store.listLocks(repo.id, { ownerId: alice.id, path: 'b.bin', limit: 100 }),
          [],
        );
        assert.deepEqual(await store.listLocks(repo.id, { afterId: l1.id, limit: 1 }), [l2]);
        assert.deepEqual(await store.listLocks(repo.id, { afterId: l1.id, ownerId: alice.id, limit: 5 }), [
          l3,
        ]);
        assert.deepEqual(await store.listLocks(repo.id, { limit: 0 }), []);
      });

      void it('pages through 230 locks with afterId, each exactly once', async () => {
        const repo = await store.createRepo(unique('pages'), { isPublic: false });
        const created: string[] = [];
        for (let i = 0; i < 230; i++) {
          const result = await store.createLock({
            repoId: repo.id,
            path: `file-${i}.bin`,
            ownerId: i % 3 ? alice.id : bob.id,
            ref: null,
          });
          created.push(result.lock.id);
        }
        const seen: string[] = [];
        let pages = 0;
        let afterId: string | undefined;
        for (;;) {
          const page = await store.listLocks(repo.id, {
            limit: 50,
            ...(afterId === undefined ? {} : { afterId }),
          });
          if (page.length === 0) break;
          pages++;
          seen.push(...page.map((l) => l.id));
          afterId = page[page.length - 1]!.id;
        }
        assert.equal(pages, 5);
        assert.deepEqual(seen, created);
        // ids are increasing integers, so numeric order is list order
        assert.deepEqual(
          seen,
          [...seen].sort((x, y) => Number(x) - Number(y)),
        );
      });

      void it('deletes a lock; the path can then be locked again under a new, larger id', async () => {
        const repo = await store.createRepo(unique('delete'), { isPublic: false });
        const { lock } = await store.createLock({
          repoId: repo.id,
          path: 'x.bin',
          ownerId: alice.id,
          ref: null,
        });
        const other = await store.createRepo(unique('delete'), { isPublic: false });
        assert.equal(await store.deleteLock(other.id, lock.id), false);
        assert.equal(await store.deleteLock(repo.id, 'nope'), false);
        assert.equal(await store.deleteLock(repo.id, lock.id), true);
        assert.equal(await store.deleteLock(repo.id, lock.id), false);
        assert.equal(await store.findLock(repo.id, lock.id), undefined);

        const again = await store.createLock({ repoId: repo.id, path: 'x.bin', ownerId: bob.id, ref: null });
        assert.equal(again.created, true);
        assert.ok(Number(again.lock.id) > Number(lock.id));
        assert.equal(again.lock.ownerName, bob.name);
      });

      void it('stays exclusive while locks are created and deleted concurrently', async () => {
        const repo = await store.createRepo(unique('churn'), { isPublic: false });
        for (let round = 0; round < 5; round++) {
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              store.createLock({
                repoId: repo.id,
                path: 'churn.bin',
                ownerId: i % 2 ? alice.id : bob.id,
                ref: null,
              }),
            ),
          );
          assert.equal(results.filter((r) => r.created).length, 1);
          assert.equal(await store.deleteLock(repo.id, results[0]!.lock.id), true);
        }
      });
    });

    void describe('web console sessions and repository counts', () => {
      void it('creates, finds by secret hash and by id, deletes, and sweeps expired sessions', async () => {
        const user = await newUser();
        const expiresAt = new Date(Date.now() + 3600_000);
        const session = await store.createWebSession({
          userId: user.id,
          secretHash: randomBytes(32).toString('hex'),
          authGeneration: user.authGeneration,
          expiresAt,
        });
        const hash = randomBytes(32).toString('hex');
        const other = await store.createWebSession({
          userId: user.id,
          secretHash: hash,
          authGeneration: 3,
          expiresAt: new Date(Date.now() - 1000),
        });
        const found = await store.findWebSession({ secretHash: hash });
        assert.equal(found?.session.id, other.id);
        assert.equal(found?.session.authGeneration, 3);
        assert.equal(found?.user.name, user.name);
        const byId = await store.findWebSession({ id: session.id });
        assert.equal(byId?.session.expiresAt.getTime(), expiresAt.getTime());
        assert.ok((await store.deleteExpiredWebSessions(new Date())) >= 1);
        assert.equal(await store.findWebSession({ id: other.id }), undefined);
        assert.equal(await store.deleteWebSession(session.id), true);
        assert.equal(await store.deleteWebSession(session.id), false);
        assert.equal(await store.findWebSession({ id: session.id }), undefined);
      });

      void it('removing the user removes their sessions', async () => {
        const user = await newUser();
        const session = await store.createWebSession({
          userId: user.id,
          secretHash: randomBytes(32).toString('hex'),
          authGeneration: 0,
          expiresAt: new Date(Date.now() + 3600_000),
        });
        await store.deleteUser(user.id);
        assert.equal(await store.findWebSession({ id: session.id }), undefined);
      });

      void it("counts each repository's objects, bytes and locks", async () => {
        const owner = await newUser();
        const repo = await store.createRepo(unique('stats/a'), { isPublic: false });
        const empty = await store.createRepo(unique('stats/b'), { isPublic: false });
        await store.linkObject(repo.id, randomOid(), 5_000_000_000);
        await store.linkObject(repo.id, randomOid(), 7);
        await store.createLock({ repoId: repo.id, path: 'a.psd', ownerId: owner.id, ref: null });
        const all = await store.repoStats();
        assert.deepEqual(all.get(repo.id), { objects: 2, bytes: 5_000_000_007, locks: 1 });
        assert.equal(all.get(empty.id), undefined);
        const one = await store.repoStats(repo.id);
        assert.deepEqual([...one.keys()], [repo.id]);
      });
    });

    void describe('lifecycle', () => {
      void it('close is idempotent and ping fails afterwards', async () => {
        assert.ok(database);
        const second = await openMetadataStore(database.url);
        await second.ping();
        await second.close();
        await second.close();
        await assert.rejects(second.ping());
      });
    });
  });
}
