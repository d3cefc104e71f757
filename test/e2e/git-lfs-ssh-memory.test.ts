/**
 * A 200 MB object pushed and fetched by the real git-lfs client over pure SSH (git-lfs-transfer)
 * against `lfsd serve --ssh-listen` in a child process (issue 13): the object streams through in
 * pkt-lines, so the server's resident memory grows by less than 64 MB over its idle RSS, in
 * either direction (VmHWM from /proc after resetting it, or VmRSS sampled every 20 ms).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeRandomFile } from '../helpers/content.js';
import { createGitSandbox, sha256File, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { readRss, samplePeak } from '../helpers/rss.js';
import { sshAddressOf } from '../helpers/ssh-client.js';
import { ed25519KeyPair } from '../helpers/ssh-keys.js';
import { metric, scrape } from '../ops/ops-helpers.js';

const MB = 1024 * 1024;
const SIZE = 200 * MB;
const LIMIT = 64 * MB;

const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;

void describe('a 200 MB object over pure SSH: server memory', { timeout: 300_000 }, () => {
  let server: LfsdServer;
  let sandbox: GitSandbox;
  let sshEnv: NodeJS.ProcessEnv;
  let work: string;
  let oid: string;
  let idle: number;

  const git = (cwd: string, args: string[], extra: NodeJS.ProcessEnv = {}) =>
    sandbox.git(cwd, args, { ...sshEnv, ...extra });

  before(async () => {
    sandbox = await createGitSandbox();
    const dataDir = join(sandbox.root, 'lfsd-data');
    const admin = (args: string[], input?: string) => lfsdAdmin([...args, '--data-dir', dataDir], { input });
    await admin(['user', 'add', 'alice']);
    await admin(['repo', 'create', 'alice/big']);
    const key = ed25519KeyPair();
    await admin(['key', 'add', 'alice'], key.public);
    const keyPath = join(sandbox.root, 'alice.key');
    await writeFile(keyPath, key.private);
    await chmod(keyPath, 0o600);
    server = await startLfsd(['--data-dir', dataDir, '--ssh-listen', '127.0.0.1:0']);
    const { port } = sshAddressOf(server);
    sshEnv = {
      GIT_SSH_COMMAND: `ssh -i ${keyPath} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p ${port}`,
    };

    await sandbox.git(sandbox.root, ['init', '--bare', '-q', 'remote.git']);
    await sandbox.git(sandbox.root, ['init', '-q', 'work']);
    work = join(sandbox.root, 'work');
    await sandbox.git(work, ['lfs', 'track', '*.bin']);
    await writeFile(join(work, '.lfsconfig'), `[lfs]\n\turl = ssh://git@127.0.0.1:${port}/alice/big.git\n`);
    await sandbox.git(work, ['remote', 'add', 'origin', join(sandbox.root, 'remote.git')]);
    // warm-up: a small object both ways, so code loaded once (ssh2, the transfer session) is idle RSS
    await writeFile(join(work, 'small.bin'), randomBytes(100_000));
    await sandbox.git(work, ['add', '.']);
    await sandbox.git(work, ['commit', '-q', '-m', 'small']);
    await git(work, ['push', '-q', 'origin', 'main']);
    await git(sandbox.root, ['clone', '-q', '-b', 'main', 'remote.git', 'warm']);

    await writeRandomFile(join(work, 'big.bin'), SIZE);
    oid = await sha256File(join(work, 'big.bin'));
    await sandbox.git(work, ['add', 'big.bin']);
    await sandbox.git(work, ['commit', '-q', '-m', 'big']);
    idle = readRss(server.process.pid!).rss;
  });

  after(async () => {
    assert.equal(await server?.stop(), 0, 'lfsd exits 0 on SIGTERM');
    await sandbox?.cleanup();
  });

  /**
   * Runs `step`: the server's peak RSS during it over the idle RSS, and the object bytes that
   * went over git-lfs-transfer in `direction` meanwhile (lfsd_ssh_bytes_total).
   */
  async function during(
    direction: 'in' | 'out',
    step: () => Promise<unknown>,
  ): Promise<{ growth: number; sshBytes: number; how: string }> {
    const bytes = async () => metric(await scrape(server.listenUrl), 'lfsd_ssh_bytes_total', { direction });
    const bytesBefore = await bytes();
    const peak = samplePeak(server.process.pid!);
    try {
      await step();
    } finally {
      peak.stop();
    }
    return {
      growth: peak.stop() - idle,
      sshBytes: (await bytes()) - bytesBefore,
      how: peak.hwm ? 'VmHWM' : 'VmRSS sampled',
    };
  }

  void it('push: server RSS grows by less than 64 MB', async (t) => {
    const { growth, sshBytes, how } = await during('in', () => git(work, ['push', '-q', 'origin', 'main']));
    assert.equal(sshBytes, SIZE, 'the object went over git-lfs-transfer');
    t.diagnostic(`push: server RSS +${mb(growth)} over ${mb(idle)} idle (${how})`);
    assert.ok(growth < LIMIT, `push: ${mb(growth)} over an idle RSS of ${mb(idle)}`);
  });

  void it('fetch: server RSS grows by less than 64 MB, the object has its SHA-256', async (t) => {
    await git(sandbox.root, ['clone', '-q', '-b', 'main', 'remote.git', 'clone'], {
      GIT_LFS_SKIP_SMUDGE: '1',
    });
    const clone = join(sandbox.root, 'clone');
    const { growth, sshBytes, how } = await during('out', () =>
      git(clone, ['lfs', 'fetch', '--include', 'big.bin', 'origin', 'main']),
    );
    const stored = join(clone, '.git', 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
    assert.equal(await sha256File(stored), oid);
    assert.equal(sshBytes, SIZE, 'the object went over git-lfs-transfer');
    t.diagnostic(`fetch: server RSS +${mb(growth)} over ${mb(idle)} idle (${how})`);
    assert.ok(growth < LIMIT, `fetch: ${mb(growth)} over an idle RSS of ${mb(idle)}`);
  });
});
