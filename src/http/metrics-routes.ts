import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { lfsError } from '../errors.js';
import type { LfsdMetrics } from '../observability/metrics.js';

/**
 * Who may read /metrics on the main listener (the separate `metricsListen` one is open: it is
 * meant for a private network). With `token` (setting `metricsToken`): a request carrying
 * `Authorization: Bearer <token>`. Without: only a client on this machine (loopback) whose
 * request came straight to lfsd; a request through a reverse proxy on the same machine carries
 * forwarding headers and is refused, since the proxy may be forwarding anyone.
 */
export interface MetricsAccess {
  token?: string;
}

/** GET /metrics: every lfsd metric in Prometheus text format (observability/metrics.ts). */
export function installMetricsRoute(
  app: FastifyInstance,
  metrics: LfsdMetrics,
  access?: MetricsAccess,
): void {
  const expected = access?.token === undefined ? undefined : digest(access.token);
  app.get('/metrics', async (request, reply) => {
    if (access) {
      if (expected) {
        const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
        if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
          throw lfsError('unauthorized', 'Metrics need Authorization: Bearer <metricsToken>', {
            'WWW-Authenticate': 'Bearer realm="lfsd metrics"',
          });
        }
      } else if (!directFromLoopback(request)) {
        throw lfsError('route_not_found');
      }
    }
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).header('Cache-Control', 'no-store').send(body);
  });
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host'];

function directFromLoopback(request: FastifyRequest): boolean {
  // the socket's address, whatever trustProxy makes of request.ip
  const address = request.raw.socket.remoteAddress ?? '';
  const loopback = address === '::1' || /^(::ffff:)?127\./.test(address);
  return loopback && FORWARDING_HEADERS.every((name) => request.headers[name] === undefined);
}
