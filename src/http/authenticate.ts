import type { FastifyRequest } from 'fastify';
import type { Caller } from '../auth/caller.js';
import { lfsError } from '../errors.js';
import type { TransferOperation } from '../auth/transfer-token.js';
import type { AppDeps } from './app-deps.js';

/** The caller of an API request, recorded for the request's log line. */
export async function authenticate(deps: AppDeps, request: FastifyRequest): Promise<Caller> {
  const caller = await deps.authenticator.authenticate(request.headers.authorization);
  if (caller.kind === 'user') request.ctx.user = caller.user.name;
  return caller;
}

/**
 * The size a transfer href's token was issued for. Transfer hrefs carry a server-signed token in
 * `Authorization: Bearer` (DESIGN.md "Auth"); 403 when it is missing, expired or for another
 * scope: the client then goes back through the batch API for a fresh one.
 */
export function requireTransferToken(
  deps: AppDeps,
  request: FastifyRequest,
  operation: TransferOperation,
  repoPath: string,
  oid: string,
): number {
  const header = request.headers.authorization ?? '';
  const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  const granted = token && deps.tokens.verify(token, { operation, repoPath, oid });
  if (!granted) throw lfsError('forbidden', 'Transfer token missing, expired or not valid for this object');
  return granted.size;
}
