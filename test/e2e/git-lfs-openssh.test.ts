/**
 * `lfsd ssh-command` behind a real OpenSSH sshd (issue 13): authorized_keys written by
 * `lfsd key authorized-keys` (command= forced, restrict), the real git-lfs client over ssh://:
 * push, clone with smudge (SHA-256 of every file), locks, over pure SSH; then with
 * `--ssh-transfer false` in the forced command, git-lfs-authenticate + HTTP (GIT_TRACE shows it).
 * A login without a command, or with another command, is refused; a removed key no longer logs in.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createGitSandbox, sha256File, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, lfsdNodeArgs, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { sshdMissing, startSshd, type Sshd } from '../helpers/openssh.js';
import { ed25519KeyPair } from '../helpers/ssh-keys.js';

const exec = promisify(execFile);
const MB = 1024 * 1024;

const missing = await sshdMissing();

void describe(
  'git lfs through OpenSSH sshd and lfsd ssh-command',
  { timeout: 300_000, skip: missing },
  () => {
    let sandbox: GitSandbox;
    let server: LfsdServer;
    let sshd: Sshd;
    let dataDir: string;
    let keyPath: string;
    let sshCommand: string;
    const expected = new Map<string, string>();
    const admin = (args: string[], input?: string) => lfsdAdmin([...args, '--data-dir', dataDir], { input });
    const git = (cwd: string, args: string[], extra: NodeJS.ProcessEnv = {}) =>
      sandbox.git(cwd, args, { GIT_SSH_COMMAND: sshCommand, ...extra });

    /** authorized_keys as `lfsd key authorized-keys` prints it, forcing ssh-command with `extra` settings */
    async function writeAuthorizedKeys(extra: string[] = []): Promise<void> {
      const command = [process.execPath, ...lfsdNodeArgs(), 'ssh-command', '--data-dir', dataDir];
      command.push('--public-url', server.url, ...extra);
      await writeFile(
        sshd.authorizedKeys,
        await admin(['key', 'authorized-keys', '--command', command.join(' ')]),
      );
    }

    before(async () => {
      sandbox = await createGitSandbox();
      dataDir = join(sandbox.root, 'lfsd-data');
      await admin(['user', 'add', 'alice']);
      const key = ed25519KeyPair();
      keyPath = join(sandbox.root, 'alice.key');
      await writeFile(keyPath, key.private);
      await chmod(keyPath, 0o600);
      await admin(['key', 'add', 'alice'], key.public);
      server = await startLfsd(['--data-dir', dataDir]);
      await mkdir(join(sandbox.root, 'sshd'));
      sshd = await startSshd(join(sandbox.root, 'sshd'));
      await writeAuthorizedKeys();
      sshCommand =
        `ssh -i ${keyPath} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no ` +
        `-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p ${sshd.port}`;

      await sandbox.git(sandbox.root, ['init', '--bare', '-q', 'remote.git']);
      await sandbox.git(sandbox.root, ['init', '-q', 'work']);
      const work = join(sandbox.root, 'work');
      await sandbox.git(work, ['lfs', 'track', '*.bin']);
      await writeFile(
        join(work, '.lfsconfig'),
        `[lfs]\n\turl = ssh://${sshd.user}@127.0.0.1:${sshd.port}/alice/assets.git\n`,
      );
      for (const [name, size] of [
        ['one.bin', 1],
        ['mid.bin', MB + 3],
        ['big.bin', 4 * MB],
      ] as const) {
        await writeFile(join(work, name), randomBytes(size));
        expected.set(name, await sha256File(join(work, name)));
      }
      await sandbox.git(work, ['add', '.']);
      await sandbox.git(work, ['commit', '-q', '-m', 'assets']);
      await sandbox.git(work, ['remote', 'add', 'origin', join(sandbox.root, 'remote.git')]);
    });

    after(async () => {
      await sshd?.stop();
      await server?.stop();
      await sandbox?.cleanup();
    });

    const ssh = (args: string[]) =>
      exec('ssh', [...sshCommand.split(' ').slice(1), `${sshd.user}@127.0.0.1`, ...args], {
        env: sandbox.env,
      });

    void it('pushes and clones over pure SSH; every file has its SHA-256; locks work', async () => {
      const pushed = await git('work', ['push', 'origin', 'main'], { GIT_TRACE: '1' });
      assert.match(pushed.stderr, /starting transfer adapter "ssh"/);
      await git(sandbox.root, ['clone', '-q', '-b', 'main', 'remote.git', 'clone']);
      for (const [path, sha] of expected)
        assert.equal(await sha256File(join(sandbox.root, 'clone', path)), sha, path);
      const clone = join(sandbox.root, 'clone');
      await git(clone, ['lfs', 'lock', 'one.bin']);
      assert.match((await git(clone, ['lfs', 'locks'])).stdout, /one\.bin\s+alice\s+ID:\d+/);
      await git(clone, ['lfs', 'unlock', 'one.bin']);
    });

    void it('with --ssh-transfer false the client falls back to git-lfs-authenticate + HTTP', async () => {
      await writeAuthorizedKeys(['--ssh-transfer', 'false']);
      const { stderr } = await git(sandbox.root, ['clone', '-b', 'main', 'remote.git', 'fallback'], {
        GIT_TRACE: '1',
      });
      assert.match(stderr, /git-lfs-authenticate/);
      assert.match(stderr, /starting transfer adapter "basic"/);
      for (const [path, sha] of expected)
        assert.equal(await sha256File(join(sandbox.root, 'fallback', path)), sha, path);
      assert.ok(server.logs.some((l) => l.method === 'GET' && l.route === 'object' && l.status === 200));
      await writeAuthorizedKeys();
    });

    void it('refuses a login without a command and other commands; a removed key no longer logs in', async () => {
      await assert.rejects(ssh([]), (err: Error & { stderr?: string; code?: number }) => {
        assert.match(err.stderr ?? '', /shells are not available/);
        return true;
      });
      await assert.rejects(ssh(['id']), (err: Error & { stderr?: string }) => {
        assert.match(err.stderr ?? '', /unknown command "id"/);
        return true;
      });
      const answer = await ssh(['git-lfs-authenticate', 'alice/assets', 'download']);
      assert.match(answer.stdout, /"href":"http:\/\/127\.0\.0\.1:\d+\/alice\/assets\.git\/info\/lfs"/);

      const id = (await admin(['key', 'list', 'alice'])).split('\t')[0]!;
      await admin(['key', 'remove', 'alice', id]);
      // the old authorized_keys line still names the key: ssh-command refuses it
      await assert.rejects(ssh(['git-lfs-authenticate', 'alice/assets', 'download']), /not known to lfsd/);
      await writeAuthorizedKeys();
      await assert.rejects(ssh(['git-lfs-authenticate', 'alice/assets', 'download']), /Permission denied/);
    });
  },
);
