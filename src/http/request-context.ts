import type { FastifyInstance } from 'fastify';

/** What a request was about, for its log line and metrics; filled in by the handlers. */
export interface RequestContext {
  route?: string;
  repo?: string;
  user?: string;
  bytesIn?: number;
  bytesOut?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    ctx: RequestContext;
  }
}

export function installRequestContext(app: FastifyInstance): void {
  app.decorateRequest('ctx', null as unknown as RequestContext);
  app.addHook('onRequest', async (request, reply) => {
    request.ctx = {};
    reply.header('X-Request-Id', request.id);
  });
  // one JSON line per request (DESIGN.md "Operations")
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        request_id: request.id,
        method: request.method,
        path: request.url.split('?')[0],
        ...request.ctx,
        status: reply.statusCode,
        duration_ms: Math.round(reply.elapsedTime * 10) / 10,
      },
      'request',
    );
  });
}
