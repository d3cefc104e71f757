import type { FastifyReply, FastifyRequest } from 'fastify';
import { credentialRef } from '../auth/credentials.js';
import { parseBatchRequest } from '../lfs/batch-request.js';
import { lfsBaseUrl } from '../lfs/hrefs.js';
import { openRepo } from '../lfs/repo-access.js';
import type { AppDeps } from './app-deps.js';
import { authenticate } from './authenticate.js';
import { requireLfsAccept, sendLfsJson } from './lfs-json.js';

/** POST {base}/objects/batch (LFS-PROTOCOL.md section 2). */
export async function handleBatch(
  deps: AppDeps,
  repoPath: string,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  requireLfsAccept(request);
  const caller = await authenticate(deps, request);
  const batch = parseBatchRequest(request.body, deps.limits);
  const need = batch.operation === 'upload' ? 'write' : 'read';
  const { repo } = await openRepo(deps.metadata, caller, repoPath, need, {
    create: batch.operation === 'upload',
  });
  const response = await deps.planner.plan(batch, {
    repoPath,
    repo,
    baseUrl: lfsBaseUrl(deps.publicUrl, repoPath),
    credential: credentialRef(caller),
  });
  deps.metrics.countBatch(batch.operation, response.objects);
  return sendLfsJson(reply, 200, response);
}
