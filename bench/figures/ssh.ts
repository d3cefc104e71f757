/**
 * Figure 15, LFS over SSH: wall time of the real client's `git push` and `git clone` of many small
 * files and of one large file (1 GiB; quick mode: figure 6's smaller size) with
 * `lfs.url = ssh://...` against lfsd's built-in SSH server (git-lfs-transfer, the pure SSH
 * protocol, several channels over one multiplexed connection), next to the same commands over
 * HTTP (batch + PUT/GET) against the same server in the same run. Each run pushes to a fresh bare
 * remote and a fresh lfsd repository, so every object is uploaded every time.
 */
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { parsePublicKey } from '../../src/ssh/public-key.js';
import { createGitSandbox } from '../../test/helpers/git.js';
import { paired, type Bench } from '../lib/context.js';
import { chunkOf, writeGeneratedFile } from '../lib/data.js';
import { databaseUrl, PASSWORD, prepareDataDir, startServe, USER } from '../lib/lfsd.js';
import { Leftovers } from '../lib/leftovers.js';
import { addRow } from '../lib/report.js';
import { sizeLabel, summarize } from '../lib/stats.js';
import { ed25519KeyPair } from '../../test/helpers/ssh-keys.js';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** the benchmark user's SSH key, registered as `lfsd key add` would; returns the private key's path */
async function addKey(dataDir: string, dir: string): Promise<string> {
  const key = ed25519KeyPair();
  const parsed = parsePublicKey(key.public);
  const metadata = await openMetadataStore(databaseUrl(dataDir));
  try {
    const user = await metadata.findUserByName(USER);
    await metadata.addSshKey({
      userId: user!.id,
      type: parsed.type,
      publicKey: parsed.base64,
      fingerprint: parsed.fingerprint,
      label: 'bench',
    });
  } finally {
    await metadata.close();
  }
  const path = join(dir, 'bench.key');
  await writeFile(path, key.private);
  await chmod(path, 0o600);
  return path;
}

interface Repo {
  name: string;
  /** files in its tree */
  files: number;
  label: string;
  work: string;
}

export async function sshFigure(bench: Bench): Promise<void> {
  const { config, report } = bench;
  const { smallFiles, smallFileSize, largeSize, runs } = config.git;
  const dataDir = join(bench.root, 'ssh-data');
  await prepareDataDir(dataDir);
  const sandbox = await createGitSandbox({ username: USER, password: PASSWORD });
  const keyPath = await addKey(dataDir, sandbox.root);
  const port = await freePort();
  const server = await startServe(dataDir, {
    nodeArgs: config.serverNodeArgs,
    extraArgs: ['--ssh-listen', `127.0.0.1:${port}`],
  });
  const sshEnv = {
    GIT_SSH_COMMAND:
      `ssh -i ${keyPath} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no ` +
      `-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`,
  };
  const makeRepo = async (name: string, track: string, fill: (work: string) => Promise<unknown>) => {
    const work = join(sandbox.root, `work-${name}`);
    await sandbox.git(sandbox.root, ['init', '-q', work]);
    await sandbox.git(work, ['lfs', 'track', track]);
    await fill(work);
    await sandbox.git(work, ['add', '.']);
    await sandbox.git(work, ['commit', '-q', '-m', name]);
    return work;
  };
  try {
    const smallLabel = `${smallFiles.toLocaleString('en-US')} files of ${sizeLabel(smallFileSize)}`;
    const largeLabel = `one file of ${sizeLabel(largeSize)}`;
    bench.log(`figure 15: preparing ${smallLabel} and ${largeLabel}`);
    const repos: Repo[] = [
      {
        name: 'small',
        files: smallFiles,
        label: smallLabel,
        work: await makeRepo('small', 'files/*.dat', async (work) => {
          await mkdir(join(work, 'files'));
          for (let i = 0; i < smallFiles; i++)
            await writeFile(join(work, 'files', `f${i}.dat`), chunkOf(5000 + i, 0, smallFileSize));
        }),
      },
      {
        name: 'large',
        files: 1,
        label: largeLabel,
        work: await makeRepo('large', '*.bin', (work) =>
          writeGeneratedFile(join(work, 'large.bin'), 15, largeSize),
        ),
      },
    ];

    const leftovers = new Leftovers();
    for (const repo of repos) {
      const remote = (kind: string, run: number) =>
        join(sandbox.root, `remote-${repo.name}-${kind}-${run}.git`);
      const url = (kind: string, run: number) =>
        kind === 'ssh'
          ? `lfs.url=ssh://git@127.0.0.1:${port}/${USER}/ssh-${repo.name}-${run}.git`
          : `lfs.url=${server.url}/${USER}/http-${repo.name}-${run}.git/info/lfs`;
      const timed = async (cwd: string, args: string[]) => {
        const t0 = performance.now();
        await sandbox.git(cwd, args, sshEnv);
        return (performance.now() - t0) / 1000;
      };
      const push = async (kind: string, run: number) => {
        await sandbox.git(sandbox.root, ['init', '-q', '--bare', remote(kind, run)]);
        return timed(repo.work, ['-c', url(kind, run), 'push', '-q', `file://${remote(kind, run)}`, 'main']);
      };
      const clone = async (kind: string, run: number) => {
        const target = join(sandbox.root, `clone-${repo.name}-${kind}-${run}`);
        const seconds = await timed(sandbox.root, [
          '-c',
          url(kind, run),
          'clone',
          '-q',
          `file://${remote(kind, run)}`,
          target,
        ]);
        await leftovers.cloneDone(target, repo.files);
        return seconds;
      };
      bench.log(`figure 15: ${repo.label}: push over SSH and HTTP, ${runs} runs`);
      const pushes = await paired(
        runs,
        (run) => push('ssh', run),
        (run) => push('http', run),
      );
      bench.log(`figure 15: ${repo.label}: clone over SSH and HTTP, ${runs} runs`);
      const clones = await paired(
        runs,
        (run) => clone('ssh', run),
        (run) => clone('http', run),
      );
      const baseline = 'the same command over HTTP (batch + PUT/GET), same server';
      addRow(report, {
        figure: '15',
        measure: `git push over SSH (git-lfs-transfer), ${repo.label}`,
        unit: 's',
        better: 'lower',
        lfsd: summarize(pushes.a),
        baseline: { label: baseline, summary: summarize(pushes.b) },
      });
      addRow(report, {
        figure: '15',
        measure: `git clone over SSH (git-lfs-transfer), ${repo.label}`,
        unit: 's',
        better: 'lower',
        lfsd: summarize(clones.a),
        baseline: { label: baseline, summary: summarize(clones.b) },
      });
      await leftovers.removeAll();
      for (let run = 0; run < runs; run++) {
        for (const kind of ['ssh', 'http']) await rm(remote(kind, run), { recursive: true, force: true });
      }
    }
  } finally {
    await server.stop();
    await sandbox.cleanup();
  }
}
