/**
 * Usage, quotas, repository deletion and history pruning (issue 14, README "Storage lifecycle"):
 * the rules, shared by the CLI and any admin API. Repositories are found through the admin
 * repository service (one rule for paths and access); SQL stays in metadata/lifecycle-metadata.ts.
 */
import { OPERATOR, requireSiteAdmin, type Actor } from '../admin/actor.js';
import type { AdminServices } from '../admin/admin-services.js';
import { lfsError } from '../errors.js';
import type { QuotaRecord, UsageReport } from '../metadata/lifecycle-metadata.js';
import type { MetadataStore, Repo } from '../metadata/metadata-store.js';
import { isValidOid, isValidUserName } from '../rules.js';
import { parseSize } from './sizes.js';

const PRUNE_PAGE = 1000;

export interface PruneReport {
  repo: string;
  dryRun: boolean;
  /** oids the keep-list names */
  kept: number;
  /** oids unlinked (or, with dryRun, that would be) */
  unlinked: { oid: string; size: number }[];
  bytes: number;
}

export class LifecycleService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly admin: Pick<AdminServices, 'repos' | 'users'>,
  ) {}

  /** Usage of one repository, of a user's namespace, or of every repository. */
  async usage(actor: Actor, filter: { path?: string; user?: string } = {}): Promise<UsageReport> {
    requireSiteAdmin(actor);
    if (filter.path !== undefined && filter.user !== undefined) {
      throw lfsError('bad_request', 'give a repository path or --user, not both');
    }
    if (filter.path !== undefined) {
      const repo = await this.repo(actor, filter.path);
      return this.metadata.lifecycle.usage({ repoId: repo.id });
    }
    if (filter.user !== undefined) {
      const user = await this.admin.users.get(actor, filter.user);
      return this.metadata.lifecycle.usage({ namespace: user.name });
    }
    return this.metadata.lifecycle.usage({});
  }

  /**
   * Sets (or with `none`, removes) the quota of a repository (`PATH` with a `/`, or a one-segment
   * path naming no user) or of a user's namespace (a user name).
   */
  async setQuota(
    actor: Actor,
    target: string,
    size: string,
  ): Promise<{ kind: 'repo' | 'user'; name: string; quotaBytes: number | null }> {
    requireSiteAdmin(actor);
    const quotaBytes = parseSize(size);
    if (!target.includes('/') && isValidUserName(target)) {
      const user = await this.metadata.findUserByName(target);
      if (user) {
        await this.metadata.lifecycle.setUserQuota(user.id, quotaBytes);
        return { kind: 'user', name: user.name, quotaBytes };
      }
      if (!(await this.metadata.findRepo(target))) {
        throw lfsError('repo_not_found', `no user or repository named ${target}`);
      }
    }
    const repo = await this.repo(actor, target);
    await this.metadata.lifecycle.setRepoQuota(repo.id, quotaBytes);
    return { kind: 'repo', name: repo.path, quotaBytes };
  }

  async listQuotas(actor: Actor): Promise<QuotaRecord[]> {
    requireSiteAdmin(actor);
    return this.metadata.lifecycle.listQuotas();
  }

  /** Deletes the repository with its grants, locks and links (content stays until gc). */
  async deleteRepo(actor: Actor, path: string): Promise<{ repo: Repo; objects: number; bytes: number }> {
    const repo = await this.repo(actor, path);
    const [usage] = (await this.metadata.lifecycle.usage({ repoId: repo.id })).repos;
    await this.admin.repos.remove(actor, repo.path);
    return { repo, objects: usage?.objects ?? 0, bytes: usage?.bytes ?? 0 };
  }

  /**
   * Unlinks every object of the repository that `keep` (parsed by parseKeepList) does not name.
   * An empty keep-list is refused: it would unlink everything.
   */
  async prune(
    actor: Actor,
    path: string,
    keep: ReadonlySet<string>,
    options: { dryRun?: boolean } = {},
  ): Promise<PruneReport> {
    if (keep.size === 0) {
      throw lfsError('bad_request', 'the keep list names no object: refusing to unlink everything');
    }
    const repo = await this.repo(actor, path, 'admin');
    const report: PruneReport = {
      repo: repo.path,
      dryRun: Boolean(options.dryRun),
      kept: keep.size,
      unlinked: [],
      bytes: 0,
    };
    let after = '';
    for (;;) {
      const page = await this.metadata.lifecycle.linkedPage(repo.id, after, PRUNE_PAGE);
      if (page.length === 0) break;
      after = page.at(-1)!.oid;
      const drop = page.filter((o) => !keep.has(o.oid));
      if (drop.length === 0) continue;
      if (!options.dryRun) {
        await this.metadata.lifecycle.unlink(
          repo.id,
          drop.map((o) => o.oid),
        );
      }
      report.unlinked.push(...drop);
      for (const o of drop) report.bytes += o.size;
    }
    return report;
  }

  private async repo(actor: Actor, path: string, need: 'read' | 'admin' = 'admin'): Promise<Repo> {
    return (await this.admin.repos.get(actor ?? OPERATOR, path, need)).repo;
  }
}

/**
 * The oids of a keep-list: the output of `git lfs ls-files --all --long` (`<oid> * <path>` or
 * `<oid> - <path>`) or one oid per line; blank lines and `#` comments are skipped. Any other line
 * is an error that names it (nothing is unlinked on a list that does not parse).
 */
export function parseKeepList(text: string): Set<string> {
  const oids = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(\S+)(?:\s+[*-]\s+.*)?$/.exec(line);
    const oid = match?.[1];
    if (!oid || !isValidOid(oid)) {
      const hint = /^[0-9a-f]{7,63}$/.test(oid ?? '')
        ? ' (a short oid: use git lfs ls-files --all --long)'
        : '';
      throw lfsError(
        'bad_request',
        `keep list line ${index + 1} is not an oid or a line of git lfs ls-files --long: ${JSON.stringify(line.slice(0, 100))}${hint}`,
      );
    }
    oids.add(oid);
  }
  return oids;
}
