/**
 * What a client is told when a backend fails (issue 11 items 9 and 10; README "When a backend
 * fails"): an object store or database that cannot be reached is 503 with `Retry-After` (the
 * git-lfs client retries), a full disk or exhausted disk quota (the store's or the database's)
 * is 507. Both are the server's failure, never blamed on the client, and logged at error level by
 * the HTTP error handler.
 */
import { lfsError, type LfsError } from '../errors.js';
import { isDatabaseFull, isDatabaseUnavailable } from '../metadata/database-failure.js';
import { classifyBackendFailure } from '../storage/backend-failure.js';

/** The LFS error for a backend failure; undefined when `err` is not one. */
export function backendErrorToLfs(err: unknown): LfsError | undefined {
  const failure = classifyBackendFailure(err);
  if (failure === 'no_space' || isDatabaseFull(err)) return lfsError('insufficient_storage');
  if (failure === 'unavailable' || isDatabaseUnavailable(err)) return lfsError('backend_unavailable');
  return undefined;
}
