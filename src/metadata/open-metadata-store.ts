/**
 * The entry point for the rest of lfsd: a database URL in, a ready MetadataStore out.
 *
 *   sqlite:PATH | sqlite://PATH | sqlite::memory:   embedded (PATH relative to the working directory)
 *   postgres://... | postgresql://...               PostgreSQL / Aurora PostgreSQL
 *   mysql://... | mariadb://...                     MySQL, MariaDB / Aurora MySQL
 */
import { resolve } from 'node:path';
import type { Kysely } from 'kysely';
import { createDb, type DatabaseLocation, type DialectName } from './dialects.js';
import type { MetadataStore } from './metadata-store.js';
import { migrateToLatest } from './migrations/migrate.js';
import { PoolMeter, type QueryObserver } from './pool-meter.js';
import type { Database } from './schema.js';
import { SqlMetadataStore } from './sql-metadata-store.js';
import { WalSync } from './wal-sync.js';

export { migrateToLatest };

export interface OpenMetadataStoreOptions {
  /** apply pending migrations before returning (default true) */
  migrate?: boolean;
  /** connections per process for PostgreSQL and MySQL (default 10); SQLite has one */
  poolSize?: number;
  /** called after every query with its duration, for metrics */
  onQuery?: QueryObserver;
}

const DEFAULT_POOL_SIZE = 10;

export type { DatabaseLocation };

/** Which database a URL names. Errors mention the scheme only: the URL may hold a password. */
export function parseDatabaseUrl(databaseUrl: string): DatabaseLocation {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(databaseUrl)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'sqlite': {
      // sqlite:data/lfsd.db, sqlite:/var/lib/lfsd.db, sqlite:///var/lib/lfsd.db, sqlite::memory:
      const rest = databaseUrl.slice('sqlite:'.length);
      const path = rest.startsWith('//') ? rest.slice(2) : rest;
      if (path === '') throw new Error('the sqlite: database URL has no file path');
      return { dialect: 'sqlite', path: path === ':memory:' ? path : resolve(path) };
    }
    case 'postgres':
    case 'postgresql':
      return { dialect: 'postgres', url: databaseUrl };
    case 'mysql':
    case 'mariadb':
      return { dialect: 'mysql', url: databaseUrl };
    case undefined:
      throw new Error(
        'the database URL has no scheme (expected sqlite:, postgres://, mysql:// or mariadb://)',
      );
    default:
      throw new Error(
        `unsupported database URL scheme "${scheme}:" (expected sqlite:, postgres://, postgresql://, mysql:// or mariadb://)`,
      );
  }
}

export async function openMetadataStore(
  databaseUrl: string,
  options: OpenMetadataStoreOptions = {},
): Promise<MetadataStore> {
  const meter = new PoolMeter(options.onQuery);
  const { db, dialect, location } = await openDb(databaseUrl, options.poolSize, meter);
  if (options.migrate ?? true) {
    try {
      await migrateToLatest(db, dialect);
    } catch (err) {
      await db.destroy();
      throw err;
    }
  }
  const walSync =
    location.dialect === 'sqlite' && location.path !== ':memory:' ? new WalSync(location.path) : undefined;
  return new SqlMetadataStore(db, dialect, meter, walSync);
}

/** `lfsd migrate`: apply pending migrations and close; returns the names of those applied. */
export async function migrateDatabase(databaseUrl: string): Promise<string[]> {
  const { db, dialect } = await openDb(databaseUrl, 1);
  try {
    return await migrateToLatest(db, dialect);
  } finally {
    await db.destroy();
  }
}

async function openDb(
  databaseUrl: string,
  poolSize = DEFAULT_POOL_SIZE,
  meter?: PoolMeter,
): Promise<{ db: Kysely<Database>; dialect: DialectName; location: DatabaseLocation }> {
  if (!Number.isInteger(poolSize) || poolSize < 1)
    throw new RangeError(`invalid database pool size ${poolSize}`);
  const location = parseDatabaseUrl(databaseUrl);
  return { db: await createDb(location, poolSize, meter), dialect: location.dialect, location };
}
