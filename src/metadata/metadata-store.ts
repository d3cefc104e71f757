/**
 * Everything lfsd remembers besides object content (DESIGN.md "MetadataStore"). One SQL
 * implementation (sql-metadata-store.ts) serves SQLite, PostgreSQL and MySQL; nothing above
 * this module knows SQL.
 */

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
  /** scrypt hash in the format of auth/password-hash.ts; null when the user has no password */
  passwordHash: string | null;
  createdAt: Date;
}

export interface TokenRecord {
  id: number;
  userId: number;
  name: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
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
  /** connections open, in use and callers waiting (metrics); absent when not tracked */
  poolStats?(): PoolStats | undefined;

  // repositories
  createRepo(path: string, options: { isPublic: boolean }): Promise<Repo>; // AlreadyExistsError if taken
  findRepo(path: string): Promise<Repo | undefined>;
  /** find or create (race-safe: concurrent callers get the same row) */
  ensureRepo(path: string): Promise<Repo>;
  setRepoPublic(repoId: number, isPublic: boolean): Promise<void>;
  listRepos(): Promise<Repo[]>;

  // objects: content is stored once (objects), and linked to each repository that proved possession
  /** record the object and link it to the repository; idempotent and race-safe */
  linkObject(repoId: number, oid: string, size: number): Promise<void>;
  /** oid -> size for those of `oids` linked to the repository, in one round trip per few hundred oids */
  findLinkedObjects(repoId: number, oids: readonly string[]): Promise<Map<string, number>>;
  unlinkObject(repoId: number, oid: string): Promise<boolean>;

  // users
  createUser(user: { name: string; isAdmin: boolean; passwordHash: string | null }): Promise<User>; // AlreadyExistsError
  findUserByName(name: string): Promise<User | undefined>;
  findUserById(id: number): Promise<User | undefined>;
  setPasswordHash(userId: number, passwordHash: string | null): Promise<void>;
  listUsers(): Promise<User[]>;

  // personal access tokens: only a hash of the secret is stored
  createToken(token: {
    userId: number;
    name: string | null;
    secretHash: string;
    expiresAt: Date | null;
  }): Promise<TokenRecord>;
  /** the token with this secret hash and its user, revoked or expired ones included (auth decides) */
  findTokenBySecretHash(secretHash: string): Promise<{ token: TokenRecord; user: User } | undefined>;
  listTokens(userId: number): Promise<TokenRecord[]>;
  revokeToken(userId: number, tokenId: number): Promise<boolean>;

  // grants
  setGrant(userId: number, repoId: number, permission: Permission): Promise<void>; // insert or replace
  removeGrant(userId: number, repoId: number): Promise<boolean>;
  findGrant(userId: number, repoId: number): Promise<Permission | undefined>;

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

  /** throws when the database is unreachable (readiness probe) */
  ping(): Promise<void>;
  close(): Promise<void>;
}
