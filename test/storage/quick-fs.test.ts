/**
 * QuickFs (src/storage/quick-fs.ts): file-system calls in place while their moving average stays
 * under the limit, through the thread pool for a cooldown once it is over, and the same results
 * and errors either way.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { QuickFs, SMALL_READ_BYTES } from '../../src/storage/quick-fs.js';

void describe('QuickFs', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'lfsd-quick-fs-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  /** writes, syncs and renames a file, and creates a directory, through `fs` */
  async function exercise(fs: QuickFs, name: string): Promise<void> {
    const created = await fs.mkdirp(join(root, name, 'a', 'b'));
    assert.equal(created, join(root, name), 'mkdirp names the first directory it created');
    assert.equal(await fs.mkdirp(join(root, name, 'a', 'b')), undefined, 'nothing new the second time');
    const fd = await fs.create(join(root, name, 'a', 'b', 'tmp'));
    assert.equal(await fs.writev(fd, [Buffer.from('hello '), Buffer.from('world')], 0), 11);
    await fs.fsync(fd);
    await fs.close(fd);
    await fs.rename(join(root, name, 'a', 'b', 'tmp'), join(root, name, 'a', 'final'));
    assert.equal(await readFile(join(root, name, 'a', 'final'), 'utf8'), 'hello world');
    const file = await fs.openForReading(join(root, name, 'a', 'final'));
    assert.equal(await fs.size(file), 11);
    const buffer = Buffer.alloc(16);
    assert.equal(await fs.read(file, buffer, 5, 6), 5);
    assert.equal(buffer.subarray(0, 5).toString(), 'world');
    assert.equal(await fs.readSmall(file, buffer, 5, 0), 5);
    assert.equal(buffer.subarray(0, 5).toString(), 'hello');
    assert.equal(await fs.readSmall(file, buffer, 16, 6), 5, 'fewer bytes at the end of the file');
    assert.throws(
      () => fs.readSmall(file, Buffer.alloc(SMALL_READ_BYTES + 1), SMALL_READ_BYTES + 1, 0),
      RangeError,
    );
    await fs.close(file);
    await assert.rejects(fs.create(join(root, name, 'a', 'final')), { code: 'EEXIST' });
    const dir = await fs.openForReading(join(root, name, 'a'));
    await fs.fsync(dir);
    await fs.close(dir);
    await assert.rejects(fs.openForReading(join(root, name, 'missing')), { code: 'ENOENT' });
    await assert.rejects(fs.rename(join(root, name, 'missing'), join(root, name, 'x')), { code: 'ENOENT' });
  }

  void it('runs calls in place on a fast file system', async () => {
    // a clock where every call takes 0.01 ms, so that a stall of a loaded machine cannot trip it
    let time = 0;
    const fs = new QuickFs({ now: () => (time += 0.01) });
    await exercise(fs, 'fast');
    assert.equal(fs.pooled, false);
    assert.equal(fs.slowSpells, 0);
  });

  void it('sends calls to the thread pool once they are slow, and tries again after the cooldown', async () => {
    // every call takes more than 0 ms: the first one trips the guard
    const fs = new QuickFs({ slowMs: 0, cooldownMs: 200 });
    await fs.close(await fs.openForReading(root));
    assert.equal(fs.pooled, true, 'tripped by the first call');
    assert.equal(fs.slowSpells, 1);
    await exercise(fs, 'slow-pooled');
    assert.equal(fs.slowSpells, 1, 'calls in the thread pool are not timed');
    await sleep(250);
    assert.equal(fs.pooled, false, 'the cooldown is over');
    await fs.close(await fs.openForReading(root));
    assert.equal(fs.slowSpells, 2, 'a file system that is still slow trips it again');
  });

  void it('is not tripped by one slow call among fast ones, but by a run of them', async () => {
    // a clock that moves `step` ms at every reading: a call in place reads it at its start and
    // its end, so it takes `step` ms
    let time = 0;
    let step = 0.1;
    const now = () => (time += step);
    const fs = new QuickFs({ slowMs: 1, cooldownMs: 1000, now });
    const call = async () => fs.close(await fs.openForReading(root));
    for (let i = 0; i < 20; i++) await call();
    step = 5; // one call of 5 ms
    await fs.openForReading(root).then((fd) => {
      step = 0.1;
      return fs.close(fd);
    });
    for (let i = 0; i < 20; i++) await call();
    assert.equal(fs.slowSpells, 0, 'one stall among fast calls');
    assert.equal(fs.pooled, false);
    let calls = 0;
    step = 5;
    while (!fs.pooled && calls < 16) {
      await fs.close(await fs.openForReading(root));
      calls += 2;
    }
    assert.equal(fs.slowSpells, 1, 'a run of 5 ms calls trips it');
    assert.ok(calls >= 2 && calls <= 6, `tripped after about ${calls} slow calls`);
  });
});
