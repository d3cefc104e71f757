/**
 * Streaming upload of one object to S3 with a fixed memory budget and all-or-nothing visibility.
 *
 * Why not `@aws-sdk/lib-storage`'s `Upload`: on abort its `done()` rejects at once while part uploads
 * carry on and AbortMultipartUpload is sent later in the background (in-flight parts are not given the
 * abort signal), so a caller could not know that nothing is left behind when `put` rejects. This module
 * does the same job (same part-size rule, bounded parallel parts) and only settles once every request it
 * started has finished and, on failure, the multipart upload has been aborted.
 *
 * Visibility: the object becomes visible only through the final request (PutObject for a small object,
 * CompleteMultipartUpload otherwise), and that request is sent only after the body stream has *ended*
 * cleanly. VerifyingStore errors the body before its end when the hash or size is wrong, so wrong bytes
 * never reach a committing request.
 */
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { backendErrorCode } from './backend-failure.js';
import { StoreError } from './object-store.js';
import { isAbortError, isNotFound, s3ErrorCode } from './s3-errors.js';

/** S3's multipart limits: parts of at least 5 MiB (except the last), at most 10,000 of them. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;
/** Largest object S3 stores (5 TiB). */
export const MAX_OBJECT_SIZE = 5 * 1024 ** 4;
/** Cleanup (AbortMultipartUpload) must not hang a failed put forever on an unreachable S3. */
const CLEANUP_TIMEOUT_MS = 30_000;

export interface UploadTarget {
  client: S3Client;
  bucket: string;
  key: string;
}

export interface UploadPlan {
  size: number;
  partSize: number;
  /** parts uploading at once; memory is about (queueSize + 1) * partSize */
  queueSize: number;
  /** base64 SHA-256 of the content, sent with a single PutObject so that S3 checks it too */
  checksumSha256?: string;
}

/** The part size for an object: at least `requested` and 5 MiB, and large enough for 10,000 parts. */
export function partSizeFor(size: number, requested = MIN_PART_SIZE): number {
  return Math.max(MIN_PART_SIZE, requested, Math.ceil(size / MAX_PARTS));
}

/**
 * Upload exactly `plan.size` bytes of `body` to `target`. Rejects with a StoreError (the body's own
 * StoreError when the body failed with one) and then nothing is visible and no multipart upload is
 * left. The body is consumed or destroyed either way.
 */
export async function uploadStream(
  target: UploadTarget,
  body: Readable,
  plan: UploadPlan,
  signal?: AbortSignal,
): Promise<void> {
  const run = new UploadRun(target, body, plan, signal);
  try {
    await run.execute();
  } catch (err) {
    body.destroy();
    throw run.toStoreError(err);
  } finally {
    run.dispose();
  }
}

/** One upload's state: the body reader, the abort plumbing and the first failure seen. */
class UploadRun {
  /** cancels every S3 request of this upload (not the cleanup) */
  private readonly requests = new AbortController();
  private readonly reader: ExactReader;
  private firstFailure: { error: unknown } | undefined;
  /** why AbortMultipartUpload failed, if it did: added to the error `put` rejects with */
  private cleanupFailure: string | undefined;
  private readonly onCallerAbort = () => this.fail(new StoreError('aborted', 'upload aborted by the caller'));

  constructor(
    private readonly target: UploadTarget,
    private readonly body: Readable,
    private readonly plan: UploadPlan,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.reader = new ExactReader(body, plan.size);
    signal?.addEventListener('abort', this.onCallerAbort, { once: true });
  }

  async execute(): Promise<void> {
    this.throwIfFailed();
    if (this.plan.size > MAX_OBJECT_SIZE) {
      throw new StoreError(
        'io',
        `object of ${this.plan.size} bytes exceeds S3's limit of ${MAX_OBJECT_SIZE}`,
      );
    }
    if (this.plan.size <= this.plan.partSize) {
      await this.putSingle();
    } else {
      await this.putMultipart();
    }
  }

  dispose(): void {
    this.signal?.removeEventListener('abort', this.onCallerAbort);
  }

  /** The error `put` rejects with: the caller's abort, else the first failure, as a StoreError. */
  toStoreError(err: unknown): StoreError {
    const error = this.classify(this.firstFailure ? this.firstFailure.error : err);
    if (this.cleanupFailure === undefined) return error;
    return new StoreError(error.code, `${error.message}; ${this.cleanupFailure}`, { cause: error });
  }

  private classify(failure: unknown): StoreError {
    if (this.signal?.aborted) {
      return new StoreError('aborted', 'upload aborted by the caller', { cause: this.signal.reason });
    }
    if (failure instanceof StoreError) return failure;
    if (s3ErrorCode(failure) === 'BadDigest') {
      return new StoreError('hash_mismatch', 'S3 rejected the content: SHA-256 does not match', {
        cause: failure,
      });
    }
    const detail = failure instanceof Error ? failure.message : String(failure);
    return new StoreError(backendErrorCode(failure), `S3 upload of ${this.target.key} failed: ${detail}`, {
      cause: failure,
    });
  }

  /**
   * Record the first failure and stop everything: cancel S3 requests and destroy the body so that a
   * read waiting on a slow client returns now.
   */
  private fail(error: unknown): void {
    this.firstFailure ??= { error };
    this.requests.abort();
    this.body.destroy();
  }

  private throwIfFailed(): void {
    if (this.signal?.aborted) this.fail(new StoreError('aborted', 'upload aborted by the caller'));
    if (this.firstFailure) throw this.firstFailure.error;
  }

  /** Small object: buffer it (at most one part), and send it only once the body ended cleanly. */
  private async putSingle(): Promise<void> {
    const data = Buffer.allocUnsafe(this.plan.size);
    await this.reader.fill(data);
    await this.reader.finish();
    this.throwIfFailed();
    // No abort signal from here on: the bytes are complete and verified, and cancelling a PutObject
    // half-way only makes the outcome uncertain. `put` then reports what S3 really did.
    await this.target.client.send(
      new PutObjectCommand({
        Bucket: this.target.bucket,
        Key: this.target.key,
        Body: data,
        ContentLength: this.plan.size,
        ChecksumSHA256: this.plan.checksumSha256,
      }),
    );
  }

  private async putMultipart(): Promise<void> {
    const { client, bucket, key } = this.target;
    // A client that adds CRC32 to every request (requestChecksumCalculation WHEN_SUPPORTED) must declare
    // it when the upload is created, or S3 refuses to complete it (what lib-storage does too).
    const checksums = await client.config.requestChecksumCalculation();
    // Not cancellable either: cancelled after S3 received it, it would leave an upload whose id we never
    // learn. It is one short request; a caller's abort is honoured right after it, with a clean abort.
    const created = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        ChecksumAlgorithm: checksums === 'WHEN_SUPPORTED' ? 'CRC32' : undefined,
      }),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new StoreError('io', 'S3 CreateMultipartUpload returned no UploadId');
    try {
      this.throwIfFailed();
      const parts = await this.uploadParts(uploadId);
      this.throwIfFailed();
      // Not cancellable, like the single PutObject: every byte is in S3 and verified.
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (err) {
      this.fail(err);
      await this.abortMultipart(uploadId);
      throw err;
    }
  }

  /**
   * Read part after part into pooled buffers and upload up to `queueSize` of them at once. Returns
   * once the body ended cleanly and every part is stored; on failure, waits until no part request is
   * still running before throwing, so that the abort that follows is final.
   */
  private async uploadParts(uploadId: string): Promise<CompletedPart[]> {
    const { size, partSize, queueSize } = this.plan;
    const partCount = Math.ceil(size / partSize);
    const completed: CompletedPart[] = [];
    const inFlight = new Set<Promise<void>>();
    const pool = new BufferPool(partSize);
    try {
      for (let partNumber = 1; partNumber <= partCount; partNumber++) {
        const buffer = pool.take();
        const data = buffer.subarray(0, Math.min(partSize, size - (partNumber - 1) * partSize));
        await this.reader.fill(data);
        this.throwIfFailed();
        const sending: Promise<void> = this.sendPart(uploadId, partNumber, data)
          .then((part) => void (completed[partNumber - 1] = part))
          .catch((err: unknown) => this.fail(err))
          .finally(() => {
            inFlight.delete(sending);
            pool.give(buffer);
          });
        inFlight.add(sending);
        if (inFlight.size >= queueSize) await Promise.race(inFlight);
        this.throwIfFailed();
      }
      // The body must now end: this is where VerifyingStore reports a wrong hash or size.
      await this.reader.finish();
      await Promise.all(inFlight);
      this.throwIfFailed();
      return completed;
    } catch (err) {
      this.fail(err);
      await Promise.all(inFlight);
      throw err;
    }
  }

  private async sendPart(uploadId: string, partNumber: number, data: Buffer): Promise<CompletedPart> {
    const result = await this.target.client.send(
      new UploadPartCommand({
        Bucket: this.target.bucket,
        Key: this.target.key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: data,
        ContentLength: data.length,
      }),
      { abortSignal: this.requests.signal },
    );
    if (!result.ETag) throw new StoreError('io', `S3 returned no ETag for part ${partNumber}`);
    const { ETag, ChecksumCRC32, ChecksumCRC32C, ChecksumCRC64NVME, ChecksumSHA1, ChecksumSHA256 } = result;
    return {
      PartNumber: partNumber,
      ETag,
      ChecksumCRC32,
      ChecksumCRC32C,
      ChecksumCRC64NVME,
      ChecksumSHA1,
      ChecksumSHA256,
    };
  }

  /**
   * Drop the parts. Uses its own timeout, not the (already aborted) request signal. A failure here
   * is reported in the put's error; a bucket lifecycle rule (AbortIncompleteMultipartUpload) is
   * the backstop for uploads a crashed process never aborted.
   */
  private async abortMultipart(uploadId: string): Promise<void> {
    try {
      await this.target.client.send(
        new AbortMultipartUploadCommand({
          Bucket: this.target.bucket,
          Key: this.target.key,
          UploadId: uploadId,
        }),
        { abortSignal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS) },
      );
    } catch (err) {
      if (isNotFound(err)) return; // already gone
      const reason = isAbortError(err) ? 'timed out' : err instanceof Error ? err.message : String(err);
      this.cleanupFailure = `aborting multipart upload ${uploadId} failed: ${reason}`;
    }
  }
}

/** Part buffers, reused once their part is stored: at most queueSize + 1 exist per upload. */
class BufferPool {
  private readonly free: Buffer[] = [];
  constructor(private readonly bufferSize: number) {}
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.bufferSize);
  }
  give(buffer: Buffer): void {
    this.free.push(buffer);
  }
}

/** Reads exactly `size` bytes of a stream into caller buffers, then insists that the stream ends. */
class ExactReader {
  private readonly chunks: AsyncIterator<unknown>;
  /** bytes read from the stream but not yet copied out */
  private pending: Buffer | undefined;
  private consumed = 0;

  constructor(
    body: Readable,
    private readonly size: number,
  ) {
    this.chunks = body[Symbol.asyncIterator]();
  }

  /** Fill `target` completely; a body that ends first is a size mismatch. */
  async fill(target: Buffer): Promise<void> {
    let offset = 0;
    while (offset < target.length) {
      const chunk = this.pending ?? (await this.next());
      if (chunk === undefined) {
        throw new StoreError(
          'size_mismatch',
          `body ended after ${this.consumed + offset} of ${this.size} bytes`,
        );
      }
      const copied = chunk.copy(target, offset);
      offset += copied;
      this.pending = copied < chunk.length ? chunk.subarray(copied) : undefined;
    }
    this.consumed += target.length;
  }

  /** After the last byte: the stream must end cleanly (no extra bytes, no error). */
  async finish(): Promise<void> {
    for (let chunk = this.pending ?? (await this.next()); chunk !== undefined; chunk = await this.next()) {
      if (chunk.length > 0) {
        throw new StoreError('size_mismatch', `body is longer than the declared ${this.size} bytes`);
      }
    }
    this.pending = undefined;
  }

  private async next(): Promise<Buffer | undefined> {
    let result: IteratorResult<unknown>;
    try {
      result = await this.chunks.next();
    } catch (err) {
      // the body's own StoreError (VerifyingStore: hash or size) says why; anything else means the
      // sender went away, as VerifyingStore reports it too
      throw err instanceof StoreError ? err : new StoreError('aborted', 'upload body failed', { cause: err });
    }
    const { done, value } = result;
    if (done) return undefined;
    if (Buffer.isBuffer(value)) return value;
    if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    if (typeof value === 'string') return Buffer.from(value);
    throw new StoreError('io', 'body stream produced a chunk that is not bytes');
  }
}
