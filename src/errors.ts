/**
 * The one catalogue of errors lfsd answers with. Every error that reaches a client is an
 * `LfsError`: a stable code, an HTTP status and a message, rendered by the HTTP layer as
 * `application/vnd.git-lfs+json` `{ message, request_id, code }` (LFS-PROTOCOL.md section 2.3).
 * Layers below HTTP throw these (or their own small errors that the HTTP layer maps here).
 */
export class LfsError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'LfsError';
  }
}

export type ErrorCode = keyof typeof catalogue;

const REALM = 'Basic realm="lfsd"';

/** status and default message for every error code */
const catalogue = {
  unauthorized: { status: 401, message: 'Credentials needed', headers: { 'LFS-Authenticate': REALM } },
  bad_credentials: { status: 401, message: 'Bad credentials', headers: { 'LFS-Authenticate': REALM } },
  forbidden: { status: 403, message: 'You do not have write access to this repository' },
  repo_not_found: { status: 404, message: 'Repository not found' },
  user_not_found: { status: 404, message: 'User not found' },
  token_not_found: { status: 404, message: 'Token not found' },
  grant_not_found: { status: 404, message: 'Grant not found' },
  key_not_found: { status: 404, message: 'SSH key not found' },
  object_not_found: { status: 404, message: 'Object does not exist' },
  lock_not_found: { status: 404, message: 'Lock not found' },
  route_not_found: { status: 404, message: 'Not found' },
  method_not_allowed: { status: 405, message: 'Method not allowed' },
  not_acceptable: { status: 406, message: 'Accept must be application/vnd.git-lfs+json' },
  lock_exists: { status: 409, message: 'already created lock' },
  already_exists: { status: 409, message: 'Already exists' },
  hash_algo: { status: 409, message: 'Unsupported hash algorithm' },
  too_large: { status: 413, message: 'Request body too large' },
  too_many_objects: { status: 413, message: 'Too many objects in one batch' },
  unsupported_media_type: {
    status: 415,
    message: 'Content-Type must be application/vnd.git-lfs+json (or application/json)',
  },
  range_not_satisfiable: { status: 416, message: 'Range not satisfiable' },
  validation: { status: 422, message: 'Validation error' },
  bad_request: { status: 400, message: 'Bad request' },
  hash_mismatch: { status: 400, message: 'Content does not match its oid' },
  size_mismatch: { status: 400, message: 'Content size does not match the declared size' },
  upload_aborted: { status: 400, message: 'Upload ended before all bytes arrived' },
  object_too_large: { status: 413, message: 'Object is larger than this server accepts' },
  rate_limited: { status: 429, message: 'Too many requests' },
  transfers_busy: { status: 429, message: 'Too many transfers in progress: retry later' },
  overloaded: { status: 503, message: 'Server overloaded: retry later' },
  not_ready: { status: 503, message: 'Server is not ready' },
  object_collected: {
    status: 503,
    message: 'The object was garbage collected while it was uploaded: send it again',
    headers: { 'Retry-After': '1' },
  },
  backend_unavailable: {
    status: 503,
    message: 'A storage backend of this server is unavailable: retry later',
    headers: { 'Retry-After': '5' },
  },
  insufficient_storage: { status: 507, message: 'No space left on this server to store the object' },
  internal: { status: 500, message: 'Internal server error' },
} satisfies Record<string, { status: number; message: string; headers?: Record<string, string> }>;

/** Build the catalogue's error for `code`, optionally with a more specific message and extra headers. */
export function lfsError(code: ErrorCode, message?: string, headers?: Record<string, string>): LfsError {
  const entry: { status: number; message: string; headers?: Record<string, string> } = catalogue[code];
  return new LfsError(code, entry.status, message ?? entry.message, { ...entry.headers, ...headers });
}

export function isLfsError(err: unknown): err is LfsError {
  return err instanceof LfsError;
}
