// The request rate limit on the admin API (issue 15, item 1): `rateLimit`, the same limit the
// batch and lock endpoints count against, per user whether the caller authenticates with a header
// or the console's session, per address for anonymous callers; past it a 429 in the API's JSON
// with Retry-After.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LFS_JSON } from '../helpers/content.js';
import { addUser, basicAuth, createTestApp, type TestApp } from '../helpers/test-app.js';
import { ConsoleClient } from '../web/web-helpers.js';
import { metric, parseMetrics } from '../ops/ops-helpers.js';

const LIMIT = 3;

describe('rateLimit on the admin API', { timeout: 60_000 }, () => {
  let t: TestApp;
  let alice: { authorization: string };
  before(async () => {
    t = await createTestApp({ rateLimit: LIMIT, rateLimitWindow: 60 });
    alice = await addUser(t.deps, 'alice');
    await addUser(t.deps, 'bob');
    await addUser(t.deps, 'carol');
  });
  after(() => t?.close());

  const me = (headers: Record<string, string>, remoteAddress = '127.0.0.1') =>
    t.app.inject({ method: 'GET', url: '/api/v1/me', headers, remoteAddress });

  it('a header-authenticated user: one window shared with the LFS API, then 429 + Retry-After', async () => {
    // a batch request counts against the same window as the API requests
    const batch = await t.app.inject({
      method: 'POST',
      url: '/alice/r.git/info/lfs/objects/batch',
      headers: { authorization: alice.authorization, accept: LFS_JSON, 'content-type': LFS_JSON },
      payload: JSON.stringify({ operation: 'download', objects: [{ oid: 'a'.repeat(64), size: 1 }] }),
    });
    assert.notEqual(batch.statusCode, 429);
    for (let i = 1; i < LIMIT; i++)
      assert.equal((await me({ authorization: alice.authorization })).statusCode, 200);
    const refused = await me({ authorization: alice.authorization });
    assert.equal(refused.statusCode, 429, refused.body);
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(
      Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60,
      `Retry-After ${retryAfter}`,
    );
    assert.match(String(refused.headers['content-type']), /application\/json/);
    const body = refused.json<{ code: string; message: string }>();
    assert.equal(body.code, 'rate_limited');
    assert.match(body.message, /Too many requests/);
    // another user has a window of its own
    const bob = await me({ authorization: basicAuth('bob', 'bob-password') });
    assert.equal(bob.statusCode, 200);
  });

  it('a user signed in to the console: counted per user too', async () => {
    const browser = new ConsoleClient(t.app);
    await browser.signIn('carol', 'carol-password');
    const statuses = [];
    for (let i = 0; i <= LIMIT; i++) statuses.push((await me({ cookie: browser.cookieHeader })).statusCode);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
  });

  it('anonymous callers: per address', async () => {
    const statuses = [];
    for (let i = 0; i <= LIMIT; i++) statuses.push((await me({}, '10.0.0.7')).statusCode);
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    // another address is not held back by that one
    assert.equal((await me({}, '10.0.0.8')).statusCode, 401);
    const samples = parseMetrics((await t.deps.metrics.render()).body);
    assert.equal(metric(samples, 'lfsd_limited_requests_total', { reason: 'rate_limit' }), 3);
  });
});
