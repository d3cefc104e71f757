/**
 * Figure 12, web console pages (issue 16): with 1,000 repositories and 10,000 locks, the latency
 * of the console's pages as a signed-in user sees them (session cookie), p50 and p99 over
 * sequential requests, against GET /healthz on the same server (what any request costs).
 * Target: p99 under 50 ms for every page.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { SessionService } from '../../src/web/session-service.js';
import { paired, type Bench } from '../lib/context.js';
import { jsonRequest } from '../lib/http.js';
import { USER, databaseUrl, prepareDataDir, startServe, type ServeProcess } from '../lib/lfsd.js';
import { addRow } from '../lib/report.js';
import { percentile, summarize } from '../lib/stats.js';

const REPOS = 1000;
const LOCKS = 10_000;

/** 1,000 repositories of the bench user, 10 locks each, and a console session; returns its cookie */
async function seed(dataDir: string): Promise<string> {
  const metadata = await openMetadataStore(databaseUrl(dataDir));
  try {
    const user = await metadata.findUserByName(USER);
    if (!user) throw new Error('no bench user');
    const perRepo = LOCKS / REPOS;
    for (let i = 0; i < REPOS; i++) {
      const repo = await metadata.createRepo(`${USER}/game-${String(i).padStart(4, '0')}`, {
        isPublic: i % 3 === 0,
      });
      for (let l = 0; l < perRepo; l++) {
        await metadata.createLock({
          repoId: repo.id,
          path: `art/level-${l}.psd`,
          ownerId: user.id,
          ref: null,
        });
      }
    }
    const { secret } = await new SessionService(metadata, 3600).begin(user);
    return `lfsd_session=${secret}`;
  } finally {
    await metadata.close();
  }
}

/** `count` sequential GETs of `path`; their latencies in ms (each must answer 200) */
async function latencies(server: ServeProcess, path: string, cookie: string, count: number) {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const res = await jsonRequest(`${server.url}${path}`, { headers: { Cookie: cookie } });
    samples.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.text.slice(0, 200)}`);
  }
  return samples.sort((a, b) => a - b);
}

const PAGES: { path: string; label: string }[] = [
  { path: '/-/repos', label: 'Repositories page (1,000 rows)' },
  { path: `/-/repos/${USER}/game-0500`, label: 'repository page with its locks' },
  { path: '/-/tokens', label: 'Tokens page' },
  { path: '/api/v1/repos', label: 'GET /api/v1/repos (JSON, 1,000 repos)' },
];

export async function webFigure(bench: Bench): Promise<void> {
  const { config, report } = bench;
  const count = config.quick ? 100 : 300;
  const dataDir = join(bench.root, 'web-data');
  await prepareDataDir(dataDir);
  bench.log(`figure 12: seeding ${REPOS} repositories and ${LOCKS} locks`);
  const cookie = await seed(dataDir);
  const server = await startServe(dataDir, { nodeArgs: config.serverNodeArgs });
  try {
    for (const page of PAGES) {
      bench.log(`figure 12: ${page.label}, ${count} requests x ${config.runs} runs`);
      await latencies(server, page.path, cookie, 20); // warm-up
      const runs = await paired(
        config.runs,
        () => latencies(server, page.path, cookie, count),
        () => latencies(server, '/healthz', cookie, count),
      );
      for (const [p, name] of [
        [50, 'p50'],
        [99, 'p99'],
      ] as const) {
        const row = addRow(report, {
          figure: '12',
          measure: `${page.label} ${name}`,
          unit: 'ms',
          better: 'lower',
          lfsd: summarize(runs.a.map((samples) => percentile(samples, p))),
          baseline: {
            label: `GET /healthz ${name}, same server`,
            summary: summarize(runs.b.map((samples) => percentile(samples, p))),
          },
        });
        if (p === 99) row.target = { text: 'p99 < 50 ms', met: row.lfsd.median < 50 };
      }
    }
  } finally {
    await server.stop();
  }
  report.notes.push(
    `Figure 12: ${REPOS} repositories of one user with ${LOCKS / REPOS} locks each, signed in with a console session cookie; ` +
      `each run is ${count} sequential requests, p50/p99 per run, the median over ${config.runs} runs.`,
  );
}
