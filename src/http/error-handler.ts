/**
 * Renders every error as LFS JSON `{ message, request_id }` with the catalogue's status
 * (src/errors.ts). Errors that are not LfsErrors are mapped here, in one place.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isLfsError, lfsError, type LfsError } from '../errors.js';
import { backendErrorToLfs } from '../lfs/backend-errors.js';
import { RuleViolation } from '../rules.js';
import { LFS_JSON } from './lfs-json.js';
import { lfsRouteOf } from './route-methods.js';

export function toLfsError(err: FastifyError | Error): LfsError {
  if (isLfsError(err)) return err;
  if (err instanceof RuleViolation) return lfsError('validation', err.message);
  const backend = backendErrorToLfs(err);
  if (backend) return backend;
  const fastifyError = err as FastifyError;
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return lfsError('too_large');
  if (fastifyError.statusCode === 413) return lfsError('too_large');
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return lfsError('bad_request', fastifyError.message);
  }
  return lfsError('internal');
}

/**
 * For Fastify's `frameworkErrors` option (set where the instance is constructed): errors Fastify
 * meets before any route or hook runs, above all a path whose percent-encoding does not decode
 * (`/alice/%zz/objects/batch`). Without it Fastify answers those in its own `application/json`
 * shape, with no `request_id`; the LFS client wants LFS JSON everywhere (LFS-PROTOCOL.md section 8).
 */
export function renderFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const lfs =
    err.code === 'FST_ERR_BAD_URL'
      ? lfsError('bad_request', 'The request path is not valid percent-encoded UTF-8')
      : toLfsError(err);
  void reply
    .code(lfs.status)
    .headers({ ...lfs.headers, 'X-Request-Id': request.id })
    .type(LFS_JSON)
    .send({ message: lfs.message, request_id: request.id });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const lfs = toLfsError(err);
    if (lfs.status >= 500) request.log.error({ err }, 'request failed');
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy();
      return;
    }
    sendLfsError(request, reply, lfs);
  });
  installNotFound(app);
}

/**
 * Requests no route took: 405 with `Allow` for a method the path does not have (an LFS route or
 * a fixed one such as /healthz), 404 for a path that is no route (route-methods.ts).
 */
export function installNotFound(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    let lfs: LfsError;
    try {
      lfsRouteOf(request);
      lfs = lfsError('route_not_found');
    } catch (err) {
      lfs = toLfsError(err as Error);
    }
    sendLfsError(request, reply, lfs);
  });
}

/** `lfs` as the client sees every error: its status and headers, `{ message, request_id }` */
export function sendLfsError(request: FastifyRequest, reply: FastifyReply, lfs: LfsError): void {
  void reply
    .code(lfs.status)
    .headers(lfs.headers)
    .type(LFS_JSON)
    .send({ message: lfs.message, request_id: request.id });
}
