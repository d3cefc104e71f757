/**
 * Repositories outside the LFS API: create, list, look up, make public or private, delete. The
 * access rules are auth/access.ts's, as for the LFS API: a caller who may not read a repository is
 * told it does not exist.
 */
import { accessFor, accessWith, allows, requireAccess, type Access } from '../auth/access.js';
import { lfsError } from '../errors.js';
import {
  AlreadyExistsError,
  type MetadataStore,
  type Permission,
  type Repo,
} from '../metadata/metadata-store.js';
import { parseRepoPath } from '../rules.js';
import type { Actor } from './actor.js';

export interface RepoView {
  repo: Repo;
  /** what the actor may do in it */
  access: Access;
}

export class RepoService {
  constructor(private readonly metadata: MetadataStore) {}

  /** Creates `path` (private unless `isPublic`): the operator, a site admin or the namespace's owner. */
  async create(actor: Actor, path: string, options: { isPublic?: boolean } = {}): Promise<Repo> {
    const repoPath = parseRepoPath(path);
    await this.require(actor, repoPath, undefined, 'admin');
    try {
      return await this.metadata.createRepo(repoPath, { isPublic: options.isPublic ?? false });
    } catch (err) {
      if (err instanceof AlreadyExistsError) {
        throw lfsError('already_exists', `repository ${repoPath} already exists`);
      }
      throw err;
    }
  }

  /** The repositories the actor may read, by path, each with the actor's access. */
  async list(actor: Actor): Promise<RepoView[]> {
    const repos = await this.metadata.listRepos();
    if (actor.kind === 'operator' || actor.user.isAdmin)
      return repos.map((repo) => ({ repo, access: 'admin' as const }));
    const grants = new Map(
      (await this.metadata.listGrants({ userId: actor.user.id })).map((g) => [g.repoId, g.permission]),
    );
    return repos
      .map((repo) => ({ repo, access: accessWith(actor, repo.path, repo, grants.get(repo.id)) }))
      .filter((view) => allows(view.access, 'read'));
  }

  /** The repository at `path` and the actor's access; 404 unless the actor may `need` (default read). */
  async get(actor: Actor, path: string, need: Permission = 'read'): Promise<RepoView> {
    const repoPath = parseRepoPath(path);
    const repo = await this.metadata.findRepo(repoPath);
    const access = await this.require(actor, repoPath, repo, need);
    if (!repo) throw lfsError('repo_not_found', `no repository ${repoPath}`);
    return { repo, access };
  }

  async setPublic(actor: Actor, path: string, isPublic: boolean): Promise<void> {
    const { repo } = await this.get(actor, path, 'admin');
    await this.metadata.setRepoPublic(repo.id, isPublic);
  }

  /** Removes the repository, its grants, locks and object links; the content stays until gc. */
  async remove(actor: Actor, path: string): Promise<Repo> {
    const { repo } = await this.get(actor, path, 'admin');
    await this.metadata.deleteRepo(repo.id);
    return repo;
  }

  /** The actor's access to `repoPath`, or the protocol's 403/404 when it does not allow `need`. */
  private async require(actor: Actor, repoPath: string, repo: Repo | undefined, need: Permission) {
    if (actor.kind === 'operator') return 'admin' as const;
    const access = await accessFor(this.metadata, actor, repoPath, repo);
    requireAccess(actor, access, need);
    return access;
  }
}
