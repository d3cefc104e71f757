// Request rate limits (issue 15, item 1): `rateLimit` per user (per address for anonymous
// callers) on the batch and lock endpoints, 429 + Retry-After + LFS JSON past it; with `redisUrl`
// two replicas (processes) enforce one limit together, and with that Redis stopped they keep
// serving on per-process limits, saying so in the log and lfsd_rate_limit_fallbacks_total.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LFS_JSON } from '../helpers/content.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { basicAuth } from '../helpers/test-app.js';
import { waitFor } from '../helpers/wait.js';
import { metric, parseMetrics } from '../ops/ops-helpers.js';
import { batch, startLimitsServer, type LimitsServer } from './limits-helpers.js';

const OBJECT = [{ oid: 'a'.repeat(64), size: 10 }];

describe('rateLimit in one process', { timeout: 60_000 }, () => {
  let t: LimitsServer;
  before(async () => {
    t = await startLimitsServer({ rateLimit: 3, rateLimitWindow: 60 });
  });
  after(() => t?.close());

  it('past the limit: 429 + Retry-After + LFS JSON, per user, on batch and locks', async () => {
    const alice = t.users.alice!.authorization;
    for (let i = 0; i < 3; i++)
      assert.equal((await batch(t.url, alice, 'alice/r', 'upload', OBJECT)).status, 200);
    const refused = await batch(t.url, alice, 'alice/r', 'upload', OBJECT);
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(
      Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60,
      `Retry-After ${retryAfter}`,
    );
    assert.match(refused.headers.get('content-type') ?? '', /application\/vnd\.git-lfs\+json/);
    assert.match(((await refused.json()) as { message: string }).message, /Too many requests/);
    const locks = await fetch(`${t.url}/alice/r.git/info/lfs/locks`, {
      headers: { accept: LFS_JSON, authorization: alice },
    });
    assert.equal(locks.status, 429);
    // another user has a window of its own
    assert.equal((await batch(t.url, t.users.bob!.authorization, 'bob/r', 'upload', OBJECT)).status, 200);
    // anonymous callers count per address: 3 answers (401: no credentials for a push), then 429
    const anonymous = [];
    for (let i = 0; i < 4; i++)
      anonymous.push((await batch(t.url, '', 'alice/r', 'download', OBJECT)).status);
    assert.deepEqual(anonymous.slice(3), [429]);
    assert.ok(anonymous.slice(0, 3).every((s) => s !== 429));
    const samples = parseMetrics((await t.server.deps.metrics.render()).body);
    assert.equal(metric(samples, 'lfsd_limited_requests_total', { reason: 'rate_limit' }), 3);
  });
});

describe('rateLimit shared through Redis by two replicas', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let dataDir: string;
  const replicas: LfsdServer[] = [];
  const AUTH = basicAuth('alice', 'alice-password');

  before(async () => {
    redis = await startRedis();
    dataDir = await mkdtemp(join(tmpdir(), 'lfsd-redis-limit-'));
    await lfsdAdmin(['user', 'add', 'alice', '--password-stdin', '--data-dir', dataDir], {
      input: 'alice-password\n',
    });
    for (let i = 0; i < 2; i++) {
      replicas.push(
        await startLfsd(['--data-dir', dataDir, '--rate-limit', '6', '--redis-url', redis.url], {
          LFSD_SECRET: 's'.repeat(40),
        }),
      );
    }
  });
  after(async () => {
    for (const replica of replicas) await replica.stop();
    await redis?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const statusOn = async (replica: LfsdServer) =>
    (await batch(replica.url, AUTH, 'alice/shared', 'upload', OBJECT)).status;

  it('enforce one limit together', async () => {
    const statuses = [];
    // 6 allowed in all, alternating replicas; the 7th and 8th refused on either
    for (let i = 0; i < 8; i++) statuses.push(await statusOn(replicas[i % 2]!));
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 429, 429]);
  });

  it('keep serving when Redis stops: per-process limits, logged once and counted', async () => {
    await redis.stop();
    for (const replica of replicas) {
      await waitFor('the replica noticed', () =>
        replica.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('Redis unreachable')),
      );
    }
    // each replica now limits on its own: 6 each, from a fresh in-process window
    for (const replica of replicas) {
      const statuses = [];
      for (let i = 0; i < 7; i++) statuses.push(await statusOn(replica));
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 429]);
    }
    for (const replica of replicas) {
      const warnings = replica.logs.filter(
        (l) => typeof l.msg === 'string' && l.msg.startsWith('rate limits: Redis'),
      );
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      const samples = parseMetrics(await (await fetch(`${replica.url}/metrics`)).text());
      assert.equal(metric(samples, 'lfsd_rate_limit_fallbacks_total'), 7);
      assert.equal(metric(samples, 'lfsd_rate_limit_store_up'), 0);
      assert.equal((await fetch(`${replica.url}/readyz`)).status, 200);
    }
  });
});
