/**
 * lfsd for the batch-planning figure, run as a child process by bench/run.ts: the production app
 * (`buildApp(deps)` over `buildDeps`, exactly what `lfsd serve` builds, with `workers` processes
 * as `lfsd serve --workers` runs them) plus two routes that exist only here:
 *   POST /__bench/canned  stores a JSON body (a real batch answer) in the data dir
 *   POST /__bench/json    the trivial baseline: parses the request body like the batch route
 *                         and returns the stored answer, serialized again, with no auth, no
 *                         database and no planning
 *   /__bench/null/...     a null LFS endpoint for pushes (figure 6): its batch offers every object
 *                         for upload, its PUT reads the body and keeps nothing (no auth, no hash, no
 *                         disk, no database), and its lock verification finds no locks. What a push
 *                         to it costs is git's, git-lfs's and HTTP's share of a push to any server
 * Usage: node dist/bench/bench-server.js <data-dir> [workers]; prints `{"benchServer":"http://..."}`
 * (every worker does; they share the port).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { join } from 'node:path';
import { loadSettings } from '../src/config/load-settings.js';
import { buildApp } from '../src/http/app.js';
import { LFS_JSON, sendLfsJson } from '../src/http/lfs-json.js';
import { createLogger } from '../src/observability/logger.js';
import { buildDeps, publicUrlOf } from '../src/server/build-deps.js';
import {
  isClusterWorker,
  joinCluster,
  runPrimary,
  type Bound,
  type ClusterServer,
} from '../src/server/cluster.js';
import { acceptInto } from '../src/server/server.js';
import type { Settings } from '../src/config/settings.js';
import type { Logger } from 'pino';

async function main() {
  const dataDir = process.argv[2];
  if (!dataDir) throw new Error('usage: bench-server <data-dir> [workers]');
  const workers = Number(process.argv[3] ?? 1);
  const settings = loadSettings({
    // throughput, not the request rate limit, is measured here
    flags: { dataDir, listen: '127.0.0.1:0', logLevel: 'info', workers, rateLimit: 0 },
    env: {},
  });
  const logger = createLogger(settings.logLevel, { pretty: false });
  const start = (bound?: Bound) => startBenchApp(settings, logger, dataDir, bound);
  if (settings.workers > 1 && !isClusterWorker()) process.exit(await runPrimary(settings, logger, start));
  const cluster = isClusterWorker() ? joinCluster() : undefined;
  const server = await start(await cluster?.bound);
  const stop = () => void server.close().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  cluster?.serving(server, stop);
}

/** one process's server: listening itself, or taking the connections of a cluster's primary */
async function startBenchApp(
  settings: Settings,
  logger: Logger,
  dataDir: string,
  bound?: Bound,
): Promise<ClusterServer> {
  const deps = await buildDeps(settings, logger, publicUrlOf(settings));
  const app = buildApp(deps, { idleTimeoutMs: settings.idleTimeout * 1000 });
  // the canned answer lives in a file so that every worker serves it, whichever one stored it
  const cannedFile = join(dataDir, 'bench-canned.json');
  let canned: unknown;
  void app.register(async (bench) => {
    bench.removeAllContentTypeParsers();
    bench.addContentTypeParser('*', { parseAs: 'string', bodyLimit: settings.jsonBodyLimit }, parseJson);
    bench.post('/__bench/canned', async (request, reply) => {
      writeFileSync(cannedFile, JSON.stringify(request.body));
      canned = request.body;
      return reply.code(204).send();
    });
    bench.post('/__bench/json', async (_request, reply) => {
      canned ??= JSON.parse(readFileSync(cannedFile, 'utf8'));
      return sendLfsJson(reply, 200, canned);
    });
  });

  void app.register(nullLfsEndpoint, { jsonBodyLimit: settings.jsonBodyLimit });

  if (bound) {
    await app.ready();
    deps.publicUrl = `http://${bound.http}`;
  } else {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    deps.publicUrl = `http://127.0.0.1:${port}`;
  }
  process.stderr.write(JSON.stringify({ benchServer: deps.publicUrl }) + '\n');
  return {
    acceptors: bound && { http: acceptInto(app.server) },
    metrics: deps.metrics,
    close: () => app.close().then(() => deps.close()),
  };
}

/** the JSON body parser of the bench's routes (a body Fastify read as a string) */
function parseJson(
  _request: FastifyRequest,
  body: string | Buffer,
  done: (err: Error | null, body?: unknown) => void,
): void {
  try {
    done(null, JSON.parse(body as string));
  } catch (err) {
    done(err as Error, undefined);
  }
}

const NULL_BASE = '/__bench/null';

/** The null LFS endpoint (see the top of this file); the client's `lfs.url` is `<server>/__bench/null`. */
async function nullLfsEndpoint(scope: FastifyInstance, options: { jsonBodyLimit: number }): Promise<void> {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser(
    [LFS_JSON, 'application/json'],
    { parseAs: 'string', bodyLimit: options.jsonBodyLimit },
    parseJson,
  );
  // object bodies stay streams: the PUT reads them to the end and drops every chunk
  scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  scope.post(`${NULL_BASE}/objects/batch`, async (request, reply) => {
    const { objects } = request.body as { objects: { oid: string; size: number }[] };
    const base = `http://${request.headers.host ?? ''}${NULL_BASE}`;
    return sendLfsJson(reply, 200, {
      transfer: 'basic',
      objects: objects.map(({ oid, size }) => ({
        oid,
        size,
        actions: { upload: { href: `${base}/put/${oid}`, expires_in: 3600 } },
      })),
      hash_algo: 'sha256',
    });
  });
  scope.post(`${NULL_BASE}/locks/verify`, async (_request, reply) =>
    sendLfsJson(reply, 200, { ours: [], theirs: [] }),
  );
  scope.put(`${NULL_BASE}/put/:oid`, async (request, reply) => {
    const body = request.body as Readable;
    body.resume(); // read every chunk and keep none
    await finished(body);
    return reply.code(200).send();
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
