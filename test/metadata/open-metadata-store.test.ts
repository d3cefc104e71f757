/** Database URLs and what openMetadataStore makes of them. */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { openMetadataStore, parseDatabaseUrl } from '../../src/metadata/open-metadata-store.js';
import { createTestDatabase } from './test-databases.js';

void describe('parseDatabaseUrl', () => {
  void it('reads SQLite paths, relative ones against the working directory', () => {
    assert.deepEqual(parseDatabaseUrl('sqlite:data/lfsd.db'), {
      dialect: 'sqlite',
      path: resolve('data/lfsd.db'),
    });
    assert.deepEqual(parseDatabaseUrl('sqlite:./lfsd.db'), { dialect: 'sqlite', path: resolve('lfsd.db') });
    assert.deepEqual(parseDatabaseUrl('sqlite:/var/lib/lfsd.db'), {
      dialect: 'sqlite',
      path: '/var/lib/lfsd.db',
    });
    assert.deepEqual(parseDatabaseUrl('sqlite:///var/lib/lfsd.db'), {
      dialect: 'sqlite',
      path: '/var/lib/lfsd.db',
    });
    assert.deepEqual(parseDatabaseUrl('sqlite::memory:'), { dialect: 'sqlite', path: ':memory:' });
    assert.throws(() => parseDatabaseUrl('sqlite:'), /no file path/);
  });

  void it('recognises PostgreSQL and MySQL URLs', () => {
    for (const url of ['postgres://u:p@db:5432/lfsd', 'postgresql://db/lfsd', 'POSTGRES://db/lfsd']) {
      assert.deepEqual(parseDatabaseUrl(url), { dialect: 'postgres', url });
    }
    for (const url of ['mysql://u:p@db:3306/lfsd', 'mariadb://db/lfsd']) {
      assert.deepEqual(parseDatabaseUrl(url), { dialect: 'mysql', url });
    }
  });

  void it('names an unknown scheme without echoing the rest of the URL (it may hold a password)', () => {
    assert.throws(
      () => parseDatabaseUrl('redis://admin:hunter2@cache:6379'),
      (err: Error) => err.message.includes('"redis:"') && !err.message.includes('hunter2'),
    );
    assert.throws(() => parseDatabaseUrl('/var/lib/lfsd.db'), /no scheme/);
  });
});

void describe('openMetadataStore', () => {
  void it('opens an in-memory SQLite database, migrated', async () => {
    const store = await openMetadataStore('sqlite::memory:');
    try {
      assert.equal(store.dialect, 'sqlite');
      const repo = await store.createRepo('team/game', { isPublic: true });
      assert.deepEqual(await store.findRepo('team/game'), repo);
    } finally {
      await store.close();
    }
  });

  void it('rejects a bad pool size and an unknown scheme', async () => {
    await assert.rejects(openMetadataStore('sqlite::memory:', { poolSize: 0 }), RangeError);
    await assert.rejects(openMetadataStore('mongodb://db/lfsd'), /"mongodb:"/);
  });

  void it('accepts mariadb:// for MySQL-compatible servers', async () => {
    const database = await createTestDatabase('mysql');
    try {
      const store = await openMetadataStore(database.url.replace(/^mysql:/, 'mariadb:'), { poolSize: 2 });
      try {
        assert.equal(store.dialect, 'mysql');
        await store.ping();
      } finally {
        await store.close();
      }
    } finally {
      await database.drop();
    }
  });

  void it('fails when the server is unreachable', async () => {
    await assert.rejects(openMetadataStore('postgres://postgres@127.0.0.1:1/lfsd'), /ECONNREFUSED/);
  });
});
