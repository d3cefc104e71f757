/**
 * S3Store: objects in Amazon S3 or any S3-compatible store (MinIO, Ceph RGW, R2...).
 *
 * Key layout: `<prefix>ab/cd/<oid>` (`ab`, `cd`: the oid's first two byte pairs), the same relative
 * layout as DiskStore's `<data-dir>/objects/ab/cd/<oid>`, so that moving between the embedded and the
 * scale-out setup is a plain copy (`aws s3 sync <data-dir>/objects s3://bucket/<prefix>`). S3 itself
 * needs no fan-out; `list()` ignores keys under the prefix that do not follow the layout.
 *
 * Direct uploads (transfer mode `direct`) never write those keys: they go to
 * `<prefix>staging/<scope hash>/<oid>`, one staging area per repository, and `commitStagedUpload`
 * (the verify action) copies them into place. So an upload URL for one repository can never make
 * content appear in another, nor can a verify without an upload link content someone else stored
 * (proof of possession, DESIGN.md). Staged objects that are never verified stay under `staging/`:
 * a bucket lifecycle rule expires them (README "Production deployment").
 *
 * SDK settings: see s3-client.ts (default credential chain, `WHEN_REQUIRED` checksums).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { isValidOid } from '../rules.js';
import {
  type ByteRange,
  type CallOptions,
  type PutOptions,
  type PutResult,
  type ObjectStore,
  type SignedRequest,
  type StoreCapability,
  type StoredObject,
  StoreError,
} from './object-store.js';
import { keepFreedHeapMemory } from './malloc-trim.js';
import { createS3Client, type S3ClientOptions } from './s3-client.js';
import { httpStatusOf, isNotFound } from './s3-errors.js';
import { drainExactly } from './exact-copy.js';
import { partSizeFor, uploadStream } from './s3-upload.js';

export { isNotFound } from './s3-errors.js';

/** Largest object a single (presigned) PutObject may carry: 5 GiB. Larger ones go through lfsd. */
export const MAX_PRESIGNED_UPLOAD_SIZE = 5 * 1024 ** 3;

/** The client options (endpoint, region, path style, credentials) are those of s3-client.ts. */
export interface S3StoreOptions extends S3ClientOptions {
  bucket: string;
  /** key prefix, e.g. `lfs/` (a missing trailing `/` is added); default: the bucket root */
  prefix?: string;
  /** a ready client instead of the options above; the caller keeps ownership (close() leaves it alone) */
  client?: S3Client;
  /** minimum multipart part size in bytes (default and floor 5 MiB; grows so that 10,000 parts suffice) */
  partSize?: number;
  /** parts uploaded at once per put (default 4); memory per put is about (queueSize + 1) * partSize */
  queueSize?: number;
  /** keys per ListObjectsV2 page (default 1000, S3's maximum) */
  listPageSize?: number;
}

/** An incomplete multipart upload under the store's prefix (see `incompleteUploads()`). */
export interface IncompleteUpload {
  key: string;
  uploadId: string;
  initiated?: Date;
}

const DEFAULT_QUEUE_SIZE = 4;
/** where direct uploads wait for their verify, under the prefix (see the module comment) */
export const STAGING_DIR = 'staging/';
/** where fsck --repair moves corrupt content, under the prefix */
export const QUARANTINE_DIR = 'quarantine/';

export class S3Store implements ObjectStore {
  readonly kind = 's3';
  readonly capabilities: ReadonlySet<StoreCapability> = new Set([
    'presign',
    'staged-upload',
    'multipart-cleanup',
    'quarantine',
  ]);
  private readonly client: S3Client;
  private readonly ownsClient: boolean;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly keyPattern: RegExp;

  constructor(private readonly options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix);
    this.keyPattern = new RegExp(`^${escapeRegExp(this.prefix)}([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})$`);
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? createS3Client(options);
    // downloads stream through Node's HTTP client, which allocates two buffers per 64 KiB: see malloc-trim.ts
    keepFreedHeapMemory();
  }

  /** The S3 key of an oid (exposed for tests and tools). */
  keyFor(oid: string): string {
    // oids are validated before reaching a store; checked again because they become key paths
    if (!isValidOid(oid)) throw new TypeError(`invalid oid: ${JSON.stringify(oid)}`);
    return `${this.prefix}${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;
  }

  /**
   * The S3 key a direct upload of `oid` for `scope` is staged under: `<prefix>staging/<h>/<oid>`,
   * `h` the first 32 hex digits of SHA-256(scope), so any scope string makes a safe, fixed-length key
   * (and `list()`, which only matches `ab/cd/<oid>`, never sees staged objects).
   */
  stagingKeyFor(scope: string, oid: string): string {
    if (!isValidOid(oid)) throw new TypeError(`invalid oid: ${JSON.stringify(oid)}`);
    const scopeHash = createHash('sha256').update(scope, 'utf8').digest('hex').slice(0, 32);
    return `${this.prefix}${STAGING_DIR}${scopeHash}/${oid}`;
  }

  async stat(oid: string, options: CallOptions = {}): Promise<{ size: number } | undefined> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyFor(oid) }),
        {
          abortSignal: options.signal,
        },
      );
      return { size: requireNumber(head.ContentLength, 'HeadObject Content-Length') };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async get(
    oid: string,
    options: CallOptions & { range?: ByteRange } = {},
  ): Promise<StoredObject | undefined> {
    const { range, signal } = options;
    if (range && !(Number.isSafeInteger(range.start) && range.start >= 0 && range.end >= range.start)) {
      throw new RangeError(`invalid byte range ${range.start}-${range.end}`);
    }
    let response;
    try {
      response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.keyFor(oid),
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      if (httpStatusOf(err) === 416) {
        throw new RangeError(`range ${range?.start}-${range?.end} is not satisfiable for ${oid}`, {
          cause: err,
        });
      }
      throw err;
    }
    const body = response.Body;
    if (!(body instanceof Readable)) throw new Error('S3 GetObject returned no Node.js stream');
    try {
      const size = range
        ? sizeFromContentRange(response.ContentRange, range)
        : requireNumber(response.ContentLength, 'Content-Length');
      return { size, body };
    } catch (err) {
      body.destroy();
      throw err;
    }
  }

  async put(oid: string, size: number, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    const { signal } = options;
    if (!isValidOid(oid) || !Number.isSafeInteger(size) || size < 0) {
      body.destroy();
      throw new RangeError(`invalid put of ${JSON.stringify(oid)} with size ${size}`);
    }
    // Content S3 already holds (a fork, a push to a new repository uploads every object again),
    // asked only when lfsd's metadata says it is stored, so new content costs no extra request:
    // one HeadObject instead of a PutObject or a multipart upload (and, in a versioned bucket, a
    // new version of the same bytes). The body is still read to its end, so that the verifier in
    // front of this store checks it (the client's proof of possession).
    if (options.stored && (await this.sizeInBucket(oid, signal)) === size) {
      await drainExactly(body, size, signal);
      return 'already-stored';
    }
    await uploadStream(
      { client: this.client, bucket: this.bucket, key: this.keyFor(oid) },
      body,
      {
        size,
        partSize: partSizeFor(size, this.options.partSize),
        queueSize: this.options.queueSize ?? DEFAULT_QUEUE_SIZE,
        checksumSha256: oidToBase64(oid),
      },
      signal,
    );
    return 'written';
  }

  /**
   * The size of the object's content in S3, or undefined when it is missing or the HeadObject
   * fails: the put then uploads, and reports its own failure if S3 is down.
   */
  private async sizeInBucket(oid: string, signal?: AbortSignal): Promise<number | undefined> {
    try {
      return (await this.stat(oid, { signal }))?.size;
    } catch {
      return undefined;
    }
  }

  async delete(oid: string): Promise<void> {
    await this.deleteKey(this.keyFor(oid));
  }

  private async deleteKey(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      // S3 answers 204 for a missing key; some compatible servers answer 404
      if (!isNotFound(err)) throw err;
    }
  }

  async *list(): AsyncIterable<{ oid: string; size: number }> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix || undefined,
          ContinuationToken: token,
          MaxKeys: this.options.listPageSize,
        }),
      );
      for (const item of page.Contents ?? []) {
        const oid = this.oidOf(item.Key);
        if (oid !== undefined && item.Size !== undefined) yield { oid, size: item.Size };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Multipart uploads started under the prefix and never completed nor aborted. A put that fails
   * aborts its own; anything listed here comes from a process that died mid-upload (or is a put in
   * progress). Used by tests and maintenance tools.
   */
  async *incompleteUploads(): AsyncIterable<IncompleteUpload> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.bucket,
          Prefix: this.prefix || undefined,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key && upload.UploadId) {
          yield { key: upload.Key, uploadId: upload.UploadId, initiated: upload.Initiated };
        }
      }
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  /** Aborts multipart uploads under the prefix initiated before `before`; returns how many. */
  async abortIncompleteUploads(before: Date): Promise<number> {
    let aborted = 0;
    for await (const upload of this.incompleteUploads()) {
      if (upload.initiated === undefined || upload.initiated >= before) continue;
      try {
        await this.client.send(
          new AbortMultipartUploadCommand({
            Bucket: this.bucket,
            Key: upload.key,
            UploadId: upload.uploadId,
          }),
        );
        aborted++;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return aborted;
  }

  /** Deletes staged direct uploads (never verified) last written before `before`. */
  async cleanStaging(before: Date): Promise<{ count: number; bytes: number }> {
    const removed = { count: 0, bytes: 0 };
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: `${this.prefix}${STAGING_DIR}`,
          ContinuationToken: token,
          MaxKeys: this.options.listPageSize,
        }),
      );
      for (const item of page.Contents ?? []) {
        if (!item.Key || !item.LastModified || item.LastModified >= before) continue;
        await this.deleteKey(item.Key);
        removed.count++;
        removed.bytes += item.Size ?? 0;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return removed;
  }

  /** Server-side copy to `<prefix>quarantine/<oid>.<time>`, then deletes the object's key. */
  async quarantine(oid: string): Promise<string | undefined> {
    const key = this.keyFor(oid);
    const target = `${this.prefix}${QUARANTINE_DIR}${oid}.${new Date().toISOString().replace(/[:.]/g, '-')}`;
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: target,
          CopySource: `${this.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    await this.deleteKey(key);
    return `s3://${this.bucket}/${target}`;
  }

  /**
   * Direct transfer URLs. Upload (to the final key; the batch API uses `presignStagedUpload`): a
   * presigned PutObject that signs `Content-Length` and `x-amz-checksum-sha256` (the oid in base64),
   * so S3 rejects a body of another size or hash; the client must send the returned `header`.
   * Objects over 5 GiB cannot be sent in one PutObject: undefined, the caller proxies them.
   * Download: a presigned GetObject, for any size, valid for `ttlSeconds` (`X-Amz-Expires`).
   */
  async presign(
    op: 'upload' | 'download',
    oid: string,
    size: number,
    ttlSeconds: number,
  ): Promise<SignedRequest | undefined> {
    const key = this.keyFor(oid);
    if (op === 'download') {
      const href = await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
        expiresIn: ttlSeconds,
      });
      return { href, header: {}, expiresIn: ttlSeconds };
    }
    return this.presignPut(key, oid, size, ttlSeconds);
  }

  /** See `ObjectStore.presignStagedUpload`: `presign('upload')`'s request, aimed at the staging key. */
  async presignStagedUpload(
    scope: string,
    oid: string,
    size: number,
    ttlSeconds: number,
  ): Promise<SignedRequest | undefined> {
    return this.presignPut(this.stagingKeyFor(scope, oid), oid, size, ttlSeconds);
  }

  /**
   * See `ObjectStore.commitStagedUpload`. HEAD of the staged object: its size, and the SHA-256 S3
   * recorded when it checked the presigned PUT's `x-amz-checksum-sha256`; a store that records none
   * may not have checked it either, so then the staged bytes are streamed through a SHA-256 here
   * (one read of the object). Then a server-side CopyObject to the final key (one request up to
   * 5 GiB, the presigned-upload limit; atomic on S3) unless the final key already holds the object,
   * and DeleteObject of the staged copy.
   */
  async commitStagedUpload(
    scope: string,
    oid: string,
    size: number,
    options: CallOptions = {},
  ): Promise<boolean> {
    const stagingKey = this.stagingKeyFor(scope, oid);
    const { signal } = options;
    let head;
    try {
      head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: stagingKey, ChecksumMode: 'ENABLED' }),
        { abortSignal: signal },
      );
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    const stagedSize = requireNumber(head.ContentLength, 'HeadObject Content-Length');
    if (stagedSize !== size) {
      await this.deleteKey(stagingKey);
      throw new StoreError('size_mismatch', `staged upload of ${oid} is ${stagedSize} bytes, not ${size}`);
    }
    // S3 keeps the checksum it checked the presigned PUT against. A store that keeps none (s3rver,
    // some S3-compatible servers) may not have checked it either: then the bytes are hashed here.
    const recorded = head.ChecksumSHA256;
    const hasFullChecksum = recorded !== undefined && !recorded.includes('-');
    const actual = hasFullChecksum
      ? Buffer.from(recorded, 'base64').toString('hex')
      : await this.sha256OfKey(stagingKey, head.ETag, signal);
    // gone since the HEAD: a concurrent commit of the same upload published and deleted it
    if (actual === undefined) return (await this.stat(oid, { signal }))?.size === size;
    if (actual !== oid) {
      await this.deleteKey(stagingKey);
      throw new StoreError('hash_mismatch', `staged upload of ${oid} has SHA-256 ${actual}`);
    }
    if ((await this.stat(oid, { signal }))?.size !== size) {
      try {
        await this.client.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: this.keyFor(oid),
            CopySource: `${this.bucket}/${stagingKey.split('/').map(encodeURIComponent).join('/')}`,
            // the very object checked above, not one put there since
            CopySourceIfMatch: head.ETag,
          }),
          { abortSignal: signal },
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
        // the staged object vanished since the HEAD: a concurrent commit of it copied and deleted it
        return (await this.stat(oid, { signal }))?.size === size;
      }
    }
    await this.deleteKey(stagingKey);
    return true;
  }

  /** SHA-256 (hex) of a key's bytes, streamed; `undefined` when the key is gone or was replaced */
  private async sha256OfKey(
    key: string,
    etag: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    let response;
    try {
      response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, IfMatch: etag }),
        {
          abortSignal: signal,
        },
      );
    } catch (err) {
      if (isNotFound(err) || httpStatusOf(err) === 412) return undefined;
      throw err;
    }
    if (!(response.Body instanceof Readable)) throw new Error('S3 GetObject returned no Node.js stream');
    const hash = createHash('sha256');
    for await (const chunk of response.Body) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  private async presignPut(
    key: string,
    oid: string,
    size: number,
    ttlSeconds: number,
  ): Promise<SignedRequest | undefined> {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid size ${size}`);
    if (size > MAX_PRESIGNED_UPLOAD_SIZE) return undefined;
    const checksum = oidToBase64(oid);
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ContentLength: size,
      ChecksumSHA256: checksum,
    });
    const href = await getSignedUrl(this.client, command, {
      expiresIn: ttlSeconds,
      // content-length is signed by default today; listed so that it stays signed
      signableHeaders: new Set(['content-length', 'x-amz-checksum-sha256']),
      // by default the presigner moves x-amz-* headers into the query string, where S3 does not
      // check the body against them: keep the checksum a (signed) header the client must send
      unhoistableHeaders: new Set(['x-amz-checksum-sha256']),
    });
    return { href, header: { 'x-amz-checksum-sha256': checksum }, expiresIn: ttlSeconds };
  }

  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  private oidOf(key: string | undefined): string | undefined {
    const match = key === undefined ? null : this.keyPattern.exec(key);
    if (!match) return undefined;
    const [, first, second, oid] = match as unknown as [string, string, string, string];
    return oid.startsWith(first + second) ? oid : undefined;
  }
}

/** The SHA-256 `x-amz-checksum-sha256` carries: the same digest as the oid, base64 instead of hex. */
export function oidToBase64(oid: string): string {
  return Buffer.from(oid, 'hex').toString('base64');
}

function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+/, '');
  return trimmed === '' || trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function requireNumber(value: number | undefined, what: string): number {
  if (value === undefined || !Number.isSafeInteger(value) || value < 0) {
    throw new Error(`S3 response has no valid ${what}`);
  }
  return value;
}

/**
 * The whole object's size from `Content-Range: bytes a-b/size`, after checking that the server sent
 * the range asked for (clamped to the object's end, as HTTP allows): some S3-compatible servers get
 * edge cases wrong, and serving other bytes than asked would be silent corruption.
 */
function sizeFromContentRange(header: string | undefined, range: ByteRange): number {
  const match = header === undefined ? null : /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header);
  if (!match) throw new Error(`S3 answered a range request without a valid Content-Range (${header})`);
  const [start, end, size] = match.slice(1).map(Number) as [number, number, number];
  if (start !== range.start || end !== Math.min(range.end, size - 1)) {
    throw new Error(`S3 returned bytes ${start}-${end} for requested range ${range.start}-${range.end}`);
  }
  return size;
}
