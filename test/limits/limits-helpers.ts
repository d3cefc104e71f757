/** Helpers for the overload tests: an in-process server on a real socket, raw requests. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../src/config/load-settings.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { LFS_JSON, type TestObject } from '../helpers/content.js';
import { addUser } from '../helpers/test-app.js';

export interface LimitsServer {
  server: RunningServer;
  url: string;
  dataDir: string;
  users: Record<string, { authorization: string }>;
  close(): Promise<void>;
}

/** `lfsd serve` in this process on 127.0.0.1:0 with `overrides`, and users alice and bob */
export async function startLimitsServer(overrides: Record<string, unknown> = {}): Promise<LimitsServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'lfsd-limits-'));
  const settings = loadSettings({
    env: {},
    flags: { dataDir, listen: '127.0.0.1:0', logLevel: 'silent', shutdownTimeout: 1, ...overrides },
  });
  const server = await startServer(settings, createLogger('silent', { pretty: false }));
  const users = {
    alice: await addUser(server.deps, 'alice'),
    bob: await addUser(server.deps, 'bob'),
  };
  return {
    server,
    url: server.url,
    dataDir,
    users,
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Action {
  href: string;
  header: Record<string, string>;
}

export async function batch(
  url: string,
  authorization: string,
  repo: string,
  operation: 'upload' | 'download',
  objects: { oid: string; size: number }[],
): Promise<Response> {
  return fetch(`${url}/${repo}.git/info/lfs/objects/batch`, {
    method: 'POST',
    headers: { 'content-type': LFS_JSON, accept: LFS_JSON, authorization },
    body: JSON.stringify({ operation, objects }),
  });
}

/** the action for one object, planned through the batch API (which must answer 200) */
export async function plan(
  url: string,
  authorization: string,
  repo: string,
  operation: 'upload' | 'download',
  obj: { oid: string; size: number },
): Promise<Action> {
  const res = await batch(url, authorization, repo, operation, [{ oid: obj.oid, size: obj.size }]);
  assert.equal(res.status, 200, await res.clone().text());
  const body = (await res.json()) as { objects: { actions?: Record<string, Action> }[] };
  const action = body.objects[0]?.actions?.[operation];
  assert.ok(action, `no ${operation} action for ${obj.oid}`);
  return action;
}

export async function put(action: Action, obj: TestObject): Promise<number> {
  const res = await fetch(action.href, {
    method: 'PUT',
    headers: { ...action.header, 'content-type': 'application/octet-stream' },
    body: obj.content,
  });
  await res.arrayBuffer();
  return res.status;
}

/** A raw HTTP/1.1 exchange: what was answered so far, and the socket to write more or cut. */
export interface RawExchange {
  socket: net.Socket;
  /** everything the server sent so far */
  answer(): string;
  /** resolves with the status line's code once the server answered one */
  status(): Promise<number>;
  closed: Promise<void>;
}

export async function rawRequest(url: string, head: string): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void closed.then(() => {
    for (const wake of waiters.splice(0)) wake();
  });
  socket.write(head);
  return {
    socket,
    answer: () => received,
    closed,
    async status() {
      for (;;) {
        const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
        if (match) return Number(match[1]);
        if (socket.destroyed) throw new Error(`socket closed without an answer: ${received}`);
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

/** the head of a PUT of `size` bytes to `action` (the body is for the caller to send, or not) */
export function putHead(action: Action, size: number): string {
  const { pathname, host } = new URL(action.href);
  const headers = Object.entries(action.header)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return (
    `PUT ${pathname} HTTP/1.1\r\nHost: ${host}\r\n${headers}` +
    `Content-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`
  );
}

export function getHead(action: Action): string {
  const { pathname, host } = new URL(action.href);
  const headers = Object.entries(action.header)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `GET ${pathname} HTTP/1.1\r\nHost: ${host}\r\n${headers}\r\n`;
}
