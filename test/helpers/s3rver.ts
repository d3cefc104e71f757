/**
 * A real S3-compatible server for tests: the npm package `s3rver`, run as a child process so that
 * its memory, event loop and (legacy-provider) OpenSSL setting stay out of the test process.
 *
 * s3rver 3.7 lacks three things S3Store relies on, so the child script adds them in front of its
 * router (they only make the test double closer to S3; nothing here changes what S3Store does):
 * - AbortMultipartUpload (`DELETE /bucket/key?uploadId=`): s3rver answers MethodNotAllowed;
 * - ListMultipartUploads (`GET /bucket?uploads`): s3rver answers NotImplemented;
 * - UploadPart / CompleteMultipartUpload for an unknown upload id: real S3 answers NoSuchUpload,
 *   s3rver would silently re-create the upload directory (a part arriving after an abort would
 *   resurrect it);
 * - `Range: bytes=0-0`: s3rver treats the end `0` as "no end" and returns the whole object;
 * - CopyObject: s3rver unlinks the destination before copying over it, so a copy whose source is
 *   deleted meanwhile deletes the destination and fails with InternalError; S3 replaces the
 *   destination atomically or not at all, and answers NoSuchKey for a missing source.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { s3ClientConfig } from '../../src/storage/s3-client.js';

export interface S3rverHandle {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  bucket: string;
  /** s3rver's data directory (objects and in-progress multipart uploads live here) */
  directory: string;
  /** ids of multipart uploads s3rver still holds on disk, whatever its API says */
  uploadDirectories(): Promise<string[]>;
  stop(): Promise<void>;
}

/** The child process: CommonJS, given to `node -e`; configuration arrives in environment variables. */
const CHILD_SCRIPT = String.raw`
const fs = require('fs');
const path = require('path');
const S3rver = require(process.env.S3RVER_MODULE);
const S3Error = require(path.join(path.dirname(process.env.S3RVER_MODULE), 'models', 'error.js'));

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory: process.env.S3RVER_DIR,
  silent: true,
  configureBuckets: [{ name: process.env.S3RVER_BUCKET }],
});
const store = server.store;
const uploadsDir = (bucket) => store.getResourcePath(bucket, undefined, 'uploads');
const escapeXml = (s) =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);

function xml(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n' + body;
}
function s3Error(ctx, status, code, message) {
  xml(ctx, status, '<Error><Code>' + code + '</Code><Message>' + message + '</Message></Error>');
}

async function listUploads(ctx, bucket) {
  const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
  const dir = uploadsDir(bucket);
  const ids = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  const uploads = [];
  for (const id of ids) {
    const keyFile = path.join(dir, id, 'key');
    if (!fs.existsSync(keyFile)) continue;
    const key = fs.readFileSync(keyFile, 'utf8');
    if (key.startsWith(prefix)) uploads.push({ key, id, initiated: fs.statSync(keyFile).mtime });
  }
  uploads.sort((a, b) => (a.key === b.key ? a.id.localeCompare(b.id) : a.key < b.key ? -1 : 1));
  const items = uploads.map(
    (u) =>
      '<Upload><Key>' + escapeXml(u.key) + '</Key><UploadId>' + u.id + '</UploadId><Initiated>' +
      u.initiated.toISOString() + '</Initiated><StorageClass>STANDARD</StorageClass></Upload>',
  );
  xml(
    ctx,
    200,
    '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>' +
      escapeXml(bucket) + '</Bucket><Prefix>' + escapeXml(prefix) +
      '</Prefix><MaxUploads>10000</MaxUploads><IsTruncated>false</IsTruncated>' + items.join('') +
      '</ListMultipartUploadsResult>',
  );
}

async function multipartShim(ctx, next) {
  const match = /^\/([^/]+)(?:\/(.*))?$/.exec(ctx.path);
  if (!match) return next();
  const bucket = decodeURIComponent(match[1]);
  const hasKey = match[2] !== undefined && match[2] !== '';
  if (ctx.method === 'GET' && !hasKey && 'uploads' in ctx.query) return listUploads(ctx, bucket);
  const uploadId = ctx.query.uploadId;
  if (!hasKey || typeof uploadId !== 'string' || !/^[0-9a-f]+$/.test(uploadId)) return next();
  const uploadDir = path.join(uploadsDir(bucket), uploadId);
  if (!fs.existsSync(path.join(uploadDir, 'key'))) {
    return s3Error(ctx, 404, 'NoSuchUpload', 'The specified upload does not exist.');
  }
  if (ctx.method === 'DELETE') {
    fs.rmSync(uploadDir, { recursive: true, force: true });
    ctx.status = 204;
    return;
  }
  return next();
}

// s3rver's FilesystemStore reads "options.end || Infinity", so a range ending at byte 0 became open-ended.
const getObject = store.getObject.bind(store);
store.getObject = async (bucket, key, options) => {
  const object = await getObject(bucket, key, options);
  if (object && object.content && options && options.start === 0 && options.end === 0) {
    object.content.destroy();
    object.content = fs.createReadStream(store.getResourcePath(bucket, key, 'object'), { start: 0, end: 0 });
    object.range = { start: 0, end: 0 };
  }
  return object;
};

// CopyObject: copy to a temporary key next to the destination, then rename its files into place
// (the object file last: s3rver sees an object when that file exists).
const copyObject = store.copyObject.bind(store);
let copies = 0;
store.copyObject = async (srcBucket, srcKey, destBucket, destKey, replacementMetadata) => {
  const tmpKey = destKey + '.s3rver-copy-' + ++copies;
  const resources = ['metadata.json', 'object.md5', 'object'];
  try {
    try {
      await copyObject(srcBucket, srcKey, destBucket, tmpKey, replacementMetadata);
    } catch (err) {
      if (err.code === 'ENOENT') throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: srcKey });
      throw err;
    }
    for (const resource of resources) {
      const from = store.getResourcePath(destBucket, tmpKey, resource);
      if (fs.existsSync(from)) fs.renameSync(from, store.getResourcePath(destBucket, destKey, resource));
    }
    return await store.getMetadata(destBucket, destKey);
  } finally {
    for (const resource of resources) fs.rmSync(store.getResourcePath(destBucket, tmpKey, resource), { force: true });
  }
};

// s3rver writes an object or a part through a file stream with no 'error' listener: when a delete
// removes the key's emptied directory between s3rver's mkdir and its open (lfsd's gc deleting an
// object while an upload of the same oid runs), ENOENT was thrown uncaught and s3rver died, which
// a test saw as ECONNREFUSED. The same steps with every error handled: an object's open is retried
// after making its directory again (a PUT creates the key whatever was deleted meanwhile); a part
// whose upload was aborted meanwhile fails its request.
const crypto = require('crypto');
const { pipeline } = require('stream/promises');
async function writeHashed(filePath, content, recreateDirectory) {
  let handle;
  for (let attempt = 1; !handle; attempt++) {
    if (recreateDirectory) await fs.promises.mkdir(path.dirname(filePath), { recursive: true });
    try {
      handle = await fs.promises.open(filePath, 'w');
    } catch (err) {
      if (err.code !== 'ENOENT' || !recreateDirectory || attempt >= 5) throw err;
    }
  }
  const md5 = crypto.createHash('md5');
  let size = 0;
  await pipeline(
    Buffer.isBuffer(content) ? [content] : content,
    async function* (chunks) {
      for await (const chunk of chunks) {
        md5.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    fs.createWriteStream(filePath, { fd: handle }),
  );
  return { size, md5: md5.digest('hex') };
}
store.putObject = async (object) => {
  const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
  const { size, md5 } = await writeHashed(objectPath, object.content, true);
  await store.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size, md5 };
};
store.putPart = async (bucket, uploadId, partNumber, content) => {
  const partPath = path.join(uploadsDir(bucket), uploadId, String(partNumber));
  const { size, md5 } = await writeHashed(partPath, content, false);
  await fs.promises.writeFile(partPath + '.md5', md5);
  return { size, md5 };
};

// Koa composes app.middleware when the server starts: put the shim just before s3rver's router.
server.middleware.splice(server.middleware.length - 1, 0, multipartShim);

// Exit with the parent: stdin is a pipe from it, which closes however the parent dies.
process.stdin.on('close', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

server.run().then(
  (address) => process.stdout.write(JSON.stringify({ port: address.port }) + '\n'),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
`;

const READY_TIMEOUT_MS = 20_000;

/** Start s3rver on a free port of 127.0.0.1 with an empty bucket; `stop()` kills it and removes its data. */
export async function startS3rver(options: { bucket?: string } = {}): Promise<S3rverHandle> {
  const bucket = options.bucket ?? 'lfsd-test';
  const directory = await mkdtemp(join(tmpdir(), 'lfsd-s3rver-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD_SCRIPT], {
    env: {
      ...process.env,
      S3RVER_MODULE: createRequire(import.meta.url).resolve('s3rver'),
      S3RVER_DIR: directory,
      S3RVER_BUCKET: bucket,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // Belt and braces next to the stdin pipe: never leave the child behind when the test process exits.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    await killChild(child);
    await rm(directory, { recursive: true, force: true });
  };

  try {
    const port = await waitForPort(child);
    return {
      endpoint: `http://127.0.0.1:${port}`,
      bucket,
      directory,
      uploadDirectories: async () => {
        const uploads = join(directory, bucket, '._S3rver_uploads');
        return readdir(uploads).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return [];
          throw err;
        });
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** SDK settings every test client needs against s3rver (see the module comment of src/storage/s3-store.ts). */
export function s3rverClientConfig(endpoint: string): S3ClientConfig {
  // lfsd's own configuration (its HTTP handler included), with s3rver's fixed credentials
  return s3ClientConfig({
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}

function waitForPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(
      () => fail(new Error(`s3rver did not start in ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    const onExit = (code: number | null) =>
      fail(new Error(`s3rver exited (${code}) before listening: ${stderr}`));
    function fail(err: Error) {
      clearTimeout(timer);
      child.off('exit', onExit);
      reject(err);
    }
    child.once('exit', onExit);
    lines.once('line', (line) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.close();
      // keep draining stdout so a chatty child can never block on a full pipe
      child.stdout?.resume();
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
}

function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** `lfsd serve` flags for S3 storage on an s3rver bucket (path-style addressing, as s3rver needs). */
export function s3ServeArgs(s3: { bucket: string; endpoint: string }, prefix = ''): string[] {
  const args = [
    '--storage',
    's3',
    '--s3-bucket',
    s3.bucket,
    '--s3-endpoint',
    s3.endpoint,
    '--s3-force-path-style',
    'true',
  ];
  return prefix ? [...args, '--s3-prefix', prefix] : args;
}
