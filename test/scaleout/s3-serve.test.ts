/**
 * `lfsd serve --storage s3` end to end with the real git-lfs client against s3rver (issue 5), in
 * both transfer modes: `proxy` (bytes through lfsd, multipart uploads to S3) and `direct` (the
 * client PUTs to presigned staging URLs and GETs presigned URLs; lfsd answers batch and verify).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '../../src/storage/s3-store.js';
import { createGitSandbox, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { s3rverClientConfig, startS3rver, type S3rverHandle, s3ServeArgs } from '../helpers/s3rver.js';
import { cloneAndCompare, createWorkTree, lfsFiles, type WorkTree } from './helpers/git-scenario.js';
import { S3RVER_ENV } from './helpers/s3-env.js';

const MB = 1024 * 1024;
const PREFIX = 'lfs/';
/** 12 MB + 3 goes to S3 in three multipart parts through lfsd (proxy) */
const FILES = lfsFiles([1, 1000, 12 * MB + 3], 20);

for (const mode of ['proxy', 'direct'] as const) {
  void describe(
    `lfsd serve --storage s3 --transfer-mode ${mode} with the git-lfs client`,
    { timeout: 300_000 },
    () => {
      let s3: S3rverHandle;
      let server: LfsdServer;
      let sandbox: GitSandbox;
      let dataDir: string;
      let tree: WorkTree;
      let client: S3Client;
      let bucket: S3Store;

      before(async () => {
        s3 = await startS3rver();
        client = new S3Client(s3rverClientConfig(s3.endpoint));
        bucket = new S3Store({ bucket: s3.bucket, prefix: PREFIX, client });
        sandbox = await createGitSandbox({ username: 'alice', password: 'correct horse battery' });
        dataDir = await mkdtemp(join(tmpdir(), 'lfsd-s3-serve-'));
        await lfsdAdmin(['user', 'add', 'alice', '--password-stdin', '--data-dir', dataDir], {
          input: 'correct horse battery\n',
        });
        server = await startLfsd(
          ['--data-dir', dataDir, ...s3ServeArgs(s3, PREFIX), '--transfer-mode', mode],
          S3RVER_ENV,
        );
        tree = await createWorkTree(sandbox, 'work', FILES, `${server.url}/alice/assets.git/info/lfs`);
      });

      after(async () => {
        const code = await server?.stop();
        client?.destroy();
        await s3?.stop();
        await sandbox?.cleanup();
        if (dataDir) await rm(dataDir, { recursive: true, force: true });
        assert.equal(code, 0, 'lfsd exits 0 on SIGTERM');
      });

      const count = (method: string, route: string) =>
        server.logs.filter((l) => l.method === method && l.route === route).length;

      void it('pushes every object into the bucket', async () => {
        await sandbox.git(tree.dir, ['push', '-q', 'origin', 'main']);
        const stored = new Map<string, number>();
        for await (const { oid, size } of bucket.list()) stored.set(oid, size);
        for (const file of FILES)
          assert.equal(stored.get(tree.expected.get(file.path)!), file.size, file.path);
        assert.equal(stored.size, FILES.length);
        if (mode === 'proxy') {
          assert.equal(count('PUT', 'object'), FILES.length, 'every upload through lfsd');
        } else {
          assert.equal(count('PUT', 'object'), 0, 'no upload through lfsd');
          assert.equal(count('POST', 'verify'), FILES.length, 'one verify per object');
        }
        // nothing left half-done: no staged object, no incomplete multipart upload
        const staged = await client.send(
          new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${PREFIX}staging/` }),
        );
        assert.equal(staged.KeyCount ?? 0, 0);
        for await (const upload of bucket.incompleteUploads()) assert.fail(`incomplete upload ${upload.key}`);
      });

      void it('clones with every file intact', async () => {
        await cloneAndCompare(sandbox, tree, 'clone', `${server.url}/alice/assets.git/info/lfs`);
        if (mode === 'proxy') assert.equal(count('GET', 'object'), FILES.length);
        else assert.equal(count('GET', 'object'), 0, 'downloads straight from S3');
      });

      void it('a second push uploads nothing', async () => {
        const before = count('PUT', 'object') + count('POST', 'verify');
        await sandbox.git(tree.dir, ['lfs', 'push', '--all', 'origin']);
        assert.equal(count('PUT', 'object') + count('POST', 'verify'), before);
      });

      if (mode === 'proxy') {
        void it('a push to a new repository (a fork) uploads every object, and S3 is not written again', async () => {
          // s3rver keeps each object in a file of its own: a new write would be a new file
          const files = [...new Set(tree.expected.values())].map((oid) =>
            join(s3.directory, s3.bucket, `${bucket.keyFor(oid)}._S3rver_object`),
          );
          const before = await Promise.all(files.map((file) => stat(file)));
          const puts = count('PUT', 'object');
          const fork = `${server.url}/alice/fork.git/info/lfs`;
          await sandbox.git(tree.dir, ['-c', `lfs.url=${fork}`, 'lfs', 'push', '--all', 'origin']);
          // a request is logged when its response closes, which may come after git-lfs has exited
          const sent = () => count('PUT', 'object') - puts;
          for (let i = 0; i < 100 && sent() < files.length; i++) await sleep(50);
          assert.ok(sent() >= files.length, `proof of possession: every object sent (${sent()})`);
          const after = await Promise.all(files.map((file) => stat(file)));
          after.forEach((st, i) => {
            assert.equal(st.ino, before[i]!.ino, files[i]);
            assert.equal(st.mtimeMs, before[i]!.mtimeMs, files[i]);
          });
          await cloneAndCompare(sandbox, tree, 'clone-fork', fork);
        });
      }
    },
  );
}
