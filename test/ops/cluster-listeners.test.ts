// Every listener of `lfsd serve --workers 2` reaches both processes (server/connection-hub.ts):
// HTTPS (the primary hands over raw TCP sockets; each process does its own TLS handshake), the
// separate metrics listener, and the built-in SSH server. Connections alternate between the
// processes, so consecutive connections test both ways in: the primary's own server and a worker
// that received the socket over IPC.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { lfsdAdmin, startLfsd, type LfsdServer } from '../helpers/lfsd-process.js';
import { sshConnect, sshRun } from '../helpers/ssh-client.js';
import { ed25519KeyPair } from '../helpers/ssh-keys.js';
import { waitFor } from '../helpers/wait.js';

function get(url: string, ca?: Buffer): Promise<{ status: number; body: string }> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    // a new connection per request (no keep-alive), so that requests alternate between processes
    const req = client.get(url, { ca, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

describe('lfsd serve --workers 2: HTTPS, the metrics listener and SSH', { timeout: 120_000 }, () => {
  let dir: string;
  let server: LfsdServer;
  let ca: Buffer;
  const alice = ed25519KeyPair();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsd-cluster-listeners-'));
    const [certPath, keyPath, dataDir] = ['cert.pem', 'key.pem', 'data'].map((name) => join(dir, name)) as [
      string,
      string,
      string,
    ];
    const subject = '-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1'.split(' ');
    await promisify(execFile)('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', ...subject],
      ...['-keyout', keyPath, '-out', certPath],
    ]);
    ca = await readFile(certPath);
    await lfsdAdmin(['user', 'add', 'alice', '--data-dir', dataDir]);
    await lfsdAdmin(['key', 'add', 'alice', '--data-dir', dataDir], { input: alice.public });
    server = await startLfsd([
      ...['--data-dir', dataDir, '--workers', '2', '--log-level', 'debug'],
      ...['--tls-cert', certPath, '--tls-key', keyPath],
      ...['--metrics-listen', '127.0.0.1:0', '--ssh-listen', '127.0.0.1:0'],
    ]);
    await waitFor('the worker to serve', () => server.logs.some((l) => l.msg === 'worker serving'));
  });
  after(async () => {
    const code = await server?.stop();
    await rm(dir, { recursive: true, force: true });
    if (server) assert.equal(code, 0, 'the cluster exits 0 on SIGTERM');
  });

  it('answers HTTPS from both processes', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    for (let i = 0; i < 6; i++) assert.equal((await get(`${server.url}/healthz`, ca)).status, 200);
    await waitFor('six request lines', () => server.logs.filter((l) => l.route === 'healthz').length >= 6);
    const pids = new Set(server.logs.filter((l) => l.route === 'healthz').map((l) => l.pid));
    assert.equal(pids.size, 2, 'both processes answered');
  });

  it('answers the metrics listener from both processes, with the whole cluster counted', async () => {
    const metricsUrl = server.logs.find((l) => l.msg === 'lfsd listening')?.metricsUrl as string;
    assert.match(metricsUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    for (let i = 0; i < 4; i++) {
      const scrape = await get(`${metricsUrl}/metrics`);
      assert.equal(scrape.status, 200, scrape.body);
      // the healthz requests of the test above, from both processes, summed
      const counted = /^lfsd_http_requests_total\{route="healthz",method="GET",status="200"\} (\d+)$/m.exec(
        scrape.body,
      );
      assert.ok(Number(counted?.[1]) >= 6, scrape.body.slice(0, 500));
    }
  });

  it('serves SSH connections on both processes', async () => {
    for (let i = 0; i < 4; i++) {
      const client = await sshConnect(server, alice.private);
      try {
        const { code, stdout } = await sshRun(client, 'git-lfs-authenticate alice/assets download');
        assert.equal(code, 0);
        assert.match(stdout, /"Authorization":"RemoteAuth download:alice\/assets:/);
      } finally {
        client.end();
      }
    }
  });
});
