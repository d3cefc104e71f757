/**
 * Server CPU per small transfer of two builds of lfsd, measured side by side: one `lfsd serve` per
 * checkout, and rounds of `--objects` new objects of `--size` bytes uploaded (or, with `--get`,
 * downloaded), `--concurrency` at a time, alternating between the two servers (ABBA order), so
 * that a machine whose speed drifts during the run slows both alike. Prints each side's median
 * CPU time (user + system, from /proc) and wall time per transfer, and every round's CPU.
 * With `--stored`, every upload round sends the same objects again, each round to a new
 * repository (as a fork or a push to a new repository does): the server already stores them.
 *
 * With `--cpu-prof DIR`, both servers run under `node --cpu-prof` and write their profiles to DIR
 * (bench/profile-summary.ts reads them): a profile of one kind of transfer alone.
 *
 * Usage: node dist/bench/compare-builds.js OLD_CHECKOUT NEW_CHECKOUT [--get | --stored]
 *          [--rounds 10] [--objects 500] [--size 10240] [--concurrency 8] [--cpu-prof DIR]
 * Each checkout must be built (`npm run build`); its own dist/ runs its own server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { cpuMs } from '../test/helpers/rss.js';
import type * as HttpLib from './lib/http.js';
import type * as LfsClientLib from './lib/lfs-client.js';
import type * as LfsdLib from './lib/lfsd.js';

interface Side {
  checkout: string;
  dataDir: string;
  stop(): Promise<void>;
  pid: number;
  /** one round: resolves with the server's CPU ms and the wall ms per transfer */
  round(): Promise<{ cpu: number; wall: number }>;
  cpu: number[];
  wall: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    get: { type: 'boolean', default: false },
    stored: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '10' },
    objects: { type: 'string', default: '500' },
    size: { type: 'string', default: '10240' },
    concurrency: { type: 'string', default: '8' },
    'cpu-prof': { type: 'string' },
  },
});
if (positionals.length !== 2) throw new Error('usage: compare-builds OLD_CHECKOUT NEW_CHECKOUT [--get]');
const count = Number(values.objects);
const size = Number(values.size);
const concurrency = Number(values.concurrency);

/** runs `work` for every item, `concurrency` at a time */
async function each<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

function randomObjects(): { oid: string; size: number; content: Buffer }[] {
  return Array.from({ length: count }, () => {
    const content = randomBytes(size);
    return { oid: createHash('sha256').update(content).digest('hex'), size, content };
  });
}

/** the server of one checkout, driven by that checkout's own bench client code */
async function startSide(checkout: string): Promise<Side> {
  const lib = (name: string) => import(join(checkout, 'dist/bench/lib', name));
  const { prepareDataDir, seedSmallObjects, startServe, USER, PASSWORD } = (await lib(
    'lfsd.js',
  )) as typeof LfsdLib;
  const { LfsClient } = (await lib('lfs-client.js')) as typeof LfsClientLib;
  const { putStream, rawGet } = (await lib('http.js')) as typeof HttpLib;
  const dataDir = await mkdtemp(join(tmpdir(), 'lfsd-compare-'));
  await prepareDataDir(dataDir);
  const seeded = values.get ? await seedSmallObjects(dataDir, 'alice/r', count, size) : [];
  const profileDir = values['cpu-prof'] && resolve(values['cpu-prof']);
  const server = await startServe(dataDir, {
    nodeArgs: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
  const clientOf = (repo: string) =>
    new LfsClient(`${server.url}/alice/${repo}.git/info/lfs`, USER, PASSWORD);
  let client = clientOf('r');
  const storedObjects = values.stored ? randomObjects() : [];
  let rounds = 0;

  const planAll = async (operation: 'upload' | 'download', objects: { oid: string; size: number }[]) => {
    const planned = [];
    for (let i = 0; i < objects.length; i += 100)
      planned.push(...(await client.batch(operation, objects.slice(i, i + 100))));
    return planned;
  };
  const timed = async (transfer: () => Promise<void>) => {
    const cpu0 = cpuMs(server.pid);
    const start = performance.now();
    await transfer();
    return { cpu: (cpuMs(server.pid) - cpu0) / count, wall: (performance.now() - start) / count };
  };
  const uploadRound = async () => {
    if (values.stored) client = clientOf(`r${rounds++}`);
    const objects = values.stored ? storedObjects : randomObjects();
    const contents = new Map(objects.map((o) => [o.oid, o.content]));
    const planned = await planAll('upload', objects);
    return timed(() =>
      each(planned, async (object) => {
        const upload = object.actions?.upload;
        if (!upload) throw new Error(`no upload action for ${object.oid}`);
        const put = await putStream(
          upload.href,
          Readable.from([contents.get(object.oid)!]),
          size,
          upload.header,
        );
        if (put.status !== 200) throw new Error(`PUT ${put.status} ${put.text}`);
      }),
    );
  };
  const downloadRound = async () => {
    const planned = await planAll('download', seeded);
    return timed(() =>
      each(planned, async (object) => {
        const download = object.actions?.download;
        if (!download) throw new Error(`no download action for ${object.oid}`);
        const got = await rawGet(download.href, { headers: download.header });
        if (got.status !== 200 || got.bytes !== size)
          throw new Error(`GET ${got.status}, ${got.bytes} bytes`);
      }),
    );
  };
  return {
    checkout,
    dataDir,
    pid: server.pid,
    stop: () => server.stop(),
    round: values.get ? downloadRound : uploadRound,
    cpu: [],
    wall: [],
  };
}

const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? NaN;

async function main() {
  const sides: Side[] = [];
  try {
    for (const checkout of positionals) sides.push(await startSide(resolve(checkout)));
    for (const side of sides) await side.round(); // warm-up, not counted
    for (let i = 0; i < Number(values.rounds); i++) {
      for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
        const { cpu, wall } = await side.round();
        side.cpu.push(cpu);
        side.wall.push(wall);
      }
    }
    const what = values.get ? 'GET' : 'PUT';
    for (const side of sides) {
      console.log(
        `${side.checkout}: server CPU per ${what} ${median(side.cpu).toFixed(3)} ms, wall ${median(side.wall).toFixed(3)} ms` +
          ` (rounds: ${side.cpu.map((c) => c.toFixed(2)).join(' ')})`,
      );
    }
  } finally {
    for (const side of sides) {
      await side.stop();
      await rm(side.dataDir, { recursive: true, force: true });
    }
  }
}

await main();
