/**
 * Basic Transfer API endpoints (LFS-PROTOCOL.md section 3): PUT and GET of object bytes and
 * POST verify, each authorised by the transfer token the batch answer handed out.
 */
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { lfsError } from '../errors.js';
import type { AppDeps } from './app-deps.js';
import { requireTransferToken } from './authenticate.js';
import { sendLfsJson } from './lfs-json.js';
import { contentRange, parseRange } from './range.js';

export async function handleUpload(
  deps: AppDeps,
  repoPath: string,
  oid: string,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  const size = requireTransferToken(deps, request, 'upload', repoPath, oid);
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
    await deps.transfers.upload(repoPath, oid, size, request.body as Readable, aborted.signal);
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
  requireTransferToken(deps, request, 'download', repoPath, oid);
  const size = await deps.transfers.linkedSize(repoPath, oid);
  const range = parseRange(request.headers.range, size);
  if (range === 'unsatisfiable') {
    throw lfsError('range_not_satisfiable', undefined, { 'Content-Range': `bytes */${size}` });
  }
  const found = await deps.transfers.read(oid, range);
  const length = range ? range.end - range.start + 1 : size;
  request.ctx.bytesOut = length;
  reply.header('Content-Type', 'application/octet-stream');
  reply.header('Content-Length', String(length));
  reply.header('Accept-Ranges', 'bytes');
  if (range) reply.code(206).header('Content-Range', contentRange(range, size));
  return reply.send(found.body);
}

export async function handleVerify(
  deps: AppDeps,
  repoPath: string,
  oid: string,
  request: FastifyRequest,
  reply: FastifyReply,
) {
  requireTransferToken(deps, request, 'verify', repoPath, oid);
  const body = request.body as { oid?: unknown; size?: unknown } | undefined;
  if (body?.oid !== oid) throw lfsError('validation', 'oid in the body does not match the URL');
  if (typeof body.size !== 'number' || !Number.isSafeInteger(body.size) || body.size < 0) {
    throw lfsError('validation', 'size must be a non-negative integer');
  }
  await deps.transfers.verify(repoPath, oid, body.size);
  return sendLfsJson(reply, 200, {});
}
