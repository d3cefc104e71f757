/**
 * The admin service layer (DESIGN.md "Layers"): users, tokens, SSH keys, repositories and grants, with
 * their rules and permission checks, shared by the CLI, the admin API and the web console so
 * that no rule exists twice. Locks are lfs/lock-service.ts's.
 */
import type { MetadataStore } from '../metadata/metadata-store.js';
import { GrantService } from './grant-service.js';
import { KeyService } from './key-service.js';
import { RepoService } from './repo-service.js';
import { TokenService } from './token-service.js';
import { UserService } from './user-service.js';

export interface AdminServices {
  users: UserService;
  tokens: TokenService;
  repos: RepoService;
  grants: GrantService;
  keys: KeyService;
}

export function createAdminServices(metadata: MetadataStore): AdminServices {
  const users = new UserService(metadata);
  const repos = new RepoService(metadata);
  return {
    users,
    tokens: new TokenService(metadata, users),
    repos,
    grants: new GrantService(metadata, repos),
    keys: new KeyService(metadata, users),
  };
}
