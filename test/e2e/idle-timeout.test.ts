// A client that stalls mid-upload is cut off after `idleTimeout` seconds of silence: its socket
// closes, its temp file goes, and nothing becomes visible (issue 3 follow-up: stalled uploads).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LFS_JSON, randomObject } from '../helpers/content.js';
import { basicAuth } from '../helpers/test-app.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { waitFor } from '../helpers/wait.js';

describe('idle timeout', { timeout: 60_000 }, () => {
  let dataDir: string;
  let server: LfsdServer;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lfsd-idle-'));
    await lfsdAdmin(['user', 'add', 'alice', '--password-stdin', '--data-dir', dataDir], {
      input: 'alice-password\n',
    });
    server = await startLfsd(['--data-dir', dataDir, '--idle-timeout', '1']);
  });
  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const batch = async (operation: string, obj: { oid: string; size: number }) => {
    const res = await fetch(`${server.url}/alice/assets.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: {
        'content-type': LFS_JSON,
        accept: LFS_JSON,
        authorization: basicAuth('alice', 'alice-password'),
      },
      body: JSON.stringify({ operation, objects: [{ oid: obj.oid, size: obj.size }] }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      objects: {
        actions?: { upload: { href: string; header: Record<string, string> } };
        error?: { code: number };
      }[];
    };
    return body.objects[0]!;
  };

  it('closes a stalled upload and leaves nothing behind', async () => {
    const obj = randomObject(1024 * 1024);
    const action = (await batch('upload', obj)).actions!.upload;
    const url = new URL(action.href);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    socket.on('error', () => undefined);
    socket.write(
      `PUT ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${action.header.Authorization}\r\n` +
        `Content-Length: ${obj.size}\r\n\r\n`,
    );
    const closed = once(socket, 'close'); // the server closes it; the test's own timeout bounds the wait
    const started = Date.now();
    socket.write(obj.content.subarray(0, obj.size / 2));
    // the upload really began: its temp file exists while the client stalls
    await waitFor(
      'the upload temp file',
      async () => (await readdir(join(dataDir, 'tmp')).catch(() => [])).length > 0,
      5000,
    );
    await closed;
    const waited = Date.now() - started;
    assert.ok(waited >= 900, `closed after ${waited} ms, before the idle timeout`);
    await waitFor(
      'temp files removed',
      async () => (await readdir(join(dataDir, 'tmp')).catch(() => [])).length === 0,
      5000,
    );
    assert.deepEqual(await readdir(join(dataDir, 'tmp')).catch(() => []), []);
    assert.equal((await batch('download', obj)).error?.code, 404);
  });
});
