import type { FastifyInstance } from 'fastify';
import type { AppDeps } from './app-deps.js';

/** Kubernetes probes: /healthz = the process is alive; /readyz = it can serve (DESIGN.md "HTTP surface"). */
export function installHealthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    if (deps.isDraining?.()) return reply.code(503).send({ status: 'draining' });
    try {
      await Promise.all([deps.metadata.ping(), deps.store.ping()]);
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', message: (err as Error).message });
    }
    return { status: 'ready' };
  });
}
