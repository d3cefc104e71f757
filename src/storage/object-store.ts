import type { Readable } from 'node:stream';

/** An inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface StoredObject {
  /** size of the whole object, even when a range was asked for */
  size: number;
  /** the requested bytes (the whole object, or the range) */
  body: Readable;
}

export interface SignedRequest {
  href: string;
  header: Record<string, string>;
  expiresIn: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/**
 * Content-addressed object storage (DESIGN.md "ObjectStore"). Objects are named by their
 * SHA-256 `oid` (64 lowercase hex, validated before any call reaches a store).
 *
 * Rules every implementation keeps (the conformance suite in test/storage checks them):
 * - not found is `undefined`, never an error;
 * - `put` makes the object visible only once all `size` bytes arrived and were persisted; a put
 *   whose body errors, ends short, runs long or is aborted leaves nothing visible and no temp
 *   data behind, and rejects with a `StoreError`;
 * - concurrent puts of one oid end with one correct object;
 * - memory per call is bounded whatever the object size (stream, never buffer).
 */
export interface ObjectStore {
  /** backend or layer name, for metrics and logs */
  readonly kind: string;
  stat(oid: string, options?: CallOptions): Promise<{ size: number } | undefined>;
  get(oid: string, options?: CallOptions & { range?: ByteRange }): Promise<StoredObject | undefined>;
  put(oid: string, size: number, body: Readable, options?: CallOptions): Promise<void>;
  delete(oid: string): Promise<void>;
  list(): AsyncIterable<{ oid: string; size: number }>;
  /** direct transfer URLs (S3 presigning); absent or `undefined` means "proxy through lfsd" */
  presign?(op: 'upload' | 'download', oid: string, size: number, ttlSeconds: number): Promise<SignedRequest | undefined>;
  /** throws when the backend is unreachable (readiness probe) */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type StoreErrorCode = 'hash_mismatch' | 'size_mismatch' | 'aborted' | 'io';

/** The one error type stores throw for a failed put; the HTTP layer maps codes to LFS errors. */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** `^[0-9a-f]{64}$`: the only oids lfsd accepts (LFS-PROTOCOL.md section 7); protects storage paths. */
export const OID_PATTERN = /^[0-9a-f]{64}$/;

export function isValidOid(oid: unknown): oid is string {
  return typeof oid === 'string' && OID_PATTERN.test(oid);
}
