/**
 * Rows as the drivers return them -> the MetadataStore's types. All normalisation of driver
 * differences on the way out lives here (schema.ts lists them).
 */
import type { Lock, Permission, Repo, SshKeyRecord, TokenRecord, User } from './metadata-store.js';
import type { DbBoolean, DbTimestamp } from './schema.js';

export function toBoolean(value: DbBoolean): boolean {
  return value === true || value === 1;
}

export function toDate(value: DbTimestamp): Date {
  return value instanceof Date ? value : new Date(value);
}

export function toNullableDate(value: DbTimestamp | null): Date | null {
  return value === null ? null : toDate(value);
}

/** ids and sizes: `pg` returns 64-bit integers as strings */
export function toNumber(value: number | string | bigint): number {
  return typeof value === 'number' ? value : Number(value);
}

export interface RepoRow {
  id: number;
  path: string;
  is_public: DbBoolean;
  created_at: DbTimestamp;
}

export function toRepo(row: RepoRow): Repo {
  return {
    id: toNumber(row.id),
    path: row.path,
    isPublic: toBoolean(row.is_public),
    createdAt: toDate(row.created_at),
  };
}

export interface UserRow {
  id: number;
  name: string;
  is_admin: DbBoolean;
  password_hash: string | null;
  created_at: DbTimestamp;
  disabled: DbBoolean;
  auth_generation: number | string;
}

export function toUser(row: UserRow): User {
  return {
    id: toNumber(row.id),
    name: row.name,
    isAdmin: toBoolean(row.is_admin),
    passwordHash: row.password_hash,
    createdAt: toDate(row.created_at),
    disabled: toBoolean(row.disabled),
    authGeneration: toNumber(row.auth_generation),
  };
}

export interface TokenRow {
  id: number;
  user_id: number;
  name: string | null;
  created_at: DbTimestamp;
  expires_at: DbTimestamp | null;
  revoked_at: DbTimestamp | null;
  scopes: string | null;
}

export function toToken(row: TokenRow): TokenRecord {
  return {
    id: toNumber(row.id),
    userId: toNumber(row.user_id),
    name: row.name,
    createdAt: toDate(row.created_at),
    expiresAt: toNullableDate(row.expires_at),
    revokedAt: toNullableDate(row.revoked_at),
    scopes: row.scopes === null ? null : row.scopes.split(',').filter((s) => s !== ''),
  };
}

export interface SshKeyRow {
  id: number;
  user_id: number;
  key_type: string;
  public_key: string;
  fingerprint: string;
  label: string | null;
  created_at: DbTimestamp;
  last_used_at: DbTimestamp | null;
}

export function toSshKey(row: SshKeyRow): SshKeyRecord {
  return {
    id: toNumber(row.id),
    userId: toNumber(row.user_id),
    type: row.key_type,
    publicKey: row.public_key,
    fingerprint: row.fingerprint,
    label: row.label,
    createdAt: toDate(row.created_at),
    lastUsedAt: toNullableDate(row.last_used_at),
  };
}

export interface LockRow {
  id: number | string;
  repo_id: number;
  path: string;
  owner_id: number;
  owner_name: string;
  ref: string | null;
  locked_at: DbTimestamp;
}

export function toLock(row: LockRow): Lock {
  return {
    id: String(row.id),
    repoId: toNumber(row.repo_id),
    path: row.path,
    ownerId: toNumber(row.owner_id),
    ownerName: row.owner_name,
    lockedAt: toDate(row.locked_at),
    ref: row.ref,
  };
}

const PERMISSIONS: ReadonlySet<string> = new Set<Permission>(['read', 'write', 'admin']);

export function toPermission(value: string): Permission {
  // The column has a CHECK constraint; this guards against a hand-edited database.
  if (!PERMISSIONS.has(value)) throw new Error(`unknown permission in the database: ${value}`);
  return value as Permission;
}
