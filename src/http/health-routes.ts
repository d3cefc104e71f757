import type { FastifyInstance } from 'fastify';
import type { AppDeps } from './app-deps.js';

/** a probe answers within this even when a backend hangs (Kubernetes' own default timeout is 1 s) */
const CHECK_TIMEOUT_MS = 2000;

/**
 * Kubernetes probes (DESIGN.md "HTTP surface"): /healthz = the process is alive and its event
 * loop turns; /readyz = it can serve: not draining, metadata database and object store reachable.
 */
export function installHealthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/healthz', async (_request, reply) => {
    void reply.header('Cache-Control', 'no-store');
    return { status: 'ok' };
  });
  app.get('/readyz', async (request, reply) => {
    void reply.header('Cache-Control', 'no-store');
    if (deps.isDraining?.()) return reply.code(503).send({ status: 'draining' });
    // shedding new batch requests: a load balancer should send new work elsewhere
    const overloaded = deps.overload?.shedder?.overloaded();
    if (overloaded) return reply.code(503).send({ status: 'overloaded', reason: overloaded });
    const [metadata, store] = await Promise.all([
      check(() => deps.metadata.ping()),
      check(() => deps.store.ping()),
    ]);
    const checks = { metadata: metadata ? 'failed' : 'ok', store: store ? 'failed' : 'ok' };
    if (metadata || store) {
      // the reasons may name hosts and paths: logged, not answered
      request.log.warn({ metadata, store }, 'not ready');
      return reply.code(503).send({ status: 'unavailable', checks });
    }
    return { status: 'ready', checks };
  });
}

/** undefined when the ping succeeded in time, else why not */
async function check(ping: () => Promise<void>): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([ping(), timeout]);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    clearTimeout(timer);
  }
}
