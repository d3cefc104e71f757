/**
 * Figure 4, batch planning: `concurrency` clients POST download batches of `objectsPerBatch`
 * present objects (each client its own set), against the trivial JSON route of the same server
 * process (bench/bench-server.ts) answering the same requests with a body of the same size.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { paired, type Bench } from '../lib/context.js';
import { jsonRequest } from '../lib/http.js';
import { LfsClient } from '../lib/lfs-client.js';
import { PASSWORD, USER, prepareDataDir, seedSmallObjects, startBenchServer } from '../lib/lfsd.js';
import { runLoad, type LoadResult } from '../lib/load.js';
import { addRow } from '../lib/report.js';
import { cpuMs } from '../../test/helpers/rss.js';
import { percentile, summarize } from '../lib/stats.js';

const REPO = `${USER}/batch`;

/**
 * Figure 4 with the server in one process and, on a machine with more cores, in one worker per
 * core (`lfsd serve --workers`); the target applies to the latter, the way lfsd is meant to run on
 * such a machine. Both sides of each comparison run in the same server with the same workers.
 */
export async function batchFigure(bench: Bench): Promise<void> {
  const { config } = bench;
  const { concurrency, objectsPerBatch: perBatch } = config.batch;
  const dataDir = join(bench.root, 'batch-data');
  await prepareDataDir(dataDir);
  const objects = await seedSmallObjects(dataDir, REPO, concurrency * perBatch, 1024);
  const cores = availableParallelism();
  for (const workers of cores > 1 ? [1, cores] : [1]) {
    await batchFigureWith(bench, dataDir, objects, workers, workers === cores);
  }
}

async function batchFigureWith(
  bench: Bench,
  dataDir: string,
  objects: { oid: string; size: number }[],
  workers: number,
  withTarget: boolean,
): Promise<void> {
  const { config, report } = bench;
  const { concurrency, objectsPerBatch: perBatch } = config.batch;
  const server = await startBenchServer(dataDir, workers, config.serverNodeArgs);
  const processes = workers === 1 ? '1 process' : `${workers} workers`;
  try {
    const client = new LfsClient(`${server.url}/${REPO}.git/info/lfs`, USER, PASSWORD);
    const bodies = Array.from({ length: concurrency }, (_, i) =>
      Buffer.from(client.batchBody('download', objects.slice(i * perBatch, (i + 1) * perBatch))),
    );
    // one real answer becomes the trivial route's canned body
    const real = await jsonRequest(`${client.lfsUrl}/objects/batch`, {
      method: 'POST',
      headers: client.batchHeaders(),
      body: bodies[0],
    });
    if (real.status !== 200) throw new Error(`batch: ${real.status} ${real.text}`);
    const answer = JSON.parse(real.text) as { objects: { actions?: unknown }[] };
    if (answer.objects.length !== perBatch || answer.objects.some((o) => !o.actions)) {
      throw new Error('the batch answer does not offer every seeded object');
    }
    const canned = await jsonRequest(`${server.url}/__bench/canned`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: real.text,
    });
    if (canned.status !== 204) throw new Error(`canned: ${canned.status}`);
    const trivial = await jsonRequest(`${server.url}/__bench/json`, {
      method: 'POST',
      headers: client.batchHeaders(),
      body: bodies[0],
    });
    if (trivial.status !== 200 || trivial.text.length !== real.text.length) {
      throw new Error(
        `trivial route answered ${trivial.status} with ${trivial.text.length} bytes, not ${real.text.length}`,
      );
    }

    const load = (url: string) => async () => {
      const cpu0 = cpuMs(server.pid);
      const result = await runLoad({
        url,
        method: 'POST',
        headers: client.batchHeaders(),
        bodies,
        concurrency,
        durationMs: config.batch.durationMs,
        warmupMs: config.batch.warmupMs,
        maxRequests: config.batch.maxRequests,
      });
      // the server's CPU over the whole run (warm-up included) per request it answered
      return { ...result, cpuPerRequest: (cpuMs(server.pid) - cpu0) / result.answered };
    };
    bench.log(
      `figure 4: batch of ${perBatch} from ${concurrency} clients, server in ${processes}, ${config.batch.durationMs / 1000} s x ${config.runs} runs`,
    );
    const runs = await paired(
      config.runs,
      load(`${client.lfsUrl}/objects/batch`),
      load(`${server.url}/__bench/json`),
    );
    for (const run of [...runs.a, ...runs.b]) {
      if (run.errors > 0) throw new Error(`${run.errors} batch requests failed`);
      if (run.completed === 0) throw new Error('no batch request completed');
    }
    const objectsPerSecond = (r: LoadResult) => (r.completed * perBatch) / (r.elapsedMs / 1000);
    const baselineLabel = `trivial JSON route, same server (${processes}), same ${real.text.length}-byte body`;
    const throughput = addRow(report, {
      figure: '4',
      measure: `batch planning: ${perBatch} objects/batch, ${concurrency} clients, ${processes}`,
      unit: 'objects/s',
      better: 'higher',
      lfsd: summarize(runs.a.map(objectsPerSecond)),
      baseline: { label: baselineLabel, summary: summarize(runs.b.map(objectsPerSecond)) },
    });
    if (withTarget) throughput.target = { text: 'ratio >= 0.5', met: (throughput.ratio ?? 0) >= 0.5 };
    addRow(report, {
      figure: '4',
      measure: `server CPU time per batch request, ${processes}`,
      unit: 'ms',
      better: 'lower',
      lfsd: summarize(runs.a.map((r) => r.cpuPerRequest)),
      baseline: { label: 'trivial JSON route', summary: summarize(runs.b.map((r) => r.cpuPerRequest)) },
    });
    addRow(report, {
      figure: '4',
      measure: `load generator CPU time per batch request, ${processes}`,
      unit: 'ms',
      better: 'lower',
      lfsd: summarize(runs.a.map((r) => r.clientCpuPerRequest)),
      baseline: { label: 'trivial JSON route', summary: summarize(runs.b.map((r) => r.clientCpuPerRequest)) },
    });
    for (const p of [50, 99]) {
      addRow(report, {
        figure: '4',
        measure: `batch latency p${p}, ${processes}`,
        unit: 'ms',
        better: 'lower',
        lfsd: summarize(runs.a.map((r) => percentile(r.latencies, p))),
        baseline: {
          label: 'trivial JSON route',
          summary: summarize(runs.b.map((r) => percentile(r.latencies, p))),
        },
      });
    }
  } finally {
    await server.stop();
  }
}
