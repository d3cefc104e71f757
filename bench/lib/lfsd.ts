/**
 * Data directories and lfsd servers for the benchmark. The user is created directly through the
 * metadata store (what `lfsd user add` does, without a process start per data dir), and objects
 * for the batch figure are seeded the same way, bypassing HTTP.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { hashAccessToken } from '../../src/auth/access-token.js';
import { hashPassword } from '../../src/auth/password-hash.js';
import { openMetadataStore } from '../../src/metadata/open-metadata-store.js';
import { ownChild, stopChild } from './processes.js';

export const USER = 'alice';
/**
 * The secret the benchmark's clients send (Basic `alice:<secret>`): a personal access token, the
 * fast path. A password costs an argon2id hash on every request (no success cache), which would
 * measure the hash instead of what a figure is about; figure 8 measures sign-ins on their own.
 */
export const PASSWORD = 'lfsd_' + 'bench'.repeat(8) + 'tok';

export function databaseUrl(dataDir: string): string {
  return `sqlite:${join(dataDir, 'lfsd.sqlite')}`;
}

/** Create `dataDir` with its database and the benchmark user (who owns `alice/*`). */
export async function prepareDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const metadata = await openMetadataStore(databaseUrl(dataDir));
  try {
    const user = await metadata.createUser({
      name: USER,
      isAdmin: false,
      passwordHash: await hashPassword('bench correct horse battery'),
    });
    await metadata.createToken({
      userId: user.id,
      name: 'bench',
      secretHash: hashAccessToken(PASSWORD),
      expiresAt: null,
    });
  } finally {
    await metadata.close();
  }
}

export function objectPath(dataDir: string, oid: string): string {
  return join(dataDir, 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
}

/** Remove an object's bytes (not its link), so that the next upload batch asks for them again. */
export async function removeStoredObject(dataDir: string, oid: string): Promise<void> {
  await rm(objectPath(dataDir, oid), { force: true });
}

/** `count` random objects of `size` bytes written into the store and linked to `repoPath`. */
export async function seedSmallObjects(
  dataDir: string,
  repoPath: string,
  count: number,
  size: number,
): Promise<{ oid: string; size: number }[]> {
  const metadata = await openMetadataStore(databaseUrl(dataDir));
  const objects: { oid: string; size: number }[] = [];
  try {
    const repo = await metadata.ensureRepo(repoPath);
    for (let i = 0; i < count; i++) {
      const content = randomBytes(size);
      const oid = createHash('sha256').update(content).digest('hex');
      const path = objectPath(dataDir, oid);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
      await metadata.linkObject(repo.id, oid, size);
      objects.push({ oid, size });
    }
  } finally {
    await metadata.close();
  }
  return objects;
}

export interface ServeProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const fromSource = import.meta.url.endsWith('.ts');
const CLI = fileURLToPath(
  new URL(fromSource ? '../../src/cli/main.ts' : '../../bundle/main.js', import.meta.url),
);
const BENCH_SERVER = fileURLToPath(
  new URL(fromSource ? '../bench-server.ts' : '../bench-server.js', import.meta.url),
);

/**
 * Spawns node with `args` (after `nodeArgs`, e.g. `--cpu-prof`, which NODE_OPTIONS refuses) and
 * resolves with the URL from the first JSON line of stdout or stderr that `urlOf` recognises.
 * Later output is drained and dropped, so logging costs the server what it costs in production
 * and the benchmark process nothing but the pipe reads.
 */
async function spawnServer(
  args: string[],
  options: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv },
  urlOf: (entry: Record<string, unknown>) => string | undefined,
): Promise<ServeProcess> {
  const child = ownChild(
    spawn(
      process.execPath,
      [...(options.nodeArgs ?? []), ...(fromSource ? ['--import', 'tsx'] : []), ...args],
      {
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start in 20 s: ${output}`)), 20_000);
    const onLine = (line: string) => {
      if (output.length < 10_000) output += line + '\n';
      if (!line.startsWith('{')) return;
      try {
        const found = urlOf(JSON.parse(line) as Record<string, unknown>);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        }
      } catch {
        // not JSON
      }
    };
    for (const input of [child.stdout!, child.stderr!]) createInterface({ input }).on('line', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code}: ${output}`));
    });
  }).finally(() => {
    for (const input of [child.stdout!, child.stderr!]) {
      input.removeAllListeners('data');
      input.resume();
    }
  });
  return { url, pid: child.pid!, stop: () => stopChild(child) };
}

/**
 * `lfsd serve` on 127.0.0.1:0 over `dataDir`, logging at info as deployed (one line per request);
 * `url` is where it listens.
 */
export function startServe(
  dataDir: string,
  options: { nodeArgs?: string[]; extraArgs?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<ServeProcess> {
  return spawnServer(
    [
      CLI,
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      '--log-level',
      'info',
      // the figures measure throughput, not the request rate limit (figure 13 measures limits)
      '--rate-limit',
      '0',
      ...(options.extraArgs ?? []),
    ],
    options,
    // where it listens (the same as its public URL unless a proxy in front has that)
    (entry) => (entry.msg === 'lfsd listening' ? `http://${entry.listen as string}` : undefined),
  );
}

/** bench/bench-server.ts: the production app plus the trivial JSON route, in `workers` processes. */
export function startBenchServer(
  dataDir: string,
  workers: number,
  nodeArgs?: string[],
): Promise<ServeProcess> {
  let listening = 0;
  return spawnServer(
    [BENCH_SERVER, dataDir, String(workers)],
    { nodeArgs },
    // every worker prints the line: wait for all, or the first takes every keep-alive connection
    (entry) => (entry.benchServer && ++listening === workers ? (entry.benchServer as string) : undefined),
  );
}
