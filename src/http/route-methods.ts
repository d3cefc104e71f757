/**
 * What a request must look like before any handler runs (LFS-PROTOCOL.md section 8):
 *
 * - A method a route does not have is 405 with `Allow` listing the route's methods (RFC 9110
 *   section 15.5.6), in LFS JSON; a path that is no route at all stays 404. This covers the LFS
 *   routes (table below) and the fixed ones (/healthz, /readyz, /metrics: GET and HEAD).
 * - A POST to the JSON API (batch, verify, locks, locks/verify, unlock) must declare a JSON body:
 *   `application/vnd.git-lfs+json` or `application/json`, parameters such as `charset` allowed.
 *   Anything else, or no Content-Type at all, is 415. The git-lfs client (3.x) sends
 *   `application/vnd.git-lfs+json; charset=utf-8` on every one of these POSTs, unlock and lock
 *   verification included (each carries a JSON body; verify sends the type without charset),
 *   so being strict costs it nothing. What it stops: a browser holding Basic credentials for
 *   lfsd can be made to POST cross-site, but only with a "simple" type (text/plain, a form
 *   encoding) or none at all (a body-less `fetch`); a JSON type needs a CORS preflight, which
 *   lfsd never grants (OPTIONS is 405 here). So no page can create or release a lock, or plan a
 *   batch, with someone else's credentials. An empty body is held to the same rule, since an
 *   unlock needs nothing in its body.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { lfsError, type LfsError } from '../errors.js';
import { LFS_JSON } from './lfs-json.js';
import { parseLfsRoute, type LfsEndpoint, type LfsRoute } from './lfs-route.js';

/** the methods of each LFS endpoint (DESIGN.md "HTTP surface") */
export const LFS_ROUTE_METHODS: Readonly<Record<LfsEndpoint['kind'], readonly string[]>> = {
  batch: ['POST'],
  object: ['GET', 'PUT'],
  verify: ['POST'],
  locks: ['GET', 'POST'],
  'locks-verify': ['POST'],
  unlock: ['POST'],
};

/** the media types a JSON request body may declare */
const JSON_BODY_TYPES = new Set([LFS_JSON, 'application/json']);

/** order of the methods in `Allow` */
const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** per server: the methods of each fixed path (/healthz, ...), from the routes as registered */
const fixedRoutes = new WeakMap<object, Map<string, Set<string>>>();

/**
 * Records the methods of every fixed-path route registered on `app` from now on (its plugins
 * too), for the 405s of those paths. Call it before the routes are added.
 */
export function recordFixedRoutes(app: FastifyInstance): void {
  const table = new Map<string, Set<string>>();
  fixedRoutes.set(app.server, table);
  app.addHook('onRoute', ({ method, url }) => {
    if (/[*:]/.test(url)) return; // wildcard and parametric routes: the LFS table covers them
    const methods = table.get(url) ?? new Set<string>();
    for (const m of [method].flat()) methods.add(m);
    table.set(url, methods);
  });
}

/** the path of a request target, without its query */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** 405 naming what the route allows, with the `Allow` header */
export function methodNotAllowed(method: string, allowed: readonly string[]): LfsError {
  const list = allowed.join(', ');
  return lfsError('method_not_allowed', `${method} is not allowed here; allowed: ${list}`, { Allow: list });
}

/**
 * The LFS route a request is for, once its method and body type are acceptable there; throws the
 * 404, 405 or 415 it deserves otherwise. The route goes into the request's context first, so a
 * refused request is logged and counted under its route too.
 */
export function lfsRouteOf(request: FastifyRequest): LfsRoute {
  const path = pathOf(request.url);
  const route = parseLfsRoute(path);
  if (!route) throw notFoundOrNotAllowed(request.server, request.method, path);
  if (request.ctx) {
    request.ctx.repo = route.repoPath;
    request.ctx.route = route.endpoint.kind;
  }
  const allowed = LFS_ROUTE_METHODS[route.endpoint.kind];
  if (!allowed.includes(request.method)) throw methodNotAllowed(request.method, allowed);
  if (request.method === 'POST') requireJsonBody(request);
  return route;
}

/** 415 unless the request declares a JSON body (see the top of this file) */
export function requireJsonBody(request: FastifyRequest): void {
  const declared = request.headers['content-type'];
  const type = declared?.split(';')[0]?.trim().toLowerCase();
  if (type && JSON_BODY_TYPES.has(type)) return;
  throw lfsError(
    'unsupported_media_type',
    declared
      ? `Content-Type ${JSON.stringify(declared)} is not accepted here: send application/vnd.git-lfs+json`
      : 'Content-Type is missing: send application/vnd.git-lfs+json',
  );
}

/**
 * For a path that is no LFS route: 405 when the path has fixed routes for other methods
 * (recorded by `recordFixedRoutes`), 404 otherwise.
 */
export function notFoundOrNotAllowed(app: FastifyInstance, method: string, path: string): LfsError {
  const methods = fixedRoutes.get(app.server)?.get(path);
  if (!methods || methods.has(method)) return lfsError('route_not_found');
  const allowed = [...methods].sort(
    (a, b) => (METHOD_ORDER.indexOf(a) + 1 || 99) - (METHOD_ORDER.indexOf(b) + 1 || 99),
  );
  return methodNotAllowed(method, allowed);
}
