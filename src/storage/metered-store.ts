import type { Readable } from 'node:stream';
import type { LfsdMetrics } from '../observability/metrics.js';
import { classifyBackendFailure } from './backend-failure.js';
import { DelegatingStore } from './delegating-store.js';
import {
  StoreError,
  type ByteRange,
  type CallOptions,
  type PutOptions,
  type PutResult,
  type ObjectStore,
  type SignedRequest,
  type StoredObject,
} from './object-store.js';

type Outcome = 'ok' | 'error' | 'cancelled';

/** the backend is unreachable or full: its failure, whoever else gave up at the same time */
function isBackendFailure(err: unknown): boolean {
  return classifyBackendFailure(err) !== undefined;
}

/**
 * Reports every call to the inner store to Prometheus (DESIGN.md "ObjectStore" layers): latency
 * by backend, operation and outcome, backend errors, and bytes written and read. It sits right
 * above the backend, so the numbers are the backend's own.
 *
 * Outcomes: `ok`; `error`, the backend failed (also counted in lfsd_store_errors_total);
 * `cancelled`, the caller gave up or sent a bad body (client abort, hash mismatch, a download
 * closed early), which says nothing about the backend. `get` and `put` are timed to their last
 * byte. Bytes count completed puts and fully read gets.
 */
export class MeteredStore extends DelegatingStore {
  constructor(
    inner: ObjectStore,
    private readonly metrics: LfsdMetrics,
  ) {
    super(inner);
  }

  override stat(oid: string, options?: CallOptions): Promise<{ size: number } | undefined> {
    return this.timed('stat', () => this.inner.stat(oid, options), options);
  }

  override async get(
    oid: string,
    options?: CallOptions & { range?: ByteRange },
  ): Promise<StoredObject | undefined> {
    const started = performance.now();
    let found: StoredObject | undefined;
    try {
      found = await this.inner.get(oid, options);
    } catch (err) {
      this.record('get', started, this.outcomeOf(err, options));
      throw err;
    }
    if (!found) {
      this.record('get', started, 'ok');
      return found;
    }
    const length = options?.range ? options.range.end - options.range.start + 1 : found.size;
    this.observeBody(found.body, started, length);
    return found;
  }

  override async put(oid: string, size: number, body: Readable, options?: PutOptions): Promise<PutResult> {
    const started = performance.now();
    let result: PutResult;
    try {
      result = await this.inner.put(oid, size, body, options);
    } catch (err) {
      // a body that failed (client gone, verification failed) or an abort is the caller's doing,
      // unless the backend said it failed (it may have destroyed the body itself)
      const outcome = isBackendFailure(err)
        ? 'error'
        : body.errored
          ? 'cancelled'
          : this.outcomeOf(err, options);
      this.record('put', started, outcome);
      throw err;
    }
    this.record('put', started, 'ok');
    // content the store already held was read through, not written
    if (result === 'written') this.metrics.storeBytes.inc({ backend: this.kind, direction: 'write' }, size);
    return result;
  }

  override delete(oid: string): Promise<void> {
    return this.timed('delete', () => this.inner.delete(oid));
  }

  override async *list(): AsyncIterable<{ oid: string; size: number }> {
    const started = performance.now();
    let outcome: Outcome = 'cancelled'; // the consumer stopped early unless we reach the end
    try {
      yield* this.inner.list();
      outcome = 'ok';
    } catch (err) {
      outcome = 'error';
      throw err;
    } finally {
      this.record('list', started, outcome);
    }
  }

  override async presign(
    op: 'upload' | 'download',
    oid: string,
    size: number,
    ttlSeconds: number,
  ): Promise<SignedRequest | undefined> {
    if (!this.capabilities.has('presign')) return undefined;
    return this.timed('presign', () => super.presign(op, oid, size, ttlSeconds));
  }

  override async presignStagedUpload(
    scope: string,
    oid: string,
    size: number,
    ttlSeconds: number,
  ): Promise<SignedRequest | undefined> {
    if (!this.capabilities.has('staged-upload')) return undefined;
    return this.timed('presign', () => super.presignStagedUpload(scope, oid, size, ttlSeconds));
  }

  /** the `verify` of a direct upload: checks and publishes what the client put in S3 */
  override async commitStagedUpload(
    scope: string,
    oid: string,
    size: number,
    options?: CallOptions,
  ): Promise<boolean> {
    if (!this.capabilities.has('staged-upload')) return false;
    return this.timed('commit', () => super.commitStagedUpload(scope, oid, size, options), options);
  }

  override ping(): Promise<void> {
    return this.timed('ping', () => this.inner.ping());
  }

  private async timed<T>(operation: string, call: () => Promise<T>, options?: CallOptions): Promise<T> {
    const started = performance.now();
    try {
      const result = await call();
      this.record(operation, started, 'ok');
      return result;
    } catch (err) {
      this.record(operation, started, this.outcomeOf(err, options));
      throw err;
    }
  }

  /** an abort, or content that does not match its oid or size, is the caller's doing */
  private outcomeOf(err: unknown, options: CallOptions | undefined): Outcome {
    if (isBackendFailure(err)) return 'error';
    if (options?.signal?.aborted) return 'cancelled';
    return err instanceof StoreError && err.code !== 'io' ? 'cancelled' : 'error';
  }

  private record(operation: string, started: number, outcome: Outcome): void {
    const backend = this.kind;
    this.metrics.storeDuration.observe({ backend, operation, outcome }, (performance.now() - started) / 1000);
    if (outcome === 'error') this.metrics.storeErrors.inc({ backend, operation });
  }

  /** Time a get to its body's end. Listens for events only: never changes how the body flows. */
  private observeBody(body: Readable, started: number, length: number): void {
    let done = false;
    const finish = (outcome: Outcome) => {
      if (done) return;
      done = true;
      this.record('get', started, outcome);
      if (outcome === 'ok') this.metrics.storeBytes.inc({ backend: this.kind, direction: 'read' }, length);
    };
    body.once('end', () => finish('ok'));
    // an error the backend raised while streaming, or the consumer's abort (premature close)
    body.on('error', (err: NodeJS.ErrnoException) =>
      finish(err.name === 'AbortError' || err.code === 'ERR_STREAM_PREMATURE_CLOSE' ? 'cancelled' : 'error'),
    );
    body.once('close', () => finish('cancelled'));
  }
}
