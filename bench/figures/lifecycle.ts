/**
 * Figures 10 and 11, the storage lifecycle (issue 14), each through the real `lfsd` command:
 * - 10: `lfsd fsck` throughput (bytes re-read and hashed per second) over 1 GiB of objects (quick:
 *   256 MiB) against `sha256sum` of the same files; the files are in the page cache for both
 *   (each run reads them all once before). Goal: ratio >= 0.8.
 * - 11: `lfsd gc --grace 0` over 100,000 unlinked small objects (quick: 10,000): seconds and the
 *   gc process's peak RSS, against `find -delete` of the same files (the floor for deleting them).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { paired, type Bench } from '../lib/context.js';
import { writeGeneratedFile } from '../lib/data.js';
import { databaseUrl, objectPath, prepareDataDir, USER } from '../lib/lfsd.js';
import { addRow } from '../lib/report.js';
import { readRss } from '../../test/helpers/rss.js';
import { MiB, summarize } from '../lib/stats.js';

const CLI = fileURLToPath(new URL('../../bundle/main.js', import.meta.url));

/** runs `command`, resolves with its wall time in seconds and the peak RSS it was seen at */
async function timed(command: string, args: string[]): Promise<{ seconds: number; rss: number }> {
  const started = performance.now();
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // VmRSS polled every 10 ms (a read while the process is still exec'ing gives NaN: skipped)
  let maxSampled = 0;
  const timer = setInterval(() => {
    try {
      const { rss } = readRss(child.pid!);
      if (Number.isFinite(rss)) maxSampled = Math.max(maxSampled, rss);
    } catch {
      // gone
    }
  }, 10);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(timer);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr}`);
  return { seconds, rss: maxSampled };
}

export async function fsckFigure(bench: Bench): Promise<void> {
  const { config, report } = bench;
  const total = config.quick ? 256 * MiB : 1024 * MiB;
  const size = 16 * MiB;
  const dataDir = join(bench.root, 'fsck-data');
  await prepareDataDir(dataDir);
  const files: string[] = [];
  const metadata = await openMetadataStore(databaseUrl(dataDir));
  try {
    const repo = await metadata.ensureRepo(`${USER}/fsck`);
    for (let seed = 0; seed < total / size; seed++) {
      const tmp = join(dataDir, `seed-${seed}`);
      const object = await writeGeneratedFile(tmp, 10_000 + seed, size);
      const path = objectPath(dataDir, object.oid);
      await mkdir(dirname(path), { recursive: true });
      await rm(path, { force: true });
      await rename(tmp, path);
      await metadata.linkObject(repo.id, object.oid, size);
      files.push(path);
    }
  } finally {
    await metadata.close();
  }
  bench.log(
    `figure 10: lfsd fsck vs sha256sum over ${total / MiB} MiB (${files.length} objects) x ${config.runs} runs`,
  );
  await timed('sha256sum', files); // both read from the page cache
  const runs = await paired(
    config.runs,
    () => timed(process.execPath, [CLI, 'fsck', '--data-dir', dataDir]),
    () => timed('sha256sum', files),
  );
  const row = addRow(report, {
    figure: '10',
    measure: `lfsd fsck throughput over ${total / MiB} MiB of ${size / MiB} MiB objects (2 hashed at once; process start included)`,
    unit: 'MiB/s',
    better: 'higher',
    lfsd: summarize(runs.a.map((r) => total / MiB / r.seconds)),
    baseline: {
      label: 'sha256sum of the same files',
      summary: summarize(runs.b.map((r) => total / MiB / r.seconds)),
    },
  });
  row.target = { text: 'ratio >= 0.8', met: (row.ratio ?? 0) >= 0.8 };
}

export async function gcFigure(bench: Bench): Promise<void> {
  const { config, report } = bench;
  const count = config.quick ? 10_000 : 100_000;
  const runs = Math.min(config.runs, 3);
  bench.log(`figure 11: lfsd gc over ${count} unlinked small objects vs find -delete, ${runs} runs`);
  const seed = async (dir: string) => {
    await rm(dir, { recursive: true, force: true });
    await prepareDataDir(dir);
    for (let i = 0; i < count; i++) {
      const content = randomBytes(64 + (i % 512));
      const path = objectPath(dir, createHash('sha256').update(content).digest('hex'));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
    }
  };
  const dataDir = join(bench.root, 'gc-data');
  const gc: { seconds: number; rss: number }[] = [];
  const floor: { seconds: number; rss: number }[] = [];
  for (let run = 0; run < runs; run++) {
    await seed(dataDir);
    gc.push(await timed(process.execPath, [CLI, 'gc', '--grace', '0', '--data-dir', dataDir]));
    await seed(dataDir);
    floor.push(await timed('find', [join(dataDir, 'objects'), '-type', 'f', '-delete']));
  }
  await rm(dataDir, { recursive: true, force: true });
  addRow(report, {
    figure: '11',
    measure: `lfsd gc --grace 0 over ${count} unlinked small objects (disk, SQLite)`,
    unit: 's',
    better: 'lower',
    lfsd: summarize(gc.map((r) => r.seconds)),
    baseline: { label: 'find -delete of the same files', summary: summarize(floor.map((r) => r.seconds)) },
  });
  addRow(report, {
    figure: '11',
    measure: `peak RSS of lfsd gc over ${count} objects (memory bounded by paging)`,
    unit: 'MiB',
    better: 'lower',
    lfsd: summarize(gc.map((r) => r.rss / MiB)),
  });
}
