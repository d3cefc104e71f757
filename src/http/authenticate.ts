import type { FastifyRequest } from 'fastify';
import type { Caller } from '../auth/caller.js';
import { lfsError } from '../errors.js';
import { enforceRequestRate } from '../limits/install-limits.js';
import type { TransferOperation } from '../auth/transfer-token.js';
import type { Permission } from '../metadata/metadata-store.js';
import { clientAddress } from '../limits/client-address.js';
import type { AppDeps } from './app-deps.js';

/**
 * The caller of an API request, recorded for the request's log line, and counted against the
 * request rate limit (429 past it: limits/install-limits.ts).
 */
export async function authenticate(deps: AppDeps, request: FastifyRequest): Promise<Caller> {
  const caller = await deps.authenticator.authenticate({
    authorization: request.headers.authorization,
    address: clientAddress(request, deps.trustProxy ?? 0),
  });
  if (caller.kind === 'user') request.ctx.user = caller.user.name;
  await enforceRequestRate(deps, request, caller);
  return caller;
}

/** the permission each transfer needs, checked again when the transfer runs */
const NEEDS: Record<TransferOperation, Permission> = { upload: 'write', verify: 'write', download: 'read' };

/**
 * The size a transfer href's token was issued for. Transfer hrefs carry a server-signed token in
 * `Authorization: Bearer` (DESIGN.md "Auth"); 403 when it is missing, expired or for another
 * scope, or when the credential it was granted under has been revoked or no longer allows the
 * transfer (auth/credentials.ts): the client then goes back through the batch API.
 */
export async function requireTransferToken(
  deps: AppDeps,
  request: FastifyRequest,
  operation: TransferOperation,
  repoPath: string,
  oid: string,
): Promise<number> {
  const header = request.headers.authorization ?? '';
  const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  const granted = token && deps.tokens.verify(token, { operation, repoPath, oid });
  if (!granted) throw lfsError('forbidden', 'Transfer token missing, expired or not valid for this object');
  if (!(await deps.credentials.stillAllows(granted.credential, repoPath, NEEDS[operation]))) {
    throw lfsError('forbidden', 'The credential this transfer was granted under has been revoked');
  }
  return granted.size;
}
