import type { FastifyInstance } from 'fastify';
import type { LfsdMetrics } from '../observability/metrics.js';

/** GET /metrics: every lfsd metric in Prometheus text format (observability/metrics.ts). */
export function installMetricsRoute(app: FastifyInstance, metrics: LfsdMetrics): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await metrics.render();
    return reply.type(contentType).send(body);
  });
}
