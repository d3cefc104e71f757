/**
 * The Basic Transfer API's rules (LFS-PROTOCOL.md sections 3.1-3.3), without HTTP types:
 * upload streams into the store, which publishes only complete, verified content, and only then
 * links the object to the repository (proof of possession); download serves linked objects;
 * verify confirms (and in direct mode, publishes and records) an upload.
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ObjectBeingCollectedError } from '../metadata/lifecycle-metadata.js';
import { lfsError, type LfsError } from '../errors.js';
import type { MetadataStore, Repo } from '../metadata/metadata-store.js';
import { StoreError, type ByteRange, type ObjectStore, type StoredObject } from '../storage/object-store.js';

export interface TransferDeps {
  metadata: MetadataStore;
  store: ObjectStore;
  maxObjectSize: number;
  /** `direct`: verify publishes uploads staged through presigned URLs (default `proxy`) */
  transferMode?: 'proxy' | 'direct';
}

/**
 * The staging area of a repository's direct uploads (ObjectStore.presignStagedUpload). By id, not
 * path: a repository deleted and created again under the same path does not inherit what was
 * staged for the old one.
 */
export function stagingScope(repo: Pick<Repo, 'id'>): string {
  return `repo:${repo.id}`;
}

/** how long an upload waits for gc to finish deleting an oid it is linking: 100 x 50 ms */
const COLLECTION_WAIT_POLLS = 100;
const COLLECTION_WAIT_MS = 50;

export class TransferService {
  constructor(private readonly deps: TransferDeps) {}

  async upload(
    repoPath: string,
    oid: string,
    size: number,
    body: Readable,
    signal: AbortSignal,
  ): Promise<void> {
    if (size > this.deps.maxObjectSize) {
      throw lfsError(
        'object_too_large',
        `Object size ${size} exceeds the maximum of ${this.deps.maxObjectSize} bytes`,
      );
    }
    const repo = await this.repo(repoPath);
    // content stored before, maybe for another repository (a fork): the store checks that it
    // still holds it instead of writing it again (PutOptions.stored)
    const stored = (await this.deps.metadata.lifecycle.storedSize(oid)) === size;
    try {
      await this.deps.store.put(oid, size, body, { signal, stored });
    } catch (err) {
      throw storeErrorToLfs(err);
    }
    // the link is written only once the content is durable in the store
    await this.link(repo, oid, size);
  }

  /**
   * Links stored content. When gc has claimed the oid or deleted its content lately (it was
   * unlinked: README "Storage lifecycle"), waits for gc to finish, then links what the store still
   * holds; if gc deleted the bytes just stored, answers 503 with Retry-After so the client sends
   * them again. Content is never linked while gc may delete it, nor after gc deleted it.
   * Returns once the link is durable (MetadataStore.durable), so every path that acknowledges an
   * upload (proxied PUT over HTTP or SSH, direct-mode verify) waits for it.
   */
  private async link(repo: Repo, oid: string, size: number): Promise<void> {
    const { metadata, store } = this.deps;
    for (let contentChecked = false; ; contentChecked = true) {
      try {
        await metadata.linkObject(repo.id, oid, size, { contentChecked });
        // the link must survive a power loss before anyone is told the upload succeeded
        await metadata.durable();
        return;
      } catch (err) {
        if (!(err instanceof ObjectBeingCollectedError)) throw err;
      }
      for (let waited = 0; (await metadata.lifecycle.collectionState(oid)) === 'deleting'; waited++) {
        if (waited >= COLLECTION_WAIT_POLLS) throw lfsError('object_collected');
        await sleep(COLLECTION_WAIT_MS);
      }
      if ((await store.stat(oid))?.size !== size) throw lfsError('object_collected');
    }
  }

  /** Stored size of an object linked to the repository; 404 otherwise (proof of possession). */
  async linkedSize(repoPath: string, oid: string): Promise<number> {
    const repo = await this.repo(repoPath);
    const size = (await this.deps.metadata.findLinkedObjects(repo.id, [oid])).get(oid);
    if (size === undefined) throw lfsError('object_not_found');
    return size;
  }

  /** The bytes of an object `linkedSize` has vouched for (the whole object, or a range). */
  async read(oid: string, range?: ByteRange, signal?: AbortSignal): Promise<StoredObject> {
    const found = await this.deps.store.get(oid, { range, signal });
    if (!found) throw lfsError('object_not_found', 'Object content is missing from storage');
    return found;
  }

  /** Throws object_not_found when the store lacks the content of an object `linkedSize` vouched for. */
  async requireContent(oid: string): Promise<void> {
    if (!(await this.deps.store.stat(oid))) {
      throw lfsError('object_not_found', 'Object content is missing from storage');
    }
  }

  /**
   * 200 when the object is linked to the repository with that size (section 3.3). Checking the
   * store alone would not do: another repository's copy would pass without proof of possession.
   *
   * Direct mode first publishes what the client uploaded to this repository's staging area (the
   * presigned upload the batch handed out), and links it: the staged object is the proof of
   * possession, since only a writer of this repository got a URL for it. Nothing staged (the
   * upload was proxied, over 5 GiB, or a verify is repeated): the linked check below decides, so an
   * object that exists for another repository only is still 404 here.
   */
  async verify(repoPath: string, oid: string, size: number): Promise<void> {
    const repo = await this.repo(repoPath);
    const { store } = this.deps;
    if (
      this.deps.transferMode === 'direct' &&
      store.commitStagedUpload &&
      store.capabilities.has('staged-upload')
    ) {
      let committed: boolean;
      try {
        committed = await store.commitStagedUpload(stagingScope(repo), oid, size);
      } catch (err) {
        throw stagedErrorToLfs(err);
      }
      if (committed) {
        await this.link(repo, oid, size);
        return;
      }
    }
    const linkedSize = (await this.deps.metadata.findLinkedObjects(repo.id, [oid])).get(oid);
    if (linkedSize === undefined) throw lfsError('object_not_found');
    if (linkedSize !== size) throw lfsError('validation', `Object size is ${linkedSize}, not ${size}`);
  }

  private async repo(repoPath: string): Promise<Repo> {
    const repo = await this.deps.metadata.findRepo(repoPath);
    if (!repo) throw lfsError('repo_not_found');
    return repo;
  }
}

/** a staged upload of the wrong size or content (already deleted by the store): 422 or 400, section 3.3 */
function stagedErrorToLfs(err: unknown): LfsError | unknown {
  if (!(err instanceof StoreError)) return err;
  if (err.code === 'size_mismatch')
    return lfsError('validation', `Uploaded object has the wrong size: ${err.message}`);
  if (err.code === 'hash_mismatch')
    return lfsError('hash_mismatch', `Uploaded object does not match its oid: ${err.message}`);
  return err;
}

function storeErrorToLfs(err: unknown): LfsError | unknown {
  if (!(err instanceof StoreError)) return err;
  switch (err.code) {
    case 'hash_mismatch':
      return lfsError('hash_mismatch');
    case 'size_mismatch':
      return lfsError('size_mismatch');
    case 'aborted':
      return lfsError('upload_aborted');
    default:
      return err;
  }
}
