/**
 * The overload guards in front of the LFS routes, as one `onRequest` hook, so that they decide
 * before any request body is read:
 *
 *   - transfers (PUT/GET of object bytes) take a slot (transfer-slots.ts), released when their
 *     response closes, whether it finished or the client went away; over the limits: `429`;
 *   - new batch requests are shed while the process is overloaded (load-shedder.ts);
 * and the request rate limit (`rateLimit`), applied where API requests authenticate
 * (http/authenticate.ts), since it counts per user.
 * Every refusal carries `Retry-After` and an LFS JSON message, and is counted in
 * lfsd_limited_requests_total or lfsd_shed_requests_total.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../auth/caller.js';
import { LfsError, lfsError } from '../errors.js';
import type { AppDeps } from '../http/app-deps.js';
import { parseLfsRoute } from '../http/lfs-route.js';
import { addressLimitKey, clientAddress } from './client-address.js';
import type { LoadShedder } from './load-shedder.js';
import { rateLimitedError, type RateLimit } from './rate-limit.js';
import type { TransferSlots } from './transfer-slots.js';

export interface OverloadControls {
  /** API requests per user (per address for anonymous callers) per window (`rateLimit`) */
  requestRate?: RateLimit;
  transferSlots?: TransferSlots;
  shedder?: LoadShedder;
  /** proxies in front of lfsd whose X-Forwarded-For is believed (settings.trustProxy) */
  trustProxy: number;
  /** the status of a shed batch request */
  shedStatus: 429 | 503;
  /** stop timers, refuse waiting transfers, disconnect from Redis (shutdown) */
  close(): Promise<void>;
}

/** seconds a refused transfer is told to wait: a slot frees as soon as any transfer ends */
const TRANSFER_RETRY_AFTER_S = 1;
/** seconds a shed batch request is told to wait: one or more sample periods of the shedder */
const SHED_RETRY_AFTER_S = 2;

export function installLimits(app: FastifyInstance, deps: AppDeps): void {
  const controls = deps.overload;
  if (!controls) return;
  app.addHook('onRequest', async (request, reply) => {
    const method = request.method;
    if (method !== 'PUT' && method !== 'GET' && method !== 'POST') return;
    const route = parseLfsRoute(request.url.split('?')[0] ?? '');
    if (!route) return;
    const kind = route.endpoint.kind;
    if (kind === 'object' && method !== 'POST' && controls.transferSlots) {
      const operation = method === 'PUT' ? 'upload' : 'download';
      const user = transferUser(deps, request, operation, route.repoPath, route.endpoint.oid);
      const free = controls.transferSlots.tryAcquire(user);
      if (free) {
        // the slot is held until the response closes: finished, failed or cut
        reply.raw.once('close', free);
        return;
      }
      const gone = new AbortController();
      const onClose = () => gone.abort();
      reply.raw.once('close', onClose);
      const slot = await controls.transferSlots.acquire(user, gone.signal);
      if (typeof slot === 'function') {
        // the slot is held until the response closes: finished, failed or cut
        if (gone.signal.aborted) slot();
        else reply.raw.once('close', slot);
        reply.raw.off('close', onClose);
        return;
      }
      reply.raw.off('close', onClose);
      request.ctx.route = kind;
      request.ctx.repo = route.repoPath;
      deps.metrics.limitedRequests.inc({ reason: slot });
      // an upload's body was not read: close the connection rather than read it to discard it
      if (method === 'PUT') void reply.header('Connection', 'close');
      throw lfsError('transfers_busy', undefined, { 'Retry-After': String(TRANSFER_RETRY_AFTER_S) });
    }
    if (kind === 'batch' && method === 'POST' && controls.shedder) {
      const reason = controls.shedder.overloaded();
      if (!reason) return;
      request.ctx.route = kind;
      request.ctx.repo = route.repoPath;
      deps.metrics.shedRequests.inc({ reason });
      throw new LfsError('overloaded', controls.shedStatus, 'Server overloaded: retry later', {
        'Retry-After': String(SHED_RETRY_AFTER_S),
      });
    }
  });
}

/**
 * Whom a transfer counts against for `maxTransfersPerUser`: the credential its (valid) token was
 * granted under, a password's user by id; the anonymous caller, or a token that does not verify
 * (the handler refuses it at once), by client address.
 */
function transferUser(
  deps: AppDeps,
  request: FastifyRequest,
  operation: 'upload' | 'download',
  repoPath: string,
  oid: string,
): string {
  const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  const credential = token && deps.tokens.verify(token, { operation, repoPath, oid })?.credential;
  if (!credential || credential === 'a') {
    return `ip:${addressLimitKey(clientAddress(request.raw, deps.overload?.trustProxy ?? 0))}`;
  }
  const password = /^p(\d+)-/.exec(credential);
  return password ? `user:${password[1]}` : `credential:${credential}`;
}

/**
 * Counts an authenticated API request (batch, locks, admin API) against `rateLimit`: per user, per
 * client address for the anonymous caller. Over it: 429 + Retry-After (the time left in the
 * window), which the git-lfs client waits out and retries.
 */
export async function enforceRequestRate(
  deps: AppDeps,
  request: FastifyRequest,
  caller: Caller,
): Promise<void> {
  const limit = deps.overload?.requestRate;
  if (!limit) return;
  const key =
    caller.kind === 'user'
      ? `user:${caller.user.id}`
      : `ip:${addressLimitKey(clientAddress(request.raw, deps.overload?.trustProxy ?? 0))}`;
  const decision = await limit.consume(key);
  if (decision.allowed) return;
  deps.metrics.limitedRequests.inc({ reason: 'rate_limit' });
  throw rateLimitedError(decision.retryAfterSeconds, 'Too many requests: retry later');
}
