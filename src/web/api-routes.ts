/**
 * The admin API (issue 16) under /api/v1: one table of routes, each with its schemas (checked by
 * Fastify, published by openapi.ts) and a handler that only calls the service layer (src/admin,
 * lfs/lock-service.ts): every rule and permission check lives there, shared with the CLI and the
 * console. Names in JSON are snake_case, as in the LFS API.
 */
import type { RepoView } from '../admin/repo-service.js';
import { tokenState } from '../admin/token-service.js';
import type { UserCaller } from '../auth/caller.js';
import type { GrantRecord, RepoStats, SshKeyRecord, TokenRecord, User } from '../metadata/metadata-store.js';
import { OPERATOR, requireSiteAdmin } from '../admin/actor.js';
import { parseRepoPath } from '../rules.js';
import {
  addSshKeyBody,
  createRepoBody,
  createTokenBody,
  createUserBody,
  grantJson,
  idParam,
  lockJson,
  lockListQuery,
  meJson,
  newTokenJson,
  object,
  repoJson,
  repoPathParam,
  setGrantBody,
  sshKeyJson,
  tokenJson,
  updateRepoBody,
  updateUserBody,
  userJson,
  userNameParam,
  type JsonSchema,
} from './api-schemas.js';
import type { WebServices } from './web-services.js';

export const API_PREFIX = '/api/v1';

export type ApiMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ApiContext {
  actor: UserCaller;
  services: WebServices;
  params: Record<string, string>;
  query: Record<string, string>;
  body: Record<string, unknown>;
}

export interface ApiRoute {
  method: ApiMethod;
  /** under API_PREFIX, Fastify syntax (`:name` parameters) */
  path: string;
  summary: string;
  tag: 'me' | 'repositories' | 'locks' | 'tokens' | 'ssh-keys' | 'users' | 'grants';
  params?: Record<string, JsonSchema>;
  query?: JsonSchema;
  body?: JsonSchema;
  /** the success status and the schema of its body (none for 204) */
  status: 200 | 201 | 204;
  response?: JsonSchema;
  handler(context: ApiContext): Promise<unknown>;
}

// ---- JSON shapes (shared with the console's pages)

const NO_STATS: RepoStats = { objects: 0, bytes: 0, locks: 0 };

export function toRepoJson(
  { repo, access }: RepoView,
  stats: RepoStats | undefined,
  quotaBytes: number | null = null,
) {
  const { objects, bytes, locks } = stats ?? NO_STATS;
  return {
    path: repo.path,
    public: repo.isPublic,
    access,
    objects,
    bytes,
    locks,
    quota_bytes: quotaBytes,
    created_at: repo.createdAt.toISOString(),
  };
}

export function toSshKeyJson(key: SshKeyRecord) {
  return {
    id: key.id,
    type: key.type,
    fingerprint: key.fingerprint,
    label: key.label,
    created_at: key.createdAt.toISOString(),
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
  };
}

export function toUserJson(user: User) {
  return {
    name: user.name,
    admin: user.isAdmin,
    disabled: user.disabled,
    has_password: user.passwordHash !== null,
    created_at: user.createdAt.toISOString(),
  };
}

export function toTokenJson(token: TokenRecord) {
  return {
    id: token.id,
    name: token.name,
    state: tokenState(token),
    scopes: token.scopes ?? [],
    created_at: token.createdAt.toISOString(),
    expires_at: token.expiresAt?.toISOString() ?? null,
    revoked_at: token.revokedAt?.toISOString() ?? null,
  };
}

export function toGrantJson(grant: GrantRecord) {
  return { user: grant.userName, repo: grant.repoPath, permission: grant.permission };
}

/** the quota of each repository that has one, by path (lifecycle; usually few) */
async function quotas(services: WebServices): Promise<Map<string, number>> {
  const all = await services.metadata.lifecycle.listQuotas();
  return new Map(all.filter((q) => q.kind === 'repo').map((q) => [q.name, q.quotaBytes]));
}

/** The repositories the actor may read, each with its counts. */
export async function listRepoJson(services: WebServices, actor: UserCaller) {
  const [views, stats, quota] = await Promise.all([
    services.admin.repos.list(actor),
    services.metadata.repoStats(),
    quotas(services),
  ]);
  return views.map((view) => toRepoJson(view, stats.get(view.repo.id), quota.get(view.repo.path)));
}

export async function getRepoJson(services: WebServices, actor: UserCaller, path: string) {
  const view = await services.admin.repos.get(actor, path);
  const [stats, quota] = await Promise.all([services.metadata.repoStats(view.repo.id), quotas(services)]);
  return toRepoJson(view, stats.get(view.repo.id), quota.get(view.repo.path));
}

const list = (name: string, items: JsonSchema, extra: Record<string, JsonSchema> = {}) =>
  object({ [name]: { type: 'array', items }, ...extra }, [name]);
const repoParam = { repo: repoPathParam };

// ---- the routes

export const API_ROUTES: readonly ApiRoute[] = [
  {
    method: 'GET',
    path: '/me',
    summary: 'Who the credential belongs to',
    tag: 'me',
    status: 200,
    response: meJson,
    handler: async ({ actor }) => ({
      name: actor.user.name,
      admin: actor.user.isAdmin,
      credential: actor.credential.kind,
    }),
  },
  {
    method: 'GET',
    path: '/repos',
    summary: 'The repositories you may read, with your access, objects, bytes and locks',
    tag: 'repositories',
    status: 200,
    response: list('repos', repoJson),
    handler: async ({ actor, services }) => ({ repos: await listRepoJson(services, actor) }),
  },
  {
    method: 'POST',
    path: '/repos',
    summary: 'Create a repository (in your namespace; anywhere for an admin)',
    tag: 'repositories',
    body: createRepoBody,
    status: 201,
    response: repoJson,
    handler: async ({ actor, services, body }) => {
      const repo = await services.admin.repos.create(actor, body.path as string, {
        isPublic: body.public as boolean | undefined,
      });
      return getRepoJson(services, actor, repo.path);
    },
  },
  {
    method: 'GET',
    path: '/repos/:repo',
    summary: 'One repository (its path URL-encoded: alice%2Fassets)',
    tag: 'repositories',
    params: repoParam,
    status: 200,
    response: repoJson,
    handler: async ({ actor, services, params }) => getRepoJson(services, actor, params.repo as string),
  },
  {
    method: 'PATCH',
    path: '/repos/:repo',
    summary: 'Make a repository public or private (repository admins)',
    tag: 'repositories',
    params: repoParam,
    body: updateRepoBody,
    status: 200,
    response: repoJson,
    handler: async ({ actor, services, params, body }) => {
      await services.admin.repos.setPublic(actor, params.repo as string, body.public as boolean);
      return getRepoJson(services, actor, params.repo as string);
    },
  },
  {
    method: 'DELETE',
    path: '/repos/:repo',
    summary: 'Delete a repository with its grants, locks and object links (repository admins)',
    tag: 'repositories',
    params: repoParam,
    status: 204,
    handler: async ({ actor, services, params }) => {
      await services.admin.repos.remove(actor, params.repo as string);
    },
  },
  {
    method: 'GET',
    path: '/repos/:repo/locks',
    summary: "A repository's locks, a page at a time (as the LFS locks API)",
    tag: 'locks',
    params: repoParam,
    query: lockListQuery,
    status: 200,
    response: list('locks', lockJson, { next_cursor: { type: 'string' } }),
    handler: async ({ actor, services, params, query }) => {
      // 404 for a repository that does not exist, where the LFS API answers an empty list
      const { repo } = await services.admin.repos.get(actor, params.repo as string);
      return services.locks.list(actor, repo.path, query);
    },
  },
  {
    method: 'DELETE',
    path: '/repos/:repo/locks/:id',
    summary: 'Remove a lock: your own, or anyone’s as an admin of the repository',
    tag: 'locks',
    params: { ...repoParam, id: idParam },
    status: 200,
    response: object({ lock: lockJson }, ['lock']),
    handler: async ({ actor, services, params }) => {
      const { repo } = await services.admin.repos.get(actor, params.repo as string);
      return { lock: await services.locks.unlock(actor, repo.path, params.id as string, { force: true }) };
    },
  },
  {
    method: 'GET',
    path: '/repos/:repo/grants',
    summary: "A repository's grants (repository admins)",
    tag: 'grants',
    params: repoParam,
    status: 200,
    response: list('grants', grantJson),
    handler: async ({ actor, services, params }) => ({
      grants: (await services.admin.grants.list(actor, { path: params.repo as string })).map(toGrantJson),
    }),
  },
  {
    method: 'PUT',
    path: '/repos/:repo/grants/:user',
    summary: 'Give a user read, write or admin on a repository (repository admins)',
    tag: 'grants',
    params: { ...repoParam, user: userNameParam },
    body: setGrantBody,
    status: 200,
    response: grantJson,
    handler: async ({ actor, services, params, body }) => {
      const path = parseRepoPath(params.repo);
      await services.admin.grants.grant(actor, params.user as string, path, body.permission as string);
      return { user: params.user, repo: path, permission: body.permission };
    },
  },
  {
    method: 'DELETE',
    path: '/repos/:repo/grants/:user',
    summary: "Take a user's grant on a repository away (repository admins)",
    tag: 'grants',
    params: { ...repoParam, user: userNameParam },
    status: 204,
    handler: async ({ actor, services, params }) => {
      await services.admin.grants.revoke(actor, params.user as string, params.repo as string);
    },
  },
  {
    method: 'GET',
    path: '/grants',
    summary: 'Every grant (site admins)',
    tag: 'grants',
    status: 200,
    response: list('grants', grantJson),
    handler: async ({ actor, services }) => ({
      grants: (await services.admin.grants.list(actor, {})).map(toGrantJson),
    }),
  },
  {
    method: 'GET',
    path: '/tokens',
    summary: 'Your personal access tokens (never their secrets)',
    tag: 'tokens',
    status: 200,
    response: list('tokens', tokenJson),
    handler: async ({ actor, services }) => ({
      tokens: (await services.admin.tokens.list(actor, actor.user.name)).map(toTokenJson),
    }),
  },
  {
    method: 'POST',
    path: '/tokens',
    summary:
      'Create a personal access token, shown this once (a token may do this only with the "tokens" scope)',
    tag: 'tokens',
    body: createTokenBody,
    status: 201,
    response: newTokenJson,
    handler: async ({ actor, services, body }) => {
      const days = body.expires_in_days as number | undefined;
      const { token, record } = await services.admin.tokens.create(actor, actor.user.name, {
        name: body.name as string | null | undefined,
        expiresInMs: days === undefined ? undefined : days * 24 * 3600 * 1000,
        scopes: body.scopes as string[] | undefined,
      });
      return { ...toTokenJson(record), token };
    },
  },
  {
    method: 'DELETE',
    path: '/tokens/:id',
    summary: 'Revoke one of your tokens (at once, transfers in flight included)',
    tag: 'tokens',
    params: { id: idParam },
    status: 204,
    handler: async ({ actor, services, params }) => {
      await services.admin.tokens.revoke(actor, actor.user.name, Number(params.id));
    },
  },
  {
    method: 'GET',
    path: '/keys',
    summary: 'Your SSH public keys',
    tag: 'ssh-keys',
    status: 200,
    response: list('keys', sshKeyJson),
    handler: async ({ actor, services }) => ({
      keys: (await services.admin.keys.list(actor, actor.user.name)).map(toSshKeyJson),
    }),
  },
  {
    method: 'POST',
    path: '/keys',
    summary: 'Add an SSH public key (one authorized_keys line) for git-lfs over SSH',
    tag: 'ssh-keys',
    body: addSshKeyBody,
    status: 201,
    response: sshKeyJson,
    handler: async ({ actor, services, body }) =>
      toSshKeyJson(
        await services.admin.keys.add(
          actor,
          actor.user.name,
          body.key as string,
          body.label as string | null | undefined,
        ),
      ),
  },
  {
    method: 'DELETE',
    path: '/keys/:id',
    summary: 'Remove one of your SSH keys (at once, transfers it granted included)',
    tag: 'ssh-keys',
    params: { id: idParam },
    status: 204,
    handler: async ({ actor, services, params }) => {
      await services.admin.keys.remove(actor, actor.user.name, Number(params.id));
    },
  },
  {
    method: 'GET',
    path: '/users',
    summary: 'Every user (site admins)',
    tag: 'users',
    status: 200,
    response: list('users', userJson),
    handler: async ({ actor, services }) => ({
      users: (await services.admin.users.list(actor)).map(toUserJson),
    }),
  },
  {
    method: 'POST',
    path: '/users',
    summary: 'Add a user (site admins); without a password they sign in with tokens only',
    tag: 'users',
    body: createUserBody,
    status: 201,
    response: userJson,
    handler: async ({ actor, services, body }) =>
      toUserJson(
        await services.admin.users.add(actor, {
          name: body.name as string,
          password: body.password as string | undefined,
          admin: body.admin as boolean | undefined,
        }),
      ),
  },
  {
    method: 'GET',
    path: '/users/:name',
    summary: 'One user (yourself, or anyone for a site admin)',
    tag: 'users',
    params: { name: userNameParam },
    status: 200,
    response: userJson,
    handler: async ({ actor, services, params }) =>
      toUserJson(await services.admin.users.get(actor, params.name as string)),
  },
  {
    method: 'PATCH',
    path: '/users/:name',
    summary:
      'Change your password; as a site admin also reset anyone’s, disable or enable, make admin. ' +
      'A new password or disabling ends the user’s sessions and transfers at once.',
    tag: 'users',
    params: { name: userNameParam },
    body: updateUserBody,
    status: 200,
    response: userJson,
    handler: async ({ actor, services, params, body }) => {
      const { users } = services.admin;
      const name = params.name as string;
      // the actor.ts rules the services apply, checked first so that a refused change changes nothing
      if (body.admin !== undefined || body.disabled !== undefined) requireSiteAdmin(actor);
      await users.get(actor, name);
      if (body.password !== undefined) await users.setPassword(actor, name, body.password as string | null);
      if (body.admin !== undefined) await users.setAdmin(actor, name, body.admin as boolean);
      if (body.disabled !== undefined) await users.setDisabled(actor, name, body.disabled as boolean);
      return toUserJson(await users.get(OPERATOR, name));
    },
  },
  {
    method: 'DELETE',
    path: '/users/:name',
    summary: 'Remove a user with their tokens, grants, locks and sessions (site admins)',
    tag: 'users',
    params: { name: userNameParam },
    status: 204,
    handler: async ({ actor, services, params }) => {
      await services.admin.users.remove(actor, params.name as string);
    },
  },
];
