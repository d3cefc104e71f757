/**
 * Which backend failures are worth a retry and which are a full disk (issue 11 items 9 and 10),
 * whatever layer the error comes through: a Node system error (`ECONNREFUSED`, `ENOSPC`), an AWS
 * SDK error (a 5xx answer, `SlowDown`, a timeout), or any error wrapping one of those as its
 * `cause` (a StoreError('io'), an AggregateError of several connection attempts).
 */
import { searchErrorChain } from '../error-chain.js';
import { StoreError, type StoreErrorCode } from './object-store.js';
import { httpStatusOf, s3ErrorCode } from './s3-errors.js';

export type BackendFailure = 'unavailable' | 'no_space';

/** system error codes of a backend that cannot be reached, or stopped answering */
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
/** no space left on the device, or the user's disk quota is exhausted */
const NO_SPACE_ERRNOS = new Set(['ENOSPC', 'EDQUOT']);
/** S3 error codes (or SDK error names) that say "the service, not the request, failed" */
const UNAVAILABLE_S3_CODES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);

/** True for the system error code of a connection that was refused, dropped or timed out. */
export function isConnectionFailureCode(code: string): boolean {
  return UNAVAILABLE_ERRNOS.has(code);
}

/** How `err` (or an error it wraps) failed in the backend; undefined when it was something else. */
export function classifyBackendFailure(err: unknown): BackendFailure | undefined {
  return searchErrorChain<BackendFailure>(err, (current) => {
    if (current instanceof StoreError) {
      if (current.code === 'unavailable' || current.code === 'no_space') return current.code;
      // the caller's doing (a client gone with ECONNRESET is not the backend failing): look no deeper
      if (current.code !== 'io') return 'skip';
    }
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NO_SPACE_ERRNOS.has(code)) return 'no_space';
    if (typeof code === 'string' && UNAVAILABLE_ERRNOS.has(code)) return 'unavailable';
    const s3Code = s3ErrorCode(current);
    const status = httpStatusOf(current);
    if (
      (s3Code !== undefined && UNAVAILABLE_S3_CODES.has(s3Code)) ||
      (status !== undefined && status >= 500)
    ) {
      return 'unavailable';
    }
    return undefined;
  });
}

/** The StoreError code for a failure in the backend: `unavailable`, `no_space`, else `io`. */
export function backendErrorCode(err: unknown): StoreErrorCode {
  return classifyBackendFailure(err) ?? 'io';
}
