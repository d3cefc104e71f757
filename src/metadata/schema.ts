/**
 * The tables as Kysely sees them. Column values are typed as the three drivers actually return
 * them (row-mappers.ts turns them into the interface's types), because the drivers disagree:
 * - booleans: PostgreSQL `boolean`; MySQL `tinyint(1)` and SQLite `integer` come back as 0 | 1
 * - timestamps: PostgreSQL `timestamptz` and MySQL `datetime(3)` come back as Date; SQLite stores
 *   ISO-8601 UTC text (it has no date type, and text sorts and reads well)
 * - 64-bit integers: `pg` returns int8 as a decimal string, the others as numbers
 */
import type { ColumnType } from 'kysely';

/** what a boolean column holds: PostgreSQL boolean, or 0 | 1 elsewhere */
export type DbBoolean = boolean | number;
/** what a timestamp column holds: a Date, or ISO-8601 text on SQLite */
export type DbTimestamp = Date | string;
/** a bigint column: read as number or decimal string, written as number */
type DbBigint = ColumnType<number | string | bigint, number, number>;
/** an autoincrement key: read as number (or decimal string for PostgreSQL bigserial) */
type DbAutoId<T> = ColumnType<T, never, never>;
type Timestamp = ColumnType<DbTimestamp, DbTimestamp, DbTimestamp>;
type OptionalTimestamp = ColumnType<DbTimestamp | null, DbTimestamp | null | undefined, DbTimestamp | null>;
type NullableTimestamp = ColumnType<DbTimestamp | null, DbTimestamp | null, DbTimestamp | null>;

/** Longest repository path and user name: they carry unique indexes, which MySQL limits in bytes. */
export const MAX_REPO_PATH_LENGTH = 512;
export const MAX_USER_NAME_LENGTH = 255;

export interface ReposTable {
  id: DbAutoId<number>;
  path: string;
  is_public: DbBoolean;
  created_at: Timestamp;
  quota_bytes: ColumnType<number | string | bigint | null, number | null | undefined, number | null>;
  usage_objects: ColumnType<number | string | bigint, number | undefined, number>;
  usage_bytes: ColumnType<number | string | bigint, number | undefined, number>;
}

export interface ObjectsTable {
  oid: string;
  size: DbBigint;
  created_at: Timestamp;
  /** last linked or unlinked (gc's grace period) */
  held_at: OptionalTimestamp;
  /** gc candidate since */
  marked_at: OptionalTimestamp;
  /** gc is deleting the content: no link until it is done */
  deleting_at: OptionalTimestamp;
  /** fsck --repair found the content missing or corrupt */
  broken_at: OptionalTimestamp;
}

export interface UploadOffersTable {
  repo_id: number;
  oid: string;
  size: DbBigint;
  offered_at: Timestamp;
}

export interface RepoObjectsTable {
  repo_id: number;
  oid: string;
  created_at: Timestamp;
}

export interface UsersTable {
  id: DbAutoId<number>;
  name: string;
  is_admin: DbBoolean;
  password_hash: string | null;
  created_at: Timestamp;
  disabled: ColumnType<DbBoolean, DbBoolean | undefined, DbBoolean>;
  auth_generation: ColumnType<number, number | undefined, number>;
  quota_bytes: ColumnType<number | string | bigint | null, number | null | undefined, number | null>;
}

export interface TokensTable {
  id: DbAutoId<number>;
  user_id: number;
  name: string | null;
  secret_hash: string;
  created_at: Timestamp;
  expires_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  scopes: string | null;
}

export interface GrantsTable {
  user_id: number;
  repo_id: number;
  permission: string;
}

export interface LocksTable {
  id: DbAutoId<number | string>;
  repo_id: number;
  /** the locked file path (unbounded text, not indexed) */
  path: string;
  /** sha256 hex of `path`: the unique key, since MySQL cannot index a 1024-character utf8mb4 column */
  path_hash: string;
  owner_id: number;
  ref: string | null;
  locked_at: Timestamp;
}

export interface SshKeysTable {
  id: DbAutoId<number>;
  user_id: number;
  key_type: string;
  /** base64 of the key's wire-format blob */
  public_key: string;
  /** `SHA256:` and the unpadded base64 of the blob's SHA-256, as `ssh-keygen -l` prints it */
  fingerprint: string;
  label: string | null;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
}

export interface WebSessionsTable {
  id: DbAutoId<number>;
  user_id: number;
  secret_hash: string;
  auth_generation: number;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface Database {
  repos: ReposTable;
  objects: ObjectsTable;
  repo_objects: RepoObjectsTable;
  users: UsersTable;
  tokens: TokensTable;
  grants: GrantsTable;
  locks: LocksTable;
  ssh_keys: SshKeysTable;
  upload_offers: UploadOffersTable;
  web_sessions: WebSessionsTable;
}
