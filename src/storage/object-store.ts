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

export interface PutOptions extends CallOptions {
  /**
   * lfsd's metadata records this content as stored with this size (uploaded before, maybe for
   * another repository: a fork). Only then does a store look whether it holds it (the disk store
   * opens the file, S3 sends a HeadObject), so new content costs nothing more; what the store
   * holds decides.
   */
  stored?: boolean;
}

/**
 * What a put did with the content: wrote it, or found it already stored with that size (another
 * repository's object: a fork) and only read the body through, for the verifier in front to check.
 */
export type PutResult = 'written' | 'already-stored';

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
/**
 * What a store can do beyond the core calls, declared as data (DESIGN.md "ObjectStore", like
 * tus-node-server's extensions): callers test these, never whether a method exists, because a
 * layer (DelegatingStore) defines every method whatever its inner store can do.
 * - `presign`: `presign()` hands out direct transfer URLs
 * - `staged-upload`: `presignStagedUpload()` and `commitStagedUpload()` (direct-mode uploads)
 * - `multipart-cleanup`: incomplete multipart uploads exist and can be listed and aborted
 * - `quarantine`: `quarantine()` moves an object's content aside, out of `list()` (fsck --repair)
 * - `local-file`: every object is a plain file on this machine (`localFile()`), so a reverse
 *   proxy in front of lfsd can send it itself (download offload, X-Accel-Redirect / X-Sendfile)
 * - `temp-cleanup`: uploads leave temp data a crash can orphan; `cleanTemp()` removes it
 */
/** temp data whose writer may still run is removed once this old (ObjectStore.cleanTemp at start) */
export const TEMP_GRACE_MS = 10 * 60_000;

export type StoreCapability =
  'presign' | 'staged-upload' | 'multipart-cleanup' | 'local-file' | 'quarantine' | 'temp-cleanup';

/** Where an object's file lies, with the `local-file` capability. */
export interface LocalFile {
  /** absolute path of the file */
  path: string;
  /** path below the store's objects directory, with `/` separators (`ab/cd/abcd…`) */
  relative: string;
}

export interface ObjectStore {
  /** backend or layer name, for metrics and logs */
  readonly kind: string;
  /** what this store can do beyond the core calls; a layer passes on exactly its inner store's */
  readonly capabilities: ReadonlySet<StoreCapability>;
  stat(oid: string, options?: CallOptions): Promise<{ size: number } | undefined>;
  get(oid: string, options?: CallOptions & { range?: ByteRange }): Promise<StoredObject | undefined>;
  put(oid: string, size: number, body: Readable, options?: PutOptions): Promise<PutResult>;
  delete(oid: string): Promise<void>;
  list(): AsyncIterable<{ oid: string; size: number }>;
  /**
   * With `quarantine`: moves the object's content aside (never deletes it) where `list()`, `get()`
   * and `stat()` no longer see it; resolves where it went, or undefined when there was none.
   */
  quarantine?(oid: string): Promise<string | undefined>;
  /** With `multipart-cleanup`: aborts incomplete multipart uploads started before `before`. */
  abortIncompleteUploads?(before: Date): Promise<number>;
  /**
   * With `temp-cleanup`: removes temp data of uploads that died (a crash, a SIGKILL): a writer known
   * dead at once, anything else once older than `olderThanMs` (uploads in progress keep theirs
   * fresh). Resolves how many it removed. lfsd calls it at start and from gc.
   */
  cleanTemp?(olderThanMs: number): Promise<number>;
  /** With `staged-upload`: deletes staged direct uploads never verified, written before `before`. */
  cleanStaging?(before: Date): Promise<{ count: number; bytes: number }>;
  /** The object's file, with the `local-file` capability; it may not exist (check `stat`). */
  localFile?(oid: string): LocalFile;
  /**
   * Direct transfer URLs (S3 presigning), with the `presign` capability; `undefined` means
   * "proxy through lfsd".
   * `download` is what the batch API hands out for an object linked to the repository. `upload`
   * writes the final key straight away, with no proof of possession: the batch API never hands it
   * out (it uses `presignStagedUpload`); it is there for tools and tests.
   */
  presign?(
    op: 'upload' | 'download',
    oid: string,
    size: number,
    ttlSeconds: number,
  ): Promise<SignedRequest | undefined>;
  /**
   * Direct upload, step 1: a presigned upload of `oid` into a staging area private to `scope` (lfsd
   * passes one scope per repository), never to the object's final key. The request signs the size
   * and the SHA-256 (`x-amz-checksum-sha256`, sent as a `header` the client must send), so the
   * store itself refuses other bytes. Nothing is visible to readers until `commitStagedUpload`.
   * `undefined` when the store cannot take this object directly (no presigning, or over the
   * single-request limit): the caller proxies it through lfsd instead.
   */
  presignStagedUpload?(
    scope: string,
    oid: string,
    size: number,
    ttlSeconds: number,
  ): Promise<SignedRequest | undefined>;
  /**
   * Direct upload, step 2 (the `verify` action): publish what a staged upload left under `scope`.
   * Resolves `false` when nothing is staged there for `oid` (the client never uploaded it to this
   * scope, whatever other scopes or the final key hold). Rejects with a `StoreError`
   * (`size_mismatch` or `hash_mismatch`) and deletes the staged object when it is not `size` bytes
   * hashing to `oid`. Otherwise makes the object visible under its
   * final key (unless it already was), removes the staged copy and resolves `true`; only then may
   * the caller link the object to the repository. Safe to repeat and to race with itself.
   */
  commitStagedUpload?(scope: string, oid: string, size: number, options?: CallOptions): Promise<boolean>;
  /** throws when the backend is unreachable (readiness probe) */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Why a store call failed. The caller's doing: `hash_mismatch`, `size_mismatch` (bad content),
 * `aborted` (the caller gave up or its body failed). The backend's: `unavailable` (unreachable,
 * timing out or failing on its side: worth retrying later), `no_space` (ENOSPC, EDQUOT), `io`
 * (anything else). backend-failure.ts tells the backend's apart.
 */
export type StoreErrorCode =
  'hash_mismatch' | 'size_mismatch' | 'aborted' | 'unavailable' | 'no_space' | 'io';

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
