/**
 * Figure 5, memory: peak RSS of a fresh `lfsd serve` while `uploads` uploads and `downloads`
 * downloads of `size` bytes run at once, against its RSS when idle (after one warm-up request).
 * The peak is VmHWM after a reset (clear_refs) or, when the reset is refused, VmRSS sampled every
 * 20 ms. Then the settled footprint (issue 12, target 2): RSS once a server has rested
 * `settleMs` after one request and after those transfers, and `--workers 2` (the primary and its
 * workers summed) against one process.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Bench } from '../lib/context.js';
import { generatedObject, generatedStream, type GeneratedObject } from '../lib/data.js';
import { LfsClient } from '../lib/lfs-client.js';
import { PASSWORD, USER, prepareDataDir, removeStoredObject, startServe } from '../lib/lfsd.js';
import { addRow } from '../lib/report.js';
import {
  readRss,
  resetPeak,
  sampleRss,
  treeResidentParts,
  treeRss,
  type ResidentParts,
} from '../../test/helpers/rss.js';
import { sizeLabel, summarize } from '../lib/stats.js';

const REPO = `${USER}/memory`;
const IDLE_SETTLE_MS = 1000;
/** the target: under 64 MB (decimal, like every MB in this report) */
const TARGET_GROWTH_MB = 64;
/** issue 12's footprint targets: one process settled idle, and settled after transfers */
const TARGET_IDLE_MB = 64;
const TARGET_AFTER_TRANSFERS_MB = 96;
/** `--workers 2`, every process summed, against one process */
const TARGET_TWO_WORKERS_RATIO = 2.2;
const MB = 1e6;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function memoryFigure(bench: Bench): Promise<void> {
  const { size, uploads: nUp, downloads: nDown } = bench.config.memory;
  const dataDir = join(bench.root, 'memory-data');
  await prepareDataDir(dataDir);
  bench.log(`figure 5: hashing ${nUp + nDown} generated objects of ${sizeLabel(size)}`);
  const toUpload: GeneratedObject[] = [];
  const toDownload: GeneratedObject[] = [];
  for (let i = 0; i < nUp; i++) toUpload.push(generatedObject(100 + i, size));
  for (let i = 0; i < nDown; i++) toDownload.push(generatedObject(200 + i, size));

  // seed the objects to download through a first server, sequentially (not measured)
  {
    const server = await startServe(dataDir);
    try {
      const client = new LfsClient(`${server.url}/${REPO}.git/info/lfs`, USER, PASSWORD);
      for (const object of toDownload) await client.upload(object, () => generatedStream(object));
    } finally {
      await server.stop();
    }
  }

  await transfersFigure(bench, dataDir, toUpload, toDownload);
  await settledFigure(bench, dataDir, toUpload, toDownload);
}

async function transfersFigure(
  bench: Bench,
  dataDir: string,
  toUpload: GeneratedObject[],
  toDownload: GeneratedObject[],
): Promise<void> {
  const { config, report } = bench;
  const { size, runs } = config.memory;
  const [nUp, nDown] = [toUpload.length, toDownload.length];
  const idle: number[] = [];
  const peak: number[] = [];
  const growth: number[] = [];
  let peakBy = 'VmHWM after clear_refs';
  for (let run = 0; run < runs; run++) {
    bench.log(
      `figure 5: run ${run + 1}/${runs}: ${nUp} uploads + ${nDown} downloads of ${sizeLabel(size)} at once`,
    );
    for (const object of toUpload) await removeStoredObject(dataDir, object.oid);
    const server = await startServe(dataDir, { nodeArgs: config.serverNodeArgs });
    try {
      const pid = server.pid;
      const client = new LfsClient(`${server.url}/${REPO}.git/info/lfs`, USER, PASSWORD);
      await client.batch('download', toDownload.slice(0, 1)); // warm-up: password check, code paths
      await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
      const idleRss = readRss(pid).rss;
      if (!resetPeak(pid)) peakBy = 'VmRSS sampled every 20 ms (clear_refs refused)';
      const sampler = sampleRss(pid);
      await transferAll(client, toUpload, toDownload);
      const seen = sampler.stop();
      const peakRss = Math.max(seen.maxSampled, peakBy.startsWith('VmHWM') ? seen.hwm : 0);
      idle.push(idleRss / MB);
      peak.push(peakRss / MB);
      growth.push((peakRss - idleRss) / MB);
    } finally {
      await server.stop();
    }
  }
  const transfers = `${nUp} uploads + ${nDown} downloads of ${sizeLabel(size)} at once`;
  const row = addRow(report, {
    figure: '5',
    measure: `peak RSS growth over idle, ${transfers}`,
    unit: 'MB',
    better: 'lower',
    lfsd: summarize(growth),
  });
  row.target = { text: `growth < ${TARGET_GROWTH_MB} MB in every run`, met: row.lfsd.max < TARGET_GROWTH_MB };
  addRow(report, {
    figure: '5',
    measure: 'peak RSS during those transfers',
    unit: 'MB',
    better: 'lower',
    lfsd: summarize(peak),
  });
  addRow(report, {
    figure: '5',
    measure: 'idle RSS before them',
    unit: 'MB',
    better: 'lower',
    lfsd: summarize(idle),
  });
  report.notes.push(`Figure 5: a fresh \`lfsd serve\` per run; peak measured as ${peakBy}.`);
}

/** every upload and download at once; each upload must be asked for (its object was removed) */
async function transferAll(
  client: LfsClient,
  toUpload: GeneratedObject[],
  toDownload: GeneratedObject[],
): Promise<void> {
  await Promise.all([
    ...toUpload.map(async (object) => {
      if (!(await client.upload(object, () => generatedStream(object))))
        throw new Error('upload not requested');
    }),
    ...toDownload.map((object) => client.download(object, { expect: object.size })),
  ]);
}

interface Settled {
  /** RSS, every process of the server summed, MB */
  rss: number;
  /** the same pages split (MB): PSS, own (anonymous) and mapped files' */
  parts: ResidentParts;
}

/** one server's RSS (every process of it) once it has rested `settleMs` after `work` */
async function settledRss(
  bench: Bench,
  dataDir: string,
  extraArgs: string[],
  work: (client: LfsClient) => Promise<void>,
  env?: NodeJS.ProcessEnv,
): Promise<Settled> {
  const server = await startServe(dataDir, { nodeArgs: bench.config.serverNodeArgs, extraArgs, env });
  try {
    await work(new LfsClient(`${server.url}/${REPO}.git/info/lfs`, USER, PASSWORD));
    await sleep(bench.config.memory.settleMs);
    const parts = treeResidentParts(server.pid);
    return {
      rss: treeRss(server.pid) / MB,
      parts: { pss: parts.pss / MB, anon: parts.anon / MB, file: parts.file / MB },
    };
  } finally {
    await server.stop();
  }
}

/** a note on what a settled footprint is made of */
function partsNote(label: string, { rss, parts }: Settled): string {
  return (
    `${label}: RSS ${rss.toFixed(1)} MB = ${parts.anon.toFixed(1)} MB own (anonymous: heaps, buffers) + ` +
    `${parts.file.toFixed(1)} MB of mapped files (Node's executable and libraries, shared by every Node ` +
    `process); PSS ${parts.pss.toFixed(1)} MB`
  );
}

async function settledFigure(
  bench: Bench,
  dataDir: string,
  toUpload: GeneratedObject[],
  toDownload: GeneratedObject[],
): Promise<void> {
  const { config, report } = bench;
  const settle = `${config.memory.settleMs / 1000} s`;
  const oneRequest = async (client: LfsClient) => {
    await client.batch('download', toDownload.slice(0, 1));
  };
  bench.log(`figure 5: settled RSS, ${settle} after one request, 1 and 2 workers`);
  const idleParts = await settledRss(bench, dataDir, [], oneRequest);
  const idle = idleParts.rss;
  const idleRow = addRow(report, {
    figure: '5',
    measure: `idle RSS of one process, ${settle} after one request`,
    unit: 'MB',
    better: 'lower',
    lfsd: summarize([idle]),
  });
  idleRow.target = { text: `<= ${TARGET_IDLE_MB} MB`, met: idle <= TARGET_IDLE_MB };

  const twoParts = await settledRss(bench, dataDir, ['--workers', '2'], oneRequest);
  const two = twoParts.rss;
  const twoRow = addRow(report, {
    figure: '5',
    measure: `idle RSS of --workers 2 (primary + workers), ${settle} after one request`,
    unit: 'MB',
    better: 'lower',
    lfsd: summarize([two]),
    baseline: { label: 'one process', summary: summarize([idle]) },
  });
  const ratio = two / idle;
  twoRow.target = {
    text: `<= ${TARGET_TWO_WORKERS_RATIO} x one process`,
    met: ratio <= TARGET_TWO_WORKERS_RATIO,
  };

  // RSS counts the pages of Node's executable in every process; PSS splits shared pages among
  // the processes that map them, so it sums to what the cluster really takes
  addRow(report, {
    figure: '5',
    measure: `idle PSS of --workers 2 (primary + workers), ${settle} after one request`,
    unit: 'MB',
    better: 'lower',
    lfsd: summarize([twoParts.parts.pss]),
    baseline: { label: 'one process', summary: summarize([idleParts.parts.pss]) },
  });
  report.notes.push(partsNote('Figure 5, one process at rest', idleParts));
  report.notes.push(
    partsNote('Figure 5, --workers 2 at rest (2 processes, the primary serving too)', twoParts),
  );

  bench.log(`figure 5: settled RSS, ${settle} after the transfers`);
  for (const object of toUpload) await removeStoredObject(dataDir, object.oid);
  const afterParts = await settledRss(bench, dataDir, [], (client) =>
    transferAll(client, toUpload, toDownload),
  );
  const after = afterParts.rss;
  report.notes.push(partsNote('Figure 5, one process after the transfers', afterParts));
  const afterRow = addRow(report, {
    figure: '5',
    measure: `RSS of one process, ${settle} after those transfers`,
    unit: 'MB',
    better: 'lower',
    lfsd: summarize([after]),
  });
  afterRow.target = { text: `<= ${TARGET_AFTER_TRANSFERS_MB} MB`, met: after <= TARGET_AFTER_TRANSFERS_MB };

  // glibc's malloc keeps the memory of the uploads' freed socket buffers; jemalloc gives it back.
  // deploy/Dockerfile runs lfsd with it preloaded: the same two measures, as the image runs them
  const jemalloc = jemallocLibrary();
  if (!jemalloc) {
    report.notes.push('Figure 5: no libjemalloc.so.2 here (apt-get install libjemalloc2): its rows skipped.');
    return;
  }
  bench.log(
    `figure 5: the same with jemalloc (LD_PRELOAD=${jemalloc} MALLOC_CONF=${JEMALLOC_CONF}, as deploy/Dockerfile)`,
  );
  const withJemalloc = { LD_PRELOAD: jemalloc, MALLOC_CONF: JEMALLOC_CONF };
  const idleJemalloc = await settledRss(bench, dataDir, [], oneRequest, withJemalloc);
  addRow(report, {
    figure: '5',
    measure: `idle RSS of one process, ${settle} after one request, jemalloc (as deploy/Dockerfile)`,
    unit: 'MB',
    better: 'lower',
    lfsd: summarize([idleJemalloc.rss]),
    baseline: { label: 'glibc malloc', summary: summarize([idle]) },
  }).target = { text: `<= ${TARGET_IDLE_MB} MB`, met: idleJemalloc.rss <= TARGET_IDLE_MB };
  for (const object of toUpload) await removeStoredObject(dataDir, object.oid);
  const afterJemalloc = await settledRss(
    bench,
    dataDir,
    [],
    (client) => transferAll(client, toUpload, toDownload),
    withJemalloc,
  );
  report.notes.push(partsNote('Figure 5, one process after the transfers, jemalloc', afterJemalloc));
  addRow(report, {
    figure: '5',
    measure: `RSS of one process, ${settle} after those transfers, jemalloc (as deploy/Dockerfile)`,
    unit: 'MB',
    better: 'lower',
    lfsd: summarize([afterJemalloc.rss]),
    baseline: { label: 'glibc malloc', summary: summarize([after]) },
  }).target = {
    text: `<= ${TARGET_AFTER_TRANSFERS_MB} MB`,
    met: afterJemalloc.rss <= TARGET_AFTER_TRANSFERS_MB,
  };
}

/**
 * jemalloc's settings in deploy/Dockerfile: a background thread returns freed pages after their
 * decay time even when the process has gone idle (without it, only a later allocation does, and
 * an idle lfsd makes none: 101-114 MB 40 s after the transfers, against 72-75 with it)
 */
const JEMALLOC_CONF = 'background_thread:true';

/** Debian's libjemalloc2 for this machine's architecture, if installed */
function jemallocLibrary(): string | undefined {
  const triplet = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch as string];
  const path = triplet && `/usr/lib/${triplet}/libjemalloc.so.2`;
  return path && existsSync(path) ? path : undefined;
}
