// The metadata database going away under a running lfsd (issue 11 item 10), on PostgreSQL: lfsd
// reaches its own database through a TCP proxy in the test, which is cut (connections dropped,
// new ones refused) without touching the shared server. Requests answer 503 + Retry-After in LFS
// JSON, /readyz answers 503, the process survives the pool's errors, and all recovers once the
// database is reachable again.
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { randomObject } from '../helpers/content.js';
import { addUser, createTestApp, type TestApp } from '../helpers/test-app.js';
import { createTestDatabase, type TestDatabase } from './test-databases.js';

/** A TCP proxy to `target` that can be cut (every connection dropped, new ones refused) and restored. */
class CuttableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => this.sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server?.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

describe('PostgreSQL unreachable under a running lfsd', { timeout: 120_000 }, () => {
  let database: TestDatabase;
  let proxy: CuttableProxy;
  let t: TestApp;
  let alice: Awaited<ReturnType<typeof addUser>>;

  before(async () => {
    database = await createTestDatabase('postgres');
    const url = new URL(database.url);
    proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port || 5432) });
    await proxy.open();
    url.host = `127.0.0.1:${proxy.port}`;
    t = await createTestApp({ databaseUrl: url.toString() });
    alice = await addUser(t.deps, 'alice');
  });
  after(async () => {
    await t?.close();
    await proxy?.cut();
    await database?.drop();
  });

  const batch = () =>
    t.app.inject({
      method: 'POST',
      url: '/alice/assets.git/info/lfs/objects/batch',
      headers: {
        accept: 'application/vnd.git-lfs+json',
        'content-type': 'application/vnd.git-lfs+json',
        authorization: alice.authorization,
      },
      payload: JSON.stringify({
        operation: 'upload',
        objects: [randomObject(10)].map(({ oid, size }) => ({ oid, size })),
      }),
    });

  it('answers 503 + Retry-After while the database is gone, and recovers', async () => {
    assert.equal((await batch()).statusCode, 200, 'works while the database is reachable');
    await proxy.cut();
    for (let i = 0; i < 3; i++) {
      const res = await batch();
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.headers['retry-after'], '5');
      assert.match(String(res.headers['content-type']), /^application\/vnd\.git-lfs\+json/);
      assert.match((JSON.parse(res.body) as { message: string }).message, /unavailable/);
    }
    const ready = await t.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.equal((JSON.parse(ready.body) as { checks: { metadata: string } }).checks.metadata, 'failed');

    await proxy.open(); // the same port again
    assert.equal((await batch()).statusCode, 200, 'recovers once the database is back');
    assert.equal((await t.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  });
});
