/**
 * The File Locking API's rules (LFS-PROTOCOL.md section 4), without HTTP types: who may create,
 * list, verify and delete locks, how requests are validated, how pages and cursors work, and the
 * wire shape of a lock.
 *
 * - Locks are per repository and path (section 4.5): the `ref` a client sends is recorded for
 *   audit, and a `refspec` filter narrows nothing, because every lock applies to every ref.
 * - Exclusivity comes from the metadata database's unique constraint (MetadataStore.createLock),
 *   never from this process, so it holds across replicas.
 * - Permissions (DESIGN.md "Auth"): list needs read; create, verify and unlock need write;
 *   breaking someone else's lock (`force`) needs admin. Statuses come from auth/access.ts.
 * - Lists are in lock id order (ids only grow), so a cursor is the last id a page returned,
 *   base64url-encoded to keep it opaque; `next_cursor` appears only when another page exists.
 */
import { allows } from '../auth/access.js';
import type { Caller } from '../auth/caller.js';
import { lfsError } from '../errors.js';
import type { Lock, MetadataStore, Repo, User } from '../metadata/metadata-store.js';
import {
  checkLockPath,
  checkOptionalText,
  isValidLockId,
  isValidLockPath,
  MAX_REF_LENGTH,
} from '../rules.js';
import { openRepo } from './repo-access.js';

/** A lock as the protocol shows it (section 4). */
export interface LockJson {
  id: string;
  path: string;
  /** RFC 3339, UTC, second precision */
  locked_at: string;
  owner: { name: string };
}

export interface LockListPage {
  locks: LockJson[];
  next_cursor?: string;
}

export interface LockVerifyPage {
  ours: LockJson[];
  theirs: LockJson[];
  next_cursor?: string;
}

export type CreateLockOutcome = { created: true; lock: LockJson } | { created: false; lock: LockJson };

export interface LockLimits {
  /** page size when the client names none */
  defaultLimit: number;
  /** the largest page the server hands out, whatever the client asks for */
  maxLimit: number;
}

export const DEFAULT_LOCK_LIMITS: LockLimits = { defaultLimit: 100, maxLimit: 1000 };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function toLockJson(lock: Lock): LockJson {
  return {
    id: lock.id,
    path: lock.path,
    locked_at: lock.lockedAt.toISOString().replace(/\.\d+Z$/, 'Z'),
    owner: { name: lock.ownerName },
  };
}

export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

/** The lock id a cursor stands for; 422 for anything this server did not hand out. */
export function decodeCursor(cursor: string): string {
  const id = /^[A-Za-z0-9_-]{1,24}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!isValidLockId(id) || encodeCursor(id) !== cursor) throw lfsError('validation', 'cursor is not valid');
  return id;
}

export class LockService {
  constructor(
    private readonly metadata: MetadataStore,
    private readonly limits: LockLimits = DEFAULT_LOCK_LIMITS,
  ) {}

  /** POST /locks: `{ path, ref? }`. A namespace owner's first lock creates the repository, as a first push would. */
  async create(caller: Caller, repoPath: string, body: unknown): Promise<CreateLockOutcome> {
    const { repo: existing } = await openRepo(this.metadata, caller, repoPath, 'write');
    const user = signedIn(caller);
    if (!isObject(body)) throw lfsError('validation', 'Request body must be a JSON object');
    const path = checkLockPath(body.path);
    const ref = parseRef(body.ref);
    const repo = existing ?? (await this.metadata.ensureRepo(repoPath));
    const result = await this.metadata.createLock({ repoId: repo.id, path, ownerId: user.id, ref });
    return { created: result.created, lock: toLockJson(result.lock) };
  }

  /** GET /locks?path=&id=&cursor=&limit=&refspec= */
  async list(caller: Caller, repoPath: string, query: unknown): Promise<LockListPage> {
    const { repo } = await openRepo(this.metadata, caller, repoPath, 'read');
    const params = isObject(query) ? query : {};
    const path = queryString(params, 'path');
    const id = queryString(params, 'id');
    const cursor = queryString(params, 'cursor');
    const limitText = queryString(params, 'limit');
    queryString(params, 'refspec'); // validated; narrows nothing (module comment)
    if (limitText !== undefined && !/^[0-9]{1,10}$/.test(limitText)) {
      throw lfsError('validation', 'limit must be a non-negative integer');
    }
    const limit = this.pageSize(limitText === undefined ? undefined : Number(limitText));
    const afterId = cursor ? decodeCursor(cursor) : undefined;
    // a path no lock can have matches none (and a lone surrogate must not hash like U+FFFD)
    if (!repo || (path !== undefined && !isValidLockPath(path))) return { locks: [] };
    const page = await this.page(repo, { path, id, afterId }, limit);
    return { locks: page.locks.map(toLockJson), ...cursorField(page.nextCursor) };
  }

  /** POST /locks/verify: `{ ref?, cursor?, limit? }`; the caller's locks in `ours`, everyone else's in `theirs`. */
  async verify(caller: Caller, repoPath: string, body: unknown): Promise<LockVerifyPage> {
    const { repo } = await openRepo(this.metadata, caller, repoPath, 'write');
    const user = signedIn(caller);
    const fields = body === undefined || body === null ? {} : body;
    if (!isObject(fields)) throw lfsError('validation', 'Request body must be a JSON object');
    parseRef(fields.ref);
    const { cursor, limit } = fields;
    if (cursor !== undefined && cursor !== null && typeof cursor !== 'string') {
      throw lfsError('validation', 'cursor must be a string');
    }
    if (
      limit !== undefined &&
      limit !== null &&
      !(typeof limit === 'number' && Number.isSafeInteger(limit) && limit >= 0)
    ) {
      throw lfsError('validation', 'limit must be a non-negative integer');
    }
    const size = this.pageSize(typeof limit === 'number' ? limit : undefined);
    const afterId = cursor ? decodeCursor(cursor) : undefined;
    if (!repo) return { ours: [], theirs: [] };
    const page = await this.page(repo, { afterId }, size);
    const ours: LockJson[] = [];
    const theirs: LockJson[] = [];
    for (const lock of page.locks) (lock.ownerId === user.id ? ours : theirs).push(toLockJson(lock));
    return { ours, theirs, ...cursorField(page.nextCursor) };
  }

  /**
   * POST /locks/{id}/unlock: `{ force?, ref? }`. The owner may unlock; anyone else needs `force`
   * and admin on the repository. 404 for a lock this repository does not have.
   */
  async unlock(caller: Caller, repoPath: string, id: string, body: unknown): Promise<LockJson> {
    const { repo, access } = await openRepo(this.metadata, caller, repoPath, 'write');
    const user = signedIn(caller);
    const fields = body === undefined || body === null ? {} : body;
    if (!isObject(fields)) throw lfsError('validation', 'Request body must be a JSON object');
    const { force } = fields;
    if (force !== undefined && force !== null && typeof force !== 'boolean') {
      throw lfsError('validation', 'force must be true or false');
    }
    parseRef(fields.ref);
    const lock = repo && (await this.metadata.findLock(repo.id, id));
    if (!repo || !lock) throw lfsError('lock_not_found');
    if (lock.ownerId !== user.id) {
      if (!force) {
        throw lfsError(
          'forbidden',
          `${lock.path} is locked by ${lock.ownerName}: only the owner may unlock it without force`,
        );
      }
      if (!allows(access, 'admin')) {
        throw lfsError(
          'forbidden',
          'You must be an admin of this repository to force-unlock a lock someone else owns',
        );
      }
    }
    // ids are never reused, so a lock deleted meanwhile cannot be confused with a new one
    if (!(await this.metadata.deleteLock(repo.id, lock.id))) throw lfsError('lock_not_found');
    return toLockJson(lock);
  }

  /** Every lock of a repository, in id order (operators: `lfsd lock list`). */
  async *all(repo: Repo): AsyncGenerator<Lock> {
    let afterId: string | undefined;
    for (;;) {
      const page = await this.page(repo, { afterId }, this.limits.maxLimit);
      yield* page.locks;
      if (!page.nextCursor) return;
      afterId = page.locks.at(-1)?.id;
    }
  }

  /** Remove a lock whoever owns it (operators: `lfsd lock remove`); undefined when there is none. */
  async remove(repo: Repo, id: string): Promise<Lock | undefined> {
    const lock = await this.metadata.findLock(repo.id, id);
    if (!lock || !(await this.metadata.deleteLock(repo.id, lock.id))) return undefined;
    return lock;
  }

  private pageSize(requested: number | undefined): number {
    if (requested === undefined) return this.limits.defaultLimit;
    return Math.min(Math.max(requested, 1), this.limits.maxLimit);
  }

  /** One page; asks for one lock more than it returns to know whether another page exists. */
  private async page(
    repo: Repo,
    filter: { path?: string; id?: string; afterId?: string },
    limit: number,
  ): Promise<{ locks: Lock[]; nextCursor: string | undefined }> {
    const found = await this.metadata.listLocks(repo.id, { ...filter, limit: limit + 1 });
    const locks = found.slice(0, limit);
    const last = locks.at(-1);
    return { locks, nextCursor: found.length > limit && last ? encodeCursor(last.id) : undefined };
  }
}

function cursorField(nextCursor: string | undefined): { next_cursor?: string } {
  return nextCursor ? { next_cursor: nextCursor } : {};
}

/** The signed-in user; openRepo has already turned an anonymous caller away for write. */
function signedIn(caller: Caller): User {
  if (caller.kind !== 'user') throw lfsError('unauthorized');
  return caller.user;
}

/** `ref` may be absent, null, `{}` or `{ name }` (the client always sends one); the name or null. */
function parseRef(ref: unknown): string | null {
  if (ref === undefined || ref === null) return null;
  if (!isObject(ref)) throw lfsError('validation', 'ref must be an object');
  return checkOptionalText('ref.name', ref.name, MAX_REF_LENGTH);
}

/** A query parameter given at most once, as a string. */
function queryString(params: Record<string, unknown>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw lfsError('validation', `${name} must be given at most once`);
  return value;
}
