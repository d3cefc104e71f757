/**
 * The real git-lfs 3.3 client over `ssh://` against lfsd's built-in SSH server (issue 13): push,
 * clone (smudge), `git lfs pull --include`, `git lfs fetch --all`, lock and unlock, SHA-256 of every
 * file, objects from 1 byte to 100 MB over pure SSH (to 20 MB over HTTP, whose large objects other
 * tests cover); once over pure SSH (git-lfs-transfer) and once with `--ssh-transfer false`, where
 * the client falls back to git-lfs-authenticate + HTTP. GIT_TRACE=1 shows which path it took. Then
 * the refusals a client meets: a read-only user pushing, no grant on a private repository, an
 * unknown key, a removed key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeRandomFile } from '../helpers/content.js';
import { createGitSandbox, sha256File, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { sshAddressOf } from '../helpers/ssh-client.js';
import { ed25519KeyPair } from '../helpers/ssh-keys.js';

const MB = 1024 * 1024;
/** 1 byte to 100 MB (the largest written in 1 MB pieces, never held whole), both ways in */
const SIZES = [1, 100, MB + 7, 20 * MB, 100 * MB];
const SMALL_FILES = 40;
const POINTER = /^version https:\/\/git-lfs\.github\.com\/spec\/v1\n/;

for (const mode of ['pure SSH', 'git-lfs-authenticate + HTTP'] as const) {
  void describe(`git lfs over ssh:// (${mode})`, { timeout: 300_000 }, () => {
    let server: LfsdServer;
    let sandbox: GitSandbox;
    let dataDir: string;
    const expected = new Map<string, string>();
    const sshEnv = new Map<string, NodeJS.ProcessEnv>();
    const sizes = SIZES;

    const admin = (args: string[], input?: string) => lfsdAdmin([...args, '--data-dir', dataDir], { input });
    const git = (user: string, cwd: string, args: string[], extra: NodeJS.ProcessEnv = {}) =>
      sandbox.git(cwd, args, { ...sshEnv.get(user), ...extra });

    async function addKeyFor(user: string): Promise<string> {
      const key = ed25519KeyPair();
      const path = join(sandbox.root, `${user}.key`);
      await writeFile(path, key.private);
      await chmod(path, 0o600);
      const { port } = sshAddressOf(server);
      sshEnv.set(user, {
        GIT_SSH_COMMAND: `ssh -i ${path} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p ${port}`,
      });
      return key.public;
    }

    before(async () => {
      sandbox = await createGitSandbox();
      dataDir = join(sandbox.root, 'lfsd-data');
      for (const user of ['alice', 'bob', 'carol']) await admin(['user', 'add', user]);
      await admin(['repo', 'create', 'alice/assets']);
      await admin(['grant', 'bob', 'alice/assets', 'read']);
      const extra = mode === 'pure SSH' ? [] : ['--ssh-transfer', 'false'];
      server = await startLfsd(['--data-dir', dataDir, '--ssh-listen', '127.0.0.1:0', ...extra]);
      for (const user of ['alice', 'bob', 'carol']) await admin(['key', 'add', user], await addKeyFor(user));
      await addKeyFor('stranger'); // a key lfsd does not know

      const { port } = sshAddressOf(server);
      await sandbox.git(sandbox.root, ['init', '--bare', '-q', 'remote.git']);
      await sandbox.git(sandbox.root, ['init', '-q', 'work']);
      const work = join(sandbox.root, 'work');
      await sandbox.git(work, ['lfs', 'track', '*.bin', 'small/*.dat']);
      await writeFile(
        join(work, '.lfsconfig'),
        `[lfs]\n\turl = ssh://git@127.0.0.1:${port}/alice/assets.git\n`,
      );
      await mkdir(join(work, 'small'));
      for (const size of sizes) await writeRandomFile(join(work, `file-${size}.bin`), size);
      for (let i = 0; i < SMALL_FILES; i++)
        await writeFile(join(work, 'small', `f${i}.dat`), randomBytes(100 + i));
      for (const size of sizes)
        expected.set(`file-${size}.bin`, await sha256File(join(work, `file-${size}.bin`)));
      for (let i = 0; i < SMALL_FILES; i++)
        expected.set(`small/f${i}.dat`, await sha256File(join(work, 'small', `f${i}.dat`)));
      await sandbox.git(work, ['add', '.']);
      await sandbox.git(work, ['commit', '-q', '-m', 'assets']);
      await sandbox.git(work, ['remote', 'add', 'origin', join(sandbox.root, 'remote.git')]);
    });

    after(async () => {
      assert.equal(await server?.stop(), 0, 'lfsd exits 0 on SIGTERM');
      await sandbox?.cleanup();
    });

    /** the path GIT_TRACE shows the client took */
    function assertPath(trace: string): void {
      assert.match(trace, /attempting pure SSH protocol connection/);
      if (mode === 'pure SSH') {
        assert.match(trace, /starting transfer adapter "ssh"/);
        assert.doesNotMatch(trace, /git-lfs-authenticate/);
      } else {
        assert.match(trace, /git-lfs-authenticate/);
        assert.match(trace, /starting transfer adapter "basic"/);
        assert.doesNotMatch(trace, /starting transfer adapter "ssh"/);
      }
    }

    void it(`pushes objects from 1 byte to ${sizes.at(-1)! / MB} MB and small files`, async () => {
      const { stderr } = await git('alice', 'work', ['push', 'origin', 'main'], { GIT_TRACE: '1' });
      assertPath(stderr);
      const sessions = server.logs.filter((l) => l.msg === 'ssh session ended').length;
      const puts = server.logs.filter((l) => l.method === 'PUT' && l.status === 200).length;
      if (mode === 'pure SSH')
        assert.ok(sessions > 0 && puts === 0, `${sessions} SSH sessions, ${puts} PUTs`);
      else assert.equal(puts, sizes.length + SMALL_FILES, 'every object went over HTTP');
    });

    void it('clones with smudge: every file has its original SHA-256', async () => {
      const { stderr } = await git('bob', sandbox.root, ['clone', '-b', 'main', 'remote.git', 'clone'], {
        GIT_TRACE: '1',
      });
      assertPath(stderr);
      for (const [path, sha] of expected)
        assert.equal(await sha256File(join(sandbox.root, 'clone', path)), sha, path);
    });

    void it('git lfs pull --include, then git lfs fetch --all', async () => {
      await git('bob', sandbox.root, ['clone', '-q', '-b', 'main', 'remote.git', 'partial'], {
        GIT_LFS_SKIP_SMUDGE: '1',
      });
      const partial = join(sandbox.root, 'partial');
      await git('bob', partial, ['lfs', 'pull', '--include', 'small/*']);
      for (const [path, sha] of expected) {
        const file = join(partial, path);
        if (path.startsWith('small/')) assert.equal(await sha256File(file), sha, path);
        else assert.match(await readFile(file, 'utf8'), POINTER, `${path} stays a pointer`);
      }
      await git('bob', partial, ['lfs', 'fetch', '--all']);
      const stored = await readdir(join(partial, '.git', 'lfs', 'objects'), { recursive: true });
      const oids = new Set(
        stored.map((p) => String(p).split('/').at(-1)).filter((n) => /^[0-9a-f]{64}$/.test(n!)),
      );
      assert.equal(oids.size, expected.size);
    });

    void it('locks and unlocks', async () => {
      const work = join(sandbox.root, 'work');
      const { stderr } = await git('alice', work, ['lfs', 'lock', `file-${sizes[0]}.bin`], {
        GIT_TRACE: '1',
      });
      if (mode === 'pure SSH') assert.doesNotMatch(stderr, /git-lfs-authenticate/);
      else assert.match(stderr, /git-lfs-authenticate/);
      const listed = await git('bob', join(sandbox.root, 'clone'), ['lfs', 'locks']);
      assert.match(listed.stdout, new RegExp(`file-${sizes[0]}\\.bin\\s+alice\\s+ID:\\d+`));
      await git('alice', work, ['lfs', 'unlock', `file-${sizes[0]}.bin`]);
      assert.equal((await git('bob', join(sandbox.root, 'clone'), ['lfs', 'locks'])).stdout.trim(), '');
    });

    void it('refuses a read-only user pushing, no grant on a private repository, an unknown key, a removed key', async () => {
      const clone = join(sandbox.root, 'clone');
      await writeFile(join(clone, 'new.bin'), randomBytes(1000));
      await sandbox.git(clone, ['add', 'new.bin']);
      await sandbox.git(clone, ['commit', '-q', '-m', 'bob adds']);
      await assert.rejects(
        git('bob', clone, ['lfs', 'push', 'origin', 'main']),
        /push access|Authorization error|403/i,
      );

      await git('carol', sandbox.root, ['clone', '-q', '-b', 'main', 'remote.git', 'carol'], {
        GIT_LFS_SKIP_SMUDGE: '1',
      });
      const carol = join(sandbox.root, 'carol');
      await assert.rejects(git('carol', carol, ['lfs', 'pull']), /not found/i);
      await assert.rejects(git('stranger', carol, ['lfs', 'pull']), /Permission denied \(publickey\)/);

      const id = (await admin(['key', 'list', 'bob'])).split('\t')[0]!;
      await admin(['key', 'remove', 'bob', id]);
      // `git lfs locks` always asks the server (a fetch of objects already present would not)
      await git('bob', join(sandbox.root, 'partial'), ['lfs', 'locks']).then(
        () => assert.fail('a removed key still lists locks'),
        // ssh's own exit status when no key is accepted (git lfs locks does not show ssh's stderr)
        (err: Error) => assert.match(err.message, /Permission denied|exit status 255/, err.message),
      );
    });
  });
}
