// HTTP-level refusals over a real socket (issue 11, item 12): a method a route does not have is
// 405 with `Allow`; a POST of the JSON API without a JSON Content-Type is 415 (so a cross-site
// text/plain form post cannot create or release a lock); the requests Node's parser refuses
// itself (431, 400, 408) are answered in LFS JSON too. Every answer here is LFS JSON.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildOpsApp } from '../../src/http/app.js';
import { LFS_JSON, objectOf } from '../helpers/content.js';
import { addUser, batchOne, createTestApp, verifyAction, type TestApp } from '../helpers/test-app.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const REPO = 'alice/assets';
const BASE = `/${REPO}.git/info/lfs`;
const OID = objectOf('protocol errors').oid;

/** one request on its own connection; any method, any headers, a string body */
function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
    const request = http.request(
      { host: '127.0.0.1', port, method, path, headers: { ...length, ...headers }, agent: false },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode!, headers: response.headers, body: text }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * Writes each part of `data` on one raw connection, and returns everything the server sent until
 * it closed the connection. A part after the first is written once the answers so far are
 * complete (each ends with its JSON body's `}`).
 */
async function rawExchange(port: number, data: string | string[]): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  let received = '';
  let onData = () => undefined as void;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    received += chunk;
    onData();
  });
  const closed = new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    socket.on('error', () => undefined); // a reset after the answer: what arrived is what counts
  });
  const parts = Array.isArray(data) ? data : [data];
  for (const [index, part] of parts.entries()) {
    if (index > 0 && !received.endsWith('}')) {
      await new Promise<void>((resolve) => (onData = () => void (received.endsWith('}') && resolve())));
    }
    socket.write(part);
  }
  await closed;
  return received;
}

/** the last response of a raw exchange: status, headers (lower-cased), body */
function lastResponse(raw: string): Answer {
  const start = raw.lastIndexOf('HTTP/1.1 ');
  assert.ok(start >= 0, `no HTTP response in ${JSON.stringify(raw)}`);
  const text = raw.slice(start);
  const split = text.indexOf('\r\n\r\n');
  assert.ok(split > 0, `no end of headers in ${JSON.stringify(text)}`);
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
  const headers: http.IncomingHttpHeaders = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(split + 4) };
}

function assertLfsError(answer: Answer, status: number, what: string): { message: string } {
  assert.equal(answer.status, status, `${what}: ${answer.body}`);
  assert.match(String(answer.headers['content-type']), /^application\/vnd\.git-lfs\+json(;|$)/, what);
  const body = JSON.parse(answer.body) as { message?: unknown; request_id?: unknown };
  assert.equal(typeof body.message, 'string', what);
  assert.ok((body.message as string).length > 0, what);
  assert.equal(typeof body.request_id, 'string', what);
  return body as { message: string };
}

describe('protocol errors through a socket', { timeout: 120_000 }, () => {
  let t: TestApp;
  let port: number;
  let alice: Awaited<ReturnType<typeof addUser>>;
  let json: Record<string, string>;

  before(async () => {
    t = await createTestApp();
    alice = await addUser(t.deps, 'alice');
    await t.deps.metadata.createRepo(REPO, { isPublic: false });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
    json = { authorization: alice.authorization, accept: LFS_JSON, 'content-type': LFS_JSON };
  });
  after(() => t.close());

  const locks = async (): Promise<{ id: string; path: string }[]> => {
    const answer = await send(port, 'GET', `${BASE}/locks`, { authorization: alice.authorization });
    assert.equal(answer.status, 200, answer.body);
    return (JSON.parse(answer.body) as { locks: { id: string; path: string }[] }).locks;
  };

  describe('405 with Allow', () => {
    const cases: [method: string, path: string, allow: string][] = [
      ['GET', `${BASE}/objects/batch`, 'POST'],
      ['PUT', `${BASE}/objects/batch`, 'POST'],
      ['DELETE', `${BASE}/objects/batch`, 'POST'],
      ['POST', `${BASE}/objects/${OID}`, 'GET, PUT'],
      ['DELETE', `${BASE}/objects/${OID}`, 'GET, PUT'],
      ['PATCH', `${BASE}/objects/${OID}`, 'GET, PUT'],
      ['GET', `${BASE}/objects/${OID}/verify`, 'POST'],
      ['PUT', `${BASE}/locks`, 'GET, POST'],
      ['DELETE', `${BASE}/locks`, 'GET, POST'],
      ['OPTIONS', `${BASE}/locks`, 'GET, POST'],
      ['PROPFIND', `${BASE}/locks`, 'GET, POST'],
      ['GET', `${BASE}/locks/verify`, 'POST'],
      ['GET', `${BASE}/locks/1/unlock`, 'POST'],
      ['DELETE', `/${REPO}/locks/1/unlock`, 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['DELETE', '/readyz', 'GET, HEAD'],
      ['PUT', '/metrics', 'GET, HEAD'],
    ];
    for (const [method, path, allow] of cases) {
      it(`${method} ${path.replace(OID, '{oid}')} -> 405, Allow: ${allow}`, async () => {
        // credentials or none, any body type: the method is refused before anything else
        const answer = await send(port, method, path, { 'content-type': 'text/plain' }, '{}');
        assertLfsError(answer, 405, `${method} ${path}`);
        assert.equal(answer.headers.allow, allow);
        assert.equal(answer.headers['access-control-allow-origin'], undefined, 'no CORS granted');
      });
    }

    it('HEAD of an object is 405 too (headers only)', async () => {
      const answer = await send(port, 'HEAD', `${BASE}/objects/${OID}`);
      assert.equal(answer.status, 405);
      assert.equal(answer.headers.allow, 'GET, PUT');
    });

    it('a path that is no route stays 404, whatever the method', async () => {
      for (const [method, path] of [
        ['GET', '/nothing'],
        ['POST', '/nothing'],
        ['DELETE', '/nothing'],
        ['OPTIONS', '/no/such/page'],
        ['GET', `${BASE}/objects/not-an-oid`],
        ['DELETE', `${BASE}/objects/not-an-oid`],
        ['POST', `${BASE}/locks/not..an..id/unlock`],
        ['POST', '/*'], // paths that look like route patterns are still only paths
        ['GET', '/:id'],
        ['DELETE', '/healthz/*'],
      ] as const) {
        const answer = await send(port, method, path, { 'content-type': LFS_JSON }, '{}');
        assertLfsError(answer, 404, `${method} ${path}`);
        assert.equal(answer.headers.allow, undefined);
      }
    });
  });

  it('the separate metrics listener answers the same way', async () => {
    const ops = buildOpsApp(t.deps);
    await ops.listen({ host: '127.0.0.1', port: 0 });
    try {
      const opsPort = (ops.server.address() as AddressInfo).port;
      const metrics = await send(opsPort, 'POST', '/metrics', { 'content-type': LFS_JSON }, '{}');
      assertLfsError(metrics, 405, 'POST /metrics');
      assert.equal(metrics.headers.allow, 'GET, HEAD');
      assertLfsError(await send(opsPort, 'GET', `${BASE}/locks`), 404, 'no LFS API there');
      assertLfsError(lastResponse(await rawExchange(opsPort, 'NOT HTTP\r\n\r\n')), 400, 'garbage');
    } finally {
      await ops.close();
    }
  });

  describe('415 unless a POST declares JSON', () => {
    const refused: [what: string, headers: Record<string, string>, body?: string][] = [
      ['text/plain (a cross-site form post)', { 'content-type': 'text/plain' }, '{"path":"a.bin"}'],
      ['text/plain; charset=utf-8', { 'content-type': 'text/plain; charset=utf-8' }, '{"path":"a.bin"}'],
      ['a url-encoded form', { 'content-type': 'application/x-www-form-urlencoded' }, 'path=a.bin'],
      ['a multipart form', { 'content-type': 'multipart/form-data; boundary=x' }, '--x--\r\n'],
      ['no Content-Type with a body', {}, '{"path":"a.bin"}'],
      ['no Content-Type and no body (a body-less fetch)', {}],
      ['a JSON look-alike', { 'content-type': 'application/jsonp' }, '{"path":"a.bin"}'],
    ];
    const endpoints = ['objects/batch', 'locks', 'locks/verify', 'locks/1/unlock'];
    for (const [what, headers, body] of refused) {
      it(`${what}: 415 on ${endpoints.join(', ')}`, async () => {
        for (const endpoint of endpoints) {
          const answer = await send(
            port,
            'POST',
            `${BASE}/${endpoint}`,
            { authorization: alice.authorization, accept: LFS_JSON, ...headers },
            body,
          );
          const error = assertLfsError(answer, 415, `${what} to ${endpoint}`);
          assert.match(error.message, /application\/vnd\.git-lfs\+json/);
        }
        assert.deepEqual(await locks(), [], 'no lock was created');
      });
    }

    it('a cross-site form post can neither create nor release a lock', async () => {
      const form = { authorization: alice.authorization, 'content-type': 'text/plain' };
      const created = await send(port, 'POST', `${BASE}/locks`, form, '{"path":"form.bin"}');
      assert.equal(created.status, 415);
      assert.deepEqual(await locks(), []);

      const real = await send(port, 'POST', `${BASE}/locks`, json, '{"path":"mine.bin"}');
      assert.equal(real.status, 201, real.body);
      const { id } = (JSON.parse(real.body) as { lock: { id: string } }).lock;
      for (const headers of [form, { authorization: alice.authorization }]) {
        const unlock = await send(port, 'POST', `${BASE}/locks/${id}/unlock`, headers, '{"force":true}');
        assert.equal(unlock.status, 415);
      }
      assert.deepEqual(
        (await locks()).map((l) => l.path),
        ['mine.bin'],
      );
      const released = await send(port, 'POST', `${BASE}/locks/${id}/unlock`, json, '{"force":false}');
      assert.equal(released.status, 200, released.body);
    });

    it('the transfer verify POST is held to the same rule', async () => {
      const obj = objectOf('verify me');
      const upload = (await batchOne(t.app, 'upload', obj, REPO, alice.authorization)).actions!.upload!;
      const verify = verifyAction(t, REPO, obj, upload);
      const path = new URL(verify.href).pathname;
      const body = JSON.stringify({ oid: obj.oid, size: obj.size });
      const plain = await send(port, 'POST', path, { ...verify.header, 'content-type': 'text/plain' }, body);
      assertLfsError(plain, 415, 'verify as text/plain');
      // declared as JSON it goes through to the handler (the object was never uploaded: 404)
      const declared = await send(port, 'POST', path, { ...verify.header, 'content-type': LFS_JSON }, body);
      assertLfsError(declared, 404, 'verify as LFS JSON');
    });

    it('accepts the LFS media type and JSON, with parameters, in any case', async () => {
      for (const type of [
        LFS_JSON,
        `${LFS_JSON}; charset=utf-8`, // what the git-lfs client sends
        'application/json',
        'Application/JSON; charset=UTF-8',
      ]) {
        const answer = await send(
          port,
          'POST',
          `${BASE}/objects/batch`,
          { ...json, 'content-type': type },
          JSON.stringify({ operation: 'download', objects: [{ oid: OID, size: 1 }] }),
        );
        assert.equal(answer.status, 200, `${type}: ${answer.body}`);
      }
    });
  });

  describe("Node's own refusals, in LFS JSON", () => {
    it('431 for headers larger than Node allows', async () => {
      const raw = await rawExchange(
        port,
        `GET ${BASE}/locks HTTP/1.1\r\nHost: lfsd\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      );
      const answer = lastResponse(raw);
      assertLfsError(answer, 431, 'oversized headers');
      assert.equal(answer.headers.connection, 'close');
    });

    it('400 for a request line that is not HTTP', async () => {
      assertLfsError(lastResponse(await rawExchange(port, 'HELLO THERE\r\n\r\n')), 400, 'garbage');
    });

    it('400 for a malformed header', async () => {
      const raw = await rawExchange(
        port,
        `GET ${BASE}/locks HTTP/1.1\r\nHost: lfsd\r\nBad Header: x\r\n\r\n`,
      );
      assertLfsError(lastResponse(raw), 400, 'a header name with a space');
    });

    it('400 on a keep-alive connection after a first answer, which is left intact', async () => {
      const raw = await rawExchange(port, [
        'GET /healthz HTTP/1.1\r\nHost: lfsd\r\n\r\n',
        'NOT HTTP AT ALL\r\n\r\n',
      ]);
      assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(raw, /\{"status":"ok"\}HTTP\/1\.1 400 /, 'the first answer is complete, then the 400');
      assertLfsError(lastResponse(raw), 400, 'second request');
    });

    it('408 for headers that do not arrive in time', async () => {
      // Node sends this from its connection check, every 30 s by default: here the server's
      // 'clientError' event gets the very error Node raises, for a real connection
      const accepted = once(t.app.server, 'connection') as Promise<[net.Socket]>;
      const client = net.connect({ host: '127.0.0.1', port });
      let received = '';
      client.setEncoding('latin1');
      client.on('data', (chunk: string) => (received += chunk));
      client.on('error', () => undefined);
      const closed = once(client, 'close');
      const [serverSide] = await accepted;
      client.write(`GET ${BASE}/locks HTTP/1.1\r\nHost: lfsd\r\n`);
      const timeout = Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
      t.app.server.emit('clientError', timeout, serverSide);
      await closed;
      assertLfsError(lastResponse(received), 408, 'slow headers');
    });
  });
});
