/**
 * What a caller may do in a repository (DESIGN.md "Auth"), and the status that tells them no:
 * - anonymous caller lacking the permission: 401 (so the client sends credentials);
 * - signed-in caller who may not read: 404, so that the repository's existence does not leak;
 * - signed-in caller who may read but not do this: 403.
 * Site admins are admins everywhere; a user owns the namespace with their name (`alice/*`).
 */
import { lfsError } from '../errors.js';
import type { MetadataStore, Permission, Repo } from '../metadata/metadata-store.js';
import { namespaceOf } from '../rules.js';
import type { Caller } from './caller.js';

export type Access = Permission | 'none';

const RANK: Record<Access, number> = { none: 0, read: 1, write: 2, admin: 3 };

export function allows(access: Access, need: Permission): boolean {
  return RANK[access] >= RANK[need];
}

export function ownsNamespace(userName: string, repoPath: string): boolean {
  return namespaceOf(repoPath) === userName;
}

/**
 * The caller's permission on `repoPath`; `repo` is undefined when it does not exist yet. A caller
 * restricted to one repository and operation (Caller.restrict) has none elsewhere, and at most
 * read where it may only download.
 */
export async function accessFor(
  metadata: Pick<MetadataStore, 'findGrant'>,
  caller: Caller,
  repoPath: string,
  repo: Repo | undefined,
): Promise<Access> {
  const grant =
    caller.kind === 'user' && repo ? await metadata.findGrant(caller.user.id, repo.id) : undefined;
  return accessWith(caller, repoPath, repo, grant);
}

/** accessFor with the caller's grant on the repository already looked up (listings). */
export function accessWith(
  caller: Caller,
  repoPath: string,
  repo: Repo | undefined,
  grant: Permission | undefined,
): Access {
  if (caller.kind === 'user') {
    if (caller.restrict) {
      if (caller.restrict.repoPath !== repoPath) return 'none';
      const access = accessWith({ ...caller, restrict: undefined }, repoPath, repo, grant);
      return caller.restrict.operation === 'download' && allows(access, 'read') ? 'read' : access;
    }
    if (caller.user.isAdmin || ownsNamespace(caller.user.name, repoPath)) return 'admin';
    if (grant) return grant;
  }
  return repo?.isPublic ? 'read' : 'none';
}

/** Throws the right 401/403/404 unless `access` allows `need`. */
export function requireAccess(caller: Caller, access: Access, need: Permission): void {
  if (allows(access, need)) return;
  if (caller.kind === 'anonymous') throw lfsError('unauthorized');
  if (access === 'none') throw lfsError('repo_not_found', 'Repository or object not found');
  throw lfsError(
    'forbidden',
    need === 'admin'
      ? 'You must be an admin of this repository to do that'
      : 'You must have push access to this repository to do that',
  );
}
