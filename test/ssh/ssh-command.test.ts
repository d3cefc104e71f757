/**
 * `lfsd ssh-command` as sshd runs it (SSH_ORIGINAL_COMMAND, standard input/output): the
 * git-lfs-authenticate answer and its header on the HTTP API (that repository and operation only),
 * a git-lfs-transfer session (batch, put, verify, get, wrong hash, locks), refusals (shell, unknown
 * command, sshTransfer false, malformed pkt-line, a private repository without a grant).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LFS_JSON, objectOf, randomObject } from '../helpers/content.js';
import { lfsdAdmin, lfsdNodeArgs, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { PktClient } from '../helpers/pkt-client.js';

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

void describe('lfsd ssh-command', { timeout: 120_000 }, () => {
  let dataDir: string;
  let server: LfsdServer;
  const admin = (args: string[]) => lfsdAdmin([...args, '--data-dir', dataDir]);

  function spawnCommand(user: string, command: string | undefined, extra: string[] = []) {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.SSH_ORIGINAL_COMMAND;
    if (command !== undefined) env.SSH_ORIGINAL_COMMAND = command;
    return spawn(
      process.execPath,
      [
        ...lfsdNodeArgs(),
        'ssh-command',
        '--user',
        user,
        '--data-dir',
        dataDir,
        '--public-url',
        server.url,
        ...extra,
      ],
      { env, stdio: ['pipe', 'pipe', 'pipe'] },
    );
  }

  async function run(
    user: string,
    command: string | undefined,
    input: Buffer | string = '',
    extra: string[] = [],
  ): Promise<Run> {
    const child = spawnCommand(user, command, extra);
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.end(input);
    // 'close', not 'exit': the output may still be in the pipes when the child exits
    const [code] = (await once(child, 'close')) as [number | null];
    return { code, stdout: Buffer.concat(out), stderr };
  }

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lfsd-sshcmd-'));
    await admin(['user', 'add', 'alice']);
    await admin(['user', 'add', 'bob']);
    await admin(['repo', 'create', 'alice/assets']);
    await admin(['repo', 'create', 'alice/other']);
    await admin(['grant', 'bob', 'alice/assets', 'read']);
    server = await startLfsd(['--data-dir', dataDir]);
  });
  after(async () => {
    await server?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const batch = (href: string, authorization: string, operation: string, oid = 'a'.repeat(64)) =>
    fetch(`${href}/objects/batch`, {
      method: 'POST',
      headers: { Accept: LFS_JSON, 'Content-Type': LFS_JSON, Authorization: authorization },
      body: JSON.stringify({ operation, objects: [{ oid, size: 1 }] }),
    });

  void it('git-lfs-authenticate: href from publicUrl, a header good for that repository and operation only', async () => {
    const result = await run('bob', 'git-lfs-authenticate /alice/assets.git download');
    assert.equal(result.code, 0, result.stderr);
    const answer = JSON.parse(result.stdout.toString()) as {
      href: string;
      header: { Authorization: string };
      expires_in: number;
    };
    assert.equal(answer.href, `${server.url}/alice/assets.git/info/lfs`);
    assert.ok(answer.expires_in >= 3600);
    const auth = answer.header.Authorization;
    assert.equal((await batch(answer.href, auth, 'download')).status, 200);
    // bob has read only, and the header says download: upload is refused
    assert.equal((await batch(answer.href, auth, 'upload')).status, 403);
    // another repository: not found, as for any user without access
    assert.equal((await batch(`${server.url}/alice/other.git/info/lfs`, auth, 'download')).status, 404);
    // tampered: 401
    assert.equal(
      (await batch(answer.href, auth.replace('alice/assets', 'alice/other'), 'download')).status,
      401,
    );

    // alice's upload header works for upload (and creates nothing elsewhere)
    const up = await run('alice', "git-lfs-authenticate 'alice/assets' upload");
    const upAnswer = JSON.parse(up.stdout.toString()) as { header: { Authorization: string } };
    assert.equal((await batch(answer.href, upAnswer.header.Authorization, 'upload')).status, 200);
  });

  void it('refuses upload without write, a private repository without a grant, a shell, an unknown command', async () => {
    const readOnly = await run('bob', 'git-lfs-authenticate alice/assets upload');
    assert.equal(readOnly.code, 1);
    assert.match(readOnly.stderr, /push access/);
    const hidden = await run('bob', 'git-lfs-authenticate alice/other download');
    assert.equal(hidden.code, 1);
    assert.match(hidden.stderr, /not found/);
    const shell = await run('bob', undefined);
    assert.equal(shell.code, 1);
    assert.match(shell.stderr, /shells are not available/);
    const other = await run('bob', 'rm -rf /');
    assert.equal(other.code, 1);
    assert.match(other.stderr, /unknown command "rm"/);
    assert.equal(other.stdout.length, 0);
    const off = await run('alice', 'git-lfs-transfer alice/assets upload', '', ['--ssh-transfer', 'false']);
    assert.equal(off.code, 1);
    assert.match(off.stderr, /unknown command "git-lfs-transfer"/);
    assert.equal(off.stdout.length, 0, 'nothing on stdout: the client falls back');
    const unknownUser = await run('nobody', 'git-lfs-authenticate alice/assets download');
    assert.equal(unknownUser.code, 1);
  });

  void it('git-lfs-transfer: batch, put-object, verify-object, get-object, a wrong hash, locks', async () => {
    const object = randomObject(200_000);
    const child = spawnCommand('alice', 'git-lfs-transfer /alice/assets.git upload');
    const client = new PktClient(child.stdout, child.stdin);
    assert.deepEqual(await client.handshake(), ['version=1', 'locking']);
    const planned = await client.call(
      ['batch', 'transfer=ssh', 'hash-algo=sha256', 'refname=refs/heads/main'],
      [`${object.oid} ${object.size}`],
    );
    assert.equal(planned.status, 200);
    assert.deepEqual(planned.lines, [`${object.oid} ${object.size} upload`]);

    const wrong = objectOf('not what the oid says');
    const refused = await client.call([`put-object ${'b'.repeat(64)}`, `size=${wrong.size}`], wrong.content);
    assert.equal(refused.status, 400);
    assert.match(refused.lines[0] ?? '', /does not match/);

    const put = await client.call([`put-object ${object.oid}`, `size=${object.size}`], object.content);
    assert.equal(put.status, 200, put.lines.join());
    assert.equal((await client.call([`verify-object ${object.oid}`, `size=${object.size}`])).status, 200);
    assert.equal((await client.call([`verify-object ${object.oid}`, `size=${object.size + 1}`])).status, 409);
    assert.equal((await client.call([`verify-object ${'b'.repeat(64)}`, 'size=1'])).status, 404);
    const again = await client.call(['batch', 'transfer=ssh', 'refname='], [`${object.oid} ${object.size}`]);
    assert.deepEqual(again.lines, [`${object.oid} ${object.size} noop`]);

    const locked = await client.call(['lock', 'path=dir/a file.psd', 'refname=refs/heads/main']);
    assert.equal(locked.status, 201);
    const id = locked.args.find((a) => a.startsWith('id='))?.slice(3);
    assert.ok(locked.args.includes('path=dir/a file.psd'));
    assert.ok(locked.args.includes('ownername=alice'));
    assert.equal((await client.call(['lock', 'path=dir/a file.psd'])).status, 409);
    const verified = await client.call(['list-lock', 'refname=refs/heads/main']);
    assert.ok(verified.lines.includes(`path ${id} dir/a file.psd`));
    assert.ok(verified.lines.includes(`owner ${id} ours`));
    assert.equal((await client.call([`unlock ${id}`, 'refname=main'])).status, 200);
    assert.equal((await client.call([`unlock ${id}`])).status, 404);
    assert.equal((await client.call(['frobnicate'])).status, 400);
    assert.equal((await client.call(['quit'])).status, 200);
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0);

    // download: another session reads it back
    const reader = spawnCommand('bob', 'git-lfs-transfer alice/assets download');
    const down = new PktClient(reader.stdout, reader.stdin);
    await down.handshake();
    const plan = await down.call(['batch', 'transfer=ssh', 'refname='], [`${object.oid} ${object.size}`]);
    assert.deepEqual(plan.lines, [`${object.oid} ${object.size} download`]);
    const missing = await down.call(['batch', 'refname='], [`${'c'.repeat(64)} 5`]);
    assert.equal(missing.status, 404);
    const got = await down.call([`get-object ${object.oid}`, `size=${object.size}`]);
    assert.equal(got.status, 200);
    assert.deepEqual(got.args, [`size=${object.size}`]);
    assert.ok(got.data.equals(object.content));
    assert.equal((await down.call([`put-object ${object.oid}`, 'size=1'], Buffer.from('x'))).status, 403);
    assert.equal((await down.call(['lock', 'path=x'])).status, 403, 'read-only: no locks');
    down.end();
    const [downCode] = (await once(reader, 'exit')) as [number];
    assert.equal(downCode, 0);
  });

  void it('a disconnect mid put-object leaves no object and no temp file; malformed pkt-line exits non-zero', async () => {
    const object = randomObject(3_000_000);
    const child = spawnCommand('alice', 'git-lfs-transfer alice/assets upload');
    const client = new PktClient(child.stdout, child.stdin);
    await client.handshake();
    await client.writer.text(`put-object ${object.oid}`);
    await client.writer.text(`size=${object.size}`);
    await client.writer.delim();
    for (let at = 0; at < 1_000_000; at += 32768)
      await client.writer.data(object.content.subarray(at, at + 32768));
    child.stdin.end();
    const [code] = (await once(child, 'exit')) as [number];
    assert.notEqual(code, 0);
    // objects/ and tmp/ both live under the data dir
    const files = await readdir(dataDir, { recursive: true });
    assert.ok(
      files.some((f) => String(f).startsWith('objects')),
      'the listing sees the store',
    );
    assert.ok(!files.some((f) => String(f).includes(object.oid)), `left behind: ${files.join()}`);

    const malformed = await run('alice', 'git-lfs-transfer alice/assets upload', '000eversion 1\n0000zzzz');
    assert.notEqual(malformed.code, 0);
    assert.match(malformed.stderr, /malformed pkt-line/);
  });
});
