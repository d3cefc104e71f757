/**
 * The lifecycle commands end to end (issue 14), with the real git-lfs client against a real
 * `lfsd serve`, on SQLite + disk, PostgreSQL + S3 (s3rver) and MariaDB + disk: usage, a quota
 * refusal seen in `git push`, fsck finding corrupt content, --repair then a re-push healing it (a
 * clone matches byte for byte), prune with a keep list, repo delete, gc; and bad input.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { DialectName } from '../../src/metadata/dialects.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { createGitSandbox, type GitSandbox } from '../helpers/git.js';
import { lfsdNodeArgs, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { s3rverClientConfig, startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { createTestDatabase, type TestDatabase } from '../metadata/test-databases.js';
import {
  cloneAndCompare,
  createWorkTree,
  writeRandomFile,
  type WorkTree,
} from '../scaleout/helpers/git-scenario.js';
import { metric, parseMetrics } from '../ops/ops-helpers.js';
import { S3RVER_ENV } from '../scaleout/helpers/s3-env.js';

const PASSWORD = 'correct horse battery';
const KB = 1024;
const PREFIX = 'lfs/';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Setup {
  name: string;
  dialect: DialectName;
  s3: boolean;
}

const SETUPS: Setup[] = [
  { name: 'SQLite + disk', dialect: 'sqlite', s3: false },
  { name: 'PostgreSQL + S3 (s3rver)', dialect: 'postgres', s3: true },
  { name: 'MariaDB + disk', dialect: 'mysql', s3: false },
];

for (const setup of SETUPS) {
  void describe(`lifecycle commands on ${setup.name}`, { timeout: 240_000 }, () => {
    let dataDir: string;
    let db: TestDatabase;
    let s3: S3rverHandle | undefined;
    let client: S3Client | undefined;
    let server: LfsdServer;
    let sandbox: GitSandbox;
    let tree: WorkTree;
    let lfsUrl: string;
    let settings: string[];
    let env: NodeJS.ProcessEnv;

    async function lfsd(args: string[], input = ''): Promise<Run> {
      const child = spawn(process.execPath, [...lfsdNodeArgs(), ...args, ...settings], {
        env: { ...process.env, ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdin.end(input);
      // 'close', not 'exit': the output may still be in the pipes when the child exits
      const [code] = (await once(child, 'close')) as [number | null];
      return { code, stdout, stderr };
    }

    async function ok(args: string[], input = ''): Promise<string> {
      const run = await lfsd(args, input);
      assert.equal(run.code, 0, `lfsd ${args.join(' ')}: ${run.stderr}`);
      return run.stdout;
    }

    async function json<T>(args: string[]): Promise<T> {
      return JSON.parse(await ok([...args, '--json'])) as T;
    }

    /** overwrite the stored content of `oid` with other bytes of the same size */
    async function corrupt(oid: string, size: number): Promise<void> {
      const bytes = randomBytes(size);
      if (client && s3) {
        const key = new S3Store({ bucket: s3.bucket, prefix: PREFIX, client }).keyFor(oid);
        await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: bytes }));
      } else {
        await writeFile(join(dataDir, 'objects', oid.slice(0, 2), oid.slice(2, 4), oid), bytes);
      }
    }

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'lfsd-lifecycle-e2e-'));
      db = await createTestDatabase(setup.dialect);
      settings = ['--data-dir', dataDir, '--database-url', db.url];
      env = {};
      if (setup.s3) {
        s3 = await startS3rver();
        client = new S3Client(s3rverClientConfig(s3.endpoint));
        // as an operator would: the storage settings in the environment, which every command reads
        env = {
          ...S3RVER_ENV,
          LFSD_STORAGE: 's3',
          LFSD_S3_BUCKET: s3.bucket,
          LFSD_S3_ENDPOINT: s3.endpoint,
          LFSD_S3_FORCE_PATH_STYLE: 'true',
          LFSD_S3_PREFIX: PREFIX,
        };
      }
      server = await startLfsd(settings, env);
      await ok(['user', 'add', 'alice', '--password-stdin'], `${PASSWORD}\n`);
      sandbox = await createGitSandbox({ username: 'alice', password: PASSWORD });
      lfsUrl = `${server.url}/alice/assets.git/info/lfs`;
      tree = await createWorkTree(
        sandbox,
        'work',
        [
          { path: 'a.bin', size: 200 * KB },
          { path: 'b.bin', size: 300 * KB },
          { path: 'old.bin', size: 50 * KB },
        ],
        lfsUrl,
      );
      await sandbox.git(tree.dir, ['push', '-q', 'origin', 'main']);
      // old.bin leaves HEAD: only history reaches it
      await sandbox.git(tree.dir, ['rm', '-q', 'old.bin']);
      await sandbox.git(tree.dir, ['commit', '-q', '-m', 'drop old.bin']);
      await sandbox.git(tree.dir, ['push', '-q', 'origin', 'main']);
      tree.expected.delete('old.bin');
    });

    after(async () => {
      await server?.stop();
      client?.destroy();
      await Promise.all([s3?.stop(), db?.drop(), sandbox?.cleanup()]);
      await rm(dataDir, { recursive: true, force: true });
    });

    void it('reports usage per repository and per user', async () => {
      type Usage = { repos: { path: string; objects: number; bytes: number }[]; total: { bytes: number } };
      const all = await json<Usage>(['usage']);
      assert.deepEqual(
        all.repos.map((r) => [r.path, r.objects, r.bytes]),
        [['alice/assets', 3, 550 * KB]],
      );
      assert.equal(all.total.bytes, 550 * KB);
      const mine = await json<Usage>(['usage', '--user', 'alice']);
      assert.equal(mine.repos.length, 1);
      const text = await ok(['usage', 'alice/assets']);
      assert.match(text, /alice\/assets\t3 objects\t550 KiB/);
    });

    void it('refuses a push past the quota with a 507 the client shows; lifting it lets the push through', async () => {
      await ok(['quota', 'set', 'alice/assets', '600KiB']);
      const bigSha = await writeRandomFile(join(tree.dir, 'big.bin'), 100 * KB);
      await sandbox.git(tree.dir, ['add', 'big.bin']);
      await sandbox.git(tree.dir, ['commit', '-q', '-m', 'big']);
      await assert.rejects(sandbox.git(tree.dir, ['push', '-q', 'origin', 'main']), (err: Error) => {
        assert.match(
          err.message,
          /Quota exceeded: repository alice\/assets may store 600 KiB and use 550 KiB/,
        );
        assert.match(err.message, /this object needs 100 KiB more/);
        return true;
      });
      const quotas = await json<{ name: string; quotaBytes: number }[]>(['quota', 'list']);
      assert.deepEqual(
        quotas.map((q) => [q.name, q.quotaBytes]),
        [['alice/assets', 600 * KB]],
      );
      await ok(['quota', 'set', 'alice/assets', 'none']);
      await sandbox.git(tree.dir, ['push', '-q', 'origin', 'main']);
      tree.expected.set('big.bin', bigSha);
    });

    void it('fsck finds corrupt content; --repair quarantines it and a re-push heals the repository', async () => {
      const bOid = (await sandbox.git(tree.dir, ['lfs', 'ls-files', '--long'])).stdout
        .split('\n')
        .find((l) => l.endsWith(' b.bin'))!
        .slice(0, 64);
      await corrupt(bOid, 300 * KB);
      const metricsFile = join(dataDir, 'fsck.prom');
      let run = await lfsd(['fsck', '--metrics-file', metricsFile]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stdout, new RegExp(`^${bOid}\tcorrupt\talice/assets$`, 'm'));
      // the textfile for node_exporter says what the run found
      const fsckSamples = parseMetrics(await readFile(metricsFile, 'utf8'));
      assert.equal(metric(fsckSamples, 'lfsd_fsck_problem_objects'), 1);
      assert.equal(metric(fsckSamples, 'lfsd_fsck_checked_objects'), 4);
      assert.ok(metric(fsckSamples, 'lfsd_fsck_last_run_timestamp_seconds') > 0);
      run = await lfsd(['fsck', 'alice/assets', '--repair', '--json']);
      assert.equal(run.code, 1);
      const report = JSON.parse(run.stdout) as { repaired: number; problems: { quarantined?: string }[] };
      assert.equal(report.repaired, 1);
      assert.ok(report.problems[0]?.quarantined, 'moved aside, not deleted');
      if (!setup.s3) assert.equal((await readdir(join(dataDir, 'quarantine'))).length, 1);
      // the next push sends the bytes again: the upload batch asks for the broken object
      await sandbox.git(tree.dir, ['lfs', 'push', '--all', 'origin']);
      run = await lfsd(['fsck']);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      await cloneAndCompare(sandbox, tree, 'clone-after-repair', lfsUrl);
    });

    void it('prunes objects only history reached, after a dry run; a keep list that does not parse changes nothing', async () => {
      const listing = (await sandbox.git(tree.dir, ['lfs', 'ls-files', '--long'])).stdout;
      const keep = join(sandbox.root, 'keep.txt');
      await writeFile(keep, 'not an oid * a.bin\n');
      let run = await lfsd(['repo', 'prune', 'alice/assets', '--keep', keep]);
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, /keep list line 1/);
      await writeFile(keep, '');
      run = await lfsd(['repo', 'prune', 'alice/assets', '--keep', keep]);
      assert.match(run.stderr, /names no object/);
      assert.equal((await json<{ repos: { objects: number }[] }>(['usage'])).repos[0]?.objects, 4);

      const dry = await lfsd(['repo', 'prune', 'alice/assets', '--keep', '-', '--dry-run'], listing);
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(dry.stdout.trim().split('\n').length, 1, 'old.bin alone');
      assert.equal((await json<{ repos: { objects: number }[] }>(['usage'])).repos[0]?.objects, 4);
      await ok(['repo', 'prune', 'alice/assets', '--keep', '-'], listing);
      assert.equal((await json<{ repos: { objects: number }[] }>(['usage'])).repos[0]?.objects, 3);

      // gc with the default grace keeps what was just unlinked; with none it goes
      let gc = await json<{ deleted: { objects: number } }>(['gc']);
      assert.equal(gc.deleted.objects, 0);
      gc = await json<{ deleted: { objects: number } }>(['gc', '--grace', '0']);
      assert.ok(gc.deleted.objects >= 1);
      await cloneAndCompare(sandbox, tree, 'clone-after-gc', lfsUrl);
    });

    void it('rejects bad input with a clear message', async () => {
      let run = await lfsd(['quota', 'set', 'alice/assets', '10XB']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /invalid size "10XB"/);
      run = await lfsd(['usage', 'nobody/here']);
      assert.match(run.stderr, /no repository nobody\/here/);
      run = await lfsd(['usage', '--user', 'nobody']);
      assert.match(run.stderr, /no user named nobody/);
      run = await lfsd(['quota', 'set', 'nobody', '1GiB']);
      assert.match(run.stderr, /no user or repository named nobody/);
      run = await lfsd(['gc', '--grace', '-1h']);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /invalid grace period "-1h"/);
      run = await lfsd(['repo', 'delete', 'alice/assets']);
      assert.match(run.stderr, /confirm with --yes/);
    });

    void it('deletes the repository, and gc then deletes its content', async () => {
      const deleted = await json<{ objects: number }>(['repo', 'delete', 'alice/assets', '--yes']);
      assert.equal(deleted.objects, 3);
      assert.deepEqual((await json<{ repos: unknown[] }>(['usage'])).repos, []);
      const metricsFile = join(dataDir, 'gc.prom');
      const gc = await json<{ deleted: { objects: number; bytes: number } }>([
        'gc',
        '--grace',
        '0',
        '--metrics-file',
        metricsFile,
      ]);
      assert.equal(gc.deleted.objects, 3);
      const gcSamples = parseMetrics(await readFile(metricsFile, 'utf8'));
      assert.equal(metric(gcSamples, 'lfsd_gc_deleted_objects'), 3);
      assert.equal(metric(gcSamples, 'lfsd_gc_deleted_bytes'), gc.deleted.bytes);
      assert.ok(gc.deleted.bytes > 0);
      const dry = await json<{ deleted: { objects: number } }>(['gc', '--grace', '0', '--dry-run']);
      assert.equal(dry.deleted.objects, 0, 'nothing left');
    });
  });
}
