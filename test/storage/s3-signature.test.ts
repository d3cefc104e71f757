// S3 request signing checked independently of the AWS SDK (issue 11 item 17): s3rver accepts any
// signature, so here a local HTTP server records what lfsd's S3 client sends and a SigV4 verifier
// written from AWS's specification (not the SDK's signer) recomputes every signature. Presigned
// URLs are checked the same way: the PUT signs Content-Length and x-amz-checksum-sha256 (so S3
// refuses other bytes or another length), the GET signs nothing a client could change.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { S3Store } from '../../src/storage/s3-store.js';

const CREDENTIALS = { accessKeyId: 'AKIDLFSDTEST0000', secretAccessKey: 'lfsd-test-secret-key-0123456789' };
const REGION = 'eu-central-1';
const BUCKET = 'signed-bucket';

interface Recorded {
  method: string;
  /** path and query exactly as sent */
  url: string;
  headers: Record<string, string>;
  bodySha256: string;
}

// ---- SigV4, from https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone) */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function canonicalQuery(query: string, without?: string): string {
  if (query === '') return '';
  return query
    .split('&')
    .map((pair) => {
      const at = pair.indexOf('=');
      const [key, value] = at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
      return [decodeURIComponent(key), decodeURIComponent(value.replace(/\+/g, '%20'))] as const;
    })
    .filter(([key]) => key !== without)
    .map(([key, value]) => [uriEncode(key), uriEncode(value)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
}

interface SignatureParts {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  amzDate: string;
  payloadHash: string;
}

/** the signature of a request (S3: the path as sent, not normalised nor encoded again) */
function sigV4(
  secretAccessKey: string,
  method: string,
  path: string,
  query: string,
  headers: Record<string, string>,
  parts: SignatureParts,
): string {
  const canonicalHeaders = parts.signedHeaders
    .map((name) => {
      const value = headers[name];
      assert.ok(value !== undefined, `signed header ${name} was sent`);
      return `${name}:${value.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  const canonicalRequest = [
    method,
    path,
    query,
    canonicalHeaders,
    parts.signedHeaders.join(';'),
    parts.payloadHash,
  ].join('\n');
  const scope = `${parts.date}/${parts.region}/${parts.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', parts.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = ['aws4_request'].reduce(
    (k, part) => hmac(k, part),
    [parts.date, parts.region, parts.service].reduce<Buffer | string>(
      (k, part) => hmac(k, part),
      `AWS4${secretAccessKey}`,
    ),
  );
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

/** Checks a recorded request's Authorization header; returns what it signed. */
function verifyHeaderSignature(
  request: Recorded,
  secretAccessKey = CREDENTIALS.secretAccessKey,
): SignatureParts {
  const auth = request.headers.authorization ?? '';
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  assert.ok(match, `a SigV4 Authorization header: ${auth}`);
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match;
  const parts: SignatureParts = {
    accessKeyId: accessKeyId!,
    date: date!,
    region: region!,
    service: service!,
    signedHeaders: signedHeaders!.split(';'),
    amzDate: request.headers['x-amz-date']!,
    payloadHash: request.headers['x-amz-content-sha256']!,
  };
  const [path = '', query = ''] = request.url.split('?', 2) as [string, string?];
  const expected = sigV4(
    secretAccessKey,
    request.method,
    path,
    canonicalQuery(query ?? ''),
    request.headers,
    parts,
  );
  assert.equal(signature, expected, `signature of ${request.method} ${request.url}`);
  return parts;
}

/** Checks a presigned URL as S3 would for a request carrying `headers`; returns what it signed. */
function verifyPresignedUrl(
  method: string,
  href: string,
  headers: Record<string, string>,
  secretAccessKey = CREDENTIALS.secretAccessKey,
): SignatureParts & { expires: number } {
  const url = new URL(href);
  const q = url.searchParams;
  assert.equal(q.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
  const [accessKeyId, date, region, service, terminator] = (q.get('X-Amz-Credential') ?? '').split('/');
  assert.equal(terminator, 'aws4_request');
  const parts: SignatureParts = {
    accessKeyId: accessKeyId!,
    date: date!,
    region: region!,
    service: service!,
    signedHeaders: (q.get('X-Amz-SignedHeaders') ?? '').split(';'),
    amzDate: q.get('X-Amz-Date')!,
    payloadHash: 'UNSIGNED-PAYLOAD',
  };
  const sent = { host: url.host, ...headers };
  const expected = sigV4(
    secretAccessKey,
    method,
    url.pathname,
    canonicalQuery(url.search.slice(1), 'X-Amz-Signature'),
    sent,
    parts,
  );
  assert.equal(q.get('X-Amz-Signature'), expected, `signature of presigned ${method}`);
  return { ...parts, expires: Number(q.get('X-Amz-Expires')) };
}

// ---- a recording S3 endpoint

describe('S3 request signing, checked by an independent SigV4 verifier', () => {
  let server: Server;
  let endpoint: string;
  const recorded: Recorded[] = [];
  let store: S3Store;

  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const hash = createHash('sha256');
      req.on('data', (chunk: Buffer) => hash.update(chunk));
      req.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) headers[name] = String(value);
        recorded.push({ method: req.method!, url: req.url!, headers, bodySha256: hash.digest('hex') });
        res.setHeader('ETag', '"0123456789abcdef0123456789abcdef"');
        res.setHeader('Content-Length', '0');
        res.end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    store = new S3Store({
      bucket: BUCKET,
      prefix: 'lfs/',
      endpoint,
      region: REGION,
      forcePathStyle: true,
      credentials: CREDENTIALS,
    });
  });
  after(async () => {
    await store.close();
    server.close();
  });

  it('HeadBucket (ping) is signed for the bucket, region and service, with the empty payload hash', async () => {
    recorded.length = 0;
    await store.ping();
    assert.equal(recorded.length, 1);
    const request = recorded[0]!;
    assert.equal(request.method, 'HEAD');
    assert.match(request.url, new RegExp(`^/${BUCKET}/?$`));
    const parts = verifyHeaderSignature(request);
    assert.equal(parts.accessKeyId, CREDENTIALS.accessKeyId);
    assert.equal(parts.region, REGION);
    assert.equal(parts.service, 's3');
    assert.equal(parts.payloadHash, sha256Hex(''));
    for (const name of ['host', 'x-amz-date', 'x-amz-content-sha256'])
      assert.ok(parts.signedHeaders.includes(name), name);
  });

  it('a put signs its body hash (which matches the bytes) and its x-amz-checksum-sha256 (the oid)', async () => {
    recorded.length = 0;
    const content = Buffer.from('signed object bytes\n');
    const oid = sha256Hex(content);
    await store.put(oid, content.length, Readable.from([content]));
    const puts = recorded.filter((r) => r.method === 'PUT');
    assert.ok(puts.length >= 1, `the put reached S3: ${recorded.map((r) => r.method).join(', ')}`);
    for (const request of recorded) verifyHeaderSignature(request);
    const put = puts[0]!;
    assert.match(put.url, new RegExp(`^/${BUCKET}/lfs/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}(\\?|$)`));
    const parts = verifyHeaderSignature(put);
    assert.equal(parts.payloadHash, put.bodySha256, 'the signed payload hash is that of the bytes sent');
    assert.ok(parts.signedHeaders.includes('content-length'), 'the length is signed');
    assert.equal(put.headers['x-amz-checksum-sha256'], Buffer.from(oid, 'hex').toString('base64'));
    assert.ok(parts.signedHeaders.includes('x-amz-checksum-sha256'), 'the checksum header is signed');
  });

  it('the verifier refuses a signature made with another key (it can fail)', async () => {
    recorded.length = 0;
    await store.ping();
    assert.throws(() => verifyHeaderSignature(recorded[0]!, 'another-secret-key'), /signature of HEAD/);
    const href = (await store.presign('download', 'ab'.repeat(32), 1, 900))!.href;
    assert.throws(
      () => verifyPresignedUrl('GET', href, {}, 'another-secret-key'),
      /signature of presigned GET/,
    );
  });

  it('a presigned PUT signs Content-Length and x-amz-checksum-sha256 as headers, expiring after the TTL', async () => {
    const oid = 'cd'.repeat(32);
    const size = 12_345;
    const signed = (await store.presign('upload', oid, size, 900))!;
    const checksum = Buffer.from(oid, 'hex').toString('base64');
    assert.deepEqual(signed.header, { 'x-amz-checksum-sha256': checksum });
    const url = new URL(signed.href);
    assert.equal(url.searchParams.get('x-amz-checksum-sha256'), null, 'not hoisted into the query');
    const parts = verifyPresignedUrl('PUT', signed.href, {
      'content-length': String(size),
      'x-amz-checksum-sha256': checksum,
    });
    assert.deepEqual([...parts.signedHeaders].sort(), ['content-length', 'host', 'x-amz-checksum-sha256']);
    assert.equal(parts.expires, 900);
    assert.equal(parts.region, REGION);
    // what S3 refuses: another length, another checksum (the signature no longer matches)
    assert.throws(
      () =>
        verifyPresignedUrl('PUT', signed.href, {
          'content-length': String(size + 1),
          'x-amz-checksum-sha256': checksum,
        }),
      /signature of presigned PUT/,
    );
    const other = Buffer.from('ef'.repeat(32), 'hex').toString('base64');
    assert.throws(
      () =>
        verifyPresignedUrl('PUT', signed.href, {
          'content-length': String(size),
          'x-amz-checksum-sha256': other,
        }),
      /signature of presigned PUT/,
    );
  });

  it('a presigned GET is signed for its key alone, expiring after the TTL', async () => {
    const oid = 'ef'.repeat(32);
    const signed = (await store.presign('download', oid, 10, 600))!;
    const url = new URL(signed.href);
    assert.equal(url.pathname, `/${BUCKET}/lfs/ef/ef/${oid}`);
    const parts = verifyPresignedUrl('GET', signed.href, {});
    assert.deepEqual(parts.signedHeaders, ['host']);
    assert.equal(parts.expires, 600);
  });
});
