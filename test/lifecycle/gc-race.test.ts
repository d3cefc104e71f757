/**
 * gc is safe while replicas serve traffic (issue 14): two `lfsd serve` replicas share one
 * PostgreSQL database and one s3rver bucket; gc runs over and over with grace 0 while clients
 * upload, through both replicas, the very objects gc is sweeping (unlinked by a repository
 * deletion just before), retrying as git-lfs does on 503 + Retry-After. Afterwards every object a
 * repository links still has its content, byte for byte, and fsck finds nothing missing.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import { runFsck } from '../../src/lifecycle/fsck.js';
import { runGc, type GcReport } from '../../src/lifecycle/gc.js';
import type { MetadataStore } from '../../src/metadata/metadata-store.js';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { S3Store } from '../../src/storage/s3-store.js';
import { LFS_JSON, randomObject, type TestObject } from '../helpers/content.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { s3rverClientConfig, s3ServeArgs, startS3rver, type S3rverHandle } from '../helpers/s3rver.js';
import { basicAuth } from '../helpers/test-app.js';
import { createTestDatabase, type TestDatabase } from '../metadata/test-databases.js';
import { S3RVER_ENV } from '../scaleout/helpers/s3-env.js';

const PASSWORD = 'correct horse battery';
const PREFIX = 'lfs/';
const OBJECTS = 30;
const ROUNDS = 4;
const CLIENTS = 4;

interface Planned {
  oid: string;
  size: number;
  actions?: {
    upload?: { href: string; header: Record<string, string> };
    download?: { href: string; header: Record<string, string> };
  };
  error?: { code: number; message: string };
}

void describe(
  'gc with grace 0 racing uploads through two replicas (PostgreSQL + S3)',
  { timeout: 300_000 },
  () => {
    let s3: S3rverHandle;
    let db: TestDatabase;
    let client: S3Client;
    let store: S3Store;
    let metadata: MetadataStore;
    const servers: LfsdServer[] = [];
    const dataDirs: string[] = [];
    const auth = basicAuth('alice', PASSWORD);
    const objects: TestObject[] = Array.from({ length: OBJECTS }, (_, i) => randomObject(1000 + i * 97));

    before(async () => {
      [s3, db] = await Promise.all([startS3rver(), createTestDatabase('postgres')]);
      client = new S3Client(s3rverClientConfig(s3.endpoint));
      store = new S3Store({ bucket: s3.bucket, prefix: PREFIX, client });
      const env = { ...S3RVER_ENV, LFSD_SECRET: randomBytes(32).toString('hex') };
      for (let i = 0; i < 2; i++) dataDirs.push(await mkdtemp(join(tmpdir(), `lfsd-gc-race${i}-`)));
      for (const dir of dataDirs) {
        servers.push(
          await startLfsd(
            [
              '--database-url',
              db.url,
              ...s3ServeArgs(s3, PREFIX),
              '--data-dir',
              dir,
              '--transfer-mode',
              'proxy',
            ],
            env,
          ),
        );
      }
      await lfsdAdmin(['user', 'add', 'alice', '--password-stdin', '--database-url', db.url], {
        input: `${PASSWORD}\n`,
      });
      metadata = await openMetadataStore(db.url);
    });

    after(async () => {
      await Promise.all(servers.map((s) => s.stop()));
      await metadata?.close();
      client?.destroy();
      await Promise.all([s3?.stop(), db?.drop()]);
      await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
    });

    async function batch(server: LfsdServer, repo: string, operation: string, list: readonly TestObject[]) {
      const res = await fetch(`${server.url}/${repo}.git/info/lfs/objects/batch`, {
        method: 'POST',
        headers: { accept: LFS_JSON, 'content-type': LFS_JSON, authorization: auth },
        body: JSON.stringify({ operation, objects: list.map(({ oid, size }) => ({ oid, size })) }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      return ((await res.json()) as { objects: Planned[] }).objects;
    }

    /** upload `object` to `repo` as git-lfs would: batch, PUT if asked, and retry on 503 */
    async function push(server: LfsdServer, repo: string, object: TestObject): Promise<number> {
      let retries = 0;
      for (;;) {
        const [planned] = await batch(server, repo, 'upload', [object]);
        const upload = planned?.actions?.upload;
        if (!upload) {
          assert.equal(planned?.error, undefined);
          return retries;
        }
        const res = await fetch(upload.href, { method: 'PUT', headers: upload.header, body: object.content });
        await res.arrayBuffer();
        if (res.status === 200) return retries;
        if (res.status !== 503) {
          const errors = server.logs.filter((l) => typeof l.level === 'number' && l.level >= 50);
          assert.fail(`PUT answered ${res.status}: ${JSON.stringify(errors.slice(-3))}`);
        }
        assert.equal(res.headers.get('retry-after'), '1');
        retries++;
        await sleep(20);
      }
    }

    void it('never deletes the content of a linked object', async () => {
      const reports: GcReport[] = [];
      let retries = 0;
      for (let round = 0; round < ROUNDS; round++) {
        // the objects are stored and linked to one repository, which then goes: all unlinked
        const seed = `alice/seed${round}`;
        for (const object of objects) await push(servers[round % 2]!, seed, object);
        await lfsdAdmin(['repo', 'delete', seed, '--yes', '--database-url', db.url]);

        // gc sweeps them again and again while clients upload them to another repository
        const target = `alice/target${round}`;
        let uploading = true;
        const gcLoop = (async () => {
          while (uploading) reports.push(await runGc(metadata, store, { graceMs: 0 }));
        })();
        const work = Array.from({ length: CLIENTS }, async (_, c) => {
          for (let i = c; i < objects.length; i += CLIENTS) {
            retries += await push(servers[(i + round) % 2]!, target, objects[i]!);
          }
        });
        try {
          await Promise.all(work);
        } finally {
          uploading = false;
          await gcLoop;
        }
        reports.push(await runGc(metadata, store, { graceMs: 0 }));

        // every object the target links downloads with its exact bytes, through either replica
        const planned = await batch(servers[round % 2]!, target, 'download', objects);
        for (const [i, p] of planned.entries()) {
          const download = p.actions?.download;
          assert.ok(download, `object ${i} is linked to ${target}: ${JSON.stringify(p.error)}`);
          const res = await fetch(download.href, { headers: download.header });
          assert.equal(res.status, 200, `download of linked object ${i}`);
          const bytes = Buffer.from(await res.arrayBuffer());
          assert.equal(createHash('sha256').update(bytes).digest('hex'), objects[i]!.oid);
        }
        const fsck = await runFsck(metadata, store, {});
        assert.deepEqual(fsck.problems, []);
        await lfsdAdmin(['repo', 'delete', target, '--yes', '--database-url', db.url]);
      }
      const deleted = reports.reduce((sum, r) => sum + r.deleted.objects, 0);
      const rescued = reports.reduce((sum, r) => sum + r.rescued, 0);
      // gc did work during the race (what it deleted was uploaded again), or the uploads won the race
      assert.ok(deleted + rescued + retries > 0, 'gc and the uploads raced');
      console.log(
        `gc runs ${reports.length}, deleted ${deleted}, rescued ${rescued}, PUT retries ${retries}`,
      );
    });
  },
);
