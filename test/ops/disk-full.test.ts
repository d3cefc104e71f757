// A full disk (issue 11 item 10): lfsd's data directory on a 4 MiB tmpfs, a 6 MiB upload. The
// client gets 507 in LFS JSON, the temp file is removed (the space comes back), and a small upload
// still works. Needs `mount -t tmpfs` (root); skipped, saying why, where it cannot mount (the same
// answer with an injected ENOSPC is in test/http/store-faults.test.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { randomObject, type TestObject } from '../helpers/content.js';
import { addUser, batchOne, createTestApp, type TestApp } from '../helpers/test-app.js';

function tryMount(dir: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return (err as { stderr?: Buffer }).stderr?.toString().trim() || String(err);
  }
}

describe('disk full', { timeout: 60_000 }, () => {
  let mountPoint: string | undefined;
  let mounted = false;
  let t: TestApp | undefined;

  after(async () => {
    await t?.close();
    if (mounted) execFileSync('umount', [mountPoint!]);
    if (mountPoint) await rmdir(mountPoint);
  });

  it('answers 507 in LFS JSON and leaves no temp file', async (context) => {
    mountPoint = await mkdtemp(join(tmpdir(), 'lfsd-full-'));
    const failure = tryMount(mountPoint);
    if (failure) return context.skip(`cannot mount a tmpfs here: ${failure}`);
    mounted = true;
    const dataDir = join(mountPoint, 'data');
    await mkdir(dataDir);
    t = await createTestApp({ dataDir });
    const app = t.app;
    const alice = await addUser(t.deps, 'alice');
    const put = async (obj: TestObject) => {
      const action = (await batchOne(app, 'upload', obj, 'alice/assets', alice.authorization)).actions!
        .upload!;
      return app.inject({
        method: 'PUT',
        url: new URL(action.href).pathname,
        headers: action.header,
        payload: obj.content,
      });
    };
    const res = await put(randomObject(6 * 1024 * 1024));
    assert.equal(res.statusCode, 507, res.body);
    assert.match(String(res.headers['content-type']), /^application\/vnd\.git-lfs\+json/);
    assert.deepEqual(await readdir(join(dataDir, 'tmp')), []);
    assert.equal((await put(randomObject(100_000))).statusCode, 200, 'the space came back');
  });

  it('a disk so full that the database cannot write: 507 in LFS JSON, nothing linked, then it works again', async (context) => {
    if (!t) return context.skip('no tmpfs (see above)');
    const app = t.app;
    const alice = await addUser(t.deps, 'alice2');
    const stored = randomObject(20_000);
    const offer = async (repo: string, obj: TestObject) =>
      (await batchOne(app, 'upload', obj, repo, alice.authorization)).actions!.upload!;
    const putTo = (action: { href: string; header?: Record<string, string> }, obj: TestObject) =>
      app.inject({
        method: 'PUT',
        url: new URL(action.href).pathname,
        headers: action.header,
        payload: obj.content,
      });
    assert.equal((await putTo(await offer('alice2/first', stored), stored)).statusCode, 200);
    const action = await offer('alice2/fork', stored);
    // fill what is left: the content of `stored` is on disk, but no link or offer can be written
    const filler = join(t.settings.dataDir, 'filler');
    await writeFile(filler, Buffer.alloc(8 * 1024 * 1024)).catch(() => undefined);
    const again = await putTo(action, stored);
    assert.equal(again.statusCode, 507, again.body);
    assert.match(String(again.headers['content-type']), /^application\/vnd\.git-lfs\+json/);
    const batch = await app.inject({
      method: 'POST',
      url: '/alice2/first.git/info/lfs/objects/batch',
      headers: { authorization: alice.authorization, 'content-type': 'application/vnd.git-lfs+json' },
      payload: { operation: 'upload', objects: [{ oid: randomObject(100).oid, size: 100 }] },
    });
    assert.equal(batch.statusCode, 507, batch.body);
    assert.equal(
      (
        await t.deps.metadata.findLinkedObjects((await t.deps.metadata.findRepo('alice2/fork'))!.id, [
          stored.oid,
        ])
      ).size,
      0,
      'not linked',
    );
    await rm(filler);
    assert.equal(
      (await putTo(await offer('alice2/fork', stored), stored)).statusCode,
      200,
      'the space came back',
    );
  });
});
