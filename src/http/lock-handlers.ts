import type { FastifyReply, FastifyRequest } from 'fastify';
import { lfsError } from '../errors.js';
import type { AppDeps } from './app-deps.js';
import type { LfsEndpoint } from './lfs-route.js';

/**
 * File Locking API (LFS-PROTOCOL.md section 4). Until it is implemented, a JSON 404 is the answer
 * the protocol prescribes for a server without locking: the client then turns off push-time lock
 * verification instead of failing (section 4.3).
 */
export async function handleLockRequest(
  _deps: AppDeps,
  _repoPath: string,
  _endpoint: Exclude<LfsEndpoint, { kind: 'batch' | 'object' | 'verify' }>,
  _request: FastifyRequest,
  _reply: FastifyReply,
): Promise<never> {
  throw lfsError('route_not_found', 'Locking is not supported by this server');
}
