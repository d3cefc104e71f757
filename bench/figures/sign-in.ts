/**
 * Figure 8, sign-in cost (issue 11 item 3):
 * - the latency of a failed password sign-in for a user who exists (wrong password) against one
 *   for a user who does not: every failure checks one argon2id hash, so the ratio should be ~1 and
 *   the time of a 401 tells nothing about which names exist;
 * - the price of a password over a token for a successful request (no success cache: each
 *   password sign-in costs a hash; tokens are the fast path);
 * - a guessing loop against one user from one address with the failed sign-in limits on (after
 *   10 failures every guess is a 429 with nothing verified) against the same loop with them off:
 *   guesses answered per second and server CPU per guess.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { paired, type Bench } from '../lib/context.js';
import { jsonRequest } from '../lib/http.js';
import {
  PASSWORD,
  USER,
  prepareDataDir,
  seedSmallObjects,
  startServe,
  type ServeProcess,
} from '../lib/lfsd.js';
import { addRow } from '../lib/report.js';
import { cpuMs } from '../../test/helpers/rss.js';
import { summarize } from '../lib/stats.js';

const REPO = `${USER}/sign-in`;
const LIMITS_OFF = ['--sign-in-failures-per-user', '0', '--sign-in-failures-per-address', '0'];

const basic = (name: string, secret: string) =>
  `Basic ${Buffer.from(`${name}:${secret}`).toString('base64')}`;

function batch(server: ServeProcess, authorization: string) {
  return jsonRequest(`${server.url}/${REPO}.git/info/lfs/objects/batch`, {
    method: 'POST',
    headers: {
      Accept: 'application/vnd.git-lfs+json',
      'Content-Type': 'application/vnd.git-lfs+json',
      Authorization: authorization,
    },
    body: JSON.stringify({ operation: 'download', objects: [] }),
  });
}

/**
 * `count` sequential batch requests with `authorization`, each answered `status`: their median
 * latency (ms) and the server's CPU time per request (ms), which a shared machine disturbs less
 */
async function signIns(server: ServeProcess, authorization: string, status: number, count: number) {
  const latencies: number[] = [];
  const cpu0 = cpuMs(server.pid);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const res = await batch(server, authorization);
    latencies.push(performance.now() - t0);
    if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${res.text}`);
  }
  return { median: summarize(latencies).median, cpu: (cpuMs(server.pid) - cpu0) / count };
}

/** `concurrency` clients guessing passwords of `USER` for `durationMs` */
async function guessingLoop(server: ServeProcess, concurrency: number, durationMs: number) {
  const cpu0 = cpuMs(server.pid);
  const started = performance.now();
  const statuses = new Map<number, number>();
  let guess = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() - started < durationMs) {
        const res = await batch(server, basic(USER, `guess ${guess++}`));
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    }),
  );
  const elapsed = performance.now() - started;
  const answered = [...statuses.values()].reduce((a, b) => a + b, 0);
  for (const status of statuses.keys()) {
    if (status !== 401 && status !== 429) throw new Error(`a guess was answered ${status}`);
  }
  return {
    perSecond: answered / (elapsed / 1000),
    cpuPerGuess: (cpuMs(server.pid) - cpu0) / answered,
    limitedShare: (statuses.get(429) ?? 0) / answered,
  };
}

export async function signInFigure(bench: Bench): Promise<void> {
  const { config, report } = bench;
  const count = config.quick ? 15 : 50;
  const durationMs = config.quick ? 1500 : 5000;
  const dataDir = join(bench.root, 'sign-in-data');
  await prepareDataDir(dataDir);
  await seedSmallObjects(dataDir, REPO, 1, 16);

  const open = await startServe(dataDir, { nodeArgs: config.serverNodeArgs, extraArgs: LIMITS_OFF });
  try {
    bench.log(
      `figure 8: failed sign-in latency, known vs unknown user, ${count} requests x ${config.runs} runs`,
    );
    // warm-up: the first password check loads argon2 and computes the dummy hash
    await batch(open, basic(USER, 'warm-up'));
    await batch(open, basic('nobody-at-all', 'warm-up'));
    const failures = await paired(
      config.runs,
      () => signIns(open, basic(USER, 'a wrong password'), 401, count),
      () => signIns(open, basic('nobody-at-all', 'a wrong password'), 401, count),
    );
    for (const [measure, unit, of] of [
      [
        'failed password sign-in latency: known user, wrong password',
        'ms',
        (r: { median: number }) => r.median,
      ],
      [
        'server CPU time per failed password sign-in: known user, wrong password',
        'ms',
        (r: { cpu: number }) => r.cpu,
      ],
    ] as const) {
      const row = addRow(report, {
        figure: '8',
        measure,
        unit,
        better: 'lower',
        lfsd: summarize(failures.a.map(of)),
        baseline: { label: 'unknown user, same server', summary: summarize(failures.b.map(of)) },
      });
      row.target = { text: 'ratio 0.8-1.25', met: (row.ratio ?? 0) >= 0.8 && (row.ratio ?? 0) <= 1.25 };
    }

    const successes = await paired(
      config.runs,
      async () => (await signIns(open, basic(USER, 'bench correct horse battery'), 200, count)).median,
      async () => (await signIns(open, basic(USER, PASSWORD), 200, count)).median,
    );
    addRow(report, {
      figure: '8',
      measure: 'batch request signed in with a password (one argon2id hash each)',
      unit: 'ms',
      better: 'lower',
      lfsd: summarize(successes.a),
      baseline: { label: 'signed in with a personal access token', summary: summarize(successes.b) },
    });
  } finally {
    await open.stop();
  }

  // the guessing loops: a fresh server per run, so each starts below the limits
  bench.log(`figure 8: guessing loop, limits on vs off, ${durationMs / 1000} s x ${config.runs} runs`);
  const loop = (extraArgs: string[]) => async () => {
    const server = await startServe(dataDir, { nodeArgs: config.serverNodeArgs, extraArgs });
    try {
      await batch(server, basic('nobody-at-all', 'warm-up')); // loads argon2, makes the dummy hash
      return await guessingLoop(server, 4, durationMs);
    } finally {
      await server.stop();
    }
  };
  const guesses = await paired(config.runs, loop([]), loop(LIMITS_OFF));
  addRow(report, {
    figure: '8',
    measure: `password guesses answered per second, 4 clients, one user, limits on (${Math.round(
      100 * summarize(guesses.a.map((r) => r.limitedShare)).median,
    )}% answered 429)`,
    unit: 'guesses/s',
    better: 'higher',
    lfsd: summarize(guesses.a.map((r) => r.perSecond)),
    baseline: {
      label: 'limits off (every guess checks a hash)',
      summary: summarize(guesses.b.map((r) => r.perSecond)),
    },
  });
  addRow(report, {
    figure: '8',
    measure: 'server CPU time per password guess, limits on',
    unit: 'ms',
    better: 'lower',
    lfsd: summarize(guesses.a.map((r) => r.cpuPerGuess)),
    baseline: { label: 'limits off', summary: summarize(guesses.b.map((r) => r.cpuPerGuess)) },
  });
}
