/**
 * Everything lfsd remembers besides object content (DESIGN.md "MetadataStore"). One SQL
 * implementation (sql-metadata-store.ts) serves SQLite, PostgreSQL and MySQL; nothing above
 * this module knows SQL.
 */
import type { LifecycleMetadata, LinkOptions } from './lifecycle-metadata.js';

export type Permission = 'read' | 'write' | 'admin';

export interface Repo {
  id: number;
  /** one or more segments without `.git`, e.g. `alice/assets`, `org/team/assets` */
  path: string;
  isPublic: boolean;
  createdAt: Date;
}

export interface User {
  id: number;
  name: string;
  isAdmin: boolean;
  /** hash in the format of auth/password-hash.ts; null when the user has no password */
  passwordHash: string | null;
  createdAt: Date;
  /** a disabled user signs in nowhere, and no credential of theirs works */
  disabled: boolean;
  /**
   * Bumped whenever the password changes or the user is disabled: what was granted under an older
   * generation (transfer tokens, console sessions) stops working at once.
   */
  authGeneration: number;
}

export interface TokenRecord {
  id: number;
  userId: number;
  name: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** what the token may do besides the LFS API (auth/token-scopes.ts); null: the default set */
  scopes: string[] | null;
}

/** An SSH public key of a user (src/ssh): their identity over SSH. */
export interface SshKeyRecord {
  id: number;
  userId: number;
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ... */
  type: string;
  /** base64 of the key's wire-format blob, as in an `authorized_keys` line */
  publicKey: string;
  /** `SHA256:...`, as `ssh-keygen -l` prints it; unique across users */
  fingerprint: string;
  label: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

/** A grant with the names of its user and repository, for listings. */
export interface GrantRecord {
  userId: number;
  userName: string;
  repoId: number;
  repoPath: string;
  permission: Permission;
}

export interface Lock {
  /** decimal string of an increasing integer: URL-safe, and its order is the list order */
  id: string;
  repoId: number;
  path: string;
  ownerId: number;
  ownerName: string;
  lockedAt: Date;
  ref: string | null;
}

export interface LockQuery {
  path?: string;
  id?: string;
  /** only locks whose id sorts after this one (pagination cursor) */
  afterId?: string;
  ownerId?: number;
  limit: number;
}

/** A web console session (web/session-service.ts); its secret lives only in the browser's cookie. */
export interface WebSession {
  id: number;
  userId: number;
  /** the user's authGeneration when the session began: it ends when that changes */
  authGeneration: number;
  createdAt: Date;
  expiresAt: Date;
}

/** What a repository holds, for listings (web console, admin API). */
export interface RepoStats {
  objects: number;
  bytes: number;
  locks: number;
}

export type CreateLockResult = { created: true; lock: Lock } | { created: false; lock: Lock };

/** Thrown when a unique name (user, repository) is taken. */
export class AlreadyExistsError extends Error {
  constructor(what: string) {
    super(`${what} already exists`);
    this.name = 'AlreadyExistsError';
  }
}

/** The database connection pool right now, for metrics. */
export interface PoolStats {
  open: number;
  inUse: number;
  waiting: number;
}

export interface MetadataStore {
  /** 'sqlite' | 'postgres' | 'mysql', for metrics and logs */
  readonly dialect: string;
  /** usage, quotas, gc and fsck (issue 14) */
  readonly lifecycle: LifecycleMetadata;
  /** connections open, in use and callers waiting (metrics); absent when not tracked */
  poolStats?(): PoolStats | undefined;

  // repositories
  createRepo(path: string, options: { isPublic: boolean }): Promise<Repo>; // AlreadyExistsError if taken
  findRepo(path: string): Promise<Repo | undefined>;
  /** find or create (race-safe: concurrent callers get the same row) */
  ensureRepo(path: string): Promise<Repo>;
  setRepoPublic(repoId: number, isPublic: boolean): Promise<void>;
  listRepos(): Promise<Repo[]>;
  /** removes the repository with its grants, locks and object links (content stays, unlinked) */
  deleteRepo(repoId: number): Promise<boolean>;
  /** objects linked, their bytes and locks held, per repository id (only repositories with any), or of one */
  repoStats(repoId?: number): Promise<Map<number, RepoStats>>;

  // objects: content is stored once (objects), and linked to each repository that proved possession
  /**
   * record the object and link it to the repository, with its usage, in one transaction;
   * idempotent and race-safe. Throws ObjectBeingCollectedError while gc deletes its content.
   */
  linkObject(repoId: number, oid: string, size: number, options?: LinkOptions): Promise<void>;
  /**
   * Resolves once every write committed before the call survives an OS crash or power loss. An
   * upload is acknowledged only after it. SQLite: a grouped fdatasync of the WAL (wal-sync.ts);
   * PostgreSQL and MySQL sync on commit, and `:memory:` has nothing to sync, so these resolve at once.
   */
  durable(): Promise<void>;
  /** oid -> size for those of `oids` linked to the repository (not broken: fsck --repair), in one round trip per few hundred oids */
  findLinkedObjects(repoId: number, oids: readonly string[]): Promise<Map<string, number>>;
  unlinkObject(repoId: number, oid: string): Promise<boolean>;

  // users
  createUser(user: { name: string; isAdmin: boolean; passwordHash: string | null }): Promise<User>; // AlreadyExistsError
  findUserByName(name: string): Promise<User | undefined>;
  findUserById(id: number): Promise<User | undefined>;
  /** a new password (or none): bumps authGeneration, so what the old one granted stops working */
  setPasswordHash(userId: number, passwordHash: string | null): Promise<void>;
  /**
   * The same password hashed with newer parameters (on sign-in): replaces `oldHash` only if it is
   * still the stored one, and leaves authGeneration alone. False when the hash changed meanwhile.
   */
  upgradePasswordHash(userId: number, oldHash: string, newHash: string): Promise<boolean>;
  setUserAdmin(userId: number, isAdmin: boolean): Promise<void>;
  /** disabling bumps authGeneration too */
  setUserDisabled(userId: number, disabled: boolean): Promise<void>;
  /** removes the user with their tokens, SSH keys, grants and locks */
  deleteUser(userId: number): Promise<boolean>;
  listUsers(): Promise<User[]>;

  // personal access tokens: only a hash of the secret is stored
  createToken(token: {
    userId: number;
    name: string | null;
    secretHash: string;
    expiresAt: Date | null;
    scopes?: readonly string[] | null;
  }): Promise<TokenRecord>;
  findTokenById(tokenId: number): Promise<{ token: TokenRecord; user: User } | undefined>;
  /** the token with this secret hash and its user, revoked or expired ones included (auth decides) */
  findTokenBySecretHash(secretHash: string): Promise<{ token: TokenRecord; user: User } | undefined>;
  listTokens(userId: number): Promise<TokenRecord[]>;
  revokeToken(userId: number, tokenId: number): Promise<boolean>;

  // SSH keys
  /** AlreadyExistsError when a key with this fingerprint exists (for any user) */
  addSshKey(key: {
    userId: number;
    type: string;
    publicKey: string;
    fingerprint: string;
    label: string | null;
  }): Promise<SshKeyRecord>;
  /** the key with this fingerprint and its user (disabled users included: auth decides) */
  findSshKeyByFingerprint(fingerprint: string): Promise<{ key: SshKeyRecord; user: User } | undefined>;
  findSshKeyById(keyId: number): Promise<{ key: SshKeyRecord; user: User } | undefined>;
  /** one user's keys, or every key (with its user's name), ordered by id */
  listSshKeys(userId: number): Promise<SshKeyRecord[]>;
  listAllSshKeys(): Promise<Array<{ key: SshKeyRecord; userName: string }>>;
  deleteSshKey(userId: number, keyId: number): Promise<boolean>;
  /** record a use (sign-in) of the key */
  touchSshKey(keyId: number, at: Date): Promise<void>;

  // grants
  setGrant(userId: number, repoId: number, permission: Permission): Promise<void>; // insert or replace
  removeGrant(userId: number, repoId: number): Promise<boolean>;
  findGrant(userId: number, repoId: number): Promise<Permission | undefined>;
  /** grants of a repository, or of a user, or all; ordered by repository path, then user name */
  listGrants(filter: { repoId?: number; userId?: number }): Promise<GrantRecord[]>;

  // locks: exclusive per (repository, path) by a unique constraint, never by process memory
  createLock(lock: {
    repoId: number;
    path: string;
    ownerId: number;
    ref: string | null;
  }): Promise<CreateLockResult>;
  /** ordered by id ascending */
  listLocks(repoId: number, query: LockQuery): Promise<Lock[]>;
  findLock(repoId: number, id: string): Promise<Lock | undefined>;
  deleteLock(repoId: number, id: string): Promise<boolean>;

  // web console sessions: only a hash of the secret is stored; removing the user removes them
  createWebSession(session: {
    userId: number;
    secretHash: string;
    authGeneration: number;
    expiresAt: Date;
  }): Promise<WebSession>;
  /** the session and its user by id or secret hash, expired ones included (the caller decides) */
  findWebSession(
    by: { id: number } | { secretHash: string },
  ): Promise<{ session: WebSession; user: User } | undefined>;
  deleteWebSession(id: number): Promise<boolean>;
  /** removes the sessions that expired before `now`; returns how many */
  deleteExpiredWebSessions(now: Date): Promise<number>;

  /** throws when the database is unreachable (readiness probe) */
  ping(): Promise<void>;
  close(): Promise<void>;
}
