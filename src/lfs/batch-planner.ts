/**
 * Plans the answer to a Batch API request (LFS-PROTOCOL.md section 2.2): for each object, the
 * actions the client should take or a per-object error. BatchDecider makes the decisions that do
 * not depend on the transport (HTTP and SSH share them); BatchPlanner renders them as HTTP actions.
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
import type { QuotaRefusal } from '../metadata/lifecycle-metadata.js';
import type { MetadataStore, Repo } from '../metadata/metadata-store.js';
import { formatSize } from '../lifecycle/sizes.js';
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

/**
 * What a batch decides for one object, whatever the transport (HTTP actions here, SSH
 * `git-lfs-transfer` lines in src/ssh): `present` (upload of an object already stored and linked:
 * nothing to do), `upload`, `download` (size is the stored size), or a per-object `error`.
 */
export type ObjectDecision =
  | { oid: string; size: number; action: 'present' | 'upload' | 'download' }
  | { oid: string; size: number; action: 'error'; error: { code: number; message: string } };

/**
 * The transport-neutral half of batch planning: which objects need a transfer, which are already
 * present, which do not exist. Decisions come in request order, the request's rejected objects last.
 */
export class BatchDecider {
  constructor(private readonly deps: Pick<PlannerDeps, 'metadata' | 'store'>) {}

  async decide(request: BatchRequest, repo: Repo | undefined): Promise<ObjectDecision[]> {
    const linked = repo
      ? await this.deps.metadata.findLinkedObjects(
          repo.id,
          request.objects.map((o) => o.oid),
        )
      : new Map<string, number>();
    const decided =
      request.operation === 'upload'
        ? await this.decideUploads(request.objects, linked, repo)
        : // plain synchronous planning, no promise per object (a 100-object batch spent about as
          // long in promise bookkeeping as in signing its 100 tokens)
          request.objects.map((o) => decideDownload(o, linked.get(o.oid)));
    const rejected = request.rejected.map((r): ObjectDecision => ({ ...r, action: 'error' }));
    return rejected.length ? [...decided, ...rejected] : decided;
  }

  /**
   * Objects linked to the repository and stored are `present`; the others are offered
   * (metadata.lifecycle.offerUploads: gc keeps them, quotas reserve them) unless that would take
   * the repository or its owner's namespace past a quota: a per-object 507 (README "Storage
   * lifecycle"). `maxObjectSize` stays a separate limit.
   */
  private async decideUploads(
    objects: readonly RequestedObject[],
    linked: Map<string, number>,
    repo: Repo | undefined,
  ): Promise<ObjectDecision[]> {
    const present = await mapLimit(objects, STAT_CONCURRENCY, async (o) => {
      if (linked.get(o.oid) !== o.size) return false;
      return (await this.deps.store.stat(o.oid))?.size === o.size;
    });
    const wanted = objects.filter((_, i) => !present[i]);
    const refused = repo
      ? await this.deps.metadata.lifecycle.offerUploads(
          repo,
          wanted.map((o) => ({ oid: o.oid, size: o.size, counted: linked.has(o.oid) })),
        )
      : new Map<string, QuotaRefusal>();
    return objects.map((o, i): ObjectDecision => {
      if (present[i]) return { oid: o.oid, size: o.size, action: 'present' };
      const refusal = refused.get(o.oid);
      if (refusal) {
        return {
          oid: o.oid,
          size: o.size,
          action: 'error',
          error: { code: 507, message: quotaMessage(refusal) },
        };
      }
      // echo the requested size: the client compares it with its local file (section 2.2)
      return { oid: o.oid, size: o.size, action: 'upload' };
    });
  }
}

/** the per-object 507 message: names the quota, the usage and the size asked (the client prints it) */
export function quotaMessage(r: QuotaRefusal): string {
  const whose = r.scope === 'repository' ? `repository ${r.name}` : `user ${r.name}'s repositories`;
  return (
    `Quota exceeded: ${whose} may store ${formatSize(r.quotaBytes)} and use ${formatSize(r.usageBytes)} ` +
    `(uploads in progress included); this object needs ${formatSize(r.askedBytes)} more`
  );
}

function decideDownload(object: RequestedObject, linkedSize: number | undefined): ObjectDecision {
  if (linkedSize === undefined) {
    return {
      oid: object.oid,
      size: object.size,
      action: 'error',
      error: { code: 404, message: 'Object does not exist' },
    };
  }
  return { oid: object.oid, size: linkedSize, action: 'download' };
}

/** The HTTP half: BatchDecider's decisions rendered as Batch API actions with hrefs. */
export class BatchPlanner {
  readonly decider: BatchDecider;

  constructor(private readonly deps: PlannerDeps) {
    this.decider = new BatchDecider(deps);
  }

  async plan(request: BatchRequest, target: BatchTarget): Promise<BatchResponse> {
    const decisions = await this.decider.decide(request, target.repo);
    const objects = this.rendersAsync(request.operation)
      ? await Promise.all(decisions.map((d) => this.renderAsync(d, target)))
      : decisions.map((d) => this.render(d, target));
    return { transfer: 'basic', objects, hash_algo: 'sha256' };
  }

  /** direct mode may presign: one promise per object; proxy mode renders synchronously */
  private rendersAsync(operation: BatchRequest['operation']): boolean {
    return operation === 'upload' ? this.presigningUploads() : this.presigningDownloads();
  }

  private async renderAsync(decision: ObjectDecision, target: BatchTarget): Promise<ResponseObject> {
    const { oid, size } = decision;
    if (decision.action === 'upload' && target.repo) {
      const direct = await this.presignUpload(target.repo, decision);
      if (direct) {
        const verify = this.action(verifyHref(target.baseUrl, oid), this.scope(decision, 'verify', target));
        return { oid, size, authenticated: true, actions: { upload: direct, verify } };
      }
    } else if (decision.action === 'download' && this.presigningDownloads() && this.deps.store.presign) {
      const download = toAction(
        await this.deps.store.presign('download', oid, size, this.deps.presignTtlSeconds),
      );
      if (download) return { oid, size, authenticated: true, actions: { download } };
    }
    return this.render(decision, target);
  }

  /** lfsd's own hrefs (proxy mode, or what the store signs no URL for) */
  private render(decision: ObjectDecision, target: BatchTarget): ResponseObject {
    const { oid, size } = decision;
    switch (decision.action) {
      case 'present':
        return { oid, size };
      case 'error':
        return { oid, size, error: decision.error };
      case 'upload': {
        // No verify through lfsd's own PUT: it answers only once the object is checked, durable and
        // linked, so a verify would cost the client one more request per object and prove nothing
        // (a push of 2,000 small files made 4,000 requests instead of 2,000).
        const upload = this.action(objectHref(target.baseUrl, oid), this.scope(decision, 'upload', target));
        return { oid, size, authenticated: true, actions: { upload } };
      }
      case 'download': {
        const download = this.action(
          objectHref(target.baseUrl, oid),
          this.scope(decision, 'download', target),
        );
        return { oid, size, authenticated: true, actions: { download } };
      }
    }
  }

  private scope(
    { oid, size }: ObjectDecision,
    operation: TransferScope['operation'],
    { repoPath, credential }: BatchTarget,
  ): TransferScope {
    return { operation, repoPath, oid, size, credential };
  }

  /** lfsd's own href for `scope`, with a transfer token in its header */
  private action(href: string, scope: TransferScope): Action {
    const { token, expiresIn } = this.deps.tokens.grant(scope);
    return { href, header: { Authorization: `Bearer ${token}` }, expires_in: expiresIn };
  }

  /** presigned upload into the repository's staging area; never the final key (proof of possession) */
  private async presignUpload(repo: Repo, object: RequestedObject): Promise<Action | undefined> {
    const { store, presignTtlSeconds } = this.deps;
    if (!this.presigningUploads() || !store.presignStagedUpload) return undefined;
    return toAction(
      await store.presignStagedUpload(stagingScope(repo), object.oid, object.size, presignTtlSeconds),
    );
  }

  private presigningUploads(): boolean {
    return this.deps.transferMode === 'direct' && this.deps.store.capabilities.has('staged-upload');
  }

  /** whether download actions may be presigned store URLs rather than lfsd's own hrefs */
  private presigningDownloads(): boolean {
    return this.deps.transferMode === 'direct' && this.deps.store.capabilities.has('presign');
  }
}

function toAction(signed: SignedRequest | undefined): Action | undefined {
  return signed && { href: signed.href, header: signed.header, expires_in: signed.expiresIn };
}
