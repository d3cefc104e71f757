/**
 * Figure 13, load (issue 15): 64 concurrent clients against one real `lfsd serve` process for 60 s
 * (quick: 15 s), each looping over a batch request (20 present objects), an upload (batch + PUT
 * of a new 64 KiB object) and a download (batch + GET of a present object, its SHA-256 checked).
 * The clients belong to 8 users, 8 each (a CI fleet of a few bot accounts), under limits tight
 * enough to bite: rateLimit 300 per 10 s per user, maxTransfers 8, transferQueueTimeout 1 s (the
 * defaults, 1200 a minute, 512 and 5 s, hardly bite a 15 s run). A client answered 429 or
 * 503 waits `Retry-After` and retries, as git-lfs does; any other failure stops the figure.
 * Reported: operations and requests per second, p50/p99 latency by kind (answered requests, the
 * waits of retries excluded), the 429/503 retried, the server's RSS and open file descriptors
 * before the load, after its warm-up and at its end.
 *
 * Then, on the same server: the latency of another client's sequential batch requests while 20
 * slowloris connections (headers trickled a byte a second) and 500 idle connections are open,
 * against the same requests without them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateAccessToken, hashAccessToken } from '../../src/auth/access-token.js';
import { LFS_JSON } from '../../src/http/lfs-json.js';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { paired, type Bench } from '../lib/context.js';
import { databaseUrl, prepareDataDir, seedSmallObjects, startServe, type ServeProcess } from '../lib/lfsd.js';
import { addRow } from '../lib/report.js';
import { readRss } from '../../test/helpers/rss.js';
import { MiB, percentile, summarize } from '../lib/stats.js';

const USERS = 8;
const CLIENTS_PER_USER = 8;
const CLIENTS = USERS * CLIENTS_PER_USER;
const OBJECT_SIZE = 64 * 1024;
const SEEDED_PER_USER = 40;
const BATCH_OBJECTS = 20;
const MAX_TRANSFERS = 8;
/** tighter than the defaults (1200 a minute, 5 s), so that the limits do bite within the run */
const RATE_LIMIT = 300;
const RATE_LIMIT_WINDOW_S = 10;
const TRANSFER_QUEUE_TIMEOUT_S = 1;
const SLOWLORIS = 20;
const IDLE = 500;
const PROBES = 50;

type Kind = 'batch' | 'upload' | 'download';

interface LoadUser {
  name: string;
  authorization: string;
  objects: { oid: string; size: number }[];
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** 8 users with a token each and 40 present objects in `<user>/load`; plus the probe user */
async function seedUsers(dataDir: string): Promise<{ users: LoadUser[]; probe: LoadUser }> {
  const metadata = await openMetadataStore(databaseUrl(dataDir));
  const made: { name: string; token: string }[] = [];
  try {
    for (const name of [...Array.from({ length: USERS }, (_, i) => `load${i}`), 'probe']) {
      const user = await metadata.createUser({ name, isAdmin: false, passwordHash: null });
      const token = generateAccessToken();
      await metadata.createToken({
        userId: user.id,
        name: 'load',
        secretHash: hashAccessToken(token),
        expiresAt: null,
      });
      made.push({ name, token });
    }
  } finally {
    await metadata.close();
  }
  const all: LoadUser[] = [];
  for (const { name, token } of made) {
    all.push({
      name,
      authorization: `Basic ${Buffer.from(`${name}:${token}`).toString('base64')}`,
      objects: await seedSmallObjects(dataDir, `${name}/load`, SEEDED_PER_USER, OBJECT_SIZE),
    });
  }
  return { users: all.slice(0, USERS), probe: all[USERS]! };
}

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function request(
  agent: http.Agent,
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) },
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

interface LoadStats {
  operations: number;
  requests: number;
  latencies: Record<Kind, number[]>;
  retried: Record<number, number>;
  bytes: number;
}

/**
 * One client's loop until `stopAt`: batch, upload, download, ... Requests answered 429/503 are
 * retried after Retry-After; every other status than the expected one throws.
 */
async function client(
  agent: http.Agent,
  url: string,
  user: LoadUser,
  index: number,
  stopAt: number,
  stats: LoadStats,
  measureFrom: number,
): Promise<void> {
  const lfs = `${url}/${user.name}/load.git/info/lfs`;
  const api = { Accept: LFS_JSON, 'Content-Type': LFS_JSON, Authorization: user.authorization };
  const send = async (
    kind: Kind,
    target: string,
    method: string,
    headers: Record<string, string>,
    want: number,
    body?: Buffer,
  ): Promise<Answer> => {
    for (;;) {
      const t0 = performance.now();
      const answer = await request(agent, target, method, headers, body);
      const t1 = performance.now();
      if (t0 >= measureFrom) {
        stats.requests++;
        if (answer.status === want) stats.latencies[kind].push(t1 - t0);
      }
      if (answer.status === want) return answer;
      if (answer.status !== 429 && answer.status !== 503) {
        throw new Error(`${method} ${target}: ${answer.status} ${answer.body.toString().slice(0, 200)}`);
      }
      if (t0 >= measureFrom) stats.retried[answer.status] = (stats.retried[answer.status] ?? 0) + 1;
      const wait = Number(answer.headers['retry-after'] ?? 1);
      await sleep((Number.isFinite(wait) ? wait : 1) * 1000);
    }
  };
  const batch = async (
    kind: Kind,
    operation: 'upload' | 'download',
    objects: { oid: string; size: number }[],
  ) => {
    const answer = await send(
      kind,
      `${lfs}/objects/batch`,
      'POST',
      api,
      200,
      Buffer.from(JSON.stringify({ operation, transfers: ['basic'], objects, hash_algo: 'sha256' })),
    );
    return (
      JSON.parse(answer.body.toString()) as {
        objects: {
          oid: string;
          actions?: Record<string, { href: string; header?: Record<string, string> }>;
        }[];
      }
    ).objects;
  };
  for (let step = index; performance.now() < stopAt; step++) {
    const t0 = performance.now();
    const kind = (['batch', 'upload', 'download'] as const)[step % 3]!;
    const pick = (n: number) => user.objects[(step * 7 + n) % user.objects.length]!;
    if (kind === 'batch') {
      const objects = await batch(
        'batch',
        'download',
        Array.from({ length: BATCH_OBJECTS }, (_, n) => pick(n)),
      );
      if (objects.some((o) => !o.actions?.download))
        throw new Error('batch: an object without a download action');
    } else if (kind === 'upload') {
      const content = randomBytes(OBJECT_SIZE);
      const oid = createHash('sha256').update(content).digest('hex');
      const [planned] = await batch('upload', 'upload', [{ oid, size: OBJECT_SIZE }]);
      const action = planned?.actions?.upload;
      if (!action) throw new Error(`upload ${oid}: no upload action for a new object`);
      await send(
        'upload',
        action.href,
        'PUT',
        { ...action.header, 'Content-Type': 'application/octet-stream' },
        200,
        content,
      );
      if (t0 >= measureFrom) stats.bytes += OBJECT_SIZE;
    } else {
      const object = pick(0);
      const [planned] = await batch('download', 'download', [object]);
      const action = planned?.actions?.download;
      if (!action) throw new Error(`download ${object.oid}: no download action`);
      const answer = await send('download', action.href, 'GET', action.header ?? {}, 200);
      if (createHash('sha256').update(answer.body).digest('hex') !== object.oid) {
        throw new Error(`download ${object.oid}: the bytes do not match the oid`);
      }
      if (t0 >= measureFrom) stats.bytes += answer.body.length;
    }
    if (t0 >= measureFrom && performance.now() <= stopAt) stats.operations++;
  }
}

/** `count` sequential batch requests of `user` (20 objects each); their latencies in ms, ascending */
async function probeLatencies(url: string, user: LoadUser, count: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const headers = { Accept: LFS_JSON, 'Content-Type': LFS_JSON, Authorization: user.authorization };
  const body = Buffer.from(
    JSON.stringify({ operation: 'download', objects: user.objects.slice(0, BATCH_OBJECTS) }),
  );
  const samples: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const answer = await request(
        agent,
        `${url}/${user.name}/load.git/info/lfs/objects/batch`,
        'POST',
        headers,
        body,
      );
      samples.push(performance.now() - t0);
      if (answer.status !== 200) throw new Error(`probe batch: ${answer.status} ${answer.body.toString()}`);
    }
  } finally {
    agent.destroy();
  }
  return samples.sort((a, b) => a - b);
}

/** 20 slowloris connections (a header byte a second) and 500 idle ones; `close()` ends them all */
async function openAbusers(url: string): Promise<{ close(): void; alive(): number }> {
  const { hostname, port } = new URL(url);
  const sockets: net.Socket[] = [];
  const connect = () =>
    new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host: hostname, port: Number(port) });
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
      socket.on('error', () => undefined);
      sockets.push(socket);
    });
  for (let i = 0; i < IDLE; i++) await connect();
  const slow: net.Socket[] = [];
  for (let i = 0; i < SLOWLORIS; i++) {
    const socket = await connect();
    socket.write(`POST /${'load0'}/load.git/info/lfs/objects/batch HTTP/1.1\r\nHost: ${hostname}\r\n`);
    slow.push(socket);
  }
  const timer = setInterval(() => {
    for (const socket of slow) if (!socket.destroyed) socket.write('X');
  }, 1000);
  return {
    alive: () => sockets.filter((s) => !s.destroyed).length,
    close() {
      clearInterval(timer);
      for (const socket of sockets) socket.destroy();
    },
  };
}

async function metricSum(url: string, name: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return lines.map((l) => l.replace(name, '')).join(', ') || 'none';
}

export async function loadFigure(bench: Bench): Promise<void> {
  const { config, report } = bench;
  const durationMs = config.quick ? 15_000 : 60_000;
  const warmupMs = config.quick ? 2_000 : 5_000;
  const dataDir = join(bench.root, 'load-data');
  await prepareDataDir(dataDir);
  bench.log(`figure 13: seeding ${USERS} users with ${SEEDED_PER_USER} objects of 64 KiB each`);
  const { users, probe } = await seedUsers(dataDir);
  const server: ServeProcess = await startServe(dataDir, {
    nodeArgs: config.serverNodeArgs,
    extraArgs: [
      ...['--rate-limit', String(RATE_LIMIT), '--rate-limit-window', String(RATE_LIMIT_WINDOW_S)],
      ...['--max-transfers', String(MAX_TRANSFERS)],
      ...['--transfer-queue-timeout', String(TRANSFER_QUEUE_TIMEOUT_S)],
    ],
  });
  try {
    await sleep(500);
    const atStart = { rss: readRss(server.pid).rss, fds: openFds(server.pid) };
    const stats: LoadStats = {
      operations: 0,
      requests: 0,
      latencies: { batch: [], upload: [], download: [] },
      retried: {},
      bytes: 0,
    };
    const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
    const started = performance.now();
    const measureFrom = started + warmupMs;
    const stopAt = measureFrom + durationMs;
    bench.log(
      `figure 13: ${CLIENTS} clients (${USERS} users) for ${durationMs / 1000} s after ${warmupMs / 1000} s of warm-up`,
    );
    let afterWarmup = atStart;
    const warm = setTimeout(() => {
      afterWarmup = { rss: readRss(server.pid).rss, fds: openFds(server.pid) };
    }, warmupMs);
    const clients = Array.from({ length: CLIENTS }, (_, i) =>
      client(agent, server.url, users[i % USERS]!, i, stopAt, stats, measureFrom),
    );
    const outcomes = await Promise.allSettled(clients);
    clearTimeout(warm);
    const ended = performance.now();
    agent.destroy();
    const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed.length > 0) throw new Error(`${failed.length} clients failed: ${String(failed[0]!.reason)}`);
    const elapsed = (Math.min(ended, stopAt) - measureFrom) / 1000;
    await sleep(1000); // the server notices the closed connections
    const atEnd = { rss: readRss(server.pid).rss, fds: openFds(server.pid) };
    const limited = await metricSum(server.url, 'lfsd_limited_requests_total');
    const shed = await metricSum(server.url, 'lfsd_shed_requests_total');

    const one = (value: number) => summarize([value]);
    const label = `${CLIENTS} clients, ${USERS} users, rateLimit ${RATE_LIMIT}/${RATE_LIMIT_WINDOW_S} s, maxTransfers ${MAX_TRANSFERS}`;
    addRow(report, {
      figure: '13',
      measure: `load: operations (batch of ${BATCH_OBJECTS} | upload 64 KiB | download 64 KiB), ${label}`,
      unit: 'ops/s',
      better: 'higher',
      lfsd: one(stats.operations / elapsed),
    });
    addRow(report, {
      figure: '13',
      measure: 'load: HTTP requests answered',
      unit: 'req/s',
      better: 'higher',
      lfsd: one(stats.requests / elapsed),
    });
    for (const kind of ['batch', 'upload', 'download'] as const) {
      const sorted = stats.latencies[kind].sort((a, b) => a - b);
      for (const p of [50, 99]) {
        addRow(report, {
          figure: '13',
          measure: `load: ${kind === 'batch' ? `batch request (${BATCH_OBJECTS} objects)` : `${kind} request (${kind === 'upload' ? 'PUT' : 'GET'})`} latency p${p}`,
          unit: 'ms',
          better: 'lower',
          lfsd: one(percentile(sorted, p)),
        });
      }
    }
    const retried = (stats.retried[429] ?? 0) + (stats.retried[503] ?? 0);
    addRow(report, {
      figure: '13',
      measure: `load: requests answered 429 or 503 and retried after Retry-After (429: ${stats.retried[429] ?? 0}, 503: ${stats.retried[503] ?? 0}; other errors: 0)`,
      unit: 'requests',
      better: 'lower',
      lfsd: one(retried),
    });
    for (const [when, sample] of [
      ['before the load', atStart],
      ['after the warm-up', afterWarmup],
      ['at the end', atEnd],
    ] as const) {
      addRow(report, {
        figure: '13',
        measure: `load: server RSS ${when}`,
        unit: 'MiB',
        better: 'lower',
        lfsd: one(sample.rss / MiB),
      });
      addRow(report, {
        figure: '13',
        measure: `load: server open fds ${when}`,
        unit: 'fds',
        better: 'lower',
        lfsd: one(sample.fds),
      });
    }
    report.notes.push(
      `Figure 13: ${CLIENTS} clients of ${USERS} users for ${durationMs / 1000} s (after ${warmupMs / 1000} s of warm-up), one measured run; ` +
        `each client loops batch (${BATCH_OBJECTS} present objects), upload (batch + PUT of a new 64 KiB object), download (batch + GET, SHA-256 checked); ` +
        `${(stats.bytes / MiB).toFixed(0)} MiB moved; latencies of answered requests, retry waits excluded. ` +
        `Server metrics at the end: lfsd_limited_requests_total ${limited}; lfsd_shed_requests_total ${shed}.`,
    );
  } finally {
    await server.stop();
  }
  await connectionsFigure(bench, dataDir, probe);
}

/**
 * The connections part, on a fresh server over the same data with the default connection settings
 * and no request rate limit (the probe's requests would otherwise be counted against it).
 */
async function connectionsFigure(bench: Bench, dataDir: string, probe: LoadUser): Promise<void> {
  const { config, report } = bench;
  const server = await startServe(dataDir, { nodeArgs: config.serverNodeArgs });
  try {
    bench.log(
      `figure 13: ${PROBES} sequential batch requests with and without ${SLOWLORIS} slowloris + ${IDLE} idle connections`,
    );
    await probeLatencies(server.url, probe, 10); // warm-up
    let alive = 0;
    const runs = await paired(
      config.runs,
      async () => {
        const abusers = await openAbusers(server.url);
        try {
          await sleep(200);
          const samples = await probeLatencies(server.url, probe, PROBES);
          alive = Math.min(alive || Infinity, abusers.alive());
          return samples;
        } finally {
          abusers.close();
        }
      },
      () => probeLatencies(server.url, probe, PROBES),
    );
    for (const [p, name] of [
      [50, 'p50'],
      [100, 'max'],
    ] as const) {
      const row = addRow(report, {
        figure: '13',
        measure: `another client's batch latency ${name} with ${SLOWLORIS} slowloris + ${IDLE} idle connections open`,
        unit: 'ms',
        better: 'lower',
        lfsd: summarize(runs.a.map((s) => percentile(s, p))),
        baseline: {
          label: 'the same requests without them',
          summary: summarize(runs.b.map((s) => percentile(s, p))),
        },
      });
      if (p === 100) row.target = { text: 'max < 1000 ms', met: row.lfsd.max < 1000 };
    }
    report.notes.push(
      `Figure 13 (connections): ${PROBES} sequential batch requests of ${BATCH_OBJECTS} objects by a user outside the load, per run, their p50 and max; ` +
        `at least ${alive} of the ${SLOWLORIS + IDLE} abusive connections were still open at the end of every run (headersTimeout closes the slowloris ones after 20 s by default, keepAliveTimeout the idle ones after 72 s).`,
    );
  } finally {
    await server.stop();
  }
}
