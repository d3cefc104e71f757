/**
 * The MetadataStore over Kysely: one implementation for SQLite, PostgreSQL and MySQL. Dialect
 * differences stay in sql-portability.ts (queries) and row-mappers.ts (results); this file reads
 * as plain SQL. Race safety comes from unique keys, never from checks made before a write.
 *
 * Every name and text written is checked by the one rule module (rules.ts) first, so every dialect
 * stores exactly the same strings (SQLite would take anything, PostgreSQL refuses a NUL, MySQL and
 * SQLite turn a lone surrogate into U+FFFD).
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Compilable, Kysely } from 'kysely';
import { CompiledQueries } from './compiled-queries.js';
import type { DialectName } from './dialects.js';
import { SqlLifecycleMetadata, type LinkOptions } from './lifecycle-metadata.js';
import { AlreadyExistsError } from './metadata-store.js';
import type { PoolStats } from './metadata-store.js';
import type { PoolMeter } from './pool-meter.js';
import type {
  CreateLockResult,
  GrantRecord,
  Lock,
  LockQuery,
  MetadataStore,
  Permission,
  Repo,
  RepoStats,
  SshKeyRecord,
  TokenRecord,
  User,
  WebSession,
} from './metadata-store.js';
import {
  toDate,
  toLock,
  toNumber,
  toPermission,
  toRepo,
  toSshKey,
  toToken,
  toUser,
  type UserRow,
} from './row-mappers.js';
import {
  checkLockPath,
  checkOptionalText,
  checkUserName,
  isValidLockId,
  isValidRepoPath,
  MAX_LABEL_LENGTH,
  MAX_REF_LENGTH,
  RuleViolation,
} from '../rules.js';
import type { Database } from './schema.js';
import type { WalSync } from './wal-sync.js';
import {
  dbBoolean,
  dbTimestamp,
  insertReturningId,
  isDeadlock,
  isUniqueViolation,
  skipDuplicate,
  upsert,
} from './sql-portability.js';

/** oids per `IN (...)` list: well below every dialect's bound-parameter limit */
const OIDS_PER_QUERY = 500;

/** createLock retries when the conflicting lock is deleted before it can be read, or on a deadlock */
const CREATE_LOCK_ATTEMPTS = 10;

const REPO_COLUMNS = ['id', 'path', 'is_public', 'created_at'] as const;
const USER_COLUMNS = [
  'id',
  'name',
  'is_admin',
  'password_hash',
  'created_at',
  'disabled',
  'auth_generation',
] as const;
const SSH_KEY_COLUMNS = [
  'ssh_keys.id',
  'ssh_keys.user_id',
  'ssh_keys.key_type',
  'ssh_keys.public_key',
  'ssh_keys.fingerprint',
  'ssh_keys.label',
  'ssh_keys.created_at',
  'ssh_keys.last_used_at',
] as const;
/** the user's columns of a row joined to its user (a token's, an SSH key's), `user_id` aside */
const JOINED_USER_COLUMNS = [
  'users.name as user_name',
  'users.is_admin',
  'users.password_hash',
  'users.created_at as user_created_at',
  'users.disabled',
  'users.auth_generation',
] as const;

/** The user of a row selected with JOINED_USER_COLUMNS and its `user_id`. */
function joinedUser(
  row: Omit<UserRow, 'id' | 'name' | 'created_at'> & {
    user_id: number;
    user_name: string;
    user_created_at: UserRow['created_at'];
  },
): User {
  return toUser({
    id: row.user_id,
    name: row.user_name,
    is_admin: row.is_admin,
    password_hash: row.password_hash,
    created_at: row.user_created_at,
    disabled: row.disabled,
    auth_generation: row.auth_generation,
  });
}

const TOKEN_COLUMNS = ['id', 'user_id', 'name', 'created_at', 'expires_at', 'revoked_at', 'scopes'] as const;

export class SqlMetadataStore implements MetadataStore {
  #closing: Promise<void> | undefined;
  /** hot queries compiled once (runCompiled), by name */
  private readonly compiled = new CompiledQueries();
  readonly lifecycle: SqlLifecycleMetadata;

  constructor(
    private readonly db: Kysely<Database>,
    readonly dialect: DialectName,
    private readonly meter?: PoolMeter,
    /** SQLite on a file only: the WAL's grouped fdatasync */
    private readonly walSync?: WalSync,
  ) {
    this.lifecycle = new SqlLifecycleMetadata(db, dialect);
  }

  poolStats(): PoolStats | undefined {
    return this.meter?.stats();
  }

  /** a hot-path query compiled once (compiled-queries.ts); returns its rows */
  private async runCompiled<R>(
    name: string,
    build: () => Compilable<R>,
    parameters: readonly unknown[],
  ): Promise<R[]> {
    return (await this.compiled.run(this.db, name, build, parameters)).rows;
  }

  // ---- repositories

  async createRepo(path: string, options: { isPublic: boolean }): Promise<Repo> {
    checkRepoPath(path);
    const createdAt = new Date();
    const insert = this.db.insertInto('repos').values({
      path,
      is_public: dbBoolean(this.dialect, options.isPublic),
      created_at: dbTimestamp(this.dialect, createdAt),
    });
    try {
      const id = await insertReturningId(this.dialect, insert);
      return { id: Number(id), path, isPublic: options.isPublic, createdAt };
    } catch (err) {
      if (isUniqueViolation(err)) throw new AlreadyExistsError(`repository ${path}`);
      throw err;
    }
  }

  async findRepo(path: string): Promise<Repo | undefined> {
    const [row] = await this.runCompiled(
      'find-repo',
      () => this.db.selectFrom('repos').select(REPO_COLUMNS).where('path', '=', ''),
      [path],
    );
    return row && toRepo(row);
  }

  async ensureRepo(path: string): Promise<Repo> {
    const existing = await this.findRepo(path);
    if (existing) return existing;
    checkRepoPath(path);
    // Concurrent callers may all get here: the unique key lets one insert win and the rest no-op,
    // and then everyone reads the same row.
    const insert = this.db.insertInto('repos').values({
      path,
      is_public: dbBoolean(this.dialect, false),
      created_at: dbTimestamp(this.dialect, new Date()),
    });
    await skipDuplicate(this.dialect, insert, 'path').execute();
    const repo = await this.findRepo(path);
    if (!repo) throw new Error(`repository ${path} vanished while being created`);
    return repo;
  }

  async setRepoPublic(repoId: number, isPublic: boolean): Promise<void> {
    await this.db
      .updateTable('repos')
      .set({ is_public: dbBoolean(this.dialect, isPublic) })
      .where('id', '=', repoId)
      .execute();
  }

  async listRepos(): Promise<Repo[]> {
    const rows = await this.db.selectFrom('repos').select(REPO_COLUMNS).orderBy('path').execute();
    return rows.map(toRepo);
  }

  async deleteRepo(repoId: number): Promise<boolean> {
    // grants, locks, offers and object links go with it (ON DELETE CASCADE); the objects stay,
    // unlinked, held until now (gc's grace period counts from the deletion)
    return this.lifecycle.write(async (tx) => {
      await this.lifecycle.releaseRepo(tx, repoId);
      const result = await tx.deleteFrom('repos').where('id', '=', repoId).executeTakeFirst();
      return result.numDeletedRows > 0n;
    });
  }

  async repoStats(repoId?: number): Promise<Map<number, RepoStats>> {
    // two grouped scans (one per table) rather than a join that would multiply rows
    const [objects, locks] = await Promise.all([
      this.db
        .selectFrom('repo_objects')
        .innerJoin('objects', 'objects.oid', 'repo_objects.oid')
        .select((eb) => [
          'repo_objects.repo_id',
          eb.fn.countAll<number | string>().as('objects'),
          eb.fn.sum<number | string | null>('objects.size').as('bytes'),
        ])
        .$if(repoId !== undefined, (q) => q.where('repo_objects.repo_id', '=', repoId as number))
        .groupBy('repo_objects.repo_id')
        .execute(),
      this.db
        .selectFrom('locks')
        .select((eb) => ['repo_id', eb.fn.countAll<number | string>().as('locks')])
        .$if(repoId !== undefined, (q) => q.where('repo_id', '=', repoId as number))
        .groupBy('repo_id')
        .execute(),
    ]);
    const stats = new Map<number, RepoStats>();
    const of = (repoId: number | string) => {
      const id = toNumber(repoId);
      let entry = stats.get(id);
      if (!entry) stats.set(id, (entry = { objects: 0, bytes: 0, locks: 0 }));
      return entry;
    };
    for (const row of objects) {
      const entry = of(row.repo_id);
      entry.objects = toNumber(row.objects);
      entry.bytes = row.bytes === null ? 0 : toNumber(row.bytes);
    }
    for (const row of locks) of(row.repo_id).locks = toNumber(row.locks);
    return stats;
  }

  // ---- objects

  async linkObject(repoId: number, oid: string, size: number, options?: LinkOptions): Promise<void> {
    await this.lifecycle.link(repoId, oid, size, options);
  }

  async findLinkedObjects(repoId: number, oids: readonly string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    const unique = [...new Set(oids)];
    for (let start = 0; start < unique.length; start += OIDS_PER_QUERY) {
      const chunk = unique.slice(start, start + OIDS_PER_QUERY);
      const rows = await this.runCompiled(
        `linked-objects-${chunk.length}`,
        () =>
          this.db
            .selectFrom('repo_objects')
            .innerJoin('objects', 'objects.oid', 'repo_objects.oid')
            .select(['objects.oid', 'objects.size'])
            .where('repo_objects.repo_id', '=', 0)
            .where('repo_objects.oid', 'in', new Array<string>(chunk.length).fill(''))
            .where('objects.broken_at', 'is', null),
        [repoId, ...chunk],
      );
      for (const row of rows) found.set(row.oid, toNumber(row.size));
    }
    return found;
  }

  async durable(): Promise<void> {
    await this.walSync?.sync();
  }

  async unlinkObject(repoId: number, oid: string): Promise<boolean> {
    return (await this.lifecycle.unlink(repoId, [oid])).objects > 0;
  }

  // ---- users

  async createUser(user: { name: string; isAdmin: boolean; passwordHash: string | null }): Promise<User> {
    checkUserName(user.name);
    const createdAt = new Date();
    const insert = this.db.insertInto('users').values({
      name: user.name,
      is_admin: dbBoolean(this.dialect, user.isAdmin),
      password_hash: user.passwordHash,
      created_at: dbTimestamp(this.dialect, createdAt),
    });
    try {
      const id = await insertReturningId(this.dialect, insert);
      return {
        id: Number(id),
        name: user.name,
        isAdmin: user.isAdmin,
        passwordHash: user.passwordHash,
        createdAt,
        disabled: false,
        authGeneration: 0,
      };
    } catch (err) {
      if (isUniqueViolation(err)) throw new AlreadyExistsError(`user ${user.name}`);
      throw err;
    }
  }

  async findUserByName(name: string): Promise<User | undefined> {
    const [row] = await this.runCompiled(
      'find-user-by-name',
      () => this.db.selectFrom('users').select(USER_COLUMNS).where('name', '=', ''),
      [name],
    );
    return row && toUser(row);
  }

  async findUserById(id: number): Promise<User | undefined> {
    // a hot query: transfers granted under a password check that it still stands
    const [row] = await this.runCompiled(
      'find-user-by-id',
      () => this.db.selectFrom('users').select(USER_COLUMNS).where('id', '=', 0),
      [id],
    );
    return row && toUser(row);
  }

  async setPasswordHash(userId: number, passwordHash: string | null): Promise<void> {
    await this.db
      .updateTable('users')
      .set((eb) => ({ password_hash: passwordHash, auth_generation: eb('auth_generation', '+', 1) }))
      .where('id', '=', userId)
      .execute();
  }

  async upgradePasswordHash(userId: number, oldHash: string, newHash: string): Promise<boolean> {
    const result = await this.db
      .updateTable('users')
      .set({ password_hash: newHash })
      .where('id', '=', userId)
      .where('password_hash', '=', oldHash)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async setUserAdmin(userId: number, isAdmin: boolean): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ is_admin: dbBoolean(this.dialect, isAdmin) })
      .where('id', '=', userId)
      .execute();
  }

  async setUserDisabled(userId: number, disabled: boolean): Promise<void> {
    await this.db
      .updateTable('users')
      .set((eb) => ({
        disabled: dbBoolean(this.dialect, disabled),
        auth_generation: eb('auth_generation', '+', 1),
      }))
      .where('id', '=', userId)
      .execute();
  }

  async deleteUser(userId: number): Promise<boolean> {
    // tokens, grants and locks go with it (ON DELETE CASCADE)
    const result = await this.db.deleteFrom('users').where('id', '=', userId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listUsers(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').select(USER_COLUMNS).orderBy('name').execute();
    return rows.map(toUser);
  }

  // ---- tokens

  async createToken(token: {
    userId: number;
    name: string | null;
    secretHash: string;
    expiresAt: Date | null;
    scopes?: readonly string[] | null;
  }): Promise<TokenRecord> {
    const name = checkOptionalText('token name', token.name, MAX_LABEL_LENGTH);
    const createdAt = new Date();
    const insert = this.db.insertInto('tokens').values({
      user_id: token.userId,
      name,
      secret_hash: token.secretHash,
      created_at: dbTimestamp(this.dialect, createdAt),
      expires_at: token.expiresAt && dbTimestamp(this.dialect, token.expiresAt),
      revoked_at: null,
      scopes: token.scopes ? token.scopes.join(',') : null,
    });
    try {
      const id = await insertReturningId(this.dialect, insert);
      return {
        id: Number(id),
        userId: token.userId,
        name,
        createdAt,
        expiresAt: token.expiresAt,
        revokedAt: null,
        scopes: token.scopes ? [...token.scopes] : null,
      };
    } catch (err) {
      // only if two random secrets collide
      if (isUniqueViolation(err)) throw new AlreadyExistsError('token with this secret');
      throw err;
    }
  }

  async findTokenBySecretHash(secretHash: string): Promise<{ token: TokenRecord; user: User } | undefined> {
    return this.findTokenWith('tokens.secret_hash', secretHash);
  }

  async findTokenById(tokenId: number): Promise<{ token: TokenRecord; user: User } | undefined> {
    return this.findTokenWith('tokens.id', tokenId);
  }

  private async findTokenWith(
    column: 'tokens.secret_hash' | 'tokens.id',
    value: string | number,
  ): Promise<{ token: TokenRecord; user: User } | undefined> {
    // a hot query: every request signed in with a personal access token looks its token up
    const build = () =>
      this.db
        .selectFrom('tokens')
        .innerJoin('users', 'users.id', 'tokens.user_id')
        .select([
          'tokens.id as token_id',
          'tokens.name as token_name',
          'tokens.created_at as token_created_at',
          'tokens.expires_at',
          'tokens.revoked_at',
          'tokens.scopes',
          'users.id as user_id',
          ...JOINED_USER_COLUMNS,
        ])
        .where(column, '=', value);
    const [row] = await this.runCompiled(`findTokenWith ${column}`, build, [value]);
    if (!row) return undefined;
    const token = toToken({
      id: row.token_id,
      user_id: row.user_id,
      name: row.token_name,
      created_at: row.token_created_at,
      expires_at: row.expires_at,
      revoked_at: row.revoked_at,
      scopes: row.scopes,
    });
    return { token, user: joinedUser(row) };
  }

  async listTokens(userId: number): Promise<TokenRecord[]> {
    const rows = await this.db
      .selectFrom('tokens')
      .select(TOKEN_COLUMNS)
      .where('user_id', '=', userId)
      .orderBy('id')
      .execute();
    return rows.map(toToken);
  }

  /**
   * True when the user has this token and it is now revoked (also when it was revoked before:
   * the first revocation time is kept); false when the user has no such token.
   */
  async revokeToken(userId: number, tokenId: number): Promise<boolean> {
    const result = await this.db
      .updateTable('tokens')
      .set({ revoked_at: dbTimestamp(this.dialect, new Date()) })
      .where('id', '=', tokenId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (result.numUpdatedRows > 0n) return true;
    const existing = await this.db
      .selectFrom('tokens')
      .select('id')
      .where('id', '=', tokenId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return existing !== undefined;
  }

  // ---- SSH keys

  async addSshKey(key: {
    userId: number;
    type: string;
    publicKey: string;
    fingerprint: string;
    label: string | null;
  }): Promise<SshKeyRecord> {
    const label = checkOptionalText('key label', key.label, MAX_LABEL_LENGTH);
    const createdAt = new Date();
    const insert = this.db.insertInto('ssh_keys').values({
      user_id: key.userId,
      key_type: key.type,
      public_key: key.publicKey,
      fingerprint: key.fingerprint,
      label,
      created_at: dbTimestamp(this.dialect, createdAt),
      last_used_at: null,
    });
    try {
      const id = await insertReturningId(this.dialect, insert);
      return { id: Number(id), ...key, label, createdAt, lastUsedAt: null };
    } catch (err) {
      if (isUniqueViolation(err)) throw new AlreadyExistsError(`SSH key ${key.fingerprint}`);
      throw err;
    }
  }

  async findSshKeyByFingerprint(fingerprint: string): Promise<{ key: SshKeyRecord; user: User } | undefined> {
    return this.findSshKeyWith('ssh_keys.fingerprint', fingerprint);
  }

  async findSshKeyById(keyId: number): Promise<{ key: SshKeyRecord; user: User } | undefined> {
    return this.findSshKeyWith('ssh_keys.id', keyId);
  }

  private async findSshKeyWith(
    column: 'ssh_keys.fingerprint' | 'ssh_keys.id',
    value: string | number,
  ): Promise<{ key: SshKeyRecord; user: User } | undefined> {
    // a hot query: an SSH session asks before every command whether its key still stands
    const build = () =>
      this.db
        .selectFrom('ssh_keys')
        .innerJoin('users', 'users.id', 'ssh_keys.user_id')
        .select([...SSH_KEY_COLUMNS, ...JOINED_USER_COLUMNS])
        .where(column, '=', value);
    const [row] = await this.runCompiled(`findSshKeyWith ${column}`, build, [value]);
    if (!row) return undefined;
    return { key: toSshKey(row), user: joinedUser(row) };
  }

  async listSshKeys(userId: number): Promise<SshKeyRecord[]> {
    const rows = await this.db
      .selectFrom('ssh_keys')
      .select(SSH_KEY_COLUMNS)
      .where('user_id', '=', userId)
      .orderBy('id')
      .execute();
    return rows.map(toSshKey);
  }

  async listAllSshKeys(): Promise<Array<{ key: SshKeyRecord; userName: string }>> {
    const rows = await this.db
      .selectFrom('ssh_keys')
      .innerJoin('users', 'users.id', 'ssh_keys.user_id')
      .select([...SSH_KEY_COLUMNS, 'users.name as user_name'])
      .orderBy('ssh_keys.id')
      .execute();
    return rows.map((row) => ({ key: toSshKey(row), userName: row.user_name }));
  }

  async deleteSshKey(userId: number, keyId: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom('ssh_keys')
      .where('id', '=', keyId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async touchSshKey(keyId: number, at: Date): Promise<void> {
    await this.db
      .updateTable('ssh_keys')
      .set({ last_used_at: dbTimestamp(this.dialect, at) })
      .where('id', '=', keyId)
      .execute();
  }

  // ---- grants

  async setGrant(userId: number, repoId: number, permission: Permission): Promise<void> {
    const insert = this.db.insertInto('grants').values({ user_id: userId, repo_id: repoId, permission });
    await upsert(this.dialect, insert, ['user_id', 'repo_id'], { permission }).execute();
  }

  async removeGrant(userId: number, repoId: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom('grants')
      .where('user_id', '=', userId)
      .where('repo_id', '=', repoId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async listGrants(filter: { repoId?: number; userId?: number }): Promise<GrantRecord[]> {
    let select = this.db
      .selectFrom('grants')
      .innerJoin('users', 'users.id', 'grants.user_id')
      .innerJoin('repos', 'repos.id', 'grants.repo_id')
      .select([
        'grants.user_id',
        'users.name as user_name',
        'grants.repo_id',
        'repos.path as repo_path',
        'grants.permission',
      ]);
    if (filter.repoId !== undefined) select = select.where('grants.repo_id', '=', filter.repoId);
    if (filter.userId !== undefined) select = select.where('grants.user_id', '=', filter.userId);
    const rows = await select.orderBy('repos.path').orderBy('users.name').execute();
    return rows.map((row) => ({
      userId: toNumber(row.user_id),
      userName: row.user_name,
      repoId: toNumber(row.repo_id),
      repoPath: row.repo_path,
      permission: toPermission(row.permission),
    }));
  }

  async findGrant(userId: number, repoId: number): Promise<Permission | undefined> {
    // a hot query: every batch by a user who does not own the repository asks it
    const [row] = await this.runCompiled(
      'find-grant',
      () =>
        this.db.selectFrom('grants').select('permission').where('user_id', '=', 0).where('repo_id', '=', 0),
      [userId, repoId],
    );
    return row && toPermission(row.permission);
  }

  // ---- locks

  async createLock(lock: {
    repoId: number;
    path: string;
    ownerId: number;
    ref: string | null;
  }): Promise<CreateLockResult> {
    const path = checkLockPath(lock.path);
    const ref = checkOptionalText('ref', lock.ref, MAX_REF_LENGTH);
    const owner = await this.db
      .selectFrom('users')
      .select('name')
      .where('id', '=', lock.ownerId)
      .executeTakeFirst();
    if (!owner) throw new Error(`no user with id ${lock.ownerId}`);
    const pathHash = sha256Hex(path);
    for (let attempt = 1; ; attempt++) {
      const lockedAt = new Date();
      const insert = this.db.insertInto('locks').values({
        repo_id: lock.repoId,
        path,
        path_hash: pathHash,
        owner_id: lock.ownerId,
        ref,
        locked_at: dbTimestamp(this.dialect, lockedAt),
      });
      try {
        const id = await insertReturningId(this.dialect, insert);
        const created: Lock = {
          id,
          repoId: lock.repoId,
          path,
          ownerId: lock.ownerId,
          ownerName: owner.name,
          lockedAt,
          ref,
        };
        return { created: true, lock: created };
      } catch (err) {
        if (attempt >= CREATE_LOCK_ATTEMPTS) throw err;
        if (isDeadlock(err)) continue;
        if (!isUniqueViolation(err)) throw err;
      }
      // Someone else holds the path: report their lock. If it was unlocked in the meantime, the
      // path is free again and the next attempt may win it.
      const row = await this.selectLocks()
        .where('locks.repo_id', '=', lock.repoId)
        .where('locks.path_hash', '=', pathHash)
        .executeTakeFirst();
      if (row) return { created: false, lock: toLock(row) };
    }
  }

  async listLocks(repoId: number, query: LockQuery): Promise<Lock[]> {
    const limit = Math.floor(query.limit);
    if (!(limit > 0)) return [];
    let select = this.selectLocks().where('locks.repo_id', '=', repoId);
    if (query.path !== undefined) select = select.where('locks.path_hash', '=', sha256Hex(query.path));
    if (query.id !== undefined) {
      const id = parseLockId(query.id);
      if (id === undefined) return [];
      select = select.where('locks.id', '=', id);
    }
    if (query.afterId !== undefined) {
      const afterId = parseLockId(query.afterId);
      if (afterId === undefined) return [];
      select = select.where('locks.id', '>', afterId);
    }
    if (query.ownerId !== undefined) select = select.where('locks.owner_id', '=', query.ownerId);
    const rows = await select.orderBy('locks.id').limit(limit).execute();
    return rows.map(toLock);
  }

  async findLock(repoId: number, id: string): Promise<Lock | undefined> {
    const lockId = parseLockId(id);
    if (lockId === undefined) return undefined;
    const row = await this.selectLocks()
      .where('locks.repo_id', '=', repoId)
      .where('locks.id', '=', lockId)
      .executeTakeFirst();
    return row && toLock(row);
  }

  async deleteLock(repoId: number, id: string): Promise<boolean> {
    const lockId = parseLockId(id);
    if (lockId === undefined) return false;
    const result = await this.db
      .deleteFrom('locks')
      .where('repo_id', '=', repoId)
      .where('id', '=', lockId)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** locks joined with their owner's name, the shape toLock() reads */
  private selectLocks() {
    return this.db
      .selectFrom('locks')
      .innerJoin('users', 'users.id', 'locks.owner_id')
      .select([
        'locks.id',
        'locks.repo_id',
        'locks.path',
        'locks.owner_id',
        'users.name as owner_name',
        'locks.ref',
        'locks.locked_at',
      ]);
  }

  // ---- web console sessions

  async createWebSession(session: {
    userId: number;
    secretHash: string;
    authGeneration: number;
    expiresAt: Date;
  }): Promise<WebSession> {
    const createdAt = new Date();
    const insert = this.db.insertInto('web_sessions').values({
      user_id: session.userId,
      secret_hash: session.secretHash,
      auth_generation: session.authGeneration,
      created_at: dbTimestamp(this.dialect, createdAt),
      expires_at: dbTimestamp(this.dialect, session.expiresAt),
    });
    const id = await insertReturningId(this.dialect, insert);
    return {
      id: Number(id),
      userId: session.userId,
      authGeneration: session.authGeneration,
      createdAt,
      expiresAt: session.expiresAt,
    };
  }

  async findWebSession(
    by: { id: number } | { secretHash: string },
  ): Promise<{ session: WebSession; user: User } | undefined> {
    let query = this.db
      .selectFrom('web_sessions')
      .innerJoin('users', 'users.id', 'web_sessions.user_id')
      .select([
        'web_sessions.id as session_id',
        'web_sessions.auth_generation as session_generation',
        'web_sessions.created_at as session_created_at',
        'web_sessions.expires_at',
        ...USER_COLUMNS.map((column) => `users.${column}` as const),
      ]);
    query =
      'id' in by
        ? query.where('web_sessions.id', '=', by.id)
        : query.where('web_sessions.secret_hash', '=', by.secretHash);
    const row = await query.executeTakeFirst();
    if (!row) return undefined;
    const user = toUser(row);
    return {
      user,
      session: {
        id: toNumber(row.session_id),
        userId: user.id,
        authGeneration: toNumber(row.session_generation),
        createdAt: toDate(row.session_created_at),
        expiresAt: toDate(row.expires_at),
      },
    };
  }

  async deleteWebSession(id: number): Promise<boolean> {
    const result = await this.db.deleteFrom('web_sessions').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async deleteExpiredWebSessions(now: Date): Promise<number> {
    const result = await this.db
      .deleteFrom('web_sessions')
      .where('expires_at', '<', dbTimestamp(this.dialect, now))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // ---- lifecycle

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  /** Closes the connections; safe to call more than once. */
  close(): Promise<void> {
    // the WAL's descriptor goes first: once the last connection closes, SQLite deletes the WAL
    this.#closing ??= (this.walSync?.close() ?? Promise.resolve()).then(() => this.db.destroy());
    return this.#closing;
  }
}

/** Only canonical paths are stored: `/alice/x` or `a/b.git/c` would be repositories HTTP never reaches. */
function checkRepoPath(path: string): void {
  if (!isValidRepoPath(path)) {
    throw new RuleViolation('repository path', `${JSON.stringify(path)} is not a canonical repository path`);
  }
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** A lock id as the database compares it; undefined for anything that cannot be an id. */
function parseLockId(id: string): number | undefined {
  return isValidLockId(id) ? Number(id) : undefined;
}
