// Connection hygiene (issue 15, item 4): 20 slowloris connections and 500 idle ones do not stop
// another client's batch from being answered (asserted as "still answers"; timings are in the
// bench), slowloris connections are closed after headersTimeout, a slow but moving upload that
// takes longer than headersTimeout and idleTimeout is not cut, oversized headers get 431, and
// connections past maxConnections are closed and counted.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomObject } from '../helpers/content.js';
import { waitFor } from '../helpers/wait.js';
import { metric, parseMetrics } from '../ops/ops-helpers.js';
import { batch, plan, putHead, rawRequest, startLimitsServer, type LimitsServer } from './limits-helpers.js';

async function connect(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port) });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
  return socket;
}

describe('slowloris and idle connections', { timeout: 120_000 }, () => {
  let t: LimitsServer;
  const sockets: net.Socket[] = [];
  before(async () => {
    t = await startLimitsServer({ headersTimeout: 2, idleTimeout: 2 });
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await t?.close();
  });

  it('another client still gets its batch answered; slowloris connections are closed', async () => {
    const alice = t.users.alice!.authorization;
    // 500 idle connections: connected, nothing sent
    for (let i = 0; i < 500; i++) sockets.push(await connect(t.url));
    // 20 slowloris connections: a header line trickling in, never finished
    const slow: { socket: net.Socket; closed: boolean }[] = [];
    for (let i = 0; i < 20; i++) {
      const socket = await connect(t.url);
      const entry = { socket, closed: false };
      socket.once('close', () => (entry.closed = true));
      socket.write('POST /alice/r.git/info/lfs/objects/batch HTTP/1.1\r\nHost: lfsd\r\nX-Slow: ');
      slow.push(entry);
      sockets.push(socket);
    }
    const drip = setInterval(() => {
      for (const { socket } of slow) if (!socket.destroyed) socket.write('a');
    }, 200);
    try {
      const obj = randomObject(100);
      for (let i = 0; i < 3; i++) {
        const res = await batch(t.url, alice, 'alice/r', 'upload', [{ oid: obj.oid, size: obj.size }]);
        assert.equal(res.status, 200);
        await sleep(300);
      }
      // moving but never finishing its headers: cut after headersTimeout (2 s)
      await waitFor('every slowloris connection closed', () => slow.every((s) => s.closed), 30_000);
      const res = await batch(t.url, alice, 'alice/r', 'upload', [{ oid: obj.oid, size: obj.size }]);
      assert.equal(res.status, 200);
    } finally {
      clearInterval(drip);
    }
  });

  it('a slow but moving upload longer than headersTimeout and idleTimeout is not cut', async () => {
    const alice = t.users.alice!.authorization;
    const obj = randomObject(60 * 1024);
    const upload = await rawRequest(
      t.url,
      putHead(await plan(t.url, alice, 'alice/r', 'upload', obj), obj.size),
    );
    // 6 s for 60 KiB: 3x headersTimeout and idleTimeout, never silent for 1 s
    for (let at = 0; at < obj.size; at += 2048) {
      upload.socket.write(obj.content.subarray(at, at + 2048));
      await sleep(200);
    }
    assert.equal(await upload.status(), 200);
    upload.socket.destroy();
  });

  it('a header block past maxHeaderSize gets 431', async () => {
    const big = await rawRequest(
      t.url,
      `GET /healthz HTTP/1.1\r\nHost: lfsd\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    assert.equal(await big.status(), 431);
    big.socket.destroy();
  });
});

describe('maxConnections', { timeout: 60_000 }, () => {
  let t: LimitsServer;
  const sockets: net.Socket[] = [];
  before(async () => {
    t = await startLimitsServer({ maxConnections: 10 });
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await t?.close();
  });

  it('connections past the limit are closed at once and counted; freed room is usable again', async () => {
    const closed: boolean[] = [];
    for (let i = 0; i < 15; i++) {
      const { hostname, port } = new URL(t.url);
      const socket = net.connect({ host: hostname, port: Number(port) });
      socket.on('error', () => undefined);
      const at = closed.push(false) - 1;
      socket.once('close', () => (closed[at] = true));
      sockets.push(socket);
      await new Promise((resolve) => socket.once('connect', resolve));
    }
    await waitFor('five connections dropped', () => closed.filter(Boolean).length === 5);
    const samples = parseMetrics((await t.server.deps.metrics.render()).body);
    assert.equal(metric(samples, 'lfsd_limited_requests_total', { reason: 'connections' }), 5);
    for (const socket of sockets) socket.destroy();
    await waitFor(
      'room again',
      async () => (await fetch(`${t.url}/healthz`).catch(() => undefined))?.ok === true,
    );
  });
});
