/**
 * `lfsd_ssh_*` on /metrics (issue 13) move with what SSH clients do against `lfsd serve
 * --ssh-listen`: the sessions gauge counts exec channels while they run, commands count by name
 * and outcome (git-lfs-transfer requests, git-lfs-authenticate, other programs), bytes count the
 * object bytes of put-object (in) and get-object (out), each by exactly what the test sent.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomObject } from '../helpers/content.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { PktClient } from '../helpers/pkt-client.js';
import { sshConnect, sshExec, sshRun } from '../helpers/ssh-client.js';
import { ed25519KeyPair } from '../helpers/ssh-keys.js';
import { delta, metric, scrape, type Sample } from '../ops/ops-helpers.js';

void describe('lfsd_ssh_* metrics', { timeout: 60_000 }, () => {
  let dataDir: string;
  let server: LfsdServer;
  const alice = ed25519KeyPair();
  const admin = (args: string[], input?: string) => lfsdAdmin([...args, '--data-dir', dataDir], { input });
  const sessions = async () => metric(await scrape(server.listenUrl), 'lfsd_ssh_sessions');

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lfsd-ssh-metrics-'));
    await admin(['user', 'add', 'alice']);
    await admin(['repo', 'create', 'alice/assets']);
    await admin(['key', 'add', 'alice'], alice.public);
    server = await startLfsd(['--data-dir', dataDir, '--ssh-listen', '127.0.0.1:0']);
  });
  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  void it('declares the three metrics before any SSH client came', async () => {
    const text = await (await fetch(`${server.listenUrl}/metrics`)).text();
    assert.match(text, /^# TYPE lfsd_ssh_sessions gauge$/m);
    assert.match(text, /^# TYPE lfsd_ssh_commands_total counter$/m);
    assert.match(text, /^# TYPE lfsd_ssh_bytes_total counter$/m);
    assert.equal(await sessions(), 0);
  });

  void it('sessions, commands by name and outcome, and bytes move by what the clients did', async () => {
    const before: Sample[] = await scrape(server.listenUrl);
    const uploaded = randomObject(700_001);
    const client = await sshConnect(server, alice.private);

    const upload = await sshExec(client, 'git-lfs-transfer alice/assets upload');
    const up = new PktClient(upload, upload);
    await up.handshake();
    const download = await sshExec(client, 'git-lfs-transfer alice/assets download');
    const down = new PktClient(download, download);
    await down.handshake();
    assert.equal(await sessions(), 2, 'two exec channels running git-lfs-transfer');

    const put = await up.call([`put-object ${uploaded.oid}`, `size=${uploaded.size}`], uploaded.content);
    assert.equal(put.status, 200);
    const got = await down.call([`get-object ${uploaded.oid}`, `size=${uploaded.size}`]);
    assert.ok(got.data.equals(uploaded.content));
    const missing = randomObject(10);
    assert.equal((await down.call([`get-object ${missing.oid}`, `size=${missing.size}`])).status, 404);
    assert.equal((await up.call(['frobnicate'])).status, 400);
    assert.equal((await up.call(['quit'])).status, 200);
    assert.equal(await upload.exited, 0);
    assert.equal(await sessions(), 1, 'the upload channel ended');
    down.end();
    assert.equal(await download.exited, 0);

    assert.equal((await sshRun(client, 'git-lfs-authenticate alice/assets download')).code, 0);
    assert.equal((await sshRun(client, 'git-lfs-authenticate alice/assets sideways')).code, 1);
    assert.equal((await sshRun(client, 'cat /etc/passwd')).code, 1);
    client.end();

    const after = await scrape(server.listenUrl);
    assert.equal(metric(after, 'lfsd_ssh_sessions'), 0, 'every session ended');
    const commands = (command: string, outcome: string) =>
      delta(before, after, 'lfsd_ssh_commands_total', { command, outcome });
    assert.deepEqual(
      {
        put: commands('put-object', 'ok'),
        get: commands('get-object', 'ok'),
        getMissing: commands('get-object', 'error'),
        unknown: commands('unknown', 'error'),
        quit: commands('quit', 'ok'),
        authenticate: commands('git-lfs-authenticate', 'ok'),
        authenticateRefused: commands('git-lfs-authenticate', 'error'),
        other: commands('other', 'error'),
      },
      {
        put: 1,
        get: 1,
        getMissing: 1,
        unknown: 1,
        quit: 1,
        authenticate: 1,
        authenticateRefused: 1,
        other: 1,
      },
    );
    assert.equal(delta(before, after, 'lfsd_ssh_commands_total'), 8, 'nothing else was counted');
    assert.equal(delta(before, after, 'lfsd_ssh_bytes_total', { direction: 'in' }), uploaded.size);
    assert.equal(delta(before, after, 'lfsd_ssh_bytes_total', { direction: 'out' }), uploaded.size);
  });
});
