// The real git-lfs client under tight limits (issue 15, "what must be shown"): 8 git-lfs clients
// at once each push, then each clone, a repository of small LFS objects (300 in all) through one
// `lfsd serve` with `maxTransfers: 2` and a low `rateLimit`. Every clone's files are compared by
// SHA-256 with what was pushed, and the server's log and metrics show the 429s the clients
// waited out (Retry-After) and retried.
//
// One repository (and bare git remote) per client: 8 pushes to one remote would race on its
// branch, and 8 clients uploading the same objects would mostly find them present already; with a
// repository each, every client has its own objects to upload and download, so all 8 contend for
// the same 2 transfer slots and the same user's request budget the whole time. One sandbox (one
// HOME, one credential helper) serves all 8: the clients are still separate git-lfs processes.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createGitSandbox, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { metric, parseMetrics } from '../ops/ops-helpers.js';
import { cloneAndCompare, createWorkTree, type WorkTree } from '../scaleout/helpers/git-scenario.js';

const CLIENTS = 8;
const OBJECTS = 300;
const PASSWORD = 'correct horse battery';
/** batch (and lock) requests per user per window: far fewer than 8 clients' pushes and clones ask for */
const RATE_LIMIT = 4;
const RATE_LIMIT_WINDOW_S = 2;

describe('8 git-lfs clients under maxTransfers 2 and a low rateLimit', { timeout: 240_000 }, () => {
  let dataDir: string;
  let server: LfsdServer;
  let sandbox: GitSandbox;
  const trees: WorkTree[] = [];
  const lfsUrl = (i: number) => `${server.url}/alice/client${i}.git/info/lfs`;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lfsd-git-limits-'));
    await lfsdAdmin(['user', 'add', 'alice', '--password-stdin', '--data-dir', dataDir], {
      input: `${PASSWORD}\n`,
    });
    server = await startLfsd(
      [
        ...['--data-dir', dataDir, '--max-transfers', '2'],
        ...['--rate-limit', String(RATE_LIMIT), '--rate-limit-window', String(RATE_LIMIT_WINDOW_S)],
        // shedding would answer 429 too, for a reason this test is not about (a busy test host)
        ...['--shed-at-event-loop-delay', '0'],
      ],
      { LFSD_SECRET: 's'.repeat(40) },
    );
    sandbox = await createGitSandbox({ username: 'alice', password: PASSWORD });
    for (let i = 0; i < CLIENTS; i++) {
      // 300 objects over the 8 repositories, a few hundred bytes each, all different
      const count = Math.floor(OBJECTS / CLIENTS) + (i < OBJECTS % CLIENTS ? 1 : 0);
      const files = Array.from({ length: count }, (_, n) => ({ path: `small/f${n}.bin`, size: 100 + n + i }));
      trees.push(await createWorkTree(sandbox, `client${i}`, files, lfsUrl(i)));
    }
  });

  after(async () => {
    await server?.stop();
    await sandbox?.cleanup();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const requests = (method: string, route: string, status: number) =>
    server.logs.filter((l) => l.method === method && l.route === route && l.status === status).length;

  it('8 concurrent pushes complete: every object uploaded once, 429s retried', async (t) => {
    await Promise.all(trees.map((tree) => sandbox.git(tree.dir, ['push', '-q', 'origin', 'main'])));
    assert.equal(requests('PUT', 'object', 200), OBJECTS, 'every object uploaded');
    assert.ok(requests('POST', 'batch', 429) > 0, 'batch requests were refused with 429 and retried');
    t.diagnostic(`push: ${requests('POST', 'batch', 429)} batch requests answered 429 and retried`);
  });

  it('8 concurrent clones get every byte back (SHA-256), 429s retried', async (t) => {
    const refusedBefore = requests('POST', 'batch', 429);
    await Promise.all(trees.map((tree, i) => cloneAndCompare(sandbox, tree, `clone${i}`, lfsUrl(i))));
    assert.equal(requests('GET', 'object', 200), OBJECTS, 'every object downloaded');
    assert.ok(requests('POST', 'batch', 429) > refusedBefore, 'the clones were refused with 429 and retried');

    t.diagnostic(`push and clone: ${requests('POST', 'batch', 429)} batch requests answered 429 and retried`);
    const samples = parseMetrics(await (await fetch(`${server.url}/metrics`)).text());
    const limited = metric(samples, 'lfsd_limited_requests_total');
    assert.ok(metric(samples, 'lfsd_limited_requests_total', { reason: 'rate_limit' }) > 0);
    // every refusal is in the log with its Retry-After'd status, and counted
    assert.equal(limited, server.logs.filter((l) => l.status === 429).length);
    // no transfer ran outside the 2 slots: nothing failed, nothing is left in flight
    assert.equal(metric(samples, 'lfsd_transfers_total', { outcome: 'error' }), 0);
    assert.equal(metric(samples, 'lfsd_transfers_in_flight'), 0);
  });
});
