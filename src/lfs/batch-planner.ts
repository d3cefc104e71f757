/**
 * Plans the answer to a Batch API request (LFS-PROTOCOL.md section 2.2): for each object, the
 * actions the client should take or a per-object error.
 *
 * "Already present" (no actions on upload) means linked to this repository in the metadata AND
 * present in the object store (DESIGN.md integrity rules; git-lfs #2201). Download actions are
 * offered only for objects linked to this repository: knowing an oid is not enough.
 *
 * Transfer mode `proxy`: uploads and downloads go through lfsd's own hrefs, uploads with no
 * `verify` action (the PUT itself publishes and links the object).
 *
 * Transfer mode `direct` (when the store can presign): uploads go to a presigned URL of a staging
 * area private to the repository (`presignStagedUpload`), and the `verify` action, which
 * TransferService answers, publishes and links them; objects the store cannot take in one request
 * (over 5 GiB on S3) get lfsd's own upload href as in `proxy`. Downloads are presigned GETs.
 */
import type { TransferScope, TransferTokens } from '../auth/transfer-token.js';
import type { MetadataStore, Repo } from '../metadata/metadata-store.js';
import type { ObjectStore, SignedRequest } from '../storage/object-store.js';
import type { BatchRequest, RequestedObject } from './batch-request.js';
import { mapLimit } from './map-limit.js';
import { objectHref, verifyHref } from './hrefs.js';
import { stagingScope } from './transfer-service.js';

export interface Action {
  href: string;
  header: Record<string, string>;
  expires_in: number;
}

export interface ResponseObject {
  oid: string;
  size: number;
  authenticated?: boolean;
  actions?: { upload?: Action; download?: Action; verify?: Action };
  error?: { code: number; message: string };
}

export interface BatchResponse {
  transfer: 'basic';
  objects: ResponseObject[];
  hash_algo: 'sha256';
}

export interface PlannerDeps {
  metadata: MetadataStore;
  store: ObjectStore;
  tokens: TransferTokens;
  /** `direct` hands out presigned store URLs when the store can sign them */
  transferMode: 'proxy' | 'direct';
  /**
   * lifetime of presigned store URLs: unlike lfsd's own hrefs they cannot be revoked (the store
   * checks only their signature), so this bounds how long a revoked credential's URLs still work
   */
  presignTtlSeconds: number;
}

/** Where a batch plans for: the repository, the base of lfsd's own hrefs, and who asked. */
export interface BatchTarget {
  repoPath: string;
  /** undefined when the repository does not exist (a download batch of an unknown repository) */
  repo: Repo | undefined;
  /** the repository's LFS base URL: transfer hrefs live under it */
  baseUrl: string;
  /** the caller's credential (auth/credentials.ts credentialRef): its transfer tokens end with it */
  credential: string;
}

/** concurrent store `stat` calls per batch (an S3 HEAD each) */
const STAT_CONCURRENCY = 16;

export class BatchPlanner {
  constructor(private readonly deps: PlannerDeps) {}

  async plan(request: BatchRequest, target: BatchTarget): Promise<BatchResponse> {
    const { repo } = target;
    const linked = repo
      ? await this.deps.metadata.findLinkedObjects(
          repo.id,
          request.objects.map((o) => o.oid),
        )
      : new Map<string, number>();
    const planned =
      request.operation === 'upload'
        ? await mapLimit(request.objects, STAT_CONCURRENCY, (o) =>
            this.planUpload(o, linked.get(o.oid), target),
          )
        : this.presigningDownloads()
          ? await Promise.all(request.objects.map((o) => this.planDownload(o, linked.get(o.oid), target)))
          : // proxy mode: plain synchronous planning, no promise per object (a 100-object batch
            // spent about as long in promise bookkeeping as in signing its 100 tokens)
            request.objects.map((o) => this.proxiedDownload(o, linked.get(o.oid), target));
    return { transfer: 'basic', objects: [...planned, ...request.rejected], hash_algo: 'sha256' };
  }

  private async planUpload(
    object: RequestedObject,
    linkedSize: number | undefined,
    { repoPath, repo, baseUrl, credential }: BatchTarget,
  ): Promise<ResponseObject> {
    if (linkedSize === object.size) {
      const stored = await this.deps.store.stat(object.oid);
      if (stored?.size === object.size) return { oid: object.oid, size: object.size };
    }
    const scope = { repoPath, oid: object.oid, size: object.size, credential };
    // echo the requested size: the client compares it with its local file (section 2.2)
    const planned = { oid: object.oid, size: object.size, authenticated: true };
    const direct = repo && (await this.presignUpload(repo, object));
    if (direct) {
      const verify = this.action(verifyHref(baseUrl, object.oid), { ...scope, operation: 'verify' });
      return { ...planned, actions: { upload: direct, verify } };
    }
    // No verify through lfsd's own PUT: it answers only once the object is checked, durable and
    // linked, so a verify would cost the client one more request per object and prove nothing
    // (a push of 2,000 small files made 4,000 requests instead of 2,000).
    const upload = this.action(objectHref(baseUrl, object.oid), { ...scope, operation: 'upload' });
    return { ...planned, actions: { upload } };
  }

  /** direct mode: a presigned GET, or lfsd's own href when the store signs none for it */
  private async planDownload(
    object: RequestedObject,
    linkedSize: number | undefined,
    target: BatchTarget,
  ): Promise<ResponseObject> {
    const { store } = this.deps;
    if (linkedSize !== undefined && store.presign && store.capabilities.has('presign')) {
      const download = toAction(
        await store.presign('download', object.oid, linkedSize, this.deps.presignTtlSeconds),
      );
      if (download) return { oid: object.oid, size: linkedSize, authenticated: true, actions: { download } };
    }
    return this.proxiedDownload(object, linkedSize, target);
  }

  /** A download through lfsd's own href (proxy mode, or a store that cannot presign). */
  private proxiedDownload(
    object: RequestedObject,
    linkedSize: number | undefined,
    { repoPath, baseUrl, credential }: BatchTarget,
  ): ResponseObject {
    if (linkedSize === undefined) {
      return { oid: object.oid, size: object.size, error: { code: 404, message: 'Object does not exist' } };
    }
    const download = this.action(objectHref(baseUrl, object.oid), {
      oid: object.oid,
      size: linkedSize,
      repoPath,
      operation: 'download',
      credential,
    });
    return { oid: object.oid, size: linkedSize, authenticated: true, actions: { download } };
  }

  /** lfsd's own href for `scope`, with a transfer token in its header */
  private action(href: string, scope: TransferScope): Action {
    const { token, expiresIn } = this.deps.tokens.grant(scope);
    return { href, header: { Authorization: `Bearer ${token}` }, expires_in: expiresIn };
  }

  /** presigned upload into the repository's staging area; never the final key (proof of possession) */
  private async presignUpload(repo: Repo, object: RequestedObject): Promise<Action | undefined> {
    const { store, transferMode, presignTtlSeconds } = this.deps;
    if (transferMode !== 'direct' || !store.presignStagedUpload || !store.capabilities.has('staged-upload'))
      return undefined;
    return toAction(
      await store.presignStagedUpload(stagingScope(repo), object.oid, object.size, presignTtlSeconds),
    );
  }

  /** whether download actions may be presigned store URLs rather than lfsd's own hrefs */
  private presigningDownloads(): boolean {
    return this.deps.transferMode === 'direct' && this.deps.store.capabilities.has('presign');
  }
}

function toAction(signed: SignedRequest | undefined): Action | undefined {
  return signed && { href: signed.href, header: signed.header, expires_in: signed.expiresIn };
}
