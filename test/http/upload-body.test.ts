// Upload bodies the client framed oddly (issue 11 item 8), through a real socket: a PUT with no body
// at all (neither Content-Length nor Transfer-Encoding), or `Content-Length: 0` with no Content-Type,
// is a 0-byte body: 200 for the empty object, 400 size mismatch otherwise, never a 500. And a body
// the server answers before reading it (a refused upload) does not poison the keep-alive connection:
// the next request on the same socket is answered.
import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { objectOf, randomObject, type TestObject } from '../helpers/content.js';
import { addUser, batchOne, createTestApp, type TestApp } from '../helpers/test-app.js';

interface Answer {
  status: number;
  head: string;
  body: string;
}

/** Reads HTTP/1.1 responses (with Content-Length bodies) off one keep-alive socket, in order. */
class Conversation {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private closed = false;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiting?.();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
  }

  send(head: string[], body?: Buffer): void {
    this.socket.write(head.join('\r\n') + '\r\n\r\n');
    if (body) this.socket.write(body);
  }

  async next(): Promise<Answer> {
    for (;;) {
      const text = this.buffered.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = text.slice(0, end);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (this.buffered.length >= end + 4 + length) {
          const body = this.buffered.subarray(end + 4, end + 4 + length).toString();
          this.buffered = this.buffered.subarray(end + 4 + length);
          return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), head, body };
        }
      }
      if (this.closed) throw new Error(`connection closed; got ${JSON.stringify(text)}`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }
}

describe('upload bodies framed oddly', { timeout: 30_000 }, () => {
  let t: TestApp;
  let port: number;
  let alice: Awaited<ReturnType<typeof addUser>>;
  const empty = objectOf('');

  before(async () => {
    t = await createTestApp();
    alice = await addUser(t.deps, 'alice');
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  after(() => t.close());

  async function uploadAction(
    obj: TestObject,
    repo = 'alice/assets',
  ): Promise<{ path: string; header: Record<string, string> }> {
    const planned = await batchOne(t.app, 'upload', obj, repo, alice.authorization);
    const action = planned.actions?.upload;
    assert.ok(action, 'an upload action');
    return { path: new URL(action.href).pathname, header: action.header };
  }

  function open(): Conversation {
    return new Conversation(connect({ host: '127.0.0.1', port }));
  }

  function headOf(method: string, path: string, headers: Record<string, string | number>): string[] {
    return [
      `${method} ${path} HTTP/1.1`,
      'Host: 127.0.0.1',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
  }

  async function linked(obj: TestObject, repo = 'alice/assets'): Promise<boolean> {
    const planned = await batchOne(t.app, 'download', obj, repo, alice.authorization);
    return planned.actions?.download !== undefined;
  }

  const framings: [string, Record<string, string | number>][] = [
    ['no body at all (no Content-Length, no Transfer-Encoding)', {}],
    ['Content-Length: 0 and no Content-Type', { 'Content-Length': 0 }],
  ];

  for (const [index, [framing, extra]] of framings.entries()) {
    it(`${framing}: 200 for the empty object, which is then linked`, async () => {
      // one repository per case: the empty object, once linked, is not offered for upload again
      const repo = `alice/empty-${index}`;
      const action = await uploadAction(empty, repo);
      const talk = open();
      talk.send(headOf('PUT', action.path, { ...action.header, ...extra }));
      const answer = await talk.next();
      talk.socket.destroy();
      assert.equal(answer.status, 200, `${answer.head}\n${answer.body}`);
      assert.ok(await linked(empty, repo), 'the empty object is linked to the repository');
    });

    it(`${framing}: 400 size mismatch for a non-empty object, in LFS JSON`, async () => {
      const obj = randomObject(1000);
      const action = await uploadAction(obj);
      const talk = open();
      talk.send(headOf('PUT', action.path, { ...action.header, ...extra }));
      const answer = await talk.next();
      talk.socket.destroy();
      assert.equal(answer.status, 400, `${answer.head}\n${answer.body}`);
      assert.match(answer.head, /content-type: application\/vnd\.git-lfs\+json/i);
      assert.match(answer.body, /does not match/i);
      assert.equal(await linked(obj), false);
    });
  }

  it('a refused upload whose body was never read leaves the keep-alive connection usable', async () => {
    const obj = randomObject(2 * 1024 * 1024);
    const talk = open();
    // the transfer token is wrong: refused before a byte of the 2 MiB body is read
    const action = await uploadAction(obj);
    talk.send(
      headOf('PUT', action.path, {
        Authorization: 'Bearer not-a-token',
        'Content-Length': obj.size,
        'Content-Type': 'application/octet-stream',
      }),
      obj.content,
    );
    const refused = await talk.next();
    assert.ok(refused.status === 401 || refused.status === 403, refused.head);
    assert.doesNotMatch(refused.head, /connection: close/i, 'the server kept the connection');
    // the same connection carries the next request, which the server reads only after the body
    talk.send(headOf('PUT', action.path, { ...action.header, 'Content-Length': obj.size }), obj.content);
    const accepted = await talk.next();
    talk.socket.destroy();
    assert.equal(accepted.status, 200, `${accepted.head}\n${accepted.body}`);
    assert.ok(await linked(obj));
  });

  it('a Content-Length that does not match the object: 400, and the connection still works', async () => {
    const obj = randomObject(300_000);
    const action = await uploadAction(obj);
    const talk = open();
    talk.send(
      headOf('PUT', action.path, { ...action.header, 'Content-Length': obj.size - 1 }),
      obj.content.subarray(1),
    );
    const refused = await talk.next();
    assert.equal(refused.status, 400, refused.head);
    talk.send(headOf('GET', '/healthz', {}));
    const health = await talk.next();
    talk.socket.destroy();
    assert.equal(health.status, 200, health.head);
  });
});
