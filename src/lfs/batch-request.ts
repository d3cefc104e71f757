/**
 * Validation of a Batch API request body (LFS-PROTOCOL.md sections 2.1 and 7). Lenient where the
 * protocol asks it to be (unknown fields, `ref` missing/null/{}, `transfers` absent), strict where
 * it protects the server (oid shape, safe integer sizes, number of objects).
 */
import { lfsError } from '../errors.js';
import { isValidOid, isValidSize } from '../rules.js';

export type Operation = 'upload' | 'download';

export interface RequestedObject {
  oid: string;
  size: number;
}

/** An object the request named but that cannot be served, with its per-object error. */
export interface RejectedObject {
  oid: string;
  size: number;
  error: { code: number; message: string };
}

export interface BatchRequest {
  operation: Operation;
  /** valid objects, deduplicated by oid, in request order */
  objects: RequestedObject[];
  /** objects that get a per-object error whatever the repository holds */
  rejected: RejectedObject[];
  transfers: string[];
  refName: string | undefined;
}

export interface BatchLimits {
  maxObjects: number;
  maxObjectSize: number;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseBatchRequest(body: unknown, limits: BatchLimits): BatchRequest {
  if (!isObject(body)) throw lfsError('validation', 'Request body must be a JSON object');
  const { operation, objects, transfers, ref, hash_algo: hashAlgo } = body;
  if (operation !== 'upload' && operation !== 'download') {
    throw lfsError('validation', 'operation must be "upload" or "download"');
  }
  if (!Array.isArray(objects)) throw lfsError('validation', 'objects must be an array');
  if (objects.length > limits.maxObjects) {
    throw lfsError(
      'too_many_objects',
      `Too many objects in one batch: ${objects.length} (at most ${limits.maxObjects})`,
    );
  }
  if (
    transfers !== undefined &&
    transfers !== null &&
    !(Array.isArray(transfers) && transfers.every((t) => typeof t === 'string'))
  ) {
    throw lfsError('validation', 'transfers must be an array of strings');
  }
  if (ref !== undefined && ref !== null && !isObject(ref))
    throw lfsError('validation', 'ref must be an object');
  const refName = isObject(ref) && typeof ref.name === 'string' ? ref.name : undefined;
  if (hashAlgo !== undefined && hashAlgo !== null && typeof hashAlgo !== 'string') {
    throw lfsError('validation', 'hash_algo must be a string');
  }

  const valid: RequestedObject[] = [];
  const rejected: RejectedObject[] = [];
  let malformed = 0;
  const seen = new Set<string>();
  for (const item of objects) {
    const oid = isObject(item) ? item.oid : undefined;
    const size = isObject(item) ? item.size : undefined;
    const echoOid = typeof oid === 'string' ? oid.slice(0, 200) : '';
    const echoSize = typeof size === 'number' && Number.isSafeInteger(size) ? size : 0;
    if (!isValidOid(oid)) {
      malformed++;
      rejected.push({
        oid: echoOid,
        size: echoSize,
        error: { code: 422, message: 'Invalid oid: expected 64 lowercase hex characters' },
      });
    } else if (!isValidSize(size)) {
      malformed++;
      rejected.push({
        oid,
        size: echoSize,
        error: { code: 422, message: 'Invalid size: expected a non-negative integer' },
      });
    } else if (seen.has(oid)) {
      continue; // the client deduplicates, but retries may repeat an oid: answer it once
    } else if (seen.add(oid) && hashAlgo && hashAlgo !== 'sha256') {
      rejected.push({
        oid,
        size,
        error: { code: 409, message: `Unsupported hash algorithm ${hashAlgo}: only sha256` },
      });
    } else if (operation === 'upload' && size > limits.maxObjectSize) {
      rejected.push({
        oid,
        size,
        error: {
          code: 422,
          message: `Object size ${size} exceeds the maximum of ${limits.maxObjectSize} bytes`,
        },
      });
    } else {
      valid.push({ oid, size });
    }
  }
  if (objects.length > 0 && malformed === objects.length) {
    throw lfsError('validation', rejected[0]?.error.message ?? 'No valid objects');
  }
  return {
    operation,
    objects: valid,
    rejected,
    transfers: (transfers as string[] | undefined) ?? ['basic'],
    refName,
  };
}
