// The real `git lfs` client's lock workflow against `lfsd serve` (issue 4: File Locking API):
// two users, each with their own git sandbox and credentials, sharing one bare remote.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGitSandbox, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';

const ALICE = { username: 'alice', password: 'alice password 1' };
const BOB = { username: 'bob', password: 'bob password 22' };

describe('git lfs locking end to end', { timeout: 300_000 }, () => {
  let server: LfsdServer;
  let alice: GitSandbox;
  let bob: GitSandbox;
  let dataDir: string;
  let aliceWork: string;
  let bobWork: string;
  let remote: string;

  const admin = (args: string[]) => lfsdAdmin([...args, '--data-dir', dataDir]);
  const remoteHead = async () => (await alice.git(remote, ['rev-parse', 'refs/heads/main'])).stdout.trim();
  const isWritable = async (path: string) => ((await stat(path)).mode & 0o222) !== 0;

  before(async () => {
    alice = await createGitSandbox(ALICE);
    bob = await createGitSandbox(BOB);
    dataDir = join(alice.root, 'lfsd-data');
    await lfsdAdmin(['user', 'add', 'alice', '--password-stdin', '--data-dir', dataDir], {
      input: `${ALICE.password}\n`,
    });
    await lfsdAdmin(['user', 'add', 'bob', '--password-stdin', '--data-dir', dataDir], {
      input: `${BOB.password}\n`,
    });
    server = await startLfsd(['--data-dir', dataDir, '--log-level', 'info']);
    const lfsUrl = `${server.url}/alice/assets.git/info/lfs`;

    remote = join(alice.root, 'remote.git');
    await alice.git(alice.root, ['init', '--bare', '-q', 'remote.git']);
    await alice.git(alice.root, ['init', '-q', 'work']);
    aliceWork = join(alice.root, 'work');
    await alice.git(aliceWork, ['lfs', 'track', '--lockable', '*.bin']);
    await writeFile(join(aliceWork, '.lfsconfig'), `[lfs]\n\turl = ${lfsUrl}\n`);
    for (const name of ['a.bin', 'b.bin', 'c.bin']) await writeFile(join(aliceWork, name), randomBytes(1000));
    await alice.git(aliceWork, ['add', '.']);
    await alice.git(aliceWork, ['commit', '-q', '-m', 'lockable assets']);
    await alice.git(aliceWork, ['remote', 'add', 'origin', remote]);
    await alice.git(aliceWork, ['push', '-q', '-u', 'origin', 'main']);

    // bob may write to alice/assets (the repository exists since alice's push)
    await admin(['grant', 'bob', 'alice/assets', 'write']);
    await bob.git(bob.root, ['clone', '-q', remote, 'work']);
    bobWork = join(bob.root, 'work');
    await bob.git(bobWork, ['config', 'lfs.locksverify', 'true']);
  });

  after(async () => {
    const code = await server?.stop();
    assert.equal(code, 0, 'lfsd exits 0 on SIGTERM');
    await alice?.cleanup();
    await bob?.cleanup();
  });

  it('`git lfs track --lockable` marks the files lockable: read-only until locked', async () => {
    assert.match(await readFile(join(aliceWork, '.gitattributes'), 'utf8'), /\*\.bin filter=lfs .*lockable/);
    assert.equal(await isWritable(join(bobWork, 'a.bin')), false);
  });

  it('`git lfs lock` locks a file and `git lfs locks` shows its owner to both users', async () => {
    const { stdout } = await alice.git(aliceWork, ['lfs', 'lock', 'a.bin']);
    assert.match(stdout, /Locked a\.bin/);
    assert.equal(await isWritable(join(aliceWork, 'a.bin')), true);
    for (const [sandbox, work] of [
      [alice, aliceWork],
      [bob, bobWork],
    ] as const) {
      const locks = await sandbox.git(work, ['lfs', 'locks']);
      assert.match(locks.stdout, /^a\.bin\s+alice\s+ID:\d+$/m);
    }
    const json = JSON.parse((await bob.git(bobWork, ['lfs', 'locks', '--json'])).stdout) as {
      path: string;
      owner: { name: string };
      locked_at: string;
    }[];
    assert.equal(json.length, 1);
    assert.equal(json[0]?.path, 'a.bin');
    assert.equal(json[0]?.owner.name, 'alice');
  });

  it("a second user's `git lfs lock` of the same file fails", async () => {
    await assert.rejects(bob.git(bobWork, ['lfs', 'lock', 'a.bin']), /already created lock/);
  });

  it('that user cannot push a change to the locked file while lfs.locksverify is true', async () => {
    const before = await remoteHead();
    const file = join(bobWork, 'a.bin');
    await chmod(file, 0o644);
    await writeFile(file, randomBytes(1000));
    await bob.git(bobWork, ['commit', '-q', '-am', "bob edits alice's locked file"]);
    await assert.rejects(
      bob.git(bobWork, ['push', 'origin', 'main']),
      /Unable to push locked files[\s\S]*a\.bin - alice/,
    );
    assert.equal(await remoteHead(), before, 'the remote did not move');
  });

  it('`git lfs unlock` by a non-owner fails, and `--force` by a non-admin fails', async () => {
    await assert.rejects(bob.git(bobWork, ['lfs', 'unlock', 'a.bin']), /locked by alice/);
    await assert.rejects(bob.git(bobWork, ['lfs', 'unlock', '--force', 'a.bin']), /admin/);
    assert.match((await bob.git(bobWork, ['lfs', 'locks'])).stdout, /^a\.bin\s+alice/m);
  });

  it("the owner's unlock succeeds, and then the other user's push goes through", async () => {
    const { stdout } = await alice.git(aliceWork, ['lfs', 'unlock', 'a.bin']);
    assert.match(stdout, /Unlocked a\.bin/);
    assert.equal((await alice.git(aliceWork, ['lfs', 'locks'])).stdout.trim(), '');
    await bob.git(bobWork, ['push', '-q', 'origin', 'main']);
    assert.equal(await remoteHead(), (await bob.git(bobWork, ['rev-parse', 'HEAD'])).stdout.trim());
  });

  it("a repository admin's `git lfs unlock --force` breaks another user's lock", async () => {
    assert.match((await bob.git(bobWork, ['lfs', 'lock', 'b.bin'])).stdout, /Locked b\.bin/);
    await assert.rejects(alice.git(aliceWork, ['lfs', 'unlock', 'b.bin']), /locked by bob/);
    // alice owns the alice/ namespace, so she is an admin of alice/assets
    const { stdout } = await alice.git(aliceWork, ['lfs', 'unlock', '--force', 'b.bin']);
    assert.match(stdout, /Unlocked b\.bin/);
    assert.equal((await bob.git(bobWork, ['lfs', 'locks'])).stdout.trim(), '');
  });

  it('`lfsd lock list` shows locks and `lfsd lock remove` breaks one', async () => {
    await bob.git(bobWork, ['lfs', 'lock', 'c.bin']);
    await alice.git(aliceWork, ['lfs', 'lock', 'b.bin']);
    const listed = (await admin(['lock', 'list', 'alice/assets'])).trim().split('\n');
    assert.equal(listed.length, 2);
    const rows = listed.map((line) => line.split('\t'));
    const [cId, cPath, cOwner, cLockedAt] = rows[0] ?? [];
    assert.match(cId ?? '', /^\d+$/);
    assert.equal(cPath, 'c.bin');
    assert.equal(cOwner, 'bob');
    assert.ok(Number.isFinite(Date.parse(cLockedAt ?? '')));
    assert.deepEqual(rows[1]?.slice(1, 3), ['b.bin', 'alice']);

    await admin(['lock', 'remove', 'alice/assets', cId as string]);
    const after = (await alice.git(aliceWork, ['lfs', 'locks'])).stdout;
    assert.doesNotMatch(after, /c\.bin/);
    assert.match(after, /^b\.bin\s+alice/m);
    await assert.rejects(admin(['lock', 'remove', 'alice/assets', cId as string]), /has no lock/);
    await assert.rejects(admin(['lock', 'list', 'alice/missing']), /no repository/);
  });
});
