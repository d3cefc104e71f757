/**
 * Basic Transfer API endpoints (LFS-PROTOCOL.md section 3): PUT and GET of object bytes and
 * POST verify, each authorised by the transfer token the batch answer handed out.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { lfsError } from '../errors.js';
import type { AppDeps } from './app-deps.js';
import { requireTransferToken } from './authenticate.js';
import { sendLfsJson } from './lfs-json.js';
import { contentRange, parseRange } from './range.js';
import { requestBodyOf } from './upload-body.js';

export async function handleUpload(
  deps: AppDeps,
  repoPath: string,
  oid: string,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const size = await requireTransferToken(deps, request, 'upload', repoPath, oid);
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) !== size) {
    throw lfsError('size_mismatch', `Content-Length ${declared} does not match the object size ${size}`);
  }
  // a client that goes away mid-upload aborts the store's put, which then leaves nothing behind
  const aborted = new AbortController();
  const onClose = () => {
    if (!request.raw.complete) aborted.abort();
  };
  request.raw.once('close', onClose);
  try {
    await deps.transfers.upload(repoPath, oid, size, requestBodyOf(request), aborted.signal);
  } finally {
    request.raw.off('close', onClose);
  }
  request.ctx.bytesIn = size;
  return reply.code(200).send();
}

export async function handleDownload(
  deps: AppDeps,
  repoPath: string,
  oid: string,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  await requireTransferToken(deps, request, 'download', repoPath, oid);
  const size = await deps.transfers.linkedSize(repoPath, oid);
  const range = parseRange(request.headers.range, size);
  if (range === 'unsatisfiable') {
    throw lfsError('range_not_satisfiable', undefined, { 'Content-Range': `bytes */${size}` });
  }
  const length = range ? range.end - range.start + 1 : size;
  if (deps.downloadOffload) {
    await deps.transfers.requireContent(oid);
    request.ctx.bytesOut = length;
    const { name, value } = deps.downloadOffload(oid);
    // the proxy sends the file (and answers the Range itself); these headers pass through it
    return reply.code(200).header(name, value).header('Content-Type', 'application/octet-stream').send();
  }
  const found = await deps.transfers.read(oid, range);
  request.ctx.bytesOut = length;
  reply.header('Content-Type', 'application/octet-stream');
  reply.header('Content-Length', String(length));
  reply.header('Accept-Ranges', 'bytes');
  if (range) reply.code(206).header('Content-Range', contentRange(range, size));
  if (isRecycling(found.body)) recycleFlushedChunks(found.body, reply.raw);
  return reply.send(found.body);
}

/** A body whose chunks may be handed back for reuse once nothing refers to them (DiskStore's FileBody). */
interface RecyclingBody extends Readable {
  recycle(chunk: Buffer): void;
}

function isRecycling(body: Readable): body is RecyclingBody {
  return typeof (body as Partial<RecyclingBody>).recycle === 'function';
}

/**
 * Hands each chunk of `body` back once the response has flushed it to the socket, so the store
 * reuses a few buffers instead of allocating one per chunk (DiskStore's FileBody).
 *
 * Whatever stream finally pipes into the response (the body, or a layer passing its chunks on
 * unchanged) announces itself with the response's 'pipe' event; every chunk it emits is written
 * to the response in the same tick. When the response emits 'drain' with nothing left queued in
 * it or its socket, everything written so far is in the kernel, so those chunks are free. This
 * listener is prepended so that it runs before pipe's own 'drain' listener writes the next chunk. Chunks the body did not produce, or
 * produced in a copy, are ignored by `recycle`; without a 'pipe' (or a 'drain'), nothing is
 * recycled and the body allocates as usual.
 */
function recycleFlushedChunks(body: RecyclingBody, response: ServerResponse): void {
  response.once('pipe', (source: Readable) => {
    let written: Buffer[] = [];
    const onData = (chunk: Buffer) => void written.push(chunk);
    const onDrain = () => {
      // 'drain' alone does not mean the bytes left: with pipelined requests Node emits it while the
      // socket still queues them (a queued response handed the socket, or one buffering its first
      // write). Only when nothing is queued, in the response or its socket, has the kernel every
      // chunk written so far; until then they wait for a later 'drain' (or are left to the GC).
      if (response.writableLength > 0) return;
      const flushed = written;
      written = [];
      for (const chunk of flushed) body.recycle(chunk);
    };
    source.on('data', onData);
    response.prependListener('drain', onDrain);
    response.once('close', () => {
      source.off('data', onData);
      response.off('drain', onDrain);
      written = [];
    });
  });
}

export async function handleVerify(
  deps: AppDeps,
  repoPath: string,
  oid: string,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  await requireTransferToken(deps, request, 'verify', repoPath, oid);
  const body = request.body as { oid?: unknown; size?: unknown } | undefined;
  if (body?.oid !== oid) throw lfsError('validation', 'oid in the body does not match the URL');
  if (typeof body.size !== 'number' || !Number.isSafeInteger(body.size) || body.size < 0) {
    throw lfsError('validation', 'size must be a non-negative integer');
  }
  await deps.transfers.verify(repoPath, oid, body.size);
  return sendLfsJson(reply, 200, {});
}
