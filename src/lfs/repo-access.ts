import { accessFor, requireAccess, type Access } from '../auth/access.js';
import type { Caller } from '../auth/caller.js';
import type { MetadataStore, Permission, Repo } from '../metadata/metadata-store.js';

export interface RepoAccess {
  /** undefined when the repository does not exist (and was not created) */
  repo: Repo | undefined;
  access: Access;
}

/**
 * Look up the repository and check that the caller may do what `need` names; throws the
 * protocol's 401/403/404 otherwise. With `create`, a caller allowed to write (a namespace owner
 * or site admin) creates the repository on first use, as their first push would.
 */
export async function openRepo(
  metadata: MetadataStore,
  caller: Caller,
  repoPath: string,
  need: Permission,
  options: { create?: boolean } = {},
): Promise<RepoAccess> {
  let repo = await metadata.findRepo(repoPath);
  const access = await accessFor(metadata, caller, repoPath, repo);
  requireAccess(caller, access, need);
  if (!repo && options.create) repo = await metadata.ensureRepo(repoPath);
  return { repo, access };
}
