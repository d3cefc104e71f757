/**
 * Requests Node's HTTP parser refuses before Fastify sees them, answered in LFS JSON like every
 * other error (LFS-PROTOCOL.md section 8) instead of Node's bare status line or Fastify's own
 * `application/json` shape:
 *   431  the request's headers are larger than Node allows (`--max-http-header-size`, 16 KiB)
 *   413  chunk extensions too large
 *   408  the headers did not all arrive in time (`headersTimeout`)
 *   400  anything else that is not HTTP (a bad request line, header or chunk)
 * Used as Fastify's `clientErrorHandler` (the server's 'clientError' event). There is no request
 * yet, so the response is written raw on the socket, and then the connection is closed, as Node
 * does: the parser cannot go on after such an error. Nothing is written when a response is already
 * on its way on that connection (its bytes would be corrupted), nor on a reset connection.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { LFS_JSON } from './lfs-json.js';

function answerFor(code: string | undefined): { status: number; message: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'Request header fields too large' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, message: 'Chunk extensions too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: 'The request did not arrive in time' };
    default:
      return { status: 400, message: 'The request is not valid HTTP' };
  }
}

/** the raw HTTP response for a refused request: LFS JSON, and the connection closes */
export function clientErrorResponse(code: string | undefined, requestId: string): string {
  const { status, message } = answerFor(code);
  const body = JSON.stringify({ message, request_id: requestId });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    `Content-Type: ${LFS_JSON}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n' +
    `X-Request-Id: ${requestId}\r\n` +
    `\r\n${body}`
  );
}

/** the response a connection is writing, if any (Node keeps it on the socket) */
interface HttpSocket extends Socket {
  _httpMessage?: { headersSent?: boolean } | null;
}

export function handleClientError(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const requestId = randomUUID();
  this.log.debug({ err, request_id: requestId, code: err.code }, 'refused a request that is not valid HTTP');
  if (socket.writable && !(socket as HttpSocket)._httpMessage?.headersSent) {
    socket.write(clientErrorResponse(err.code, requestId));
  }
  socket.destroy();
}
