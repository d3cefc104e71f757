// The real `git lfs` client against `lfsd serve` on its embedded default (issue: lfsd core).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeRandomFile } from '../helpers/content.js';
import { createGitSandbox, sha256File, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';

const MB = 1024 * 1024;
const LARGE_SIZES = [1, 100, 4096, 1 * MB + 7, 10 * MB, 80 * MB];
const SMALL_FILES = 150;
const POINTER = /^version https:\/\/git-lfs\.github\.com\/spec\/v1\noid sha256:[0-9a-f]{64}\nsize \d+\n$/;

describe('git lfs client end to end', { timeout: 600_000 }, () => {
  let server: LfsdServer;
  let sandbox: GitSandbox;
  let dataDir: string;
  const expected = new Map<string, string>(); // path in repo -> sha256
  let lfsUrl: string;

  before(async () => {
    sandbox = await createGitSandbox({ username: 'alice', password: 'correct horse battery' });
    dataDir = join(sandbox.root, 'lfsd-data');
    await lfsdAdmin(['user', 'add', 'alice', '--password-stdin', '--data-dir', dataDir], {
      input: 'correct horse battery\n',
    });
    server = await startLfsd(['--data-dir', dataDir, '--log-level', 'info']);
    lfsUrl = `${server.url}/alice/assets.git/info/lfs`;

    await sandbox.git(sandbox.root, ['init', '--bare', '-q', 'remote.git']);
    await sandbox.git(sandbox.root, ['init', '-q', 'work']);
    const work = join(sandbox.root, 'work');
    await sandbox.git(work, ['lfs', 'track', '*.bin', 'small/*.dat']);
    await writeFile(join(work, '.lfsconfig'), `[lfs]\n\turl = ${lfsUrl}\n`);
    await mkdir(join(work, 'small'));
    for (const size of LARGE_SIZES) await writeRandomFile(join(work, `file-${size}.bin`), size);
    for (let i = 0; i < SMALL_FILES; i++)
      await writeFile(join(work, 'small', `f${i}.dat`), randomBytes(200 + i));
    await writeFile(join(work, 'README.txt'), 'not in LFS\n');
    for (const size of LARGE_SIZES)
      expected.set(`file-${size}.bin`, await sha256File(join(work, `file-${size}.bin`)));
    for (let i = 0; i < SMALL_FILES; i++)
      expected.set(`small/f${i}.dat`, await sha256File(join(work, 'small', `f${i}.dat`)));
    await sandbox.git(work, ['add', '.']);
    await sandbox.git(work, ['commit', '-q', '-m', 'assets']);
    await sandbox.git(work, ['remote', 'add', 'origin', join(sandbox.root, 'remote.git')]);
  });

  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, 'lfsd exits 0 on SIGTERM');
    await sandbox?.cleanup();
  });

  const puts = () => server.logs.filter((l) => l.method === 'PUT' && l.route === 'object').length;

  it('pushes objects from 1 byte to 80 MB and 150 small files', async () => {
    await sandbox.git('work', ['push', '-q', 'origin', 'main']);
    assert.equal(puts(), LARGE_SIZES.length + SMALL_FILES);
    assert.ok(server.logs.filter((l) => l.method === 'PUT').every((l) => l.status === 200));
  });

  it('clones with smudge: every file has its original SHA-256', async () => {
    await sandbox.git(sandbox.root, ['clone', '-q', join(sandbox.root, 'remote.git'), 'clone']);
    for (const [path, sha] of expected)
      assert.equal(await sha256File(join(sandbox.root, 'clone', path)), sha, path);
    assert.equal(await readFile(join(sandbox.root, 'clone', 'README.txt'), 'utf8'), 'not in LFS\n');
  });

  it('clones without smudge, then `git lfs pull --include` fetches only what it names', async () => {
    await sandbox.git(sandbox.root, ['clone', '-q', join(sandbox.root, 'remote.git'), 'skip'], {
      GIT_LFS_SKIP_SMUDGE: '1',
    });
    const skip = join(sandbox.root, 'skip');
    assert.match(await readFile(join(skip, 'file-100.bin'), 'utf8'), POINTER);
    await sandbox.git(skip, ['lfs', 'pull', '--include', 'small/*']);
    for (let i = 0; i < SMALL_FILES; i++) {
      assert.equal(await sha256File(join(skip, 'small', `f${i}.dat`)), expected.get(`small/f${i}.dat`));
    }
    assert.match(
      await readFile(join(skip, 'file-100.bin'), 'utf8'),
      POINTER,
      'not included: still a pointer',
    );
  });

  it('`git lfs fetch --all` then `git lfs fsck` find every object intact', async () => {
    const skip = join(sandbox.root, 'skip');
    await sandbox.git(skip, ['lfs', 'fetch', '--all']);
    const { stdout } = await sandbox.git(skip, ['lfs', 'fsck']);
    assert.match(stdout, /Git LFS fsck OK/);
    await sandbox.git(skip, ['lfs', 'checkout']);
    for (const [path, sha] of expected) assert.equal(await sha256File(join(skip, path)), sha, path);
  });

  it('a second push of the same objects sends no PUT', async () => {
    const before = puts();
    await sandbox.git('work', ['lfs', 'push', '--all', 'origin']);
    await sandbox.git('work', ['push', '-q', 'origin', 'main:copy']);
    assert.equal(puts(), before);
    const batches = server.logs.filter((l) => l.route === 'batch' && l.status === 200);
    assert.ok(batches.length > 0);
  });

  it('a push to another repository (a fork) uploads every object again, stored once; its clone is whole', async () => {
    const objectFile = (path: string) => {
      const oid = expected.get(path)!;
      return join(dataDir, 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
    };
    const inodes = async () =>
      Promise.all(['file-10485760.bin', 'small/f0.dat'].map(async (p) => (await stat(objectFile(p))).ino));
    const before = { puts: puts(), inodes: await inodes() };
    const withForkLfs = ['-c', `lfs.url=${server.url}/alice/fork.git/info/lfs`];
    const fork = join(sandbox.root, 'fork.git');
    await sandbox.git(sandbox.root, ['init', '--bare', '-q', fork]);
    // proof of possession: the fork gets no object it was not sent, so every one is uploaded
    await sandbox.git('work', [...withForkLfs, 'push', '-q', fork, 'main']);
    assert.equal(puts() - before.puts, LARGE_SIZES.length + SMALL_FILES);
    assert.ok(server.logs.filter((l) => l.method === 'PUT').every((l) => l.status === 200));
    assert.deepEqual(await inodes(), before.inodes, 'content already stored is not written again');
    await sandbox.git(sandbox.root, [...withForkLfs, 'clone', '-q', fork, 'fork-clone']);
    for (const [path, sha] of expected)
      assert.equal(await sha256File(join(sandbox.root, 'fork-clone', path)), sha, path);
  });
});
