/**
 * Grants: a user's read, write or admin permission on a repository (DESIGN.md "Auth"). Given and
 * taken by an admin of the repository (its namespace's owner, a user with the admin grant, a site
 * admin) or the operator. Taking a grant away stops the user's transfers at once
 * (auth/credentials.ts re-checks access when a transfer runs).
 */
import { lfsError } from '../errors.js';
import type { GrantRecord, MetadataStore, Permission } from '../metadata/metadata-store.js';
import { RuleViolation } from '../rules.js';
import { actsFor, type Actor } from './actor.js';
import type { RepoService } from './repo-service.js';

export const PERMISSIONS: readonly Permission[] = ['read', 'write', 'admin'];

export function checkPermission(value: unknown): Permission {
  if (!(PERMISSIONS as readonly unknown[]).includes(value)) {
    throw new RuleViolation('permission', `permission must be one of ${PERMISSIONS.join(', ')}`);
  }
  return value as Permission;
}

export class GrantService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly repos: RepoService,
  ) {}

  async grant(actor: Actor, userName: string, path: string, permission: string): Promise<void> {
    const level = checkPermission(permission);
    const { repo } = await this.repos.get(actor, path, 'admin');
    const user = await this.findUser(userName);
    await this.metadata.setGrant(user.id, repo.id, level);
  }

  async revoke(actor: Actor, userName: string, path: string): Promise<void> {
    const { repo } = await this.repos.get(actor, path, 'admin');
    const user = await this.findUser(userName);
    if (!(await this.metadata.removeGrant(user.id, repo.id))) {
      throw lfsError('grant_not_found', `${user.name} has no grant on ${repo.path}`);
    }
  }

  /** The grants of one repository (its admins), or of one user (themself or a site admin). */
  async list(actor: Actor, filter: { path?: string; userName?: string }): Promise<GrantRecord[]> {
    if (filter.path !== undefined) {
      const { repo } = await this.repos.get(actor, filter.path, 'admin');
      const grants = await this.metadata.listGrants({ repoId: repo.id });
      return filter.userName === undefined ? grants : grants.filter((g) => g.userName === filter.userName);
    }
    if (filter.userName !== undefined) {
      const user = await this.findUser(filter.userName);
      if (!actsFor(actor, user.id)) throw lfsError('user_not_found', `no user named ${filter.userName}`);
      return this.metadata.listGrants({ userId: user.id });
    }
    if (actor.kind !== 'operator' && !actor.user.isAdmin) {
      throw lfsError('forbidden', 'Only an administrator may list every grant');
    }
    return this.metadata.listGrants({});
  }

  private async findUser(name: string) {
    const user = await this.metadata.findUserByName(name);
    if (!user) throw lfsError('user_not_found', `no user named ${name}`);
    return user;
  }
}
