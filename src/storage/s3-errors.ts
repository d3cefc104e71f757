/**
 * Recognising S3 errors across S3-compatible servers (AWS, MinIO, Ceph RGW, R2, s3rver). They do
 * not agree on error names: GetObject says `NoSuchKey`, HeadObject has no body so the SDK can only
 * call it `NotFound`, and some servers send other codes with a plain 404. The HTTP status is the
 * one thing they share.
 */

interface SdkErrorShape {
  name?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

const NOT_FOUND_NAMES = new Set(['NoSuchKey', 'NotFound', 'NoSuchUpload']);

/** The S3 error code (`NoSuchKey`, `SlowDown`...) of an SDK error, if it has one. */
export function s3ErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { Code, name } = err as SdkErrorShape;
  if (typeof Code === 'string') return Code;
  return typeof name === 'string' ? name : undefined;
}

/** HTTP status of the response an SDK error came from, if any. */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = (err as SdkErrorShape).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/**
 * True when an object (or multipart upload) does not exist. A missing *bucket* is also a 404 but is
 * a configuration error, not "no such object": it must surface, not read as an empty store. (HeadObject
 * cannot tell the two apart, having no body; `ping()` checks the bucket for that reason.)
 */
export function isNotFound(err: unknown): boolean {
  const code = s3ErrorCode(err);
  if (code === 'NoSuchBucket') return false;
  if (code !== undefined && NOT_FOUND_NAMES.has(code)) return true;
  return httpStatusOf(err) === 404;
}

/** True for an error caused by an AbortSignal (the SDK's own, or DOM-style AbortError). */
export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}
