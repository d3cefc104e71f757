// Lock exclusivity across replicas (issue 4): two `lfsd serve` processes share one data dir (the
// SQLite default), and 40 simultaneous create requests for one path from two users spread over
// both of them give exactly one 201 and 39 409s, every 409 naming the one winning lock.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LFS_JSON } from '../helpers/content.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';

const REQUESTS = 40;

interface LockJson {
  id: string;
  path: string;
  locked_at: string;
  owner: { name: string };
}

describe('lock race across two server processes', { timeout: 180_000 }, () => {
  let dataDir: string;
  const servers: LfsdServer[] = [];
  const auth: Record<'alice' | 'bob', string> = { alice: '', bob: '' };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lfsd-lock-race-'));
    const admin = (args: string[]) => lfsdAdmin([...args, '--data-dir', dataDir]);
    for (const name of ['alice', 'bob'] as const) {
      await admin(['user', 'add', name]);
      const token = (await admin(['token', 'create', name])).trim();
      auth[name] = `Basic ${Buffer.from(`${name}:${token}`).toString('base64')}`;
    }
    await admin(['repo', 'create', 'alice/assets']);
    await admin(['grant', 'bob', 'alice/assets', 'write']);
    // one after the other: the first creates the data dir's database and secret, the second shares them
    servers.push(await startLfsd(['--data-dir', dataDir, '--log-level', 'info']));
    servers.push(await startLfsd(['--data-dir', dataDir, '--log-level', 'info']));
  });

  after(async () => {
    for (const server of servers) assert.equal(await server.stop(), 0, 'lfsd exits 0 on SIGTERM');
    await rm(dataDir, { recursive: true, force: true });
  });

  const call = async (
    server: LfsdServer,
    user: 'alice' | 'bob',
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ) => {
    const res = await fetch(`${server.url}/alice/assets.git/info/lfs/${path}`, {
      method,
      headers: {
        accept: LFS_JSON,
        authorization: auth[user],
        ...(body === undefined ? {} : { 'content-type': `${LFS_JSON}; charset=utf-8` }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  for (const round of [1, 2, 3]) {
    it(`round ${round}: ${REQUESTS} simultaneous creates give exactly one 201 and ${REQUESTS - 1} 409s`, async () => {
      const path = `art/race-${round}.psd`;
      // warm both servers up (connections, database handles) so the creates really overlap
      await Promise.all(servers.map((s) => call(s, 'alice', 'GET', 'locks?limit=1')));

      const replies = await Promise.all(
        Array.from({ length: REQUESTS }, (_, i) =>
          call(servers[i % 2]!, i % 4 < 2 ? 'alice' : 'bob', 'POST', 'locks', {
            path,
            ref: { name: 'refs/heads/main' },
          }),
        ),
      );
      const statuses = replies.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses.join(',')}`);
      assert.equal(statuses.filter((s) => s === 409).length, REQUESTS - 1, `statuses: ${statuses.join(',')}`);

      const winner = replies.find((r) => r.status === 201)!.body.lock as LockJson;
      assert.equal(winner.path, path);
      for (const reply of replies.filter((r) => r.status === 409)) {
        assert.deepEqual(reply.body.lock, winner);
        assert.match(reply.body.message as string, /already created lock/);
      }
      // both replicas see the one lock
      for (const server of servers) {
        const listed = await call(server, 'bob', 'GET', `locks?path=${encodeURIComponent(path)}`);
        assert.equal(listed.status, 200);
        assert.deepEqual(listed.body, { locks: [winner] });
      }
    });
  }

  it('both processes answered create requests', () => {
    for (const server of servers) {
      const creates = server.logs.filter((l) => l.method === 'POST' && l.route === 'locks');
      assert.ok(creates.length > 0);
      assert.ok(creates.every((l) => l.status === 201 || l.status === 409));
    }
  });
});
