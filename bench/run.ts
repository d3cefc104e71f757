/**
 * `npm run bench [-- options]`: lfsd's benchmark suite. Every figure is measured next to a baseline
 * on the same data in the same run (median, min and max of several runs; ratio = lfsd median /
 * baseline median), printed as a table and written to bench/results/<date>-<mode>.{json,md}.
 *
 * Options:
 *   --quick             smaller objects and 3 runs, under two minutes
 *   --runs N            runs per figure (default 5, quick 3; at least 3)
 *   --only 1,2,4        run only these figures (1-3, 6 and 14 share their setup; 7 needs LFSD_BENCH_S3=1;
 *                       14 needs nginx; 8 is sign-in cost; 10 fsck, 11 gc; 12 the web console's pages;
 *                       13 load: 64 clients under the limits, slowloris and idle connections;
 *                       15 git push/clone of small files and a large one over SSH vs HTTP)
 *   --node-static       baseline downloads from the minimal Node static server even if nginx exists
 *   --cpu-prof DIR      run the lfsd servers under `node --cpu-prof`, profiles written to DIR
 *   --small-files N     files in figure 6's small-file repository (default 2,000, quick 200)
 *   --keep              keep the temp directories
 */
import { performance } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { batchFigure } from './figures/batch.js';
import { gitFigure } from './figures/git.js';
import { loadFigure } from './figures/load.js';
import { fsckFigure, gcFigure } from './figures/lifecycle.js';
import { memoryFigure } from './figures/memory.js';
import { offloadFigure } from './figures/offload.js';
import { s3Figure } from './figures/s3.js';
import { signInFigure } from './figures/sign-in.js';
import { sshFigure } from './figures/ssh.js';
import { transferFigures } from './figures/transfers.js';
import { webFigure } from './figures/web.js';
import type { Bench, BenchConfig } from './lib/context.js';
import { writeGeneratedFile } from './lib/data.js';
import { prepareDataDir, startServe } from './lib/lfsd.js';
import { keepTempDirectories, makeTempDir, removeTempDirs } from './lib/processes.js';
import { machineInfo, toText, writeReport, type Report } from './lib/report.js';
import { GiB, MiB, sizeLabel } from './lib/stats.js';

const RESULTS_DIR = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './results/' : '../../bench/results/', import.meta.url),
);

function configFrom(argv: string[]): { config: BenchConfig; only: Set<number>; keep: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      only: { type: 'string' },
      'node-static': { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      keep: { type: 'boolean', default: false },
      'small-files': { type: 'string' },
      'server-node-args': { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const runs = values.runs ? Number(values.runs) : quick ? 3 : 5;
  if (!Number.isInteger(runs) || runs < 3)
    throw new Error('--runs must be an integer >= 3 (medians of at least 3 runs)');
  const only = new Set((values.only ?? '1,2,3,4,5,6,7,8,10,11,12,13,14,15').split(',').map(Number));
  const profileDir = values['cpu-prof'] ? resolve(values['cpu-prof']) : undefined;
  const config: BenchConfig = {
    quick,
    runs,
    bigSize: quick ? 256 * MiB : GiB,
    rangeSize: 100 * MiB,
    batch: {
      concurrency: 8,
      objectsPerBatch: 100,
      durationMs: quick ? 1500 : 5000,
      warmupMs: quick ? 500 : 1000,
      maxRequests: 200_000,
    },
    memory: {
      size: quick ? 32 * MiB : 256 * MiB,
      uploads: 8,
      downloads: 8,
      runs: 3,
      // how long a server rests before its settled RSS is read: V8 shrinks its new space some
      // 15-30 s after the last allocations (measured: 113 MB at 15 s, 82 MB from 30 s on)
      settleMs: quick ? 40_000 : 60_000,
    },
    git: {
      smallFiles: values['small-files'] ? Number(values['small-files']) : quick ? 200 : 2000,
      smallFileSize: 10 * 1024,
      largeSize: quick ? 64 * MiB : GiB,
      runs: 3,
    },
    s3: { size: quick ? 64 * MiB : 256 * MiB },
    preferNodeStatic: values['node-static'] ?? false,
    serverNodeArgs: [
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      // e.g. V8 heap flags, to measure what they trade (README "Benchmarks")
      ...(values['server-node-args']?.split(' ').filter(Boolean) ?? []),
    ],
  };
  return { config, only, keep: values.keep ?? false };
}

async function main() {
  const started = performance.now();
  const { config, only, keep } = configFrom(process.argv.slice(2));
  keepTempDirectories(keep);
  const report: Report = {
    mode: config.quick ? 'quick' : 'full',
    date: new Date().toISOString(),
    machine: machineInfo(),
    rows: [],
    notes: [],
  };
  const root = await makeTempDir('lfsd-bench-');
  const bench: Bench = {
    config,
    report,
    root,
    log: (message) =>
      console.error(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`),
  };
  bench.log(`${report.mode} mode, ${config.runs} runs per figure, temp dir ${root}`);
  if (config.quick) {
    report.notes.push(
      `Quick mode: ${sizeLabel(config.bigSize)} object for figures 1-3 (full: 1 GiB), ${sizeLabel(config.memory.size)} objects for figure 5 (full: 256 MiB), ` +
        `${config.git.smallFiles} small files and ${sizeLabel(config.git.largeSize)} for figures 6 and 15 (full: 2,000 and 1 GiB), ${config.runs} runs.`,
    );
  }

  try {
    const needsMain = [1, 2, 3, 6, 14].some((f) => only.has(f));
    if (needsMain) {
      const dataDir = join(root, 'data');
      await prepareDataDir(dataDir);
      bench.log(`writing a ${sizeLabel(config.bigSize)} source file`);
      const source = join(root, 'source.bin');
      const object = await writeGeneratedFile(source, 1, config.bigSize);
      let gitLarge = { path: source, oid: object.oid, size: object.size };
      if (only.has(6) && config.git.largeSize !== config.bigSize) {
        const path = join(root, 'git-large.bin');
        const written = await writeGeneratedFile(path, 2, config.git.largeSize);
        gitLarge = { path, oid: written.oid, size: written.size };
      }
      const server = await startServe(dataDir, { nodeArgs: config.serverNodeArgs });
      try {
        if ([1, 2, 3].some((f) => only.has(f))) await transferFigures(bench, server, dataDir, source, object);
        if (only.has(6)) await gitFigure(bench, server, dataDir, gitLarge);
      } finally {
        await server.stop();
      }
      if (only.has(14)) await offloadFigure(bench, dataDir, source, object);
    }
    if (only.has(4)) await batchFigure(bench);
    if (only.has(5)) await memoryFigure(bench);
    if (only.has(7)) await s3Figure(bench);
    if (only.has(8)) await signInFigure(bench);
    if (only.has(10)) await fsckFigure(bench);
    if (only.has(11)) await gcFigure(bench);
    if (only.has(12)) await webFigure(bench);
    if (only.has(13)) await loadFigure(bench);
    if (only.has(15)) await sshFigure(bench);
  } finally {
    await removeTempDirs();
  }

  if (only.has(6)) {
    report.notes.push(
      "Figure 6: the baseline is git and git-lfs doing the same push or clone with nothing to transfer (git-lfs hard-links objects for a file:// lfs.url), so the ratio shows what the transfer through lfsd adds to the client's own work; lfsd also hashes every byte and fsyncs every object.",
    );
  }
  report.notes.push(
    'Ratio = lfsd median / baseline median. Runs alternate which side goes first. Everything on 127.0.0.1; the machine may be shared, so compare ratios, not absolute figures.',
  );
  report.elapsedSeconds = (performance.now() - started) / 1000;
  console.log(toText(report));
  for (const note of report.notes) console.log(`- ${note}`);
  const written = await writeReport(report, RESULTS_DIR);
  console.log(`\nwritten: ${written.markdown}\n         ${written.json}`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // process.exit runs the 'exit' handler that kills the servers this run started
  process.once(signal, () => void removeTempDirs().finally(() => process.exit(130)));
}

main().catch(async (err: unknown) => {
  console.error(err);
  await removeTempDirs();
  process.exit(1);
});
