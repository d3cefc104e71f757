/**
 * Figures 1-3 on one object of `bigSize` bytes:
 *   1. upload through batch + PUT            vs  a raw write of the same bytes to the same disk,
 *                                                fsync at the end
 *   2. download through batch + GET          vs  the static server (nginx sendfile) on the same file
 *   3. Range GET of the last `rangeSize`     vs  the same Range from the static server
 */
import { createHash } from 'node:crypto';
import fs, { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { paired, type Bench } from '../lib/context.js';
import type { GeneratedObject } from '../lib/data.js';
import { LfsClient, checkedGet } from '../lib/lfs-client.js';
import { PASSWORD, USER, removeStoredObject, type ServeProcess } from '../lib/lfsd.js';
import { addRow } from '../lib/report.js';
import { cpuMs } from '../../test/helpers/rss.js';
import { startStaticServer } from '../lib/static-server.js';
import { mbPerSecond, sizeLabel, summarize } from '../lib/stats.js';

const READ_CHUNK = 1024 * 1024;

interface Sample {
  mbs: number;
  /** CPU time of the serving process per GB moved, ms (undefined without a server) */
  cpuPerGB?: number;
}

/** Wall time of `fn` as MB/s of `bytes`, and the CPU the process `pid` spent meanwhile. */
async function measure(bytes: number, pid: number | undefined, fn: () => Promise<unknown>): Promise<Sample> {
  const cpu0 = pid === undefined ? 0 : cpuMs(pid);
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const sample: Sample = { mbs: mbPerSecond(bytes, ms) };
  if (pid !== undefined) sample.cpuPerGB = (cpuMs(pid) - cpu0) / (bytes / 1e9);
  return sample;
}

const mbs = (samples: Sample[]) => summarize(samples.map((s) => s.mbs));
const cpu = (samples: Sample[]) => summarize(samples.map((s) => s.cpuPerGB ?? NaN));

/** The disk baseline: copy the (page-cached) source file to the same file system, then fsync. */
async function rawWrite(source: string, target: string): Promise<void> {
  // a numeric fd: a FileHandle lent to a stream with autoClose off can never be closed
  const fd = await promisify(fs.open)(target, 'w');
  try {
    await pipeline(
      fs.createReadStream(source, { highWaterMark: READ_CHUNK }),
      fs.createWriteStream('', { fd, autoClose: false, highWaterMark: READ_CHUNK }),
    );
    await promisify(fs.fsync)(fd);
  } finally {
    await promisify(fs.close)(fd);
  }
}

export async function transferFigures(
  bench: Bench,
  server: ServeProcess,
  dataDir: string,
  source: string,
  object: GeneratedObject,
): Promise<void> {
  const { config, report } = bench;
  const size = object.size;
  const client = new LfsClient(`${server.url}/${USER}/transfers.git/info/lfs`, USER, PASSWORD);
  const label = sizeLabel(size);

  // ---- 1. upload
  bench.log(`figure 1: upload ${label}, ${config.runs} runs`);
  const rawTarget = join(bench.root, 'raw-write.bin');
  // warm-up: the first password check (scrypt) and code paths; also leaves the object in place
  await client.upload(object, () => createReadStream(source, { highWaterMark: READ_CHUNK }));
  const upload = await paired(
    config.runs,
    async () => {
      await removeStoredObject(dataDir, object.oid);
      return measure(size, server.pid, async () => {
        const sent = await client.upload(object, () =>
          createReadStream(source, { highWaterMark: READ_CHUNK }),
        );
        if (!sent) throw new Error('the server did not ask for the bytes');
      });
    },
    async () => {
      const sample = await measure(size, undefined, () => rawWrite(source, rawTarget));
      await rm(rawTarget, { force: true });
      return sample;
    },
  );
  const uploadRow = addRow(report, {
    figure: '1',
    measure: `upload ${label}: batch + PUT`,
    unit: 'MB/s',
    better: 'higher',
    lfsd: mbs(upload.a),
    baseline: { label: 'raw write + fsync, same disk', summary: mbs(upload.b) },
  });
  uploadRow.target = { text: 'ratio >= 0.8', met: (uploadRow.ratio ?? 0) >= 0.8 };
  addRow(report, {
    figure: '1',
    measure: 'upload: lfsd server CPU time per GB',
    unit: 'ms/GB',
    better: 'lower',
    lfsd: cpu(upload.a),
  });

  // ---- 2. download, 3. range
  const statics = await startStaticServer(join(dataDir, 'objects'), { preferNode: config.preferNodeStatic });
  try {
    const staticUrl = `${statics.url}/${object.oid.slice(0, 2)}/${object.oid.slice(2, 4)}/${object.oid}`;
    // correctness once, untimed: both serve exactly the object's bytes
    for (const get of [
      (hash: ReturnType<typeof createHash>) => client.download(object, { expect: size, hash }),
      (hash: ReturnType<typeof createHash>) => checkedGet(staticUrl, {}, { expect: size, hash }),
    ]) {
      const hash = createHash('sha256');
      await get(hash);
      const digest = hash.digest('hex');
      if (digest !== object.oid)
        throw new Error(`download returned bytes hashing to ${digest}, not ${object.oid}`);
    }

    bench.log(`figure 2: download ${label} vs ${statics.kind}, ${config.runs} runs`);
    const download = await paired(
      config.runs,
      () => measure(size, server.pid, () => client.download(object, { expect: size })),
      () => measure(size, statics.pid, () => checkedGet(staticUrl, {}, { expect: size })),
    );
    const downloadRow = addRow(report, {
      figure: '2',
      measure: `download ${label}: batch + GET`,
      unit: 'MB/s',
      better: 'higher',
      lfsd: mbs(download.a),
      baseline: { label: statics.kind, summary: mbs(download.b) },
    });
    // the target is set against nginx's sendfile; a Node baseline says nothing about it
    if (statics.kind.startsWith('nginx')) {
      downloadRow.target = { text: 'ratio >= 0.8', met: (downloadRow.ratio ?? 0) >= 0.8 };
    }
    addRow(report, {
      figure: '2',
      measure: 'download: server CPU time per GB',
      unit: 'ms/GB',
      better: 'lower',
      lfsd: cpu(download.a),
      baseline: { label: statics.kind, summary: cpu(download.b) },
    });

    const rangeSize = Math.min(config.rangeSize, size);
    const range = `bytes=${size - rangeSize}-${size - 1}`;
    bench.log(`figure 3: Range ${range}, ${config.runs} runs`);
    const ranged = await paired(
      config.runs,
      () => measure(rangeSize, server.pid, () => client.download(object, { range, expect: rangeSize })),
      () => measure(rangeSize, statics.pid, () => checkedGet(staticUrl, {}, { range, expect: rangeSize })),
    );
    addRow(report, {
      figure: '3',
      measure: `Range: last ${sizeLabel(rangeSize)} of ${label}`,
      unit: 'MB/s',
      better: 'higher',
      lfsd: mbs(ranged.a),
      baseline: { label: statics.kind, summary: mbs(ranged.b) },
    });
    report.notes.push(`Figures 2-3: the download baseline is ${statics.kind}, serving the file lfsd stores.`);
  } finally {
    await statics.stop();
  }
}
