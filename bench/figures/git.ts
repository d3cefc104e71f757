/**
 * Figure 6, the real client: wall time of `git push` and `git clone` (smudge included) with
 * git-lfs against lfsd, for a repository of many small files and one of a single large file.
 *
 * Baseline: the same git and git-lfs commands on the same commits with `lfs.url` set to a
 * `file://` URL, for which git-lfs moves objects to and from the remote's directory itself (its
 * built-in standalone file transfer), and on one file system it hard-links them: no server, no
 * HTTP, no bytes copied, no fsync. So the baseline is git's and git-lfs's own work, and the
 * difference is what the transfer through lfsd adds (for a large push, hashing and writing every
 * byte with an fsync: compare figure 1). Each run pushes to a fresh bare remote and a fresh lfsd
 * repository, and objects new to lfsd: each run's small files have contents of their own, and
 * the large file's stored bytes are removed before each run, so every object is uploaded and
 * stored every time. A further row pushes the first run's small files again, to new
 * repositories: lfsd already stores them (a fork, or a push to a new repository), so the client
 * uploads every object (proof of possession) but lfsd need not store it again. Clones are
 * deleted when the figure's runs are over (bench/lib/leftovers.ts says why).
 *
 * Pushes also go to a null LFS endpoint (bench/bench-server.ts: a Fastify server in the same Node
 * that offers every object and drops its bytes), against the file:// baseline in runs of their own:
 * the share of a push that HTTP and the client cost whatever the server does, so lfsd's own share
 * is the difference between the two lfsd-side figures.
 */
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createGitSandbox, type GitSandbox } from '../../test/helpers/git.js';
import { cpuMs } from '../../test/helpers/rss.js';
import { paired, type Bench } from '../lib/context.js';
import { chunkOf } from '../lib/data.js';
import { Leftovers } from '../lib/leftovers.js';
import {
  PASSWORD,
  USER,
  prepareDataDir,
  removeStoredObject,
  startBenchServer,
  type ServeProcess,
} from '../lib/lfsd.js';
import { addRow } from '../lib/report.js';
import { sizeLabel, summarize } from '../lib/stats.js';

interface Repo {
  name: string;
  label: string;
  /** objects in its tree */
  objects: number;
  /** the work tree a run pushes */
  workOf: (run: number) => string;
  /** before each push to lfsd (not to the null endpoint) */
  beforeLfsdPush?: () => Promise<void>;
}

async function makeRepo(
  sandbox: GitSandbox,
  name: string,
  track: string,
  fill: (work: string) => Promise<void>,
) {
  const work = join(sandbox.root, `work-${name}`);
  await sandbox.git(sandbox.root, ['init', '-q', work]);
  await sandbox.git(work, ['lfs', 'track', track]);
  await fill(work);
  await sandbox.git(work, ['add', '.']);
  await sandbox.git(work, ['commit', '-q', '-m', name]);
  return work;
}

export async function gitFigure(
  bench: Bench,
  server: ServeProcess,
  dataDir: string,
  large: { path: string; oid: string; size: number },
): Promise<void> {
  const { config, report } = bench;
  const { smallFiles, smallFileSize, runs } = config.git;
  const sandbox = await createGitSandbox({ username: USER, password: PASSWORD });
  const nullDir = join(bench.root, 'null-endpoint-data');
  await prepareDataDir(nullDir);
  const nullServer = await startBenchServer(nullDir, 1, config.serverNodeArgs);
  try {
    bench.log(
      `figure 6: preparing ${runs} x ${smallFiles} files of ${sizeLabel(smallFileSize)} and one of ${sizeLabel(large.size)}`,
    );
    const smallWork: string[] = [];
    for (let run = 0; run < runs; run++) {
      smallWork.push(
        await makeRepo(sandbox, `small-${run}`, 'files/*.dat', async (work) => {
          await mkdir(join(work, 'files'));
          for (let i = 0; i < smallFiles; i++) {
            const seed = 1000 + run * smallFiles + i; // contents of this run's own
            await writeFile(join(work, 'files', `f${i}.dat`), chunkOf(seed, 0, smallFileSize));
          }
        }),
      );
    }
    const largeWork = await makeRepo(sandbox, 'large', '*.bin', (work) =>
      copyFile(large.path, join(work, 'large.bin')),
    );
    const repos: Repo[] = [
      {
        name: 'small',
        objects: smallFiles,
        label: `${smallFiles.toLocaleString('en-US')} files of ${sizeLabel(smallFileSize)}`,
        workOf: (run) => smallWork[run]!,
      },
      {
        name: 'large',
        objects: 1,
        label: `one file of ${sizeLabel(large.size)}`,
        workOf: () => largeWork,
        // the same file every run: its stored bytes go, so that lfsd stores it every time
        beforeLfsdPush: () => removeStoredObject(dataDir, large.oid),
      },
    ];
    const leftovers = new Leftovers();
    for (const repo of repos) {
      const timedGit = async (cwd: string, args: string[]) => {
        const t0 = performance.now();
        await sandbox.git(cwd, args);
        return (performance.now() - t0) / 1000;
      };
      const remote = (kind: string, run: number) =>
        join(sandbox.root, `remote-${repo.name}-${kind}-${run}.git`);
      const lfsdUrl = (run: number) => `lfs.url=${server.url}/${USER}/git-${repo.name}-${run}.git/info/lfs`;
      const fileUrl = (run: number, kind = 'file') => `lfs.url=file://${remote(kind, run)}`;
      const nullUrl = `lfs.url=${nullServer.url}/__bench/null`;
      const push = async (kind: string, run: number, url: string, work = repo.workOf(run)) => {
        await sandbox.git(sandbox.root, ['init', '-q', '--bare', remote(kind, run)]);
        // a file:// remote: git-lfs's standalone file transfer takes its path from the remote URL
        return timedGit(work, ['-c', url, 'push', '-q', `file://${remote(kind, run)}`, 'main']);
      };
      const clone = async (kind: string, run: number, url: string) => {
        const target = join(sandbox.root, `clone-${repo.name}-${kind}-${run}`);
        const seconds = await timedGit(sandbox.root, [
          '-c',
          url,
          'clone',
          '-q',
          `file://${remote(kind, run)}`,
          target,
        ]);
        await leftovers.cloneDone(target, repo.objects);
        return seconds;
      };
      // the CPU time (user + system, all threads) the server spent per object during each push
      const cpuPerObject: Record<'lfsd' | 'null' | 'stored', number[]> = { lfsd: [], null: [], stored: [] };
      const measuredPush = async (
        kind: 'lfsd' | 'null' | 'stored',
        pid: number,
        run: number,
        url: string,
        work?: string,
      ) => {
        if (kind === 'lfsd') await repo.beforeLfsdPush?.();
        const cpu0 = cpuMs(pid);
        const seconds = await push(kind, run, url, work);
        cpuPerObject[kind].push((cpuMs(pid) - cpu0) / repo.objects);
        return seconds;
      };
      bench.log(`figure 6: ${repo.label}: push, ${runs} runs`);
      const pushes = await paired(
        runs,
        (run) => measuredPush('lfsd', server.pid, run, lfsdUrl(run)),
        (run) => push('file', run, fileUrl(run)),
      );
      bench.log(`figure 6: ${repo.label}: push to a null LFS endpoint, ${runs} runs`);
      const nullPushes = await paired(
        runs,
        (run) => measuredPush('null', nullServer.pid, run, nullUrl),
        (run) => push('file-null', run, fileUrl(run, 'file-null')),
      );
      // the first run's files again, to new repositories of a server that stores them all
      const storedUrl = (run: number) =>
        `lfs.url=${server.url}/${USER}/git-${repo.name}-again-${run}.git/info/lfs`;
      let storedPushes: { a: number[]; b: number[] } | undefined;
      if (repo.objects > 1) {
        bench.log(`figure 6: ${repo.label}: push of stored objects to new repositories, ${runs} runs`);
        storedPushes = await paired(
          runs,
          (run) => measuredPush('stored', server.pid, run, storedUrl(run), repo.workOf(0)),
          (run) => push('file-again', run, fileUrl(run, 'file-again'), repo.workOf(0)),
        );
      }
      bench.log(`figure 6: ${repo.label}: clone, ${runs} runs`);
      const cpuPerObjectCloned: number[] = [];
      const clones = await paired(
        runs,
        async (run) => {
          const cpu0 = cpuMs(server.pid);
          const seconds = await clone('lfsd', run, lfsdUrl(run));
          cpuPerObjectCloned.push((cpuMs(server.pid) - cpu0) / repo.objects);
          return seconds;
        },
        (run) => clone('file', run, fileUrl(run)),
      );
      const baseline = 'same git + git-lfs, lfs.url=file:// (objects hard-linked, no transfer)';
      addRow(report, {
        figure: '6',
        measure: `git push, ${repo.label}`,
        unit: 's',
        better: 'lower',
        lfsd: summarize(pushes.a),
        baseline: { label: baseline, summary: summarize(pushes.b) },
      });
      addRow(report, {
        figure: '6',
        measure: `git push, ${repo.label}, to a null LFS endpoint (not lfsd: it stores nothing)`,
        unit: 's',
        better: 'lower',
        lfsd: summarize(nullPushes.a),
        baseline: { label: baseline, summary: summarize(nullPushes.b) },
      });
      addRow(report, {
        figure: '6',
        measure: `server CPU time per object pushed, ${repo.label}`,
        unit: 'ms',
        better: 'lower',
        lfsd: summarize(cpuPerObject.lfsd),
        baseline: { label: 'the null LFS endpoint', summary: summarize(cpuPerObject.null) },
      });
      if (storedPushes) {
        addRow(report, {
          figure: '6',
          measure: `git push, ${repo.label}, to a new repository: objects lfsd already stores (a fork)`,
          unit: 's',
          better: 'lower',
          lfsd: summarize(storedPushes.a),
          baseline: { label: baseline, summary: summarize(storedPushes.b) },
        });
        addRow(report, {
          figure: '6',
          measure: `server CPU time per object pushed, ${repo.label}, objects already stored`,
          unit: 'ms',
          better: 'lower',
          lfsd: summarize(cpuPerObject.stored),
          baseline: { label: 'the null LFS endpoint', summary: summarize(cpuPerObject.null) },
        });
      }
      addRow(report, {
        figure: '6',
        measure: `git clone, ${repo.label}`,
        unit: 's',
        better: 'lower',
        lfsd: summarize(clones.a),
        baseline: { label: baseline, summary: summarize(clones.b) },
      });
      addRow(report, {
        figure: '6',
        measure: `server CPU time per object cloned, ${repo.label}`,
        unit: 'ms',
        better: 'lower',
        lfsd: summarize(cpuPerObjectCloned),
      });
      await leftovers.removeAll();
      for (let run = 0; run < runs; run++) {
        for (const kind of ['lfsd', 'file', 'null', 'file-null', 'stored', 'file-again'])
          await rm(remote(kind, run), { recursive: true, force: true });
      }
    }
  } finally {
    await nullServer.stop();
    await sandbox.cleanup();
  }
}
