/**
 * Stateless replicas (issue 5): three `lfsd serve` processes on their own loopback ports share one
 * database (a PostgreSQL or MariaDB database the test creates and drops), one s3rver bucket and one
 * LFSD_SECRET, behind a TCP load balancer whose address is their common `--public-url`. The real
 * git-lfs client pushes through one replica and clones through another; lock creates race across
 * all three; a replica is killed with SIGKILL in the middle of an upload.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import type { DialectName } from '../../src/metadata/dialects.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { LFS_JSON } from '../helpers/content.js';
import { createGitSandbox, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { s3rverClientConfig, startS3rver, type S3rverHandle, s3ServeArgs } from '../helpers/s3rver.js';
import { basicAuth } from '../helpers/test-app.js';
import { createTestDatabase, type TestDatabase } from '../metadata/test-databases.js';
import {
  cloneAndCompare,
  createWorkTree,
  lfsFiles,
  writeRandomFile,
  type WorkTree,
} from './helpers/git-scenario.js';
import { startTcpBalancer, type TcpBalancer } from './helpers/tcp-balancer.js';
import { S3RVER_ENV } from './helpers/s3-env.js';

const MB = 1024 * 1024;
const PREFIX = 'lfs/';
const REPLICAS = 3;
const PASSWORD = 'correct horse battery';
const FILES = lfsFiles([1, 7 * MB + 5, 20 * MB], 30);
/** big enough that the kill lands mid-upload: lfsd has sent parts to S3 but not completed */
const KILL_FILE_SIZE = 48 * MB;
const KILL_AFTER_BYTES = 16 * MB;

interface Replica {
  name: string;
  server: LfsdServer;
  /** its own `http://127.0.0.1:port`, bypassing the balancer */
  url: string;
  killed: boolean;
}

function scenario(dialect: DialectName) {
  void describe(
    `${REPLICAS} replicas sharing ${dialect}, one s3rver bucket and LFSD_SECRET`,
    { timeout: 600_000 },
    () => {
      let s3: S3rverHandle;
      let db: TestDatabase;
      let lb: TcpBalancer;
      let sandbox: GitSandbox;
      let client: S3Client;
      let bucket: S3Store;
      let tree: WorkTree;
      const replicas: Replica[] = [];
      const dataDirs: string[] = [];
      let lfsUrl: string;

      before(async () => {
        [s3, db, lb] = await Promise.all([startS3rver(), createTestDatabase(dialect), startTcpBalancer()]);
        client = new S3Client(s3rverClientConfig(s3.endpoint));
        bucket = new S3Store({ bucket: s3.bucket, prefix: PREFIX, client });
        const env = { ...S3RVER_ENV, LFSD_SECRET: randomBytes(32).toString('hex') };
        const args = [
          '--database-url',
          db.url,
          ...s3ServeArgs(s3, PREFIX),
          '--public-url',
          lb.url,
          '--transfer-mode',
          'proxy',
        ];
        for (let i = 0; i < REPLICAS; i++) dataDirs.push(await mkdtemp(join(tmpdir(), `lfsd-replica${i}-`)));
        // started together on an empty database: their migrations race for the migration lock
        const servers = await Promise.all(
          dataDirs.map((dir) => startLfsd([...args, '--data-dir', dir], env)),
        );
        servers.forEach((server, i) => {
          const listen = server.logs.find((l) => l.msg === 'lfsd listening')?.listen as string;
          assert.equal(server.url, lb.url, 'hrefs name the load balancer');
          replicas.push({ name: `r${i}`, server, url: `http://${listen}`, killed: false });
          lb.add(`r${i}`, listen);
        });
        await lfsdAdmin(['user', 'add', 'alice', '--password-stdin', '--database-url', db.url], {
          input: `${PASSWORD}\n`,
        });
        sandbox = await createGitSandbox({ username: 'alice', password: PASSWORD });
        lfsUrl = `${lb.url}/alice/assets.git/info/lfs`;
        tree = await createWorkTree(sandbox, 'work', FILES, lfsUrl);
      });

      after(async () => {
        const codes = await Promise.all(replicas.filter((r) => !r.killed).map((r) => r.server.stop()));
        await lb?.close();
        client?.destroy();
        await Promise.all([s3?.stop(), db?.drop(), sandbox?.cleanup()]);
        await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
        assert.deepEqual(
          codes.filter((c) => c !== 0),
          [],
          'replicas exit 0 on SIGTERM',
        );
      });

      const count = (replica: Replica, method: string, route: string, status?: number) =>
        replica.server.logs.filter(
          (l) => l.method === method && l.route === route && (status === undefined || l.status === status),
        ).length;

      void it('pushes through one replica and clones through another', async () => {
        const [r0, r1, r2] = replicas as [Replica, Replica, Replica];
        lb.pin('r0');
        await sandbox.git(tree.dir, ['push', '-q', 'origin', 'main']);
        assert.equal(count(r0, 'PUT', 'object', 200), FILES.length, 'every upload went to r0');
        assert.equal(count(r1, 'PUT', 'object') + count(r2, 'PUT', 'object'), 0);

        lb.pin('r1');
        await cloneAndCompare(sandbox, tree, 'clone-r1', lfsUrl);
        assert.equal(count(r1, 'GET', 'object', 200), FILES.length, 'every download came from r1');
        assert.equal(count(r0, 'GET', 'object') + count(r2, 'GET', 'object'), 0);
        assert.ok(count(r1, 'POST', 'batch', 200) > 0);
      });

      void it('40 racing lock creates spread over the replicas yield exactly one 201', async () => {
        const authorization = basicAuth('alice', PASSWORD);
        const create = async (i: number) => {
          const replica = replicas[i % REPLICAS]!;
          const res = await fetch(`${replica.url}/alice/assets.git/info/lfs/locks`, {
            method: 'POST',
            headers: { accept: LFS_JSON, 'content-type': LFS_JSON, authorization },
            body: JSON.stringify({ path: 'levels/race.umap', ref: { name: 'refs/heads/main' } }),
          });
          return { status: res.status, body: (await res.json()) as { lock?: { id: string } } };
        };
        const results = await Promise.all(Array.from({ length: 40 }, (_, i) => create(i)));
        const statuses = results.map((r) => r.status);
        assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses.join(',')}`);
        assert.equal(statuses.filter((s) => s === 409).length, 39, `statuses: ${statuses.join(',')}`);
        const winner = results.find((r) => r.status === 201)!.body.lock!.id;
        // every loser was told about the winning lock, and every replica lists exactly that one
        for (const r of results) assert.equal(r.body.lock?.id, winner);
        for (const replica of replicas) {
          const res = await fetch(`${replica.url}/alice/assets.git/info/lfs/locks?path=levels/race.umap`, {
            headers: { accept: LFS_JSON, authorization },
          });
          const { locks } = (await res.json()) as { locks: { id: string }[] };
          assert.deepEqual(
            locks.map((l) => l.id),
            [winner],
            replica.name,
          );
        }
      });

      void it('a replica killed with SIGKILL mid-upload leaves no visible object; the retry through another succeeds', async (t) => {
        const victim = replicas[2]!;
        const oid = await writeRandomFile(join(tree.dir, 'killed.bin'), KILL_FILE_SIZE);
        await sandbox.git(tree.dir, ['add', 'killed.bin']);
        await sandbox.git(tree.dir, ['commit', '-q', '-m', 'one more']);
        tree.expected.set('killed.bin', oid);

        lb.pin(victim.name);
        let killed!: () => void;
        const killedAt = new Promise<void>((resolve) => (killed = resolve));
        lb.onUpstream = ({ backend, total, pause }) => {
          if (backend.name !== victim.name || total < KILL_AFTER_BYTES || victim.killed) return;
          // stop the bytes, hold new connections so the state can be checked, then kill
          pause();
          lb.hold();
          lb.pin(undefined);
          victim.killed = true;
          lb.backends.find((b) => b.name === victim.name)!.alive = false;
          victim.server.process.kill('SIGKILL');
          killed();
        };
        const push = sandbox.git(tree.dir, ['push', '-q', 'origin', 'main']);
        try {
          await killedAt;
          const [, signal] = (await once(victim.server.process, 'exit')) as [number | null, string | null];
          assert.equal(signal, 'SIGKILL');
          lb.onUpstream = undefined;

          // nothing visible: not in the bucket, not linked in the database
          assert.equal(await bucket.stat(oid), undefined, 'no object in the bucket');
          for await (const stored of bucket.list()) assert.notEqual(stored.oid, oid);
          const res = await fetch(`${replicas[0]!.url}/alice/assets.git/info/lfs/objects/batch`, {
            method: 'POST',
            headers: {
              accept: LFS_JSON,
              'content-type': LFS_JSON,
              authorization: basicAuth('alice', PASSWORD),
            },
            body: JSON.stringify({ operation: 'download', objects: [{ oid, size: KILL_FILE_SIZE }] }),
          });
          const { objects } = (await res.json()) as { objects: { error?: { code: number } }[] };
          assert.equal(objects[0]?.error?.code, 404, 'not linked to the repository');
          // at most an incomplete multipart upload of the dead replica remains: the bucket's
          // lifecycle rule aborts those (README "Production deployment")
          const incomplete: string[] = [];
          for await (const upload of bucket.incompleteUploads()) incomplete.push(upload.key);
          assert.ok(
            incomplete.every((key) => key === bucket.keyFor(oid)),
            incomplete.join(', '),
          );
          t.diagnostic(`incomplete multipart uploads after the kill: ${incomplete.length}`);
        } finally {
          lb.onUpstream = undefined;
          lb.release();
        }
        await push;
        assert.deepEqual(await bucket.stat(oid), { size: KILL_FILE_SIZE });
        const retried = replicas.slice(0, 2).reduce((n, r) => n + count(r, 'PUT', 'object', 200), 0);
        assert.equal(retried, FILES.length + 1, 'the retried upload went through a live replica');

        await cloneAndCompare(sandbox, tree, 'clone-after-kill', lfsUrl);
      });

      void it('keeps nothing on local disk: every data dir is still empty', async () => {
        for (const dir of dataDirs) assert.deepEqual(await readdir(dir), [], dir);
      });
    },
  );
}

scenario('postgres');
scenario('mysql');
