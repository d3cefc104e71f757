/**
 * Throwaway databases for the metadata tests: a temporary SQLite file, or a uniquely named
 * database on the PostgreSQL / MariaDB servers, dropped afterwards. The servers default to
 * 127.0.0.1; LFSD_TEST_POSTGRES_URL / LFSD_TEST_MYSQL_URL point elsewhere (an admin connection).
 * An unreachable server makes the tests fail, never skip.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import type { DialectName } from '../../src/metadata/dialects.js';

export const DIALECTS: readonly DialectName[] = ['sqlite', 'postgres', 'mysql'];

const POSTGRES_ADMIN_URL =
  process.env.LFSD_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MYSQL_ADMIN_URL = process.env.LFSD_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const CONNECT_TIMEOUT_MS = 5000;

export interface TestDatabase {
  dialect: DialectName;
  /** a URL for openMetadataStore */
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  const name = `lfsd_test_${randomBytes(6).toString('hex')}`;
  switch (dialect) {
    case 'sqlite':
      return createSqliteDatabase();
    case 'postgres':
      return createPostgresDatabase(name);
    case 'mysql':
      return createMysqlDatabase(name);
  }
}

async function createSqliteDatabase(): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'lfsd-metadata-'));
  return {
    dialect: 'sqlite',
    // a subdirectory that does not exist yet: opening the store must create it
    url: `sqlite:${join(dir, 'data', 'lfsd.db')}`,
    drop: () => rm(dir, { recursive: true, force: true }),
  };
}

async function postgresAdmin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: POSTGRES_ADMIN_URL,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function createPostgresDatabase(name: string): Promise<TestDatabase> {
  await postgresAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    dialect: 'postgres',
    url: url.toString(),
    drop: async () => {
      await postgresAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

async function mysqlAdmin<T>(run: (sql: (query: string) => Promise<unknown>) => Promise<T>): Promise<T> {
  const connection = await createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: CONNECT_TIMEOUT_MS });
  try {
    return await run((query) => connection.query(query));
  } finally {
    await connection.end();
  }
}

async function createMysqlDatabase(name: string): Promise<TestDatabase> {
  await mysqlAdmin((sql) => sql(`CREATE DATABASE ${name}`));
  const url = new URL(MYSQL_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    dialect: 'mysql',
    url: url.toString(),
    drop: async () => {
      await mysqlAdmin((sql) => sql(`DROP DATABASE IF EXISTS ${name}`));
    },
  };
}
