/**
 * Figure 14: downloads offloaded to nginx (downloadOffload: x-accel-redirect, nginx running
 * deploy/nginx/lfsd.conf in front of lfsd) vs nginx sendfile on the same file with no lfsd at all.
 * The lfsd side is the whole client path: batch through nginx, then GET through nginx, which
 * lfsd authorises and nginx sends. Also lfsd's CPU per GB: what offload is for.
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, lfsdNginxServer, startNginx } from '../../test/helpers/nginx.js';
import { paired, type Bench } from '../lib/context.js';
import type { GeneratedObject } from '../lib/data.js';
import { LfsClient, checkedGet } from '../lib/lfs-client.js';
import { PASSWORD, USER, startServe } from '../lib/lfsd.js';
import { addRow } from '../lib/report.js';
import { cpuMs } from '../../test/helpers/rss.js';
import { mbPerSecond, sizeLabel, summarize } from '../lib/stats.js';

export async function offloadFigure(
  bench: Bench,
  dataDir: string,
  source: string,
  object: GeneratedObject,
): Promise<void> {
  const { config, report } = bench;
  const port = await freePort();
  const server = await startServe(dataDir, {
    nodeArgs: config.serverNodeArgs,
    extraArgs: ['--public-url', `http://127.0.0.1:${port}`, '--download-offload', 'x-accel-redirect'],
  });
  try {
    const conf = await lfsdNginxServer({ port, lfsdUrl: server.url, objectsDir: join(dataDir, 'objects') });
    const nginx = await startNginx(() => conf, { port });
    try {
      const client = new LfsClient(`${nginx.url}/${USER}/offload.git/info/lfs`, USER, PASSWORD);
      await client.upload(object, () => createReadStream(source, { highWaterMark: 1024 * 1024 }));
      const fileUrl = `${nginx.url}/_lfsd/objects/${object.oid.slice(0, 2)}/${object.oid.slice(2, 4)}/${object.oid}`;
      // the baseline: the same nginx serving the same file without asking lfsd (a plain location)
      const plain = await startNginx(
        (p) =>
          `server { listen 127.0.0.1:${p}; location /_lfsd/objects/ { alias ${join(dataDir, 'objects')}/; } }`,
      );
      try {
        const plainUrl = fileUrl.replace(nginx.url, plain.url);
        await client.download(object, { expect: object.size }); // warm-up, and the bytes checked once
        bench.log(`figure 14: download ${sizeLabel(object.size)} offloaded to nginx, ${config.runs} runs`);
        const runs = await paired(
          config.runs,
          async () => {
            const cpu0 = cpuMs(server.pid);
            const t0 = performance.now();
            await client.download(object, { expect: object.size });
            const ms = performance.now() - t0;
            return {
              mbs: mbPerSecond(object.size, ms),
              cpuPerGB: (cpuMs(server.pid) - cpu0) / (object.size / 1e9),
            };
          },
          async () => {
            const t0 = performance.now();
            await checkedGet(plainUrl, {}, { expect: object.size });
            return { mbs: mbPerSecond(object.size, performance.now() - t0) };
          },
        );
        const row = addRow(report, {
          figure: '14',
          measure: `download ${sizeLabel(object.size)} offloaded: batch + GET via nginx (X-Accel-Redirect)`,
          unit: 'MB/s',
          better: 'higher',
          lfsd: summarize(runs.a.map((s) => s.mbs)),
          baseline: {
            label: 'the same nginx, sendfile, no lfsd',
            summary: summarize(runs.b.map((s) => s.mbs)),
          },
        });
        row.target = { text: 'ratio >= 0.9', met: (row.ratio ?? 0) >= 0.9 };
        addRow(report, {
          figure: '14',
          measure: 'offloaded download: lfsd CPU time per GB',
          unit: 'ms/GB',
          better: 'lower',
          lfsd: summarize(runs.a.map((s) => s.cpuPerGB)),
        });
      } finally {
        await plain.stop();
      }
    } finally {
      await nginx.stop();
    }
  } finally {
    await server.stop();
  }
}
