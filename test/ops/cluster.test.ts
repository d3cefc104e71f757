// `lfsd serve --workers N` (server/cluster.ts): N processes serving, the primary one of them: it
// accepts every connection and hands them out in turn (server/connection-hub.ts); they share the
// embedded SQLite database and disk store; metrics of the whole cluster from any process; a worker
// that dies is replaced; SIGTERM drains every process and the primary exits 0; a worker that cannot
// start stops the cluster instead of restarting forever.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { LFS_JSON, randomObject } from '../helpers/content.js';
import { lfsdAdmin, lfsdNodeArgs, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { basicAuth } from '../helpers/test-app.js';
import { waitFor } from '../helpers/wait.js';

const PASSWORD = 'correct horse battery';
const AUTH = basicAuth('alice', PASSWORD);
const NO_KEEPALIVE = new http.Agent({ keepAlive: false });

/** one request on a new connection, so that successive requests may reach different workers */
function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: NO_KEEPALIVE,
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function lfsJson(body: unknown) {
  return {
    method: 'POST',
    headers: { 'content-type': LFS_JSON, accept: LFS_JSON, authorization: AUTH },
    body: JSON.stringify(body),
  };
}

/** pids of the processes that logged a request line so far */
function servingPids(server: LfsdServer): Set<number> {
  return new Set(server.logs.filter((l) => l.route !== undefined).map((l) => l.pid as number));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('lfsd serve --workers', { timeout: 120_000 }, () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lfsd-cluster-'));
    await lfsdAdmin(['user', 'add', 'alice', '--password-stdin', '--data-dir', dataDir], {
      input: `${PASSWORD}\n`,
    });
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it('serves from every worker, shares objects and locks, reports the metrics of all, and drains on SIGTERM', async () => {
    // debug: probes get a log line too
    const server = await startLfsd(['--data-dir', dataDir, '--workers', '2', '--log-level', 'debug']);
    try {
      const listening = () => server.logs.filter((l) => l.msg === 'lfsd listening');
      await waitFor('both processes', () => listening().length === 2);
      const workerPids = listening().map((l) => l.pid as number);
      assert.equal(new Set(workerPids).size, 2);
      assert.ok(workerPids.includes(server.process.pid!), 'the primary is one of the two servers');

      // uploads and downloads on separate connections land on both workers and see each other's objects
      const objects = Array.from({ length: 6 }, () => randomObject(64 * 1024));
      for (const object of objects) {
        const { oid, size } = object;
        const batch = await request(
          `${server.url}/alice/game.git/info/lfs/objects/batch`,
          lfsJson({ operation: 'upload', objects: [{ oid, size }] }),
        );
        assert.equal(batch.status, 200, batch.body.toString());
        const upload = (
          JSON.parse(batch.body.toString()) as {
            objects: { actions: { upload: { href: string; header: Record<string, string> } } }[];
          }
        ).objects[0]!.actions.upload;
        const put = await request(upload.href, {
          method: 'PUT',
          headers: upload.header,
          body: object.content,
        });
        assert.equal(put.status, 200, put.body.toString());
      }
      for (const object of objects) {
        const batch = await request(
          `${server.url}/alice/game.git/info/lfs/objects/batch`,
          lfsJson({ operation: 'download', objects: [{ oid: object.oid, size: object.size }] }),
        );
        const download = (
          JSON.parse(batch.body.toString()) as {
            objects: { actions: { download: { href: string; header: Record<string, string> } } }[];
          }
        ).objects[0]!.actions.download;
        const got = await request(download.href, { headers: download.header });
        assert.equal(got.status, 200);
        assert.ok(got.body.equals(object.content), 'downloaded bytes differ');
      }

      // one lock per path across the workers
      const attempts = await Promise.all(
        Array.from({ length: 16 }, () =>
          request(`${server.url}/alice/game.git/info/lfs/locks`, lfsJson({ path: 'level.bin' })),
        ),
      );
      assert.deepEqual(attempts.map((a) => a.status).sort(), [201, ...Array<number>(15).fill(409)]);

      // every worker answered, and /metrics from any worker counts the requests of all of them
      for (let i = 0; i < 20; i++) assert.equal((await request(`${server.url}/healthz`)).status, 200);
      await waitFor('request log lines', () => server.logs.filter((l) => l.route === 'healthz').length >= 20);
      assert.deepEqual([...servingPids(server)].sort(), [...workerPids].sort());
      const healthz = server.logs.filter((l) => l.route === 'healthz').length;
      for (let i = 0; i < 4; i++) {
        const metrics = (await request(`${server.url}/metrics`)).body.toString();
        const counted = /^lfsd_http_requests_total\{route="healthz",method="GET",status="200"\} (\d+)$/m.exec(
          metrics,
        );
        assert.equal(Number(counted?.[1]), healthz, 'healthz requests counted over the whole cluster');
      }

      assert.equal(await server.stop('SIGTERM'), 0);
      for (const pid of workerPids) await waitFor(`worker ${pid} to exit`, () => !isRunning(pid), 10_000);
      assert.equal(server.logs.filter((l) => l.msg === 'shutdown complete').length, 2);
    } finally {
      await server.stop('SIGKILL');
    }
  });

  it('replaces a worker that dies, and keeps serving meanwhile', async () => {
    const server = await startLfsd(['--data-dir', dataDir, '--workers', '2']);
    try {
      const listening = () => server.logs.filter((l) => l.msg === 'lfsd listening');
      // the primary's line, not the worker's own listening line: a worker that dies before the
      // primary counts it as serving is a startup failure, which stops the cluster by design
      const servingWorkers = () => server.logs.filter((l) => l.msg === 'worker serving');
      await waitFor('the worker to serve', () => servingWorkers().length === 1);
      const victim = servingWorkers()[0]!.worker as number;
      process.kill(victim, 'SIGKILL');
      await waitFor('the primary to see it die', () =>
        server.logs.some((l) => l.msg === 'worker died' && l.worker === victim),
      );
      // the replacement is starting now: a scrape still answers, for the serving worker
      const scrape = await request(`${server.url}/metrics`);
      assert.equal(scrape.status, 200, scrape.body.toString());
      assert.match(scrape.body.toString(), /^lfsd_process_cpu_user_seconds_total \d/m);
      await waitFor('a replacement worker', () => listening().length === 3 && servingWorkers().length === 2);
      for (let i = 0; i < 6; i++) assert.equal((await request(`${server.url}/healthz`)).status, 200);
      assert.equal(await server.stop('SIGTERM'), 0);
    } finally {
      await server.stop('SIGKILL');
    }
  });

  it('maxConnections holds in each process: connections past it are closed and counted', async () => {
    // the metrics listener has no connection limit: the count is read while the API's slots are full
    const server = await startLfsd([
      ...['--data-dir', dataDir, '--workers', '2', '--max-connections', '2'],
      ...['--metrics-listen', '127.0.0.1:0'],
    ]);
    const sockets: net.Socket[] = [];
    try {
      await waitFor('the worker to serve', () => server.logs.some((l) => l.msg === 'worker serving'));
      const metricsUrl = server.logs.find((l) => l.msg === 'lfsd listening')!.metricsUrl as string;
      // connections alternate between the two processes: 2 + 2 fit, the next 3 do not
      const { hostname, port } = new URL(server.url);
      const closed: boolean[] = [];
      for (let i = 0; i < 7; i++) {
        const socket = net.connect({ host: hostname, port: Number(port) });
        socket.on('error', () => undefined);
        const at = closed.push(false) - 1;
        socket.once('close', () => (closed[at] = true));
        sockets.push(socket);
        await once(socket, 'connect');
      }
      await waitFor('three connections dropped', () => closed.filter(Boolean).length === 3);
      assert.deepEqual(closed.slice(0, 4), [false, false, false, false], 'the first four fit');
      const metrics = (await request(`${metricsUrl}/metrics`)).body.toString();
      assert.match(metrics, /^lfsd_limited_requests_total\{reason="connections"\} 3$/m);
      for (const socket of sockets) socket.destroy();
      await waitFor(
        'room again',
        async () => (await request(`${server.url}/healthz`).catch(() => undefined))?.status === 200,
      );
      assert.equal(await server.stop('SIGTERM'), 0);
    } finally {
      for (const socket of sockets) socket.destroy();
      await server.stop('SIGKILL');
    }
  });

  it('a worker that cannot start stops the cluster with a failure instead of restarting forever', async () => {
    const taken = net.createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as net.AddressInfo;
    try {
      await assert.rejects(
        startLfsd(['--data-dir', dataDir, '--workers', '2', '--listen', `127.0.0.1:${port}`]),
        /lfsd exited with 1/,
      );
    } finally {
      taken.close();
    }
  });

  it('SIGTERM while the workers are still starting stops them all and exits 0', async () => {
    const child = spawn(
      process.execPath,
      [...lfsdNodeArgs(), 'serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--workers', '2'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      // the primary's first line: the workers are forked right after it
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (line.includes('lfsd starting workers')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
      });
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0);
      await waitFor('no worker left', () => childPids(child.pid!).length === 0, 10_000);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

/** processes whose parent is `pid` (the workers of a primary), from /proc */
function childPids(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
