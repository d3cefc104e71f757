/**
 * The admin API at /api/v1 and, with the `webConsole` setting (default on), the web console at `/`
 * and `/-/...` (issue 16). Registered by http/app.ts, which imports this module only when the app
 * is built, so `lfsd` commands that never serve HTTP do not load it; the console's plugins
 * (cookies, CSRF, security headers, static files) are imported only when the console is on.
 *
 * Paths: `api` is a reserved namespace (rules.ts), so no repository or user can shadow
 * `/api/v1/...`; `-` can never start a repository path segment, so `/-/...` is free too. The LFS
 * routes (`/*`) stay as they are: Fastify's router prefers these longer static prefixes.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { lfsError } from '../errors.js';
import type { AppDeps } from '../http/app-deps.js';
import { toLfsError } from '../http/error-handler.js';
import { enforceRequestRate } from '../limits/install-limits.js';
import { API_PREFIX, API_ROUTES, type ApiRoute } from './api-routes.js';
import { object } from './api-schemas.js';
import { openApiDocument } from './openapi.js';
import { SessionService } from './session-service.js';
import { isUnsafeMethod, webCallerOf } from './web-auth.js';
import { createWebServices, type WebServices } from './web-services.js';

/** API request bodies are small JSON objects */
export const API_BODY_LIMIT = 64 * 1024;
const VERSION = '1';

export interface WebPluginOptions {
  deps: AppDeps;
}

export default async function webPlugin(app: FastifyInstance, { deps }: WebPluginOptions): Promise<void> {
  const services = createWebServices(deps.metadata);
  const web = deps.web ?? { console: false, sessionTtlSeconds: 3600, csrfKey: '' };
  let sessions: SessionService | undefined;
  app.decorateRequest('web', null as unknown as FastifyRequest['web']);
  if (web.console) {
    sessions = new SessionService(deps.metadata, web.sessionTtlSeconds);
    const { installConsoleSecurity } = await import('./console-security.js');
    await installConsoleSecurity(app, web.csrfKey);
  }
  // who is calling, for every API and console request (401 here for bad credentials)
  app.addHook('onRequest', async (request) => {
    request.web = await webCallerOf(deps, sessions, request);
  });
  await app.register(async (api) => apiRoutes(api, deps, services));
  if (web.console) {
    const { consolePlugin } = await import('./console-routes.js');
    await app.register(consolePlugin, { deps, services, sessions: sessions as SessionService });
  }
}

function apiRoutes(api: FastifyInstance, deps: AppDeps, services: WebServices): void {
  // JSON only: a cross-site form can send text/plain, never application/json without CORS
  api.removeContentTypeParser('text/plain');
  api.addHook('onRequest', async (request, reply) => {
    request.ctx.route = 'api';
    // nothing the API answers may be cached (back button after sign-out, shared proxies)
    void reply.header('Cache-Control', 'no-store');
    // `rateLimit`, the one limit the LFS API counts against too: a caller authenticated by a
    // header was counted where it authenticated (http/authenticate.ts); one riding on the
    // console's session, or anonymous (per address), is counted here
    if (request.web.via !== 'header') await enforceRequestRate(deps, request, request.web.caller);
  });
  // a request that rides on the console's session cookie must show it came from the console
  api.addHook('preHandler', (request, reply, done) => {
    if (request.web.via === 'session' && isUnsafeMethod(request.method)) {
      return api.csrfProtection(request, reply, done);
    }
    done();
  });
  api.setErrorHandler(renderApiError);

  api.get(`${API_PREFIX}/openapi.json`, async () => openApiDocument(VERSION));
  for (const route of API_ROUTES) registerRoute(api, services, route);
  api.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: '/api/*',
    handler: async () => {
      throw lfsError('route_not_found', 'No such API route (see /api/v1/openapi.json)');
    },
  });
}

/** the schemas Fastify checks a route's request and serializes its answer with */
export function routeSchema(route: ApiRoute) {
  return {
    ...(route.params ? { params: object(route.params, Object.keys(route.params)) } : {}),
    // no query parameter is ignored silently: a route takes the ones it lists, or none
    querystring: route.query ?? object({}),
    ...(route.body ? { body: route.body } : {}),
    ...(route.response ? { response: { [route.status]: route.response } } : {}),
  };
}

function registerRoute(api: FastifyInstance, services: WebServices, route: ApiRoute): void {
  api.route({
    method: route.method,
    url: API_PREFIX + route.path,
    bodyLimit: API_BODY_LIMIT,
    schema: routeSchema(route),
    handler: async (request, reply) => {
      const { caller } = request.web;
      if (caller.kind !== 'user') throw lfsError('unauthorized');
      const result = await route.handler({
        actor: caller,
        services,
        params: (request.params ?? {}) as Record<string, string>,
        query: (request.query ?? {}) as Record<string, string>,
        body: (request.body ?? {}) as Record<string, unknown>,
      });
      void reply.code(route.status);
      return route.status === 204 ? reply.send() : result;
    },
  });
}

/** API errors: `application/json` `{ message, code, request_id }` with the catalogue's status. */
function renderApiError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  let status: number;
  let code: string;
  let message: string;
  let headers: Record<string, string> = {};
  if (err.validation) {
    // Fastify's schema check: "body/name must be string", "body must NOT have additional properties"
    status = 400;
    code = 'invalid_request';
    message = `${err.message}${additionalProperty(err)}`;
  } else if (err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET') {
    status = 403;
    code = 'csrf';
    message = 'Missing or invalid CSRF token (send the console page’s token in X-CSRF-Token)';
  } else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    status = 415;
    code = 'unsupported_media_type';
    message = 'Send the body as application/json';
  } else {
    const lfs = toLfsError(err);
    status = lfs.status;
    code = lfs.code;
    message = lfs.message;
    if (status >= 500) request.log.error({ err }, 'request failed');
    // a 401 asks a browser or script for Basic credentials; others keep their headers (a 429's Retry-After)
    headers =
      status === 401 ? { 'WWW-Authenticate': 'Basic realm="lfsd", charset="UTF-8"' } : { ...lfs.headers };
  }
  void reply
    .code(status)
    .headers(headers)
    .type('application/json; charset=utf-8')
    .send({ message, code, request_id: request.id });
}

/** names the field Ajv found too many of, which its message leaves out */
function additionalProperty(err: FastifyError): string {
  const params = err.validation?.[0]?.params as { additionalProperty?: string } | undefined;
  return params?.additionalProperty ? `: ${params.additionalProperty}` : '';
}
