// Bad input of every kind through the HTTP app (issue 3 "Bad input", LFS-PROTOCOL.md sections 2, 7, 8):
// generated malformed batch, lock and transfer requests (fast-check) never get a 5xx, always get
// LFS JSON with a message and a request_id, and never leave an object or a temp file behind; then
// the limits and refusals the issue names, one by one.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import Fastify from 'fastify';
import { installErrorHandling, renderFrameworkError } from '../../src/http/error-handler.js';
import { LFS_JSON, objectOf, randomObject } from '../helpers/content.js';
import { createTestDatabase, DIALECTS } from '../metadata/test-databases.js';
import { addUser, basicAuth, createTestApp, type TestApp } from '../helpers/test-app.js';

type User = Awaited<ReturnType<typeof addUser>>;
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD' | 'OPTIONS';

interface Reply {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  rawPayload: Buffer;
}

const MAX_BATCH_OBJECTS = 100;
const MAX_OBJECT_SIZE = 1_000_000;
const LFS_CONTENT_TYPE = /^application\/vnd\.git-lfs\+json(;|$)/;
/**
 * fast-check seed: FC_SEED when set (.ci/run pins one, so CI runs are reproducible), else new each
 * run. Printed here, and fast-check's failure report repeats it with the failing path.
 */
const SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() % 2 ** 31;
console.log(`# fast-check seed ${SEED} (replay: FC_SEED=${SEED})`);
/** FC_RUNS_SCALE=10 for a longer hunt; the default keeps the file to seconds */
const RUNS_SCALE = Number(process.env.FC_RUNS_SCALE ?? 1);

// ---- generators

const hexOid = fc.stringMatching(/^[0-9a-f]{64}$/);
const asciiString = (maxLength = 40) => fc.string({ unit: 'grapheme-ascii', maxLength });

/** oids as a confused or hostile client might send them */
const oddOid = fc.oneof(
  hexOid,
  hexOid.map((o) => o.toUpperCase()),
  hexOid.map((o) => o.slice(0, 63)),
  hexOid.map((o) => `${o}0`),
  hexOid.map((o) => `${o}/../../secret`),
  fc.constantFrom(
    '',
    '..',
    '../../etc/passwd',
    '%2e%2e%2f',
    'sha256:abc',
    ' '.repeat(64),
    '\u0000'.repeat(64),
  ),
  fc.string({ maxLength: 80 }),
  fc.integer(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 2 }),
);

/** sizes that are not a safe non-negative integer, and a few that are */
const oddSize = fc.oneof(
  fc.integer({ min: -5, max: MAX_OBJECT_SIZE * 2 }),
  fc.double({ noNaN: true }),
  fc.constantFrom(
    -1,
    -0,
    1.5,
    2 ** 53,
    2 ** 53 + 2,
    1e21,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    MAX_OBJECT_SIZE + 1,
  ),
  fc.constantFrom('10', '', '1e3', '0x10'),
  fc.constant(null),
  fc.boolean(),
  fc.jsonValue({ maxDepth: 1 }),
);

const objectItem = fc.oneof(
  { weight: 4, arbitrary: fc.record({ oid: oddOid, size: oddSize }, { requiredKeys: [] }) },
  {
    weight: 1,
    arbitrary: fc.record({ oid: hexOid, size: oddSize, authenticated: fc.jsonValue({ maxDepth: 1 }) }),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

const objectsField = fc.oneof(
  { weight: 5, arbitrary: fc.array(objectItem, { maxLength: 12 }) },
  // around and past the batch limit
  {
    weight: 1,
    arbitrary: fc.array(objectItem, { minLength: MAX_BATCH_OBJECTS - 3, maxLength: MAX_BATCH_OBJECTS + 20 }),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

const refField = fc.oneof(
  fc.constant(null),
  fc.constant({}),
  fc.record({ name: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 1 })) }),
  fc.jsonValue({ maxDepth: 2 }),
);

const batchBody = fc.oneof(
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 5,
    arbitrary: fc.record(
      {
        operation: fc.oneof(
          fc.constantFrom('upload', 'download'),
          fc.constantFrom('delete', 'UPLOAD', ''),
          fc.jsonValue({ maxDepth: 1 }),
        ),
        objects: objectsField,
        transfers: fc.oneof(
          fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        ref: refField,
        hash_algo: fc.oneof(fc.constantFrom('sha256', 'sha512', 'SHA256', ''), fc.jsonValue({ maxDepth: 1 })),
        extra: fc.jsonValue({ maxDepth: 2 }),
      },
      { requiredKeys: [] },
    ),
  },
);

/** a JSON body, or text that is not JSON (random, or JSON cut short) */
const payloadOf = (body: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 6, arbitrary: body.map((b) => JSON.stringify(b) ?? '') },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    {
      weight: 1,
      arbitrary: body.chain((b) => {
        const text = JSON.stringify(b) ?? '';
        return fc.nat({ max: text.length }).map((cut) => text.slice(0, cut));
      }),
    },
  );

/** Authorization headers: none, valid, wrong, malformed */
const authorizationFor = (valid: () => string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: fc.nat({ max: 10 }).map((i) => valid()[i % valid().length]) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('alice', 'nobody', ''), asciiString(20))
        .map(([n, p]) => basicAuth(n, p)),
    },
    { weight: 1, arbitrary: asciiString(60).map((s) => `Bearer ${s}`) },
    { weight: 1, arbitrary: fc.base64String({ maxLength: 40 }).map((s) => `Basic ${s}`) },
    { weight: 1, arbitrary: asciiString(60) },
  );

const headerValue = (...common: string[]) =>
  fc.option(fc.oneof(fc.constantFrom(...common), asciiString(60)), { nil: undefined });

/** path segments a URL might carry: ordinary names, dot segments, encodings, long ones */
/** percent-encodings that do not decode to UTF-8: Fastify refuses them before routing */
const MALFORMED_ENCODINGS = ['%', '%zz', '%g1', 'a%2', '%e2%82', '%ff', '%C0%AE%C0%AE'];

const plainSegment = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,11}$/) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      '.',
      '..',
      '...',
      '.git',
      'a.git',
      'info',
      'lfs',
      'objects',
      'batch',
      'locks',
      'verify',
      'unlock',
      '%2e%2e',
      '%2E%2e',
      '%2f',
      '%2F..%2F',
      '..%2f..',
      '%00',
      'a%00b',
      '%5c',
      '..%5c',
      '~',
      '%20',
      '%E2%80%AE',
      '%C3%A9',
      '*',
      ';',
      'a;b',
      '@',
      '+',
      '$',
      '!',
      "'",
      '(',
      ')',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map(encodeURIComponent) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9]{90,140}$/) },
  { weight: 1, arbitrary: hexOid },
);

const LOCK_SUFFIXES = ['locks', 'locks/verify', 'locks/1/unlock'];

/** URLs for the LFS surface and around it; some segments do not decode */
const urlArb = () => {
  const segment = fc.oneof(
    { weight: 12, arbitrary: plainSegment },
    { weight: 1, arbitrary: fc.constantFrom(...MALFORMED_ENCODINGS) },
  );
  const suffix = fc.oneof(
    fc.constantFrom('objects/batch', ...LOCK_SUFFIXES, ''),
    hexOid.map((o) => `objects/${o}`),
    hexOid.map((o) => `objects/${o}/verify`),
    fc.array(segment, { maxLength: 3 }).map((s) => s.join('/')),
  );
  return fc
    .tuple(
      fc.constantFrom('', 'alice/', 'alice/assets/', 'bob/'),
      fc.array(segment, { maxLength: 9 }),
      fc.constantFrom('', '.git/info/lfs', '/info/lfs', '.git'),
      suffix,
      fc.option(
        fc.array(
          fc.tuple(
            fc.constantFrom('path', 'id', 'cursor', 'limit', 'refspec', 'x'),
            fc.oneof(segment, asciiString(10)),
          ),
          { maxLength: 4 },
        ),
        {
          nil: undefined,
        },
      ),
    )
    .map(([prefix, segments, marker, tail, query]) => {
      const path = `/${prefix}${segments.join('/')}${marker}/${tail}`.replace(/\/+$/, '') || '/';
      const q = query?.map(([k, v]) => `${k}=${v}`).join('&');
      return q === undefined ? path : `${path}?${q}`;
    });
};

/** One request sent exactly as written (no normalisation of the path), on a fresh connection. */
function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const rawPayload = Buffer.concat(chunks);
        resolve({
          statusCode: res.statusCode ?? 0,
          headers: res.headers,
          body: rawPayload.toString('utf8'),
          rawPayload,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('malformed input', () => {
  let t: TestApp;
  let alice: User;
  let bob: User;
  before(async () => {
    t = await createTestApp({
      maxBatchObjects: MAX_BATCH_OBJECTS,
      maxObjectSize: MAX_OBJECT_SIZE,
      jsonBodyLimit: 64 * 1024,
      signInFailuresPerUser: 0,
      signInFailuresPerAddress: 0,
      // every answer here must be LFS JSON: the web console's pages (HTML, a redirect to sign in
      // from `/`) have their own tests (test/web)
      webConsole: false,
    });
    alice = await addUser(t.deps, 'alice');
    bob = await addUser(t.deps, 'bob');
    const open = await t.deps.metadata.createRepo('alice/open', { isPublic: true });
    await t.deps.metadata.createRepo('alice/assets', { isPublic: false });
    await t.deps.metadata.setGrant(bob.id, open.id, 'read');
  });
  after(() => t.close());

  const validAuth = () => [
    alice.authorization,
    bob.authorization,
    basicAuth('alice', alice.token),
    `Bearer ${bob.token}`,
  ];

  async function storeIsEmpty(): Promise<void> {
    const tmp = await readdir(join(t.dataDir, 'tmp')).catch(() => []);
    assert.deepEqual(tmp, [], 'no temp file');
    const objects: string[] = [];
    for await (const o of t.deps.store.list()) objects.push(o.oid);
    assert.deepEqual(objects, [], 'no object stored');
  }

  /** The invariants every answer keeps, whatever was asked. */
  function checkAnswer(method: Method, res: Reply, context: string): void {
    const where = `${context} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
    assert.ok(res.statusCode < 500, `no 5xx: ${where}`);
    assert.match(String(res.headers['content-type']), LFS_CONTENT_TYPE, `LFS JSON: ${where}`);
    if (method === 'HEAD') return;
    const body = JSON.parse(res.body) as Record<string, unknown>;
    if (res.statusCode >= 400) {
      assert.equal(typeof body.message, 'string', `message: ${where}`);
      assert.ok((body.message as string).length > 0, `message: ${where}`);
      assert.equal(body.request_id, res.headers['x-request-id'], `request_id: ${where}`);
    } else {
      assert.equal(body.message, undefined, `a success carries no message: ${where}`);
    }
  }

  /** A 200 batch answer the Go client can decode strictly (LFS-PROTOCOL.md section 2.2). */
  function checkBatchAnswer(res: Reply, requested: unknown, context: string): void {
    if (res.statusCode !== 200) return;
    const body = JSON.parse(res.body) as { transfer: string; objects: Array<Record<string, unknown>> };
    assert.equal(body.transfer, 'basic', context);
    assert.ok(Array.isArray(body.objects), context);
    const operation = (requested as { operation: string }).operation;
    for (const o of body.objects) {
      assert.equal(typeof o.oid, 'string', context);
      // an integer the Go client decodes (int64); a refused object may echo a negative request
      assert.ok(
        Number.isSafeInteger(o.size) && (o.error !== undefined || (o.size as number) >= 0),
        `size is a safe integer: ${context}`,
      );
      if (o.error) {
        const error = o.error as { code: unknown; message: unknown };
        assert.ok([404, 409, 410, 422].includes(error.code as number), `per-object code: ${context}`);
        assert.equal(typeof error.message, 'string', context);
        assert.equal(o.actions, undefined, context);
      } else if (operation === 'download') {
        assert.fail(`nothing is stored, so nothing can be offered for download: ${context}`);
      }
    }
  }

  const inject = (
    method: Method,
    url: string,
    headers: Record<string, string | undefined>,
    payload?: string | Buffer,
  ) =>
    t.app.inject({
      method,
      url,
      headers: Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<
        string,
        string
      >,
      ...(payload === undefined ? {} : { payload }),
    }) as Promise<Reply>;

  const params = (numRuns: number) => ({
    numRuns: Math.ceil(numRuns * RUNS_SCALE),
    seed: SEED,
    endOnFailure: true,
    includeErrorInReport: true,
  });

  it('generated batch requests: no 5xx, LFS JSON, nothing stored', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('alice/assets', 'alice/open', 'alice/new-repo', 'bob/assets', 'carol/x/y'),
        fc.constantFrom('.git/info/lfs/objects/batch', '/info/lfs/objects/batch', '/objects/batch'),
        batchBody.chain((b) => payloadOf(fc.constant(b)).map((p) => [b, p] as const)),
        authorizationFor(validAuth),
        headerValue(LFS_JSON, 'application/json', '*/*', 'text/html', `${LFS_JSON}; q=0.5, text/html`),
        headerValue(
          `${LFS_JSON}; charset=utf-8`,
          'application/json',
          'text/plain',
          'multipart/form-data; boundary=x',
        ),
        async (repo, route, [body, payload], authorization, accept, contentType) => {
          const url = `/${repo}${route}`;
          const res = await inject(
            'POST',
            url,
            { authorization, accept, 'content-type': contentType },
            payload,
          );
          const context = `POST ${url} ${payload.slice(0, 300)}`;
          checkAnswer('POST', res, context);
          checkBatchAnswer(res, body, context);
          await storeIsEmpty();
        },
      ),
      params(400),
    );
  });

  it('generated lock requests: no 5xx, LFS JSON, nothing stored', async () => {
    const lockBody = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record(
        {
          path: fc.oneof(
            fc.string({ maxLength: 50 }),
            fc.stringMatching(/^[a-z]{1000,1100}$/),
            fc.jsonValue({ maxDepth: 1 }),
          ),
          ref: refField,
          force: fc.jsonValue({ maxDepth: 1 }),
          cursor: fc.oneof(fc.string({ maxLength: 30 }), fc.jsonValue({ maxDepth: 1 })),
          limit: oddSize,
        },
        { requiredKeys: [] },
      ),
    );
    const lockId = fc.oneof(
      fc.constantFrom('1', '0', '-1', '99999999999999999999', 'verify', '%2e%2e', '..'),
      fc.string({ maxLength: 20 }).map(encodeURIComponent),
    );
    const request = fc.oneof(
      fc.tuple(fc.constant<Method>('POST'), fc.constant('locks'), payloadOf(lockBody)),
      fc.tuple(fc.constant<Method>('POST'), fc.constant('locks/verify'), payloadOf(lockBody)),
      fc.tuple(
        fc.constant<Method>('POST'),
        lockId.map((id) => `locks/${id}/unlock`),
        payloadOf(lockBody),
      ),
      fc.tuple(
        fc.constant<Method>('GET'),
        fc
          .array(
            fc.tuple(
              fc.constantFrom('path', 'id', 'cursor', 'limit', 'refspec', 'other'),
              fc.oneof(
                fc.string({ maxLength: 20 }),
                fc.constantFrom('-1', '1e3', '0', '99999999999', 'MQ', '%'),
              ),
            ),
            {
              maxLength: 5,
            },
          )
          .map(
            (q) => `locks?${q.map(([k, v]) => `${k}=${v === '%' ? v : encodeURIComponent(v)}`).join('&')}`,
          ),
        fc.constant(undefined),
      ),
      fc.tuple(
        fc.constantFrom<Method>('PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
        fc.constantFrom(...LOCK_SUFFIXES),
        fc.constant(undefined),
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('alice/assets', 'alice/open', 'alice/new-locks', 'bob/none'),
        request,
        authorizationFor(validAuth),
        headerValue(LFS_JSON, 'text/html', '*/*'),
        async (repo, [method, path, payload], authorization, accept) => {
          const url = `/${repo}.git/info/lfs/${path}`;
          const headers = {
            authorization,
            accept,
            'content-type': payload === undefined ? undefined : `${LFS_JSON}; charset=utf-8`,
          };
          const res = await inject(method, url, headers, payload);
          checkAnswer(method, res, `${method} ${url} ${payload?.slice(0, 300) ?? ''}`);
          await storeIsEmpty();
        },
      ),
      params(300),
    );
  });

  it('generated paths, methods and headers: no 5xx, LFS JSON, nothing stored', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Method>('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
        urlArb(),
        authorizationFor(validAuth),
        headerValue(LFS_JSON, 'application/octet-stream'),
        fc.option(
          fc.oneof(
            fc.string({ maxLength: 100 }),
            fc.constant(JSON.stringify({ operation: 'upload', objects: [] })),
          ),
          { nil: undefined },
        ),
        async (method, url, authorization, contentType, payload) => {
          const withBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
          const res = await inject(
            method,
            url,
            { authorization, 'content-type': contentType },
            withBody ? (payload ?? '') : undefined,
          );
          checkAnswer(method, res, `${method} ${url}`);
          await storeIsEmpty();
        },
      ),
      params(500),
    );
  });

  it('generated uploads with wrong tokens, wrong bytes or lying lengths: refused, nothing stored', async () => {
    const upload = fc.record({
      repo: fc.constantFrom('alice/assets', 'alice/open', 'alice/other'),
      oid: hexOid,
      tokenSize: fc.oneof(fc.nat({ max: 4096 }), fc.constant(MAX_OBJECT_SIZE + 1)),
      body: fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)),
      token: fc.oneof(
        fc.constant('valid'),
        fc.constant('none'),
        asciiString(80).map((s) => `Bearer ${s}`),
        fc.constant('personal'),
        fc.constant('other-oid'),
      ),
      contentLength: fc.option(fc.oneof(fc.nat({ max: 5000 }), fc.constantFrom('-1', 'abc', '1e3', ' 5')), {
        nil: undefined,
      }),
    });
    await fc.assert(
      fc.asyncProperty(upload, async ({ repo, oid, tokenSize, body, token, contentLength }) => {
        const issue = (o: string) =>
          `Bearer ${t.deps.tokens.issue({ operation: 'upload', repoPath: 'alice/assets', oid: o, size: tokenSize, credential: alice.credential })}`;
        const authorization =
          {
            valid: issue(oid),
            none: undefined,
            personal: `Bearer ${alice.token}`,
            'other-oid': issue(objectOf(oid).oid),
          }[token as 'valid'] ?? token;
        const headers: Record<string, string | undefined> = {
          authorization,
          'content-type': 'application/octet-stream',
        };
        // a Content-Length that disagrees with the token's size is refused before any byte is read
        if (
          contentLength !== undefined &&
          (typeof contentLength === 'string' || contentLength !== body.length)
        ) {
          headers['content-length'] = String(contentLength);
        }
        const url = `/${repo}.git/info/lfs/objects/${oid}`;
        const res = await inject('PUT', url, headers, body);
        const context = `PUT ${url} token=${token} size=${tokenSize} body=${body.length} content-length=${contentLength}`;
        checkAnswer('PUT', res, context);
        assert.ok(res.statusCode >= 400, `refused: ${context}`);
        await storeIsEmpty();
      }),
      params(300),
    );
  });

  // ---- the issue's list, one by one

  const batch = (body: unknown, authorization = alice.authorization, repo = 'alice/assets') =>
    inject(
      'POST',
      `/${repo}.git/info/lfs/objects/batch`,
      { authorization, accept: LFS_JSON, 'content-type': LFS_JSON },
      JSON.stringify(body),
    );

  it('maximum objects per batch: the limit is accepted, one more is 413', async () => {
    const objects = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ oid: objectOf(`object ${i}`).oid, size: 10 }));
    const atLimit = await batch({ operation: 'upload', objects: objects(MAX_BATCH_OBJECTS) });
    assert.equal(atLimit.statusCode, 200);
    assert.equal((JSON.parse(atLimit.body) as { objects: unknown[] }).objects.length, MAX_BATCH_OBJECTS);
    const past = await batch({ operation: 'upload', objects: objects(MAX_BATCH_OBJECTS + 1) });
    assert.equal(past.statusCode, 413);
    checkAnswer('POST', past, 'past the batch limit');
    assert.match(past.body, /Too many objects/);
  });

  it('maximum object size: per-object 422 in the batch, and the PUT refused past it', async () => {
    const big = randomObject(16);
    const fits = randomObject(1);
    const res = await batch({
      operation: 'upload',
      objects: [
        { oid: big.oid, size: MAX_OBJECT_SIZE + 1 },
        { oid: fits.oid, size: MAX_OBJECT_SIZE },
      ],
    });
    assert.equal(res.statusCode, 200);
    // answers are matched by oid, not by position (LFS-PROTOCOL.md section 2.2)
    const answered = (
      JSON.parse(res.body) as {
        objects: Array<{ oid: string; error?: { code: number; message: string }; actions?: object }>;
      }
    ).objects;
    const tooBig = answered.find((o) => o.oid === big.oid);
    const atLimit = answered.find((o) => o.oid === fits.oid);
    assert.equal(tooBig?.error?.code, 422);
    assert.match(tooBig!.error!.message, new RegExp(`exceeds the maximum of ${MAX_OBJECT_SIZE} bytes`));
    assert.ok(atLimit?.actions, 'exactly the maximum is fine');
    // a token issued before the limit was lowered (or forged size in an old href) still cannot store more
    const token = t.deps.tokens.issue({
      operation: 'upload',
      repoPath: 'alice/assets',
      oid: big.oid,
      size: MAX_OBJECT_SIZE + 1,
      credential: alice.credential,
    });
    const put = await inject(
      'PUT',
      `/alice/assets.git/info/lfs/objects/${big.oid}`,
      { authorization: `Bearer ${token}` },
      Buffer.alloc(MAX_OBJECT_SIZE + 1),
    );
    assert.equal(put.statusCode, 413);
    checkAnswer('PUT', put, 'PUT past the maximum');
    await storeIsEmpty();
  });

  it('invalid oids, sizes and hash_algo: per-object errors beside valid objects, whole 422 when none is valid', async () => {
    const good = randomObject(8);
    const bad = [
      { oid: good.oid.toUpperCase(), size: 8 },
      { oid: `${good.oid}/../x`, size: 8 },
      { oid: good.oid, size: -1 },
      { oid: good.oid, size: 2 ** 53 },
      { oid: good.oid, size: 0.5 },
      { oid: good.oid, size: '8' },
      { oid: good.oid },
      {},
      null,
    ];
    for (const item of bad) {
      const mixed = await batch({
        operation: 'download',
        objects: [{ oid: randomObject(3).oid, size: 3 }, item],
      });
      assert.equal(mixed.statusCode, 200, JSON.stringify(item));
      const answered = (JSON.parse(mixed.body) as { objects: Array<{ error?: { code: number } }> }).objects;
      assert.equal(answered.length, 2);
      assert.equal(answered.filter((o) => o.error?.code === 422).length, 1, JSON.stringify(item));
      const alone = await batch({ operation: 'upload', objects: [item] });
      assert.equal(alone.statusCode, 422, JSON.stringify(item));
      checkAnswer('POST', alone, JSON.stringify(item));
    }
    for (const hashAlgo of ['sha512', 'SHA256', 'md5']) {
      const res = await batch({
        operation: 'upload',
        objects: [{ oid: good.oid, size: 8 }],
        hash_algo: hashAlgo,
      });
      assert.equal(res.statusCode, 200);
      const [o] = (JSON.parse(res.body) as { objects: Array<{ error?: { code: number }; actions?: object }> })
        .objects;
      assert.equal(o?.error?.code, 409, hashAlgo);
      assert.equal(o?.actions, undefined);
    }
    for (const hashAlgo of [42, ['sha256'], { name: 'sha256' }]) {
      const res = await batch({
        operation: 'upload',
        objects: [{ oid: good.oid, size: 8 }],
        hash_algo: hashAlgo,
      });
      assert.equal(res.statusCode, 422, JSON.stringify(hashAlgo));
    }
  });

  it('path traversal in any URL segment: LFS JSON 404, never a file outside the store', async () => {
    const oid = randomObject(4).oid;
    const token = `Bearer ${t.deps.tokens.issue({ operation: 'download', repoPath: 'alice/assets', oid, size: 4, credential: alice.credential })}`;
    const urls = [
      // repository segments
      '/alice/../alice/assets.git/info/lfs/objects/batch',
      '/../alice/assets/objects/batch',
      '/alice/%2e%2e/alice/assets/objects/batch',
      '/alice/.%2e/assets/objects/batch',
      '/alice/%2E%2E%2Fassets/objects/batch',
      '/alice/assets%2F..%2F..%2Fbob/objects/batch',
      '/alice/..%5cassets/objects/batch',
      '/alice/./assets/objects/batch',
      '/alice//assets/objects/batch',
      '/alice/assets%00/objects/batch',
      '/alice/.git/objects/batch',
      // the oid segment
      `/alice/assets.git/info/lfs/objects/..%2F..%2F${oid.slice(6)}`,
      `/alice/assets.git/info/lfs/objects/${oid.slice(0, 62)}..`,
      `/alice/assets.git/info/lfs/objects/${oid}%2F..%2F${oid}/verify`,
      '/alice/assets.git/info/lfs/objects/..%2F..%2Fsecret',
      // the lock id segment
      '/alice/assets.git/info/lfs/locks/..%2F1/unlock',
      '/alice/assets.git/info/lfs/locks/%2e%2e/unlock',
      '/alice/assets.git/info/lfs/locks/1%2F..%2F2/unlock',
    ];
    // through a socket: app.inject() would resolve `.` and `..` before the app saw them, as a
    // browser would; `curl --path-as-is` and hostile clients do not
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    for (const url of urls) {
      for (const method of ['GET', 'POST', 'PUT'] as const) {
        const authorization = url.includes('/objects/batch') ? alice.authorization : token;
        const res = await rawRequest(
          port,
          method,
          url,
          { authorization, 'content-type': LFS_JSON },
          method === 'GET' ? undefined : '{}',
        );
        assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
        checkAnswer(method, res, `${method} ${url}`);
      }
    }
    await storeIsEmpty();
  });

  it('a malformed percent-encoding in the path is answered in LFS JSON', async () => {
    for (const segment of MALFORMED_ENCODINGS) {
      for (const url of [
        `/alice/${segment}/objects/batch`,
        `/alice/assets.git/info/lfs/locks/${segment}/unlock`,
        `/${segment}`,
      ]) {
        const res = await inject(
          'POST',
          url,
          { authorization: alice.authorization, 'content-type': LFS_JSON },
          '{}',
        );
        assert.equal(res.statusCode, 400, `${url}: ${res.statusCode}`);
        checkAnswer('POST', res, url);
      }
    }
  });

  it('a repository path longer than the database holds is a 404, not a 500, even for its namespace owner', async () => {
    const deep = Array.from({ length: 7 }, (_, i) => String(i).repeat(99)).join('/');
    for (const body of [
      { operation: 'upload', objects: [] },
      { operation: 'download', objects: [] },
    ]) {
      const res = await batch(body, alice.authorization, `alice/${deep}`);
      assert.equal(res.statusCode, 404, res.body);
      checkAnswer('POST', res, 'deep path');
    }
    const lock = await inject(
      'POST',
      `/alice/${deep}.git/info/lfs/locks`,
      { authorization: alice.authorization, 'content-type': LFS_JSON },
      JSON.stringify({ path: 'a.psd' }),
    );
    assert.equal(lock.statusCode, 404, lock.body);
  });

  it('a wrong Content-Length on a PUT is refused before any byte is stored', async () => {
    const obj = randomObject(64);
    const token = `Bearer ${t.deps.tokens.issue({ operation: 'upload', repoPath: 'alice/assets', oid: obj.oid, size: obj.size, credential: alice.credential })}`;
    const url = `/alice/assets.git/info/lfs/objects/${obj.oid}`;
    for (const [length, payload] of [
      ['63', obj.content.subarray(0, 63)],
      ['65', Buffer.concat([obj.content, Buffer.from('x')])],
      ['0', Buffer.alloc(0)],
      ['abc', obj.content],
      ['-64', obj.content],
    ] as const) {
      const res = await inject('PUT', url, { authorization: token, 'content-length': length }, payload);
      assert.equal(res.statusCode, 400, `Content-Length ${length}: ${res.body}`);
      checkAnswer('PUT', res, `Content-Length ${length}`);
    }
    await storeIsEmpty();
    const ok = await inject('PUT', url, { authorization: token }, obj.content);
    assert.equal(ok.statusCode, 200, 'control: the right length is stored');
    await t.deps.store.delete(obj.oid);
  });
});

describe('renderFrameworkError', () => {
  it('answers what Fastify refuses before routing in LFS JSON, with the request id', async () => {
    const app = Fastify({ frameworkErrors: renderFrameworkError });
    installErrorHandling(app);
    app.post('/*', async () => ({ routed: true }));
    try {
      for (const segment of MALFORMED_ENCODINGS) {
        const res = await app.inject({
          method: 'POST',
          url: `/alice/${segment}/objects/batch`,
          payload: '{}',
        });
        assert.equal(res.statusCode, 400, segment);
        assert.match(String(res.headers['content-type']), LFS_CONTENT_TYPE, segment);
        const body = res.json() as { message: string; request_id: string };
        assert.match(body.message, /percent-encoded/);
        assert.equal(body.request_id, res.headers['x-request-id']);
      }
    } finally {
      await app.close();
    }
  });
});

// Credentials reach the metadata database (a user name lookup); PostgreSQL refuses some strings
// (a NUL) that SQLite takes, so these run on every dialect. The servers must be up, as for the
// metadata tests.
describe('malformed credentials on every metadata dialect', () => {
  for (const dialect of DIALECTS) {
    it(`${dialect}: any user name and password that do not match get 401, never a 5xx`, async () => {
      const db = await createTestDatabase(dialect);
      // hundreds of failed sign-ins from one address: no failed sign-in limits here
      const t = await createTestApp({
        databaseUrl: db.url,
        signInFailuresPerUser: 0,
        signInFailuresPerAddress: 0,
      });
      try {
        const alice = await addUser(t.deps, 'alice');
        await t.deps.metadata.createRepo('alice/open', { isPublic: true });
        const text = fc.oneof(
          fc.string({ unit: 'binary', maxLength: 40 }),
          fc.string({ unit: 'grapheme', maxLength: 40 }),
          fc.constantFrom(
            'alice',
            'al\u0000ice',
            '\u0000',
            'alice\u0000',
            'x'.repeat(300),
            '\ud800',
            'é',
            "' OR 1=1 --",
          ),
        );
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              fc.tuple(text, text).map(([name, secret]) => basicAuth(name, secret)),
              text.map((secret) => `Bearer ${secret}`),
              fc.uint8Array({ maxLength: 40 }).map((b) => `Basic ${Buffer.from(b).toString('base64')}`),
            ),
            fc.constantFrom('alice/open', 'alice/private'),
            async (authorization, repo) => {
              fc.pre(authorization !== alice.authorization);
              const res = (await t.app.inject({
                method: 'POST',
                url: `/${repo}.git/info/lfs/objects/batch`,
                headers: { authorization, 'content-type': LFS_JSON },
                payload: JSON.stringify({ operation: 'download', objects: [] }),
              })) as Reply;
              assert.equal(res.statusCode, 401, `${JSON.stringify(authorization)}: ${res.body}`);
              assert.match(String(res.headers['content-type']), LFS_CONTENT_TYPE);
              assert.match(String(res.headers['lfs-authenticate']), /^Basic realm=/);
            },
          ),
          {
            numRuns: Math.ceil(150 * RUNS_SCALE),
            seed: SEED,
            endOnFailure: true,
            includeErrorInReport: true,
          },
        );
      } finally {
        await t.close();
        await db.drop();
      }
    });
  }
});
