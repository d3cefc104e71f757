/**
 * What each request was about, and the one place a finished request is accounted for: its JSON
 * log line (DESIGN.md "Operations") and its HTTP, transfer and lock metrics. Both are written when
 * the response closes, whether it finished or the connection went away mid-transfer, so an
 * aborted transfer is logged and counted too.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { joinStreams } from '../join-streams.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LfsdMetrics, TransferDirection } from '../observability/metrics.js';

/** What a request was about, for its log line and metrics; filled in by the handlers. */
export interface RequestContext {
  /** the LFS endpoint kind (batch, object, verify, locks, ...): the `route` metric label */
  route?: string;
  repo?: string;
  user?: string;
  /** object bytes received: counted as they stream for uploads */
  bytesIn?: number;
  /** object bytes sent: counted as they stream for downloads */
  bytesOut?: number;
  /** set for the transfer endpoints (PUT and GET of object bytes) */
  transfer?: TransferDirection;
}

declare module 'fastify' {
  interface FastifyRequest {
    ctx: RequestContext;
  }
}

/** routes outside the LFS API, by their Fastify path: also metric labels */
const OPS_ROUTES: Record<string, string> = {
  '/healthz': 'healthz',
  '/readyz': 'readyz',
  '/metrics': 'metrics',
};
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
/** bytes counted locally before they are added to the shared counter */
const FLUSH_BYTES = 1024 * 1024;

export function installRequestContext(app: FastifyInstance, metrics: LfsdMetrics): void {
  app.decorateRequest('ctx', null as unknown as RequestContext);
  app.addHook('onRequest', async (request, reply) => {
    request.ctx = {};
    reply.header('X-Request-Id', request.id);
    const started = performance.now();
    let finished = false;
    reply.raw.once('finish', () => (finished = true));
    reply.raw.once('close', () => {
      try {
        accountFor(request, reply, metrics, (performance.now() - started) / 1000, finished);
      } catch (err) {
        request.log.error({ err }, 'accounting for a request failed');
      }
    });
  });
}

/** Marks the request as an upload or download (metrics: in flight until its response closes). */
export function beginTransfer(
  request: FastifyRequest,
  metrics: LfsdMetrics,
  direction: TransferDirection,
): void {
  request.ctx.transfer = direction;
  metrics.transfersInFlight.inc({ direction });
}

/**
 * `body` passed through unchanged, its bytes counted (countingStream). Errors and destruction
 * propagate both ways (joinStreams): for downloads, whose body the store owns.
 */
export function countedBody(
  request: FastifyRequest,
  metrics: LfsdMetrics,
  direction: TransferDirection,
  body: Readable,
): Readable {
  const counting = countingStream(request, metrics, direction);
  joinStreams(body, counting);
  return counting;
}

/**
 * A pass-through stream that counts the bytes flowing through it into the request's context
 * (bytesIn for an upload, bytesOut for a download) and lfsd_transfer_bytes_total.
 */
export function countingStream(
  request: FastifyRequest,
  metrics: LfsdMetrics,
  direction: TransferDirection,
): Transform {
  const field = direction === 'upload' ? 'bytesIn' : 'bytesOut';
  const counter = metrics.transferBytes.labels({ direction });
  let total = 0;
  let unflushed = 0;
  const flush = () => {
    if (unflushed > 0) counter.inc(unflushed);
    unflushed = 0;
  };
  request.ctx[field] = 0;
  const counting = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      total += chunk.length;
      unflushed += chunk.length;
      request.ctx[field] = total;
      if (unflushed >= FLUSH_BYTES) flush();
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      flush();
      callback();
    },
  });
  counting.once('close', flush);
  return counting;
}

function accountFor(
  request: FastifyRequest,
  reply: FastifyReply,
  metrics: LfsdMetrics,
  seconds: number,
  completed: boolean,
): void {
  const ctx = request.ctx ?? {};
  const opsRoute = OPS_ROUTES[request.routeOptions.url ?? ''];
  const route = ctx.route ?? opsRoute ?? 'unmatched';
  const method = METHODS.has(request.method) ? request.method : 'OTHER';
  const status = reply.statusCode;
  const labels = { route, method, status: String(status) };
  metrics.httpRequests.inc(labels);
  metrics.httpDuration.observe(labels, seconds);

  if (ctx.transfer) {
    metrics.transfersInFlight.dec({ direction: ctx.transfer });
    const outcome = !completed ? 'aborted' : status >= 400 ? 'error' : 'ok';
    metrics.transfers.inc({ direction: ctx.transfer, outcome });
  }
  const lockOperation = lockOperationOf(route, method);
  if (lockOperation) metrics.lockOperations.inc({ operation: lockOperation, outcome: lockOutcomeOf(status) });

  // one JSON line per request; probes and scrapes only at debug level
  const line = {
    method: request.method,
    path: request.url.split('?')[0],
    route,
    repo: ctx.repo,
    user: ctx.user,
    status,
    bytes_in: ctx.bytesIn,
    bytes_out: ctx.bytesOut,
    duration_ms: Math.round(seconds * 10_000) / 10,
    ...(completed ? {} : { aborted: true }),
  };
  if (opsRoute) request.log.debug(line, 'request');
  else request.log.info(line, 'request');
}

function lockOperationOf(route: string, method: string): string | undefined {
  switch (route) {
    case 'locks':
      return method === 'GET' ? 'list' : method === 'POST' ? 'create' : undefined;
    case 'locks-verify':
      return 'verify';
    case 'unlock':
      return 'unlock';
    default:
      return undefined;
  }
}

function lockOutcomeOf(status: number): string {
  if (status < 400) return 'ok';
  if (status === 409) return 'conflict';
  if (status === 401 || status === 403) return 'denied';
  if (status === 404) return 'not_found';
  return status < 500 ? 'invalid' : 'error';
}
