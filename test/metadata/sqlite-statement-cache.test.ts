import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { cachingStatements } from '../../src/metadata/sqlite-statement-cache.js';

describe('cachingStatements', () => {
  function counted() {
    const database = new BetterSqlite3(':memory:');
    let prepared = 0;
    const cached = cachingStatements(
      {
        prepare: (sql: string) => {
          prepared++;
          return database.prepare(sql);
        },
        close: () => database.close(),
      },
      2,
    );
    return { database, cached, prepared: () => prepared };
  }

  it('prepares each SQL text once and reuses the statement', () => {
    const { database, cached, prepared } = counted();
    const a = cached.prepare('select ? as v');
    assert.equal(cached.prepare('select ? as v'), a);
    assert.deepEqual(a.all([7]), [{ v: 7 }]);
    assert.deepEqual(cached.prepare('select ? as v').all([8]), [{ v: 8 }]);
    assert.equal(prepared(), 1);
    cached.close();
    assert.equal(database.open, false);
  });

  it('keeps at most its capacity, evicting the least recently used', () => {
    const { cached, prepared } = counted();
    const one = cached.prepare('select 1');
    cached.prepare('select 2');
    cached.prepare('select 1'); // now "select 2" is the least recently used
    cached.prepare('select 3'); // evicts "select 2"
    assert.equal(prepared(), 3);
    assert.equal(cached.prepare('select 1'), one);
    assert.equal(prepared(), 3);
    cached.prepare('select 2');
    assert.equal(prepared(), 4, '"select 2" was prepared again');
    cached.close();
  });

  it('sees schema changes made after a statement was cached', () => {
    const { database, cached } = counted();
    database.exec('create table t (a integer)');
    const insert = cached.prepare('insert into t (a) values (?)');
    insert.run([1]);
    database.exec('alter table t add column b integer default 5');
    assert.deepEqual(cached.prepare('select * from t').all([]), [{ a: 1, b: 5 }]);
    cached.prepare('insert into t (a) values (?)').run([2]);
    assert.deepEqual(cached.prepare('select a, b from t order by a').all([]), [
      { a: 1, b: 5 },
      { a: 2, b: 5 },
    ]);
    cached.close();
  });
});
