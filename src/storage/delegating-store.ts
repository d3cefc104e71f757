import type { Readable } from 'node:stream';
import type {
  ByteRange,
  CallOptions,
  PutOptions,
  PutResult,
  LocalFile,
  ObjectStore,
  SignedRequest,
  StoreCapability,
  StoredObject,
} from './object-store.js';

/**
 * Forwards every call to `inner`. Layers (VerifyingStore, MeteredStore, ...) extend this and
 * override only the calls they change, so adding a method to ObjectStore means one edit here.
 */
export class DelegatingStore implements ObjectStore {
  constructor(protected readonly inner: ObjectStore) {}

  /** the backend's name by default, so metrics and logs name where the bytes live */
  get kind(): string {
    return this.inner.kind;
  }

  /** exactly what the inner store can do: a layer adds no capability of its own */
  get capabilities(): ReadonlySet<StoreCapability> {
    return this.inner.capabilities;
  }

  stat(oid: string, options?: CallOptions): Promise<{ size: number } | undefined> {
    return this.inner.stat(oid, options);
  }

  get(oid: string, options?: CallOptions & { range?: ByteRange }): Promise<StoredObject | undefined> {
    return this.inner.get(oid, options);
  }

  put(oid: string, size: number, body: Readable, options?: PutOptions): Promise<PutResult> {
    return this.inner.put(oid, size, body, options);
  }

  delete(oid: string): Promise<void> {
    return this.inner.delete(oid);
  }

  list(): AsyncIterable<{ oid: string; size: number }> {
    return this.inner.list();
  }

  async quarantine(oid: string): Promise<string | undefined> {
    if (!this.inner.quarantine) throw new TypeError(`store ${this.inner.kind} cannot quarantine`);
    return this.inner.quarantine(oid);
  }

  async abortIncompleteUploads(before: Date): Promise<number> {
    return (await this.inner.abortIncompleteUploads?.(before)) ?? 0;
  }

  /** 0 (nothing to clean) when the inner store has no temp data */
  async cleanTemp(olderThanMs: number): Promise<number> {
    return (await this.inner.cleanTemp?.(olderThanMs)) ?? 0;
  }

  async cleanStaging(before: Date): Promise<{ count: number; bytes: number }> {
    return (await this.inner.cleanStaging?.(before)) ?? { count: 0, bytes: 0 };
  }

  localFile(oid: string): LocalFile {
    if (!this.inner.localFile) throw new TypeError(`store ${this.inner.kind} keeps no local files`);
    return this.inner.localFile(oid);
  }

  /** `undefined` (proxy through lfsd) when the inner store cannot presign */
  async presign(
    op: 'upload' | 'download',
    oid: string,
    size: number,
    ttlSeconds: number,
  ): Promise<SignedRequest | undefined> {
    return this.inner.presign?.(op, oid, size, ttlSeconds);
  }

  /** `undefined` (proxy through lfsd) when the inner store cannot stage direct uploads */
  async presignStagedUpload(
    scope: string,
    oid: string,
    size: number,
    ttlSeconds: number,
  ): Promise<SignedRequest | undefined> {
    return this.inner.presignStagedUpload?.(scope, oid, size, ttlSeconds);
  }

  /** `false` (nothing staged) when the inner store cannot stage direct uploads */
  async commitStagedUpload(
    scope: string,
    oid: string,
    size: number,
    options?: CallOptions,
  ): Promise<boolean> {
    return (await this.inner.commitStagedUpload?.(scope, oid, size, options)) ?? false;
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
