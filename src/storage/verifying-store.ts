import { type Hash, createHash } from 'node:crypto';
import { type Readable, type TransformCallback, Transform } from 'node:stream';
import { joinStreams } from '../join-streams.js';
import { backendErrorCode } from './backend-failure.js';
import { DelegatingStore } from './delegating-store.js';
import { isValidOid } from '../rules.js';
import { type ObjectStore, type PutOptions, type PutResult, StoreError } from './object-store.js';

/**
 * Checks size and SHA-256 while the bytes stream into the inner store (DESIGN.md integrity rules).
 * The outermost layer in production.
 *
 * The inner store publishes an object only after its body ends cleanly. The verifier below turns
 * every bad upload into a stream error before that end: too many bytes fail as soon as they pass,
 * too few or a wrong digest fail in flush, which runs before the end is signalled. So bad content
 * is never published, whatever the backend.
 */
export class VerifyingStore extends DelegatingStore {
  /**
   * @param onBytes told the size of every chunk of every upload as it passes (whatever the way
   *   in): the process paces its young-generation collections by it (server/transfer-garbage.ts)
   */
  constructor(
    inner: ObjectStore,
    private readonly onBytes?: (bytes: number) => void,
  ) {
    super(inner);
  }

  override async put(oid: string, size: number, body: Readable, options?: PutOptions): Promise<PutResult> {
    if (!isValidOid(oid)) {
      body.destroy();
      throw new TypeError(`invalid oid ${JSON.stringify(oid)}`);
    }
    if (!Number.isSafeInteger(size) || size < 0) {
      body.destroy();
      throw new RangeError(`invalid object size ${size}`);
    }
    const verifier = new Verifier(oid, size, this.onBytes);
    // an error or destroy on either side destroys the other, so the body stops being read when
    // the inner store gives up, and the inner store sees the body's failure
    joinStreams(body, verifier);
    let result: PutResult;
    try {
      result = await this.inner.put(oid, size, verifier, options);
    } catch (err) {
      verifier.destroy(); // in case the inner store failed without reading: release the body
      // the inner store only saw a broken stream; the verifier knows why it broke
      if (verifier.mismatch) throw verifier.mismatch;
      throw err instanceof StoreError
        ? err
        : new StoreError(backendErrorCode(err), 'storing the object failed', { cause: err });
    }
    if (!verifier.verified) {
      // an inner store that finishes without reading to the end breaks the contract above
      verifier.destroy();
      throw new StoreError('io', `${this.inner.kind} store finished before the body was verified`);
    }
    return result;
  }
}

/** Passes chunks through untouched (no copies), hashing and counting them on the way. */
class Verifier extends Transform {
  /** the size or hash failure this verifier detected, if any */
  mismatch: StoreError | undefined;
  verified = false;
  private received = 0;
  private readonly hash: Hash = createHash('sha256');

  constructor(
    private readonly oid: string,
    private readonly size: number,
    private readonly onBytes?: (bytes: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    if (this.received > this.size) {
      callback(this.fail('size_mismatch', `body is longer than ${this.size} bytes`));
      return;
    }
    this.hash.update(chunk);
    this.onBytes?.(chunk.length);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.received < this.size) {
      callback(this.fail('size_mismatch', `body ended after ${this.received} of ${this.size} bytes`));
      return;
    }
    const digest = this.hash.digest('hex');
    if (digest !== this.oid) {
      callback(this.fail('hash_mismatch', `content hashes to ${digest}, not to its oid ${this.oid}`));
      return;
    }
    this.verified = true;
    callback();
  }

  /** Body failures reach the inner store as StoreError('aborted'), the code callers expect. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (error && !(error instanceof StoreError)) {
      error = new StoreError('aborted', 'upload body failed', { cause: error });
    }
    callback(error);
  }

  private fail(code: 'size_mismatch' | 'hash_mismatch', message: string): StoreError {
    this.mismatch = new StoreError(code, message);
    return this.mismatch;
  }
}
