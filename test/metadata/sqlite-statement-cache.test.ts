import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import BetterSqlite3 from 'better-sqlite3';
import { cachingStatements } from '../../src/metadata/sqlite-statement-cache.js';

function counted() {
  const database = new BetterSqlite3(':memory:');
  let prepared = 0;
  const cached = cachingStatements({
    prepare: (sql: string) => {
      prepared++;
      return database.prepare(sql);
    },
    close: () => database.close(),
  });
  return { database, cached, prepared: () => prepared };
}

/** a full garbage collection, without starting node with --expose-gc */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('cachingStatements', () => {
  it('prepares each SQL text once and reuses the statement', () => {
    const { database, cached, prepared } = counted();
    const a = cached.prepare('select ? as v');
    assert.equal(cached.prepare('select ? as v'), a);
    assert.deepEqual(a.all([7]), [{ v: 7 }]);
    assert.deepEqual(cached.prepare('select ? as v').all([8]), [{ v: 8 }]);
    cached.prepare('select 2');
    assert.equal(prepared(), 2);
    cached.close();
    assert.equal(database.open, false);
  });

  it('sees schema changes made after a statement was cached', () => {
    const { database, cached } = counted();
    database.exec('create table t (a integer)');
    cached.prepare('insert into t (a) values (?)').run([1]);
    database.exec('alter table t add column b integer default 5');
    assert.deepEqual(cached.prepare('select * from t').all([]), [{ a: 1, b: 5 }]);
    cached.prepare('insert into t (a) values (?)').run([2]);
    assert.deepEqual(cached.prepare('select a, b from t order by a').all([]), [
      { a: 1, b: 5 },
      { a: 2, b: 5 },
    ]);
    cached.close();
  });

  it('leaves no database or statement to the garbage collector, even after close (Node 24 aborts on those)', async () => {
    const refs = (() => {
      const database = new BetterSqlite3(':memory:');
      const cached = cachingStatements(database);
      const statement = cached.prepare('select 1 as one');
      assert.deepEqual(statement.all([]), [{ one: 1 }]);
      cached.close();
      return { database: new WeakRef(database), statement: new WeakRef(statement) };
    })();
    for (let i = 0; i < 3; i++) {
      collectGarbage();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(refs.database.deref(), 'the database was collected');
    assert.ok(refs.statement.deref(), 'the statement was collected');
    // control: an object nothing retains is collected by the same means
    const control = (() => new WeakRef({ big: new Array(1000).fill(0) }))();
    for (let i = 0; i < 3; i++) {
      collectGarbage();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(control.deref(), undefined, 'the control object survived: the GC did not run');
  });
});
