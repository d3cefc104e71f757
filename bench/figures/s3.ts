/**
 * Figure 7, only with LFSD_BENCH_S3=1: lfsd in proxy mode over an S3 store (s3rver, started by
 * test/helpers/s3rver.ts) against the AWS SDK writing (lib-storage Upload) the same bytes to the
 * same bucket directly, and reading them back with a GET of a presigned GetObject URL through the
 * same HTTP client as the lfsd side (the SDK's own stream reader would compare clients, not
 * servers). Skipped with a note unless LFSD_BENCH_S3=1.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { paired, type Bench } from '../lib/context.js';
import { generatedObject, generatedStream } from '../lib/data.js';
import { checkedGet, LfsClient } from '../lib/lfs-client.js';
import { PASSWORD, USER, prepareDataDir, startServe } from '../lib/lfsd.js';
import { addRow } from '../lib/report.js';
import { s3rverClientConfig, s3ServeArgs, startS3rver } from '../../test/helpers/s3rver.js';
import { S3RVER_ENV } from '../../test/scaleout/helpers/s3-env.js';
import { mbPerSecond, sizeLabel, summarize } from '../lib/stats.js';
import { cpuMs, minorFaults } from '../../test/helpers/rss.js';
import { S3Store } from '../../src/storage/s3-store.js';

export async function s3Figure(bench: Bench): Promise<void> {
  const { config, report } = bench;
  if (process.env.LFSD_BENCH_S3 !== '1') {
    report.notes.push('Figure 7 (S3) not run: set LFSD_BENCH_S3=1 to measure proxy mode over s3rver.');
    return;
  }
  const s3 = await startS3rver({ bucket: 'lfsd-bench' });
  try {
    const dataDir = join(bench.root, 's3-data');
    await prepareDataDir(dataDir);
    const server = await startServe(dataDir, {
      nodeArgs: config.serverNodeArgs,
      extraArgs: s3ServeArgs(s3),
      env: { ...S3RVER_ENV, AWS_REGION: 'us-east-1' },
    });
    try {
      await measureS3(bench, server, s3.endpoint, s3.bucket);
    } finally {
      await server.stop();
    }
  } finally {
    await s3.stop();
  }
}

async function measureS3(
  bench: Bench,
  server: { url: string; pid: number },
  endpoint: string,
  bucket: string,
): Promise<void> {
  const { config, report } = bench;
  const { S3Client, GetObjectCommand, DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  const { Upload } = await import('@aws-sdk/lib-storage');
  const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
  const sdk = new S3Client(s3rverClientConfig(endpoint));
  try {
    const object = generatedObject(300, config.s3.size);
    const label = sizeLabel(object.size);
    const key = `bench-sdk/${object.oid}`;
    // where lfsd (no prefix) keeps the object
    const lfsdKey = new S3Store({ bucket, client: sdk }).keyFor(object.oid);
    const repoUrl = (run: number) => `${server.url}/${USER}/s3-${run}.git/info/lfs`;
    const timed = async (fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      await fn();
      return mbPerSecond(object.size, performance.now() - t0);
    };
    const lfsdUpload = (repo: string) =>
      timed(async () => {
        const client = new LfsClient(`${server.url}/${USER}/${repo}.git/info/lfs`, USER, PASSWORD);
        if (!(await client.upload(object, () => generatedStream(object)))) {
          throw new Error('lfsd did not ask for the bytes of a new repository');
        }
      });
    const sdkUpload = () =>
      timed(() =>
        new Upload({
          client: sdk,
          params: { Bucket: bucket, Key: key, Body: generatedStream(object) },
        }).done(),
      );
    bench.log(`figure 7: S3 proxy upload/download of ${label}, ${config.runs} runs`);
    const uploads = await paired(
      config.runs,
      // a fresh repository per run: lfsd asks for the bytes again (proof of possession); the
      // content goes from the bucket first, so that lfsd writes it every run (src/storage/s3-store.ts
      // does not write again what S3 holds)
      async (run) => {
        await sdk.send(new DeleteObjectCommand({ Bucket: bucket, Key: lfsdKey }));
        return lfsdUpload(`s3-${run}`);
      },
      sdkUpload,
    );
    // the same content to new repositories while S3 holds it (a fork): lfsd reads and checks the
    // bytes and writes nothing; the baseline uploads as before
    const storedUploads = await paired(config.runs, (run) => lfsdUpload(`s3-fork-${run}`), sdkUpload);
    // lfsd's minor page faults per MB proxied (src/storage/malloc-trim.ts: 270-360 before its fix)
    // and its CPU time per GB, steadier than the rate on a shared machine
    const faultsPerMB: number[] = [];
    const cpuPerGB: number[] = [];
    const downloads = await paired(
      config.runs,
      async (run) => {
        const faults0 = minorFaults(server.pid);
        const cpu0 = cpuMs(server.pid);
        const rate = await timed(() =>
          new LfsClient(repoUrl(run), USER, PASSWORD).download(object, { expect: object.size }),
        );
        cpuPerGB.push((cpuMs(server.pid) - cpu0) / (object.size / 1e9));
        faultsPerMB.push((minorFaults(server.pid) - faults0) / (object.size / 1e6));
        return rate;
      },
      () =>
        timed(async () => {
          const url = await getSignedUrl(sdk, new GetObjectCommand({ Bucket: bucket, Key: key }));
          await checkedGet(url, {}, { expect: object.size });
        }),
    );
    const baseline = 'AWS SDK direct (Upload / presigned GetObject), same bucket';
    addRow(report, {
      figure: '7',
      measure: `S3 proxy upload ${label}`,
      unit: 'MB/s',
      better: 'higher',
      lfsd: summarize(uploads.a),
      baseline: { label: baseline, summary: summarize(uploads.b) },
    });
    addRow(report, {
      figure: '7',
      measure: `S3 proxy upload ${label} to a new repository, content S3 already holds (a fork)`,
      unit: 'MB/s',
      better: 'higher',
      lfsd: summarize(storedUploads.a),
      baseline: { label: baseline, summary: summarize(storedUploads.b) },
    });
    addRow(report, {
      figure: '7',
      measure: `S3 proxy download ${label}`,
      unit: 'MB/s',
      better: 'higher',
      lfsd: summarize(downloads.a),
      baseline: { label: baseline, summary: summarize(downloads.b) },
    });
    addRow(report, {
      figure: '7',
      measure: `lfsd CPU time per GB, S3 proxy download ${label}`,
      unit: 'ms/GB',
      better: 'lower',
      lfsd: summarize(cpuPerGB),
    });
    addRow(report, {
      figure: '7',
      measure: `lfsd minor page faults per MB, S3 proxy download ${label}`,
      unit: 'faults/MB',
      better: 'lower',
      lfsd: summarize(faultsPerMB),
    });
    report.notes.push('Figure 7: S3 is s3rver (a Node test double) on loopback; it bounds both sides.');
  } finally {
    sdk.destroy();
  }
}
