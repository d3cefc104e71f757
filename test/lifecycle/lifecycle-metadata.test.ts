/**
 * The lifecycle metadata (usage counters, quotas and reservations, gc marks and claims, broken
 * objects) and gc / fsck over a real DiskStore, on SQLite, PostgreSQL and MariaDB.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { runFsck } from '../../src/lifecycle/fsck.js';
import { runGc } from '../../src/lifecycle/gc.js';
import { LifecycleService, parseKeepList } from '../../src/lifecycle/lifecycle-service.js';
import { parseSize } from '../../src/lifecycle/sizes.js';
import { OPERATOR } from '../../src/admin/actor.js';
import { createAdminServices } from '../../src/admin/admin-services.js';
import { ObjectBeingCollectedError } from '../../src/metadata/lifecycle-metadata.js';
import type { MetadataStore } from '../../src/metadata/metadata-store.js';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { DiskStore } from '../../src/storage/disk-store.js';
import { objectOf, randomObject, type TestObject } from '../helpers/content.js';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../metadata/test-databases.js';

function unique(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

for (const dialect of DIALECTS) {
  void describe(`lifecycle metadata on ${dialect}`, () => {
    let database: TestDatabase;
    let metadata: MetadataStore;
    let dir: string;
    let store: DiskStore;
    let lifecycle: LifecycleService;

    before(async () => {
      database = await createTestDatabase(dialect);
      metadata = await openMetadataStore(database.url);
      dir = await mkdtemp(join(tmpdir(), 'lfsd-lifecycle-'));
      store = new DiskStore({ root: dir });
      lifecycle = new LifecycleService(metadata, createAdminServices(metadata));
    });
    after(async () => {
      await metadata?.close();
      await database?.drop();
      await rm(dir, { recursive: true, force: true });
    });

    async function stored(object: TestObject): Promise<void> {
      await store.put(object.oid, object.size, Readable.from([object.content]));
    }

    void it('keeps usage counters with links and unlinks; the total counts shared content once', async () => {
      const owner = unique('u');
      const a = await metadata.createRepo(`${owner}/a`, { isPublic: false });
      const b = await metadata.createRepo(`${owner}/b`, { isPublic: false });
      const x = randomObject(100);
      const y = randomObject(30);
      await metadata.linkObject(a.id, x.oid, x.size);
      await metadata.linkObject(a.id, x.oid, x.size); // idempotent: counted once
      await metadata.linkObject(a.id, y.oid, y.size);
      await metadata.linkObject(b.id, x.oid, x.size);
      const user = await metadata.createUser({ name: owner, isAdmin: false, passwordHash: null });
      const usage = await lifecycle.usage(OPERATOR, { user: user.name });
      assert.deepEqual(
        usage.repos.map((r) => [r.path, r.objects, r.bytes]),
        [
          [`${owner}/a`, 2, 130],
          [`${owner}/b`, 1, 100],
        ],
      );
      assert.deepEqual(usage.total, { objects: 2, bytes: 130 });
      assert.equal(await metadata.unlinkObject(a.id, x.oid), true);
      assert.equal(await metadata.unlinkObject(a.id, x.oid), false);
      const one = await lifecycle.usage(OPERATOR, { path: `${owner}/a` });
      assert.deepEqual([one.repos[0]?.objects, one.repos[0]?.bytes], [1, 30]);
      await assert.rejects(lifecycle.usage(OPERATOR, { path: unique('nobody/') }), /no repository/);
      await assert.rejects(lifecycle.usage(OPERATOR, { user: unique('nobody') }), /no user/);
    });

    void it('refuses uploads past a repository or namespace quota, counting reservations', async () => {
      const owner = unique('q');
      await metadata.createUser({ name: owner, isAdmin: false, passwordHash: null });
      const repo = await metadata.createRepo(`${owner}/r`, { isPublic: false });
      const other = await metadata.createRepo(`${owner}/s`, { isPublic: false });
      await lifecycle.setQuota(OPERATOR, `${owner}/r`, '1000B');
      const first = randomObject(600);
      const second = randomObject(600);
      let refused = await metadata.lifecycle.offerUploads(repo, [first, second]);
      assert.deepEqual([...refused.keys()], [second.oid]);
      assert.deepEqual(refused.get(second.oid), {
        scope: 'repository',
        name: `${owner}/r`,
        quotaBytes: 1000,
        usageBytes: 600,
        askedBytes: 600,
      });
      // a concurrent batch sees the first batch's reservation; a retry of the same oid does not count twice
      refused = await metadata.lifecycle.offerUploads(repo, [second]);
      assert.equal(refused.size, 1);
      assert.equal((await metadata.lifecycle.offerUploads(repo, [first])).size, 0);
      await metadata.linkObject(repo.id, first.oid, first.size);
      assert.equal((await metadata.lifecycle.offerUploads(repo, [second])).size, 1);

      // the namespace quota counts every repository of the user
      await lifecycle.setQuota(OPERATOR, `${owner}/r`, 'none');
      const set = await lifecycle.setQuota(OPERATOR, owner, '1KB');
      assert.deepEqual(set, { kind: 'user', name: owner, quotaBytes: 1000 });
      refused = await metadata.lifecycle.offerUploads(other, [randomObject(300), second]);
      assert.equal(refused.size, 1);
      assert.equal([...refused.values()][0]?.scope, 'user');
      const quotas = await lifecycle.listQuotas(OPERATOR);
      assert.deepEqual(
        quotas.filter((q) => q.name === owner),
        [{ kind: 'user', name: owner, quotaBytes: 1000, usageBytes: 600 }],
      );

      // concurrent batches together stay within the quota
      await lifecycle.setQuota(OPERATOR, owner, 'none');
      const racing = await metadata.createRepo(`${owner}/race`, { isPublic: false });
      await lifecycle.setQuota(OPERATOR, racing.path, '1000');
      const batches = Array.from({ length: 8 }, () => [randomObject(300)]);
      const results = await Promise.all(
        batches.map((batch) => metadata.lifecycle.offerUploads(racing, batch)),
      );
      assert.equal(results.filter((r) => r.size === 0).length, 3);

      await assert.rejects(lifecycle.setQuota(OPERATOR, owner, '10XB'), /invalid size "10XB"/);
      await assert.rejects(lifecycle.setQuota(OPERATOR, unique('nobody'), '1GiB'), /no user or repository/);
      await assert.rejects(lifecycle.setQuota(OPERATOR, unique('nobody/x'), '1GiB'), /no repository/);
    });

    void it('prunes what the keep list does not name; an empty or malformed list changes nothing', async () => {
      const repo = await metadata.createRepo(unique('p/'), { isPublic: false });
      const objects = [randomObject(10), randomObject(20), randomObject(30)];
      for (const o of objects) await metadata.linkObject(repo.id, o.oid, o.size);
      const keep = parseKeepList(`${objects[0]!.oid} * a.bin\n${objects[1]!.oid} - dir/b.bin\n`);
      const dry = await lifecycle.prune(OPERATOR, repo.path, keep, { dryRun: true });
      assert.deepEqual(dry.unlinked, [{ oid: objects[2]!.oid, size: 30 }]);
      assert.equal((await metadata.findLinkedObjects(repo.id, [objects[2]!.oid])).size, 1);
      assert.throws(() => parseKeepList('abc1234 * a.bin'), /line 1 .*short oid/);
      await assert.rejects(
        lifecycle.prune(OPERATOR, repo.path, parseKeepList('\n# none\n')),
        /names no object/,
      );
      const done = await lifecycle.prune(OPERATOR, repo.path, keep);
      assert.equal(done.unlinked.length, 1);
      assert.deepEqual(
        [
          ...(
            await metadata.findLinkedObjects(
              repo.id,
              objects.map((o) => o.oid),
            )
          ).keys(),
        ].sort(),
        [objects[0]!.oid, objects[1]!.oid].sort(),
      );
      const deleted = await lifecycle.deleteRepo(OPERATOR, repo.path);
      assert.deepEqual([deleted.objects, deleted.bytes], [2, 30]);
      assert.equal(await metadata.findRepo(repo.path), undefined);
    });

    void it('gc deletes only unlinked content outside the grace, and a link refuses a claimed object', async () => {
      const repo = await metadata.createRepo(unique('g/'), { isPublic: false });
      const linked = randomObject(50);
      const orphan = randomObject(70);
      const offered = randomObject(80);
      const unlinked = randomObject(60);
      for (const o of [linked, orphan, offered, unlinked]) await stored(o);
      await metadata.linkObject(repo.id, linked.oid, linked.size);
      await metadata.linkObject(repo.id, unlinked.oid, unlinked.size);
      await metadata.unlinkObject(repo.id, unlinked.oid);
      await metadata.lifecycle.offerUploads(repo, [offered]);
      // a dry run lists and changes nothing
      let report = await runGc(metadata, store, { graceMs: 86_400_000, dryRun: true });
      assert.equal(report.deleted.objects, 1);
      assert.ok(await store.stat(orphan.oid));
      // with a day's grace, only content nobody ever linked nor offered goes
      report = await runGc(metadata, store, { graceMs: 86_400_000 });
      assert.deepEqual(report.deleted, { objects: 1, bytes: orphan.size });
      assert.equal(await store.stat(orphan.oid), undefined);
      assert.ok(await store.stat(unlinked.oid), 'unlinked within the grace: kept');
      assert.ok(await store.stat(offered.oid), 'offered within the grace: kept');
      report = await runGc(metadata, store, { graceMs: 0 });
      assert.ok(report.deleted.objects >= 2);
      assert.equal(await store.stat(unlinked.oid), undefined);
      assert.ok(await store.stat(linked.oid), 'linked content stays');
      // the offer was older than the mark and grace 0: gone too, and the upload would send it again
      assert.equal(await store.stat(offered.oid), undefined);

      // the claim blocks a link until gc has finished
      const claimedObject = randomObject(40);
      await stored(claimedObject);
      await metadata.lifecycle.mark([claimedObject], new Date());
      assert.deepEqual(await metadata.lifecycle.claim([claimedObject.oid], new Date()), [claimedObject.oid]);
      await assert.rejects(
        metadata.linkObject(repo.id, claimedObject.oid, claimedObject.size),
        ObjectBeingCollectedError,
      );
      await metadata.lifecycle.releaseClaim([claimedObject.oid]);
      await metadata.linkObject(repo.id, claimedObject.oid, claimedObject.size);
      // ...and an offer since the mark rescues a candidate
      const rescued = randomObject(40);
      await stored(rescued);
      await metadata.lifecycle.mark([rescued], new Date(Date.now() - 1000));
      await metadata.lifecycle.offerUploads(repo, [rescued]);
      assert.deepEqual(await metadata.lifecycle.claim([rescued.oid], new Date()), []);

      // a repository's deletion unlinks; its content is kept through the grace, then collected
      await metadata.deleteRepo(repo.id);
      report = await runGc(metadata, store, { graceMs: 60_000 });
      assert.ok(await store.stat(linked.oid));
      assert.ok(report.rescued >= 0);
      report = await runGc(metadata, store, { graceMs: 0 });
      assert.ok(report.deleted.objects >= 1);
      assert.equal(await store.stat(linked.oid), undefined);
      await assert.rejects(runGc(metadata, store, { graceMs: -1 }), /grace/);
    });

    void it('fsck finds missing and corrupt content; --repair quarantines it and a new link heals', async () => {
      const repo = await metadata.createRepo(unique('f/'), { isPublic: false });
      const good = randomObject(1000);
      const bad = randomObject(1000);
      const gone = randomObject(10);
      for (const o of [good, bad, gone]) {
        await stored(o);
        await metadata.linkObject(repo.id, o.oid, o.size);
      }
      await writeFile(store.localFile(bad.oid).path, randomBytes(1000));
      await store.delete(gone.oid);
      let report = await runFsck(metadata, store, { repoId: repo.id });
      assert.deepEqual(
        report.problems.map((p) => [p.oid, p.problem, p.repos]).sort(),
        [
          [bad.oid, 'corrupt', [repo.path]],
          [gone.oid, 'missing', [repo.path]],
        ].sort(),
      );
      report = await runFsck(metadata, store, { repoId: repo.id, repair: true });
      assert.equal(report.repaired, 2);
      assert.equal((await readdir(join(dir, 'quarantine'))).filter((n) => n.startsWith(bad.oid)).length, 1);
      // broken objects are no longer "linked" for batches: downloads 404, uploads ask again
      assert.deepEqual(
        [...(await metadata.findLinkedObjects(repo.id, [good.oid, bad.oid, gone.oid])).keys()],
        [good.oid],
      );
      await stored(bad);
      await metadata.linkObject(repo.id, bad.oid, bad.size);
      assert.equal((await metadata.findLinkedObjects(repo.id, [bad.oid])).size, 1);
      report = await runFsck(metadata, store, { repoId: repo.id });
      assert.deepEqual(
        report.problems.map((p) => p.oid),
        [gone.oid],
      );
      void objectOf;
    });
  });
}

void describe('sizes', () => {
  void it('parses binary and decimal units and none', () => {
    assert.equal(parseSize('10GiB'), 10 * 1024 ** 3);
    assert.equal(parseSize('500MB'), 500e6);
    assert.equal(parseSize('1.5 KiB'), 1536);
    assert.equal(parseSize('42'), 42);
    assert.equal(parseSize('none'), null);
    assert.throws(() => parseSize('10XB'), /invalid size "10XB"/);
    assert.throws(() => parseSize('-1GB'), /invalid size/);
  });
});
