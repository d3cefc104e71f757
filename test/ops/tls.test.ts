// `--tls-cert` / `--tls-key`: lfsd serves HTTPS itself (issue 6), with a self-signed certificate
// made by openssl for 127.0.0.1.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { LFS_JSON, randomObject } from '../helpers/content.js';
import { createGitSandbox, sha256File, type GitSandbox } from '../helpers/git.js';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { basicAuth } from '../helpers/test-app.js';
import { lfsdCommand } from './ops-helpers.js';

/** openssl makes the test certificates; .ci/run installs it. Missing, the tests fail: a skipped TLS test proves nothing. */
function requireOpenssl(): void {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch (err) {
    assert.fail(
      `openssl is needed to make test certificates (apt-get install openssl): ${(err as Error).message}`,
    );
  }
}

const PASSWORD = 'correct horse battery';
const AUTH = basicAuth('alice', PASSWORD);

function request(
  url: string,
  options: https.RequestOptions & { body?: Buffer | string },
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('HTTPS with --tls-cert and --tls-key', { timeout: 120_000 }, () => {
  let sandbox: GitSandbox;
  let server: LfsdServer;
  let ca: Buffer;
  let certPath: string;
  let keyPath: string;
  let dataDir: string;

  before(async () => {
    requireOpenssl();
    sandbox = await createGitSandbox({ username: 'alice', password: PASSWORD });
    certPath = join(sandbox.root, 'cert.pem');
    keyPath = join(sandbox.root, 'key.pem');
    const subject = '-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1'.split(' ');
    const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', ...subject];
    await promisify(execFile)('openssl', [...args, '-keyout', keyPath, '-out', certPath]);
    ca = await readFile(certPath);
    dataDir = join(sandbox.root, 'lfsd-data');
    await lfsdAdmin(['user', 'add', 'alice', '--password-stdin', '--data-dir', dataDir], {
      input: `${PASSWORD}\n`,
    });
    server = await startLfsd(['--data-dir', dataDir, '--tls-cert', certPath, '--tls-key', keyPath]);
  });
  after(async () => {
    const code = await server?.stop();
    await sandbox?.cleanup();
    if (server) assert.equal(code, 0, 'lfsd exits 0 on SIGTERM');
  });

  it('listens with TLS and hands out https hrefs', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(server.logs.find((l) => l.msg === 'lfsd listening')?.tls, true);
    const health = await request(`${server.url}/healthz`, { ca });
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body.toString()), { status: 'ok' });
    const unauthenticated = await request(`${server.url}/alice/tls/info/lfs/objects/batch`, {
      ca,
      method: 'POST',
      headers: { 'content-type': LFS_JSON, accept: LFS_JSON },
      body: JSON.stringify({ operation: 'upload', objects: [] }),
    });
    assert.equal(unauthenticated.status, 401);
    assert.ok(unauthenticated.headers['lfs-authenticate']);

    const obj = randomObject(300_000);
    const batch = await request(`${server.url}/alice/tls/info/lfs/objects/batch`, {
      ca,
      method: 'POST',
      headers: { 'content-type': LFS_JSON, accept: LFS_JSON, authorization: AUTH },
      body: JSON.stringify({ operation: 'upload', objects: [{ oid: obj.oid, size: obj.size }] }),
    });
    assert.equal(batch.status, 200);
    const action = (
      JSON.parse(batch.body.toString()) as {
        objects: { actions: { upload: { href: string; header: Record<string, string> } } }[];
      }
    ).objects[0]!.actions.upload;
    assert.ok(action.href.startsWith(`${server.url}/`), action.href);
    const put = await request(action.href, {
      ca,
      method: 'PUT',
      headers: action.header,
      body: obj.content,
    });
    assert.equal(put.status, 200);
  });

  it('refuses clients that do not trust the certificate, and plain HTTP', async () => {
    await assert.rejects(request(`${server.url}/healthz`, {}), /self-signed certificate|unable to verify/);
    const insecure = await request(`${server.url}/healthz`, { rejectUnauthorized: false });
    assert.equal(insecure.status, 200);
    await assert.rejects(fetch(`${server.url.replace('https:', 'http:')}/healthz`));
  });

  it('the git lfs client pushes and clones over HTTPS', async () => {
    const env = { GIT_SSL_CAINFO: certPath };
    await sandbox.git(sandbox.root, ['init', '--bare', '-q', 'remote.git']);
    await sandbox.git(sandbox.root, ['init', '-q', 'work']);
    const work = join(sandbox.root, 'work');
    await sandbox.git(work, ['lfs', 'track', '*.bin']);
    await writeFile(join(work, '.lfsconfig'), `[lfs]\n\turl = ${server.url}/alice/tls-repo.git/info/lfs\n`);
    await writeFile(join(work, 'a.bin'), randomBytes(2_000_000));
    await sandbox.git(work, ['add', '.']);
    await sandbox.git(work, ['commit', '-q', '-m', 'tls']);
    await sandbox.git(work, ['push', '-q', join(sandbox.root, 'remote.git'), 'main'], env);
    await sandbox.git(sandbox.root, ['clone', '-q', join(sandbox.root, 'remote.git'), 'clone'], env);
    assert.equal(
      await sha256File(join(sandbox.root, 'clone', 'a.bin')),
      await sha256File(join(work, 'a.bin')),
    );
  });

  it('an unreadable certificate or a key that does not match stops the start with a configuration error', async () => {
    const missing = await lfsdCommand([
      'serve',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1:0',
      '--tls-cert',
      join(sandbox.root, 'nope.pem'),
      '--tls-key',
      keyPath,
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /configuration error: tlsCert: cannot read .*nope\.pem/);
    const garbage = join(sandbox.root, 'garbage.pem');
    await writeFile(garbage, 'not a certificate\n');
    const bad = await lfsdCommand([
      'serve',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1:0',
      '--tls-cert',
      garbage,
      '--tls-key',
      keyPath,
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /configuration error: tlsCert, tlsKey: not a usable PEM certificate and key/);
  });
});
