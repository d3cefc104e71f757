/**
 * The built-in SSH server (`lfsd serve --ssh-listen`): identity from the public key alone, exec
 * channels running git-lfs-authenticate and git-lfs-transfer (several at once on one connection),
 * refusals (unknown key, password, shell, subsystem, port forwarding), a removed key refused at
 * the next request of an open session, and the generated host key (0600) reused after a restart.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ssh2 from 'ssh2';
import { randomObject } from '../helpers/content.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { PktClient } from '../helpers/pkt-client.js';
import { sshAddressOf, sshConnect, sshExec, sshOpen, sshRun } from '../helpers/ssh-client.js';
import { ed25519KeyPair } from '../helpers/ssh-keys.js';

void describe('built-in SSH server', { timeout: 120_000 }, () => {
  let dataDir: string;
  let server: LfsdServer;
  const alice = ed25519KeyPair();
  const aliceRsa = ssh2.utils.generateKeyPairSync('rsa', { bits: 2048 });
  const stranger = ed25519KeyPair();
  const admin = (args: string[], input?: string) => lfsdAdmin([...args, '--data-dir', dataDir], { input });
  const start = () => startLfsd(['--data-dir', dataDir, '--ssh-listen', '127.0.0.1:0']);

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lfsd-sshd-'));
    await admin(['user', 'add', 'alice']);
    await admin(['key', 'add', 'alice'], alice.public);
    await admin(['key', 'add', 'alice'], aliceRsa.public);
    server = await start();
  });
  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  void it('identifies by key whatever the user name; refuses unknown keys and passwords', async () => {
    for (const [key, user] of [
      [alice.private, 'git'],
      [aliceRsa.private, 'bob'],
    ] as const) {
      const client = await sshConnect(server, key, user);
      const { code, stdout } = await sshRun(client, 'git-lfs-authenticate alice/assets download');
      assert.equal(code, 0);
      assert.match(stdout, /"Authorization":"RemoteAuth download:alice\/assets:/);
      client.end();
    }
    await assert.rejects(sshConnect(server, stranger.private), /authentication methods failed/);
    const { host, port } = sshAddressOf(server);
    const client = new ssh2.Client();
    client.connect({ host, port, username: 'alice', password: 'x' });
    const [err] = (await once(client, 'error')) as [Error];
    assert.match(err.message, /authentication methods failed/);
  });

  void it('refuses a shell, other commands, a subsystem and port forwarding', async () => {
    const client = await sshConnect(server, alice.private);
    const shell = await sshOpen((cb) => client.shell(false, cb));
    assert.equal(await shell.exited, 1);
    assert.match(shell.stderrText(), /shells are not available/);
    const other = await sshRun(client, 'cat /etc/passwd');
    assert.equal(other.code, 1);
    assert.equal(other.stdout, '');
    assert.match(other.stderr, /unknown command "cat"/);
    const sftp = await sshOpen((cb) => client.subsys('sftp', cb));
    assert.equal(await sftp.exited, 1);
    await assert.rejects(
      new Promise((resolve, reject) =>
        client.forwardOut('127.0.0.1', 1, '127.0.0.1', 22, (err, ch) => (err ? reject(err) : resolve(ch))),
      ),
    );
    client.end();
  });

  void it('runs several transfer sessions at once on one connection; a removed key ends them', async () => {
    const client = await sshConnect(server, alice.private);
    const objects = [randomObject(300_000), randomObject(5)];
    const sessions = await Promise.all(
      objects.map(async () => {
        const channel = await sshExec(client, 'git-lfs-transfer alice/assets upload');
        const pkt = new PktClient(channel, channel);
        await pkt.handshake();
        return pkt;
      }),
    );
    // interleaved: both channels are open and in use together
    const answers = await Promise.all(
      sessions.map((pkt, i) => {
        const o = objects[i]!;
        return pkt.call([`put-object ${o.oid}`, `size=${o.size}`], o.content);
      }),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200],
    );
    const reader = await sshExec(client, 'git-lfs-transfer alice/assets download');
    const down = new PktClient(reader, reader);
    await down.handshake();
    const got = await down.call([`get-object ${objects[0]!.oid}`, `size=${objects[0]!.size}`]);
    assert.ok(got.data.equals(objects[0]!.content));

    const id = (await admin(['key', 'list', 'alice'])).split('\n')[0]!.split('\t')[0]!;
    await admin(['key', 'remove', 'alice', id]);
    const refused = await down.call([`get-object ${objects[0]!.oid}`, `size=${objects[0]!.size}`]);
    assert.equal(refused.status, 401);
    assert.match(refused.lines[0] ?? '', /removed/);
    assert.equal(await reader.exited, 0);
    const fresh = await sshRun(client, 'git-lfs-authenticate alice/assets download');
    assert.equal(fresh.code, 1, 'a new command on the open connection is refused too');
    client.end();
    await assert.rejects(sshConnect(server, alice.private), /authentication methods failed/);
    await admin(['key', 'add', 'alice'], alice.public);
  });

  void it('a connection cut mid put-object leaves no object and no temp file; a malformed stream exits 1', async () => {
    const object = randomObject(4_000_000);
    const client = await sshConnect(server, alice.private);
    const channel = await sshExec(client, 'git-lfs-transfer alice/assets upload');
    const pkt = new PktClient(channel, channel);
    await pkt.handshake();
    await pkt.writer.text(`put-object ${object.oid}`);
    await pkt.writer.text(`size=${object.size}`);
    await pkt.writer.delim();
    for (let at = 0; at < 2_000_000; at += 32768)
      await pkt.writer.data(object.content.subarray(at, at + 32768));
    // wait until the store has a temp file for it, then cut the whole connection
    const tempFiles = async () =>
      (await readdir(dataDir, { recursive: true })).filter((f) => String(f).includes(object.oid));
    for (let i = 0; i < 100 && (await tempFiles()).length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal((await tempFiles()).length, 1, 'the upload was under way');
    client.destroy();
    for (let i = 0; i < 100 && (await tempFiles()).length > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await tempFiles(), []);

    const again = await sshConnect(server, alice.private);
    const bad = await sshExec(again, 'git-lfs-transfer alice/assets upload');
    bad.end('000eversion 1\n0000zz');
    assert.equal(await bad.exited, 1);
    assert.match(bad.stderrText(), /malformed pkt-line|ended inside/);
    again.end();
  });

  void it('drains on SIGTERM: a put under way completes, new connections are refused, exit 0', async () => {
    const object = randomObject(1_000_000);
    const client = await sshConnect(server, alice.private);
    const channel = await sshExec(client, 'git-lfs-transfer alice/assets upload');
    const pkt = new PktClient(channel, channel);
    await pkt.handshake();
    await pkt.writer.text(`put-object ${object.oid}`);
    await pkt.writer.text(`size=${object.size}`);
    await pkt.writer.delim();
    await pkt.writer.data(object.content.subarray(0, 32768));
    const stopped = server.stop();
    for (let i = 0; i < 100 && !server.logs.some((l) => l.msg === 'shutting down'); i++)
      await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(sshConnect(server, alice.private));
    for (let at = 32768; at < object.size; at += 32768)
      await pkt.writer.data(object.content.subarray(at, at + 32768));
    await pkt.writer.flush();
    assert.equal((await pkt.answer()).status, 200, 'the put finished during the drain');
    assert.equal((await pkt.call(['quit'])).status, 200);
    assert.equal(await stopped, 0);
    server = await start();
    const reader = await sshExec(
      await sshConnect(server, alice.private),
      'git-lfs-transfer alice/assets download',
    );
    const down = new PktClient(reader, reader);
    await down.handshake();
    const got = await down.call([`get-object ${object.oid}`, `size=${object.size}`]);
    assert.ok(got.data.equals(object.content), 'the object drained in is stored');
    down.end();
  });

  void it('generates an ed25519 host key once (0600) and reuses it after a restart', async () => {
    const path = join(dataDir, 'ssh_host_ed25519_key');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const before = await readFile(path, 'utf8');
    const hostKeyOf = async () => {
      const { host, port } = sshAddressOf(server);
      const client = new ssh2.Client();
      let seen = '';
      client.connect({
        host,
        port,
        username: 'git',
        privateKey: alice.private,
        hostVerifier: (key: Buffer) => {
          seen = key.toString('base64');
          return true;
        },
      });
      await once(client, 'ready');
      client.end();
      return seen;
    };
    const first = await hostKeyOf();
    assert.equal(await server.stop(), 0);
    server = await start();
    assert.equal(await hostKeyOf(), first);
    assert.equal(await readFile(path, 'utf8'), before);
  });
});
