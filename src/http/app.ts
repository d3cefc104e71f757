/**
 * buildApp(deps): the Fastify instance serving the whole HTTP surface. It never listens itself
 * (server.ts does), so tests drive it with `app.inject()`.
 *
 * Body handling is chosen per method, not per Content-Type: PUT bodies are object bytes, streamed
 * untouched to the store whatever type the client sniffed (LFS-PROTOCOL.md section 3.2); POST
 * bodies are LFS JSON, capped at `jsonBodyLimit` (413 past it).
 */
import { randomUUID } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { lfsError } from '../errors.js';
import type { AppDeps } from './app-deps.js';
import { handleBatch } from './batch-handler.js';
import { installErrorHandling } from './error-handler.js';
import { installHealthRoutes } from './health-routes.js';
import { parseLfsRoute, type LfsRoute } from './lfs-route.js';
import { handleLockRequest } from './lock-handlers.js';
import { installRequestContext } from './request-context.js';
import { handleDownload, handleUpload, handleVerify } from './transfer-handlers.js';

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // one log line per request, written by request-context.ts
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: () => randomUUID(),
    // transfers of large objects may be slow; the client's own idle timeout is 30 s
    requestTimeout: 0,
    return503OnClosing: true,
  });
  installRequestContext(app);
  installErrorHandling(app);
  installHealthRoutes(app, deps);

  void app.register(async (api) => {
    api.removeAllContentTypeParsers();
    api.addContentTypeParser(
      '*',
      { parseAs: 'string', bodyLimit: deps.limits.jsonBodyLimit },
      (_req, body, done) => {
        if (body === '') return done(null, undefined);
        try {
          done(null, JSON.parse(body as string));
        } catch {
          done(lfsError('bad_request', 'Request body is not valid JSON'), undefined);
        }
      },
    );
    api.get('/*', (request, reply) => dispatch(deps, request, reply));
    api.post('/*', (request, reply) => dispatch(deps, request, reply));
  });

  void app.register(async (transfers) => {
    transfers.removeAllContentTypeParsers();
    transfers.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    transfers.put('/*', (request, reply) => dispatch(deps, request, reply));
  });
  return app;
}

async function dispatch(deps: AppDeps, request: FastifyRequest, reply: FastifyReply) {
  const route = parseLfsRoute(request.url.split('?')[0] ?? '');
  if (!route) throw lfsError('route_not_found');
  request.ctx.repo = route.repoPath;
  request.ctx.route = route.endpoint.kind;
  return handleRoute(deps, route, request, reply);
}

function handleRoute(
  deps: AppDeps,
  { repoPath, endpoint }: LfsRoute,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const method = request.method;
  switch (endpoint.kind) {
    case 'batch':
      if (method === 'POST') return handleBatch(deps, repoPath, request, reply);
      break;
    case 'object':
      if (method === 'PUT') return handleUpload(deps, repoPath, endpoint.oid, request, reply);
      if (method === 'GET') return handleDownload(deps, repoPath, endpoint.oid, request, reply);
      break;
    case 'verify':
      if (method === 'POST') return handleVerify(deps, repoPath, endpoint.oid, request, reply);
      break;
    default:
      return handleLockRequest(deps, repoPath, endpoint, request, reply);
  }
  throw lfsError('route_not_found', `${method} is not allowed here`);
}
