// Download offload (setting downloadOffload): the real git-lfs client through the real nginx
// running deploy/nginx/lfsd.conf, lfsd authorising and nginx sending the files.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LFS_JSON, objectOf } from '../helpers/content.js';
import { createGitSandbox, sha256File, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { addUser, batchOne, createTestApp } from '../helpers/test-app.js';
import { freePort, lfsdNginxServer, startNginx, type Nginx } from '../helpers/nginx.js';

const USER = { username: 'alice', password: 'offload password 1' };
const AUTH = `Basic ${Buffer.from(`${USER.username}:${USER.password}`).toString('base64')}`;

describe('download offload to nginx (X-Accel-Redirect)', { timeout: 300_000 }, () => {
  let sandbox: GitSandbox;
  let server: LfsdServer;
  let nginx: Nginx;
  let dataDir: string;
  const files = new Map<string, string>(); // path -> sha256

  before(async () => {
    sandbox = await createGitSandbox(USER);
    dataDir = join(sandbox.root, 'lfsd-data');
    await lfsdAdmin(['user', 'add', USER.username, '--password-stdin', '--data-dir', dataDir], {
      input: `${USER.password}\n`,
    });
    const port = await freePort();
    server = await startLfsd([
      '--data-dir',
      dataDir,
      '--public-url',
      `http://127.0.0.1:${port}`,
      '--download-offload',
      'x-accel-redirect',
    ]);
    const conf = await lfsdNginxServer({
      port,
      lfsdUrl: server.listenUrl,
      objectsDir: join(dataDir, 'objects'),
    });
    nginx = await startNginx(() => conf, { port });
  });

  after(async () => {
    await nginx?.stop();
    await server?.stop();
    await sandbox?.cleanup();
  });

  it('pushes and clones through nginx, every byte checked, with nginx sending the downloads', async () => {
    const lfsUrl = `${nginx.url}/alice/assets.git/info/lfs`;
    await sandbox.git(sandbox.root, ['init', '--bare', '-q', 'remote.git']);
    await sandbox.git(sandbox.root, ['init', '-q', 'work']);
    const work = join(sandbox.root, 'work');
    await sandbox.git(work, ['lfs', 'track', '*.bin']);
    await writeFile(join(work, '.lfsconfig'), `[lfs]\n\turl = ${lfsUrl}\n`);
    await mkdir(join(work, 'dir'));
    for (const [name, size] of [
      ['empty.bin', 0],
      ['one.bin', 1],
      ['dir/big.bin', 3 * 1024 * 1024 + 5],
      ...Array.from({ length: 20 }, (_, i) => [`small-${i}.bin`, 100 + i] as const),
    ] as const) {
      await writeFile(join(work, name), randomBytes(size));
      files.set(name, await sha256File(join(work, name)));
    }
    await sandbox.git(work, ['add', '.']);
    await sandbox.git(work, ['commit', '-q', '-m', 'assets']);
    await sandbox.git(work, ['remote', 'add', 'origin', join(sandbox.root, 'remote.git')]);
    await sandbox.git(work, ['push', '-q', 'origin', 'main']);

    await sandbox.git(sandbox.root, ['clone', '-q', join(sandbox.root, 'remote.git'), 'clone']);
    for (const [name, sha] of files)
      assert.equal(await sha256File(join(sandbox.root, 'clone', name)), sha, name);

    // lfsd answered every download it authorised with an empty body: the bytes came from nginx
    const gets = server.logs.filter((l) => l.method === 'GET' && l.route === 'object');
    assert.equal(gets.length, files.size - 1, 'one GET per non-empty object'); // the empty one needs none
    assert.ok(gets.every((l) => l.status === 200));
  });

  async function downloadHref(object: {
    oid: string;
    size: number;
  }): Promise<{ href: string; header: Record<string, string> }> {
    const response = await fetch(`${nginx.url}/alice/assets.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { Accept: LFS_JSON, 'Content-Type': LFS_JSON, Authorization: AUTH },
      body: JSON.stringify({ operation: 'download', objects: [object] }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      objects: { actions?: { download: { href: string; header: Record<string, string> } } }[];
    };
    assert.ok(body.objects[0]!.actions, JSON.stringify(body));
    return body.objects[0]!.actions!.download;
  }

  it('lfsd itself answers with the header and no bytes; nginx turns it into the object, Range included', async () => {
    const sha = files.get('dir/big.bin')!;
    const size = 3 * 1024 * 1024 + 5;
    const { href, header } = await downloadHref({ oid: sha, size });
    assert.ok(href.startsWith(nginx.url), href);

    const direct = await fetch(href.replace(nginx.url, server.listenUrl), { headers: header });
    assert.equal(direct.status, 200);
    assert.equal(
      direct.headers.get('x-accel-redirect'),
      `/_lfsd/objects/${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`,
    );
    assert.equal((await direct.arrayBuffer()).byteLength, 0);

    const whole = await fetch(href, { headers: header });
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get('x-accel-redirect'), null, 'nginx never shows the internal header');
    const bytes = Buffer.from(await whole.arrayBuffer());
    assert.equal(objectOf(bytes).oid, sha);

    const ranged = await fetch(href, { headers: { ...header, Range: 'bytes=100-199' } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), `bytes 100-199/${size}`);
    assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), bytes.subarray(100, 200));
  });

  it('keeps every refusal in LFS JSON from lfsd, and the internal location closed to clients', async () => {
    const sha = files.get('one.bin')!;
    const { href, header } = await downloadHref({ oid: sha, size: 1 });
    const noToken = await fetch(href);
    assert.equal(noToken.status, 403);
    assert.match(noToken.headers.get('content-type') ?? '', /application\/vnd\.git-lfs\+json/);

    const unsatisfiable = await fetch(href, { headers: { ...header, Range: 'bytes=5-9' } });
    assert.equal(unsatisfiable.status, 416);
    assert.ok(((await unsatisfiable.json()) as { message?: string }).message);

    const internal = await fetch(`${nginx.url}/_lfsd/objects/${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`);
    assert.equal(internal.status, 404, 'the objects location is internal');
  });
});

describe('download offload to a proxy that speaks X-Sendfile', () => {
  it('answers an authorised download with the absolute path and no bytes, and a missing file in LFS JSON', async () => {
    const t = await createTestApp({ downloadOffload: 'x-sendfile' });
    try {
      const alice = await addUser(t.deps, 'alice');
      const object = objectOf('sent by the proxy');
      const upload = (await batchOne(t.app, 'upload', object, 'alice/repo', alice.authorization)).actions!
        .upload!;
      const put = await t.app.inject({
        method: 'PUT',
        url: new URL(upload.href).pathname,
        headers: upload.header,
        payload: object.content,
      });
      assert.equal(put.statusCode, 200, put.body);
      const download = (await batchOne(t.app, 'download', object, 'alice/repo', alice.authorization)).actions!
        .download!;
      const get = () =>
        t.app.inject({ method: 'GET', url: new URL(download.href).pathname, headers: download.header });
      const answer = await get();
      assert.equal(answer.statusCode, 200);
      const path = join(t.dataDir, 'objects', object.oid.slice(0, 2), object.oid.slice(2, 4), object.oid);
      assert.equal(answer.headers['x-sendfile'], path);
      assert.equal(answer.rawPayload.length, 0);

      await rm(path);
      const missing = await get();
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.headers['x-sendfile'], undefined);
      assert.match(missing.json<{ message: string }>().message, /missing/);
    } finally {
      await t.close();
    }
  });
});
