// Temp files of uploads that died (issue 11 item 15): lfsd killed with SIGKILL mid-upload leaves its
// temp file; the next start removes it (its writer is dead), while temp files of live writers and
// of other machines stay until they are older than the grace.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DiskStore } from '../../src/storage/disk-store.js';
import { randomObject } from '../helpers/content.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { waitFor } from '../helpers/wait.js';

const tmpFiles = (dataDir: string) => readdir(join(dataDir, 'tmp')).catch(() => [] as string[]);

describe('temp files of uploads that died', { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  const servers: LfsdServer[] = [];
  after(async () => {
    for (const server of servers)
      if (server.process.exitCode === null && server.process.signalCode === null) await server.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('a server SIGKILLed mid-upload leaves a temp file that the next start removes', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'lfsd-sweep-'));
    dirs.push(dataDir);
    await lfsdAdmin(['user', 'add', 'alice', '--password-stdin', '--data-dir', dataDir], {
      input: 'correct horse battery\n',
    });
    const first = await startLfsd(['--data-dir', dataDir]);
    servers.push(first);
    const obj = randomObject(4 * 1024 * 1024);
    const res = await fetch(`${first.url}/alice/assets.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: {
        accept: 'application/vnd.git-lfs+json',
        'content-type': 'application/vnd.git-lfs+json',
        authorization: `Basic ${Buffer.from('alice:correct horse battery').toString('base64')}`,
      },
      body: JSON.stringify({ operation: 'upload', objects: [{ oid: obj.oid, size: obj.size }] }),
    });
    const batch = (await res.json()) as {
      objects: { actions: { upload: { href: string; header: Record<string, string> } } }[];
    };
    const upload = batch.objects[0]!.actions.upload;
    const href = new URL(upload.href);
    const socket = connect({ host: href.hostname, port: Number(href.port) });
    socket.on('error', () => undefined);
    const head = [
      `PUT ${href.pathname} HTTP/1.1`,
      `Host: ${href.host}`,
      `Content-Length: ${obj.size}`,
      ...Object.entries(upload.header).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(head.join('\r\n') + '\r\n\r\n');
    socket.write(obj.content.subarray(0, 1024 * 1024)); // a quarter, then nothing more
    await waitFor('the upload has a temp file', async () => (await tmpFiles(dataDir)).length === 1);
    const [left] = await tmpFiles(dataDir);
    assert.match(left!, new RegExp(`^${obj.oid}\\.[^.]+-${first.process.pid}\\.[0-9a-f-]{36}\\.tmp$`));
    await first.stop('SIGKILL');
    socket.destroy();
    assert.deepEqual(await tmpFiles(dataDir), [left], 'SIGKILL left the temp file behind');

    const second = await startLfsd(['--data-dir', dataDir]);
    servers.push(second);
    servers.splice(servers.indexOf(first), 1);
    // the sweep runs before lfsd listens: nothing left once it is up
    assert.deepEqual(await tmpFiles(dataDir), []);
    assert.ok(
      second.logs.some((l) => l.msg === 'removed temp files of uploads that died' && l.removed === 1),
    );
  });

  it('cleanTemp keeps live writers and other machines until the grace, removes dead writers at once', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lfsd-sweep-'));
    dirs.push(root);
    await mkdir(join(root, 'tmp'));
    const machine = hostname().replace(/[^A-Za-z0-9-]/g, '_');
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    const oid = 'a'.repeat(64);
    const uuid = '123e4567-e89b-12d3-a456-426614174000';
    const names = {
      dead: `${oid}.${machine}-${deadPid}.${uuid}.tmp`,
      live: `${oid}.${machine}-${process.ppid}.${uuid}.tmp`,
      elsewhere: `${oid}.other-host-${deadPid}.${uuid}.tmp`,
      oldLive: `${'b'.repeat(64)}.${machine}-${process.ppid}.${uuid}.tmp`,
      oldUnknown: 'stray.tmp',
    };
    for (const name of Object.values(names)) await writeFile(join(root, 'tmp', name), 'x');
    const old = new Date(Date.now() - 3600_000);
    for (const name of [names.oldLive, names.oldUnknown]) await utimes(join(root, 'tmp', name), old, old);
    const store = new DiskStore({ root });
    assert.ok(store.capabilities.has('temp-cleanup'));
    assert.equal(await store.cleanTemp(600_000), 3);
    assert.deepEqual((await tmpFiles(root)).sort(), [names.elsewhere, names.live].sort());
  });
});
