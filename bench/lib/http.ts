/**
 * HTTP clients for the benchmark, the same for lfsd and for every baseline:
 * - `jsonRequest`: small API calls over a keep-alive agent;
 * - `rawGet`: a download over a bare socket reading into one reused 1 MiB buffer (`onread`), so
 *   the client allocates nothing per chunk and costs as little CPU as Node allows;
 * - `putStream`: an upload streamed from a Readable with its Content-Length.
 */
import type { Hash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { text } from 'node:stream/consumers';

export const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface JsonResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export function jsonRequest(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    timeoutMs?: number;
  } = {},
): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    const request = http.request(
      url,
      {
        method: options.method ?? 'GET',
        agent: keepAlive,
        headers: { ...options.headers, ...(body ? { 'Content-Length': String(body.length) } : {}) },
        timeout: options.timeoutMs ?? 30_000,
      },
      (response) => answerOf(response).then(resolve, reject),
    );
    request.on('timeout', () => request.destroy(new Error(`${options.method ?? 'GET'} ${url} timed out`)));
    request.on('error', reject);
    request.end(body);
  });
}

export interface RawGetResult {
  status: number;
  /** body bytes received */
  bytes: number;
  headers: Record<string, string>;
}

/**
 * GET `url` on a new connection and count (optionally hash) the body without keeping it. Ends when
 * Content-Length bytes arrived; rejects on a short body, a missing Content-Length or a timeout.
 */
export function rawGet(
  url: string,
  options: { headers?: Record<string, string>; hash?: Hash; timeoutMs?: number } = {},
): Promise<RawGetResult> {
  const target = new URL(url);
  const lines = [
    `GET ${target.pathname}${target.search} HTTP/1.1`,
    `Host: ${target.host}`,
    'Connection: close',
  ];
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);
  const requestText = lines.join('\r\n') + '\r\n\r\n';
  return new Promise((resolve, reject) => {
    let head: Buffer | undefined = Buffer.alloc(0);
    let status = 0;
    let expected = -1;
    let received = 0;
    let headers: Record<string, string> = {};
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve({ status, bytes: received, headers });
    };
    const body = (buf: Buffer) => {
      received += buf.length;
      options.hash?.update(buf);
      if (received >= expected)
        finish(received > expected ? new Error('body longer than Content-Length') : undefined);
    };
    const socket = net.connect({
      host: target.hostname,
      port: Number(target.port || 80),
      onread: {
        buffer: Buffer.allocUnsafe(1024 * 1024),
        callback(length: number, buffer: Uint8Array) {
          const data = Buffer.from(buffer.buffer, buffer.byteOffset, length);
          if (head === undefined) {
            body(data);
            return true;
          }
          head = Buffer.concat([head, data]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return true;
          const text = head.subarray(0, end).toString('latin1').split('\r\n');
          status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text[0] ?? '')?.[1] ?? 0);
          headers = Object.fromEntries(
            text.slice(1).map((line) => {
              const colon = line.indexOf(':');
              return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
            }),
          );
          const rest = head.subarray(end + 4);
          head = undefined;
          expected = Number(headers['content-length'] ?? NaN);
          if (!Number.isSafeInteger(expected)) {
            finish(new Error(`GET ${url}: ${status} without Content-Length`));
            return false;
          }
          if (expected === 0) finish();
          else if (rest.length > 0) body(rest);
          return true;
        },
      },
    });
    const timer = setTimeout(() => finish(new Error(`GET ${url} timed out`)), options.timeoutMs ?? 600_000);
    socket.on('connect', () => socket.write(requestText));
    socket.on('error', (err) => finish(err));
    socket.on('end', () =>
      finish(new Error(`GET ${url}: connection closed after ${received} of ${expected} bytes`)),
    );
  });
}

/** PUT `size` bytes from `body` to `url` on a new connection; resolves with the status and body text. */
export function putStream(
  url: string,
  body: Readable,
  size: number,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'PUT',
      agent: false,
      headers: { 'Content-Type': 'application/octet-stream', ...headers, 'Content-Length': String(size) },
    });
    let answered = false;
    request.on('response', (response) => {
      answered = true;
      answerOf(response).then(resolve, reject);
    });
    pipeline(body, request).catch((err: unknown) => {
      // a server that answers early (an error) may close before the whole body went out
      if (!answered) reject(err as Error);
    });
  });
}

async function answerOf(response: http.IncomingMessage): Promise<JsonResponse> {
  return { status: response.statusCode ?? 0, headers: response.headers, text: await text(response) };
}
