/**
 * Injected backend failures, for tests (like rudolfs' `faulty` storage): a layer that makes chosen
 * calls of its inner store fail, at a chosen point, with a chosen error (ENOSPC, ECONNREFUSED, an
 * S3 503...). Not part of any production stack (build-object-store.ts never builds it); it is in
 * src/ so that tests of every layer above the store, and the conformance suite, can use it.
 *
 * Fault points:
 * - `stat`, `get`, `put`, `delete`, `list`, `ping`, `commit` (commitStagedUpload): the call fails
 *   before the inner store sees it;
 * - `write`: a put fails after `afterBytes` bytes reached the inner store, which is aborted as a
 *   backend failing mid-upload would be (it must then leave nothing behind);
 * - `read`: a get's body fails once `afterBytes` bytes passed (the reader may see fewer).
 * The error thrown is the backend's own, as a StoreError whose code backend-failure.ts derives.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { backendErrorCode } from './backend-failure.js';
import { DelegatingStore } from './delegating-store.js';
import {
  StoreError,
  type ByteRange,
  type CallOptions,
  type PutOptions,
  type PutResult,
  type StoredObject,
} from './object-store.js';

export type FaultPoint = 'stat' | 'get' | 'read' | 'put' | 'write' | 'delete' | 'list' | 'ping' | 'commit';

export interface Fault {
  at: FaultPoint;
  /** the backend's error, e.g. systemError('ENOSPC') */
  error: Error;
  /** for `write` and `read`: bytes that pass before the failure (default 0) */
  afterBytes?: number;
  /** how many calls fail (default: every call until `clear()`) */
  times?: number;
}

/** An error shaped as Node's file system and socket errors are (`code`, `errno`, `syscall`). */
export function systemError(code: string, message = code): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code, syscall: 'injected' });
}

export class FaultyStore extends DelegatingStore {
  private faults: Fault[] = [];

  /** Arms a fault; faults at one point apply in the order they were armed. */
  inject(fault: Fault): this {
    this.faults.push({ ...fault });
    return this;
  }

  clear(): void {
    this.faults = [];
  }

  override get kind(): string {
    return this.inner.kind;
  }

  override async stat(oid: string, options?: CallOptions): Promise<{ size: number } | undefined> {
    this.failIfArmed('stat');
    return super.stat(oid, options);
  }

  override async get(
    oid: string,
    options?: CallOptions & { range?: ByteRange },
  ): Promise<StoredObject | undefined> {
    this.failIfArmed('get');
    const fault = this.take('read');
    const found = await super.get(oid, options);
    if (!found || !fault) return found;
    const body = found.body;
    let passed = 0;
    const limit = fault.afterBytes ?? 0;
    const failing = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        if (passed + chunk.length <= limit) {
          passed += chunk.length;
          return callback(null, chunk);
        }
        this.push(chunk.subarray(0, limit - passed));
        passed = limit;
        body.destroy();
        callback(fault.error);
      },
    });
    body.pipe(failing);
    body.once('error', (err) => failing.destroy(err));
    failing.once('close', () => body.destroy());
    return { size: found.size, body: failing };
  }

  override async put(oid: string, size: number, body: Readable, options?: PutOptions): Promise<PutResult> {
    const immediate = this.take('put');
    if (immediate) {
      body.destroy();
      throw this.asStoreError(immediate.error);
    }
    const fault = this.take('write');
    if (!fault) return super.put(oid, size, body, options);
    // the inner put gets a signal of its own: the failure aborts it as a dying backend would
    const abort = new AbortController();
    const onCallerAbort = () => abort.abort(options?.signal?.reason);
    options?.signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (options?.signal?.aborted) abort.abort(options.signal.reason);
    let tripped = false;
    let passed = 0;
    const limit = fault.afterBytes ?? 0;
    const gate = new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
        if (tripped) return callback();
        if (passed + chunk.length < limit || (passed + chunk.length === limit && limit < size)) {
          passed += chunk.length;
          return callback(null, chunk);
        }
        tripped = true;
        if (limit > passed) this.push(chunk.subarray(0, limit - passed));
        passed = limit;
        abort.abort(fault.error);
        callback();
      },
    });
    body.pipe(gate);
    body.once('error', (err) => gate.destroy(err));
    try {
      return await super.put(oid, size, gate, { ...options, signal: abort.signal });
    } catch (err) {
      body.destroy();
      if (tripped) throw this.asStoreError(fault.error);
      throw err;
    } finally {
      options?.signal?.removeEventListener('abort', onCallerAbort);
      body.unpipe(gate);
    }
  }

  override async delete(oid: string): Promise<void> {
    this.failIfArmed('delete');
    return super.delete(oid);
  }

  override async *list(): AsyncIterable<{ oid: string; size: number }> {
    this.failIfArmed('list');
    yield* super.list();
  }

  override async commitStagedUpload(
    scope: string,
    oid: string,
    size: number,
    options?: CallOptions,
  ): Promise<boolean> {
    this.failIfArmed('commit');
    return super.commitStagedUpload(scope, oid, size, options);
  }

  override async ping(): Promise<void> {
    this.failIfArmed('ping');
    return super.ping();
  }

  private failIfArmed(at: FaultPoint): void {
    const fault = this.take(at);
    if (fault) throw this.asStoreError(fault.error);
  }

  /** the next armed fault at `at`, counting down its `times` */
  private take(at: FaultPoint): Fault | undefined {
    const index = this.faults.findIndex((fault) => fault.at === at);
    const fault = this.faults[index];
    if (!fault) return undefined;
    if (fault.times !== undefined && --fault.times <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private asStoreError(error: Error): StoreError {
    return new StoreError(backendErrorCode(error), `injected fault: ${error.message}`, { cause: error });
  }
}
