/**
 * File Locking API endpoints (LFS-PROTOCOL.md section 4): HTTP in and out only; the rules live in
 * lfs/lock-service.ts.
 *   POST {base}/locks                  create: 201 `{lock}`, 409 `{lock, message}`
 *   GET  {base}/locks                  list:   200 `{locks, next_cursor?}`
 *   POST {base}/locks/verify           verify: 200 `{ours, theirs, next_cursor?}`
 *   POST {base}/locks/{id}/unlock      delete: 200 `{lock}`
 * Success bodies never carry `message`: the client reads any non-empty one as a failure.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { lfsError } from '../errors.js';
import { LockService } from '../lfs/lock-service.js';
import type { AppDeps } from './app-deps.js';
import { authenticate } from './authenticate.js';
import { requireLfsAccept, sendLfsJson } from './lfs-json.js';
import type { LfsEndpoint } from './lfs-route.js';

export type LockEndpoint = Exclude<LfsEndpoint, { kind: 'batch' | 'object' | 'verify' }>;

export async function handleLockRequest(
  deps: AppDeps,
  repoPath: string,
  endpoint: LockEndpoint,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  // the method (and a POST's Content-Type) were checked before the body was read: route-methods.ts
  const method = request.method;
  requireLfsAccept(request);
  const caller = await authenticate(deps, request);
  const locks = new LockService(deps.metadata);

  switch (endpoint.kind) {
    case 'locks': {
      if (method === 'GET') return sendLfsJson(reply, 200, await locks.list(caller, repoPath, request.query));
      const result = await locks.create(caller, repoPath, request.body);
      if (result.created) return sendLfsJson(reply, 201, { lock: result.lock });
      const { path, owner } = result.lock;
      const conflict = lfsError('lock_exists', `already created lock: ${path} is locked by ${owner.name}`);
      return sendLfsJson(reply, conflict.status, {
        lock: result.lock,
        message: conflict.message,
        request_id: request.id,
      });
    }
    case 'locks-verify':
      return sendLfsJson(reply, 200, await locks.verify(caller, repoPath, request.body));
    case 'unlock':
      return sendLfsJson(reply, 200, {
        lock: await locks.unlock(caller, repoPath, endpoint.lockId, request.body),
      });
  }
}
