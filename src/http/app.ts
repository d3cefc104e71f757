/**
 * buildApp(deps): the Fastify instance serving the whole HTTP surface. It never listens itself
 * (server.ts does), so tests drive it with `app.inject()`.
 *
 * Body handling is chosen per method, not per Content-Type: PUT bodies are object bytes, streamed
 * untouched to the store whatever type the client sniffed (LFS-PROTOCOL.md section 3.2); POST
 * bodies are LFS JSON, capped at `jsonBodyLimit` (413 past it).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
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
import { installLimits } from '../limits/install-limits.js';
import { handleClientError } from './client-error.js';
import { installErrorHandling, installNotFound, renderFrameworkError } from './error-handler.js';
import { installHealthRoutes } from './health-routes.js';
import { lazySchemaCompilers } from './lazy-schema-compilers.js';
import type { LfsRoute } from './lfs-route.js';
import { handleLockRequest } from './lock-handlers.js';
import { installMetricsRoute, type MetricsAccess } from './metrics-routes.js';
import { LFS_ROUTE_METHODS, lfsRouteOf, methodNotAllowed, recordFixedRoutes } from './route-methods.js';
import { beginTransfer, countedBody, installRequestContext } from './request-context.js';
import { handleDownload, handleUpload, handleVerify } from './transfer-handlers.js';
import { drainUnread, uploadBody } from './upload-body.js';

export interface BuildAppOptions {
  /** serve HTTPS with this PEM certificate chain and key */
  https?: { cert: string | Buffer; key: string | Buffer };
  /** close connections silent for this long (ms); 0 = never */
  idleTimeoutMs?: number;
  /** also serve GET /metrics (default true; false when a separate metrics listener serves it) */
  metricsRoute?: boolean;
  /** who may read /metrics here (metrics-routes.ts); unset: anyone (tests, the ops app) */
  metricsAccess?: MetricsAccess;
  /** connection limits (README "Limits and overload"); Node's defaults where absent */
  connections?: ConnectionLimits;
}

/** Against slow and hoarding clients; none of them bounds how long a moving transfer may take. */
export interface ConnectionLimits {
  /** ms a client may take to send a request's headers */
  headersTimeoutMs: number;
  /** bytes of a request's header block (431 past it) */
  maxHeaderSize: number;
  /** ms an idle keep-alive connection stays open */
  keepAliveTimeoutMs: number;
  /** requests on one connection before it closes; 0 = no limit */
  maxRequestsPerSocket: number;
  /** open connections in this process; more are closed at once (lfsd_limited_requests_total{reason="connections"}); 0 = no limit */
  maxConnections: number;
}

/**
 * Route schemas (the admin API's) check what they are given: no coercion ("1" is not a number),
 * and unknown fields are refused, not silently dropped
 */
export const AJV_OPTIONS = {
  customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false },
} as const;

export function buildApp(deps: AppDeps, options: BuildAppOptions = {}): FastifyInstance {
  const limits = options.connections;
  // options of http(s).createServer
  const serverOptions = limits && {
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeoutMs,
    // how often Node checks headersTimeout (its default, 30 s, would let a slowloris sit that long)
    connectionsCheckingInterval: Math.min(5000, Math.max(250, Math.floor(limits.headersTimeoutMs / 4))),
  };
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // one log line per request, written by request-context.ts
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    genReqId: () => randomUUID(),
    // transfers of large objects may be slow; the client's own idle timeout is 30 s
    requestTimeout: 0,
    // ...but a silent socket is closed, which aborts its upload and removes the temp file: the
    // body's idle timeout, which never cuts a slow but moving transfer
    connectionTimeout: options.idleTimeoutMs ?? 0,
    ...(limits
      ? { keepAliveTimeout: limits.keepAliveTimeoutMs, maxRequestsPerSocket: limits.maxRequestsPerSocket }
      : {}),
    ...(serverOptions && !options.https ? { http: serverOptions } : {}),
    return503OnClosing: true,
    // errors Fastify meets before routing (a path that does not decode) in LFS JSON too
    frameworkErrors: renderFrameworkError,
    ajv: AJV_OPTIONS,
    // ...each compiled on its route's first request: an LFS server need not hold them all
    schemaController: lazySchemaCompilers(),
    // ...and so are the requests Node's parser refuses (431, 400, 408: client-error.ts)
    clientErrorHandler: handleClientError,
    ...(options.https ? { https: { ...options.https, ...serverOptions } } : {}),
  }) as unknown as FastifyInstance;
  if (limits && limits.maxConnections > 0) {
    app.server.maxConnections = limits.maxConnections;
    app.server.on('drop', () => deps.metrics.limitedRequests.inc({ reason: 'connections' }));
  }
  recordFixedRoutes(app);
  installRequestContext(app, deps.metrics);
  installErrorHandling(app);
  installHealthRoutes(app, deps);
  installLimits(app, deps);
  if (options.metricsRoute ?? true) installMetricsRoute(app, deps.metrics, options.metricsAccess);
  // while draining, every response asks the client to close its connection, so keep-alive
  // connections end with their last in-flight request instead of lingering until shutdown
  app.addHook('onSend', async (_request, reply, payload) => {
    if (deps.isDraining?.() && !reply.raw.headersSent) reply.header('Connection', 'close');
    return payload;
  });

  // the admin API at /api/v1 and the web console at / (web/web-plugin.ts, loaded when the app is built)
  void app.register(import('../web/web-plugin.js'), { deps });

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
    api.addHook('onRequest', routeRequest);
    api.get('/*', (request, reply) => dispatch(deps, request, reply));
    api.post('/*', (request, reply) => dispatch(deps, request, reply));
    // downloads: object bytes counted as they stream out
    api.addHook('onSend', async (request, _reply, payload) =>
      request.ctx.transfer === 'download' && payload instanceof Readable
        ? countedBody(request, deps.metrics, 'download', payload)
        : payload,
    );
  });

  void app.register(async (transfers) => {
    transfers.removeAllContentTypeParsers();
    // object bytes stream on untouched, counted on the way, in a proxy the store may give up on
    // without resetting the client's connection (upload-body.ts)
    transfers.addContentTypeParser('*', (request, payload, done) =>
      done(null, uploadBody(request, deps.metrics, payload as IncomingMessage)),
    );
    // a body left unread (a refusal, a store failure) is discarded so keep-alive goes on
    transfers.addHook('onResponse', async (request) => drainUnread(request.raw));
    transfers.addHook('onRequest', routeRequest);
    transfers.put('/*', (request, reply) => dispatch(deps, request, reply));
  });
  return app;
}

/**
 * The app of a separate metrics listener (`metricsListen`): /metrics, /healthz and /readyz only,
 * plain HTTP. It keeps answering while the main listener drains, so probes and scrapes see the
 * shutdown through to its end.
 */
export function buildOpsApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    clientErrorHandler: handleClientError,
  });
  recordFixedRoutes(app);
  installHealthRoutes(app, deps);
  installMetricsRoute(app, deps.metrics);
  installNotFound(app);
  return app;
}

/** each request's LFS route, found by `routeRequest` before its body is read */
const routes = new WeakMap<FastifyRequest, LfsRoute>();

/** 404, 405 and 415 before the body is read (route-methods.ts); the route for `dispatch` */
async function routeRequest(request: FastifyRequest) {
  routes.set(request, lfsRouteOf(request));
}

async function dispatch(deps: AppDeps, request: FastifyRequest, reply: FastifyReply) {
  const route = routes.get(request);
  if (!route) throw lfsError('route_not_found');
  if (route.endpoint.kind === 'object' && (request.method === 'PUT' || request.method === 'GET')) {
    beginTransfer(request, deps.metrics, request.method === 'PUT' ? 'upload' : 'download');
  }
  const handled = handleRoute(deps, route, request, reply);
  return deps.inFlight ? deps.inFlight.track(handled) : handled;
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
  throw methodNotAllowed(method, LFS_ROUTE_METHODS[endpoint.kind]);
}
