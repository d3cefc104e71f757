/**
 * The request body of an upload (PUT of object bytes, LFS-PROTOCOL.md section 3.2), between the
 * socket and the store.
 *
 * The store reads a proxy of the request, never the request itself: when the store gives up on a
 * body (a backend failure, a hash mismatch), destroying what it reads must not destroy the request,
 * because Node then resets the client's connection and the client sees a network error instead of
 * lfsd's answer (issue 11 item 9). The proxy is detached instead, and whatever the client still
 * sends after lfsd has answered is read and discarded (`drainUnread`), so a keep-alive connection
 * carries its next request (issue 11 item 8), within a time bound so that a client cannot hold a
 * connection by sending an endless body.
 */
import type { IncomingMessage } from 'node:http';
import { Readable, finished } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { LfsdMetrics } from '../observability/metrics.js';
import { countingStream } from './request-context.js';

/** how long an unread upload body is read and discarded after the answer, before the connection is cut */
export const DRAIN_TIMEOUT_MS = 5000;

/**
 * What the store reads of an upload: the request's bytes, counted, in a stream whose failure or
 * destruction detaches it from the request without destroying the request. A failure of the
 * request (the client went away) fails the proxy.
 */
export function uploadBody(request: FastifyRequest, metrics: LfsdMetrics, raw: IncomingMessage): Readable {
  const counting = countingStream(request, metrics, 'upload');
  raw.pipe(counting);
  // the request ended early (client gone, connection reset): the store must see a failed body
  const stopWatching = finished(raw, { writable: false }, (err) => {
    if (err && !counting.destroyed) counting.destroy(err);
  });
  counting.once('close', () => {
    raw.unpipe(counting);
    stopWatching();
  });
  return counting;
}

/**
 * The upload body for a request Fastify gave no body: a PUT with neither Content-Length nor
 * Transfer-Encoding, or `Content-Length: 0` with no Content-Type, has zero bytes (RFC 9112
 * section 6.3), which is the empty object's whole content and any other object's size mismatch.
 */
export function requestBodyOf(request: FastifyRequest): Readable {
  return (request.body as Readable | undefined) ?? Readable.from([]);
}

/**
 * Reads and discards what the client still sends of a request body nobody read to its end (the
 * answer was a refusal, or the store failed), so that the connection's next request can be parsed.
 * After `timeoutMs` the connection is closed instead.
 */
export function drainUnread(raw: IncomingMessage, timeoutMs = DRAIN_TIMEOUT_MS): void {
  if (raw.readableEnded || raw.destroyed) return;
  raw.unpipe();
  const timer = setTimeout(() => raw.socket?.destroy(), timeoutMs);
  timer.unref();
  const done = () => clearTimeout(timer);
  raw.once('end', done);
  raw.once('close', done);
  raw.resume();
}
