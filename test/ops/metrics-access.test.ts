// Who may read /metrics (issue 11 item 7): on the main listener a bearer token (metricsToken) or,
// without one, only loopback clients that did not come through a proxy; the separate
// metricsListen listener stays open.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load-settings.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const TOKEN = 'metrics-token-0123456789abcdef';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lfsd-metrics-access-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function start(name: string, flags: Record<string, unknown> = {}): Promise<RunningServer> {
  const settings = loadSettings({
    env: {},
    flags: { dataDir: join(dir, name), listen: '127.0.0.1:0', logLevel: 'silent', ...flags },
  });
  return startServer(settings, createLogger('silent', { pretty: false }));
}

async function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${url}/metrics`, { headers });
  await response.arrayBuffer();
  return response.status;
}

describe('/metrics on the main listener', () => {
  it('without metricsToken: loopback clients only, and not through a proxy', async () => {
    const server = await start('loopback');
    try {
      assert.equal(await status(server.url), 200, 'a scrape from this machine');
      for (const header of <Record<string, string>[]>[
        { 'x-forwarded-for': '203.0.113.9' },
        { forwarded: 'for=203.0.113.9' },
        { 'x-real-ip': '203.0.113.9' },
      ]) {
        assert.equal(await status(server.url, header), 404, JSON.stringify(header));
      }
    } finally {
      await server.close();
    }
  });

  it('without metricsToken: a client on another machine gets 404', async () => {
    const t: TestApp = await createTestApp();
    const app = buildApp(t.deps, { metricsAccess: {} });
    try {
      const remote = await app.inject({ url: '/metrics', remoteAddress: '192.0.2.7' });
      assert.equal(remote.statusCode, 404);
      assert.doesNotMatch(remote.body, /lfsd_/);
      const mapped = await app.inject({ url: '/metrics', remoteAddress: '::ffff:192.0.2.7' });
      assert.equal(mapped.statusCode, 404);
      for (const loopback of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
        assert.equal(
          (await app.inject({ url: '/metrics', remoteAddress: loopback })).statusCode,
          200,
          loopback,
        );
      }
    } finally {
      await app.close();
      await t.close();
    }
  });

  it('with metricsToken: the bearer token is needed, from anywhere', async () => {
    const server = await start('token', { metricsToken: TOKEN });
    try {
      assert.equal(await status(server.url), 401, 'loopback is not enough once a token is set');
      assert.equal(await status(server.url, { authorization: `Bearer ${TOKEN}x` }), 401);
      assert.equal(await status(server.url, { authorization: `Basic ${TOKEN}` }), 401);
      assert.equal(await status(server.url, { authorization: `Bearer ${TOKEN}` }), 200);
      assert.equal(
        await status(server.url, { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': '203.0.113.9' }),
        200,
      );
      const denied = await fetch(`${server.url}/metrics`);
      assert.match(denied.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.doesNotMatch(await denied.text(), /lfsd_/);
    } finally {
      await server.close();
    }
  });

  it('metricsListen stays open (a private port), and the main listener then has no /metrics', async () => {
    const server = await start('ops', { metricsListen: '127.0.0.1:0', metricsToken: TOKEN });
    try {
      assert.equal(await status(server.metricsUrl!, { 'x-forwarded-for': '203.0.113.9' }), 200);
      assert.equal(await status(server.url, { authorization: `Bearer ${TOKEN}` }), 404);
    } finally {
      await server.close();
    }
  });

  it('metricsToken is a secret setting: masked, with a file variant, at least 16 characters', () => {
    assert.throws(
      () => loadSettings({ env: { LFSD_METRICS_TOKEN: 'short' } }),
      /metricsToken: expected a token of at least 16 characters.*got \*\*\*/,
    );
  });
});
