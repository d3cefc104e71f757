/**
 * The HTTP handler of lfsd's S3 client: the AWS SDK's requests sent with undici instead of the
 * SDK's default handler over `node:http`. The SDK still signs, retries and parses every call; only
 * the bytes on the wire go another way.
 *
 * Why: an S3 proxy download passes every byte of an object through lfsd, and `node:http` costs
 * more CPU per byte (its parser copies every body chunk into a new buffer) than undici, which hands
 * on views of what it read. Measured with s3rver on loopback, 256 MiB GetObjects piped to a client
 * by a bare proxy process (a scratch script, medians of 4-6 rounds, three runs): the SDK over
 * `node:http` 1,866-2,036 ms of proxy CPU per GB, over this handler 1,464-1,589; bench figure 7 in
 * the README gives lfsd's own figures.
 *
 * What it keeps of the SDK's handler: requests are cancelled by the call's AbortSignal, connections
 * are kept alive and pooled per origin, and a dropped or timed-out connection fails with the codes
 * the SDK's retry rules and lfsd's backend-failure rules know (`ECONNRESET`, `ETIMEDOUT`). What it
 * leaves out: `Expect: 100-continue` (undici refuses the header; the body is sent at once, as the
 * SDK does for small bodies anyway).
 *
 * undici parses HTTP with llhttp compiled to WebAssembly, and V8 recompiles a hot WebAssembly
 * function with its optimizing compiler, whose work area for llhttp's parser was 36 MB of C heap,
 * resident for the rest of the process (seen in /proc/self/smaps during a 300 MB upload:
 * test/storage/s3-store.test.ts's peak RSS growth went from 35 to 71 MB). So this module keeps
 * WebAssembly on V8's baseline compiler (Liftoff), a process-wide V8 flag; llhttp's work per body
 * chunk is a few calls, and the proxy's CPU per GB did not grow (1,566-1,589 ms against
 * 1,773-1,801 in the same runs). The only other WebAssembly in lfsd is ssh2's Poly1305, which it
 * uses only when its native binding is missing: 1,300 instead of 1,470 MB/s on Liftoff (32 KiB
 * packets), a few per cent of an SSH transfer, and only with both S3 and SSH configured.
 */
import type { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import {
  HttpResponse,
  buildQueryString,
  type HttpHandlerOptions,
  type HttpRequest,
} from '@smithy/core/protocols';
import { Agent, DecoratorHandler, errors, request, type Dispatcher } from 'undici';

setFlagsFromString('--liftoff-only');

/** connections kept per S3 endpoint, as the SDK's own handler allows by default */
const CONNECTIONS_PER_ORIGIN = 50;
/** how long an idle connection to S3 stays open for the next call (AWS closes them after ~20 s) */
const KEEP_ALIVE_MS = 15_000;

/** request headers undici refuses or sets itself from the body */
const DROPPED_HEADERS = new Set(['expect', 'transfer-encoding']);

export interface S3HttpHandlerOptions {
  /**
   * told the size of every chunk of every response body as undici hands it on (an S3 proxy
   * download's bytes): the process paces its young-generation collections by it
   * (server/transfer-garbage.ts), as it does for uploads
   */
  onBodyBytes?: (bytes: number) => void;
}

export class S3HttpHandler {
  readonly #agent: Agent;
  readonly #dispatcher: Dispatcher;

  constructor(options: S3HttpHandlerOptions = {}) {
    this.#agent = new Agent({ connections: CONNECTIONS_PER_ORIGIN, keepAliveTimeout: KEEP_ALIVE_MS });
    const { onBodyBytes } = options;
    this.#dispatcher = onBodyBytes ? this.#agent.compose(countingBodies(onBodyBytes)) : this.#agent;
  }

  /** the SDK's handler interface (`HttpHandler` of @smithy/protocol-http) */
  readonly metadata = { handlerProtocol: 'http/1.1' };

  async handle(
    httpRequest: HttpRequest,
    options: HttpHandlerOptions = {},
  ): Promise<{ response: HttpResponse }> {
    const abortSignal = domSignal(options.abortSignal);
    if (abortSignal?.aborted) throw abortError(abortSignal);
    let answer: Dispatcher.ResponseData;
    try {
      answer = await request(urlOf(httpRequest), {
        method: httpRequest.method as Dispatcher.HttpMethod,
        headers: headersFor(httpRequest.headers),
        body: httpRequest.body as string | Uint8Array | Readable | undefined,
        signal: abortSignal,
        dispatcher: this.#dispatcher,
      });
    } catch (err) {
      throw asSdkError(err, abortSignal);
    }
    return {
      response: new HttpResponse({
        statusCode: answer.statusCode,
        headers: flattenHeaders(answer.headers),
        body: answer.body,
      }),
    };
  }

  updateHttpClientConfig(): void {
    // nothing of the SDK's handler configuration applies here
  }

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    void this.#agent.close();
  }
}

/**
 * An interceptor that tells `onBytes` the size of each body chunk as undici hands it on: no stream
 * stage of its own between the socket and the body's reader.
 */
function countingBodies(onBytes: (bytes: number) => void): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (options, handler) => dispatch(options, new CountingHandler(handler, onBytes));
}

/**
 * undici's DecoratorHandler passes every call on to the handler it wraps, whichever of undici's
 * two handler interfaces that one has; its typings leave out the methods it has.
 */
const Decorator = DecoratorHandler as unknown as new (
  handler: Dispatcher.DispatchHandler,
) => DecoratedHandler;

interface DecoratedHandler extends Dispatcher.DispatchHandler {
  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void;
}

class CountingHandler extends Decorator {
  readonly #onBytes: (bytes: number) => void;

  constructor(handler: Dispatcher.DispatchHandler, onBytes: (bytes: number) => void) {
    super(handler);
    this.#onBytes = onBytes;
  }

  override onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#onBytes(chunk.length);
    super.onResponseData(controller, chunk);
  }
}

/**
 * The call's signal as undici takes it: the SDK passes what lfsd gave it (a DOM AbortSignal), but
 * its type also allows the older `{ aborted, onabort }` shape, which is followed with a controller.
 */
function domSignal(signal: HttpHandlerOptions['abortSignal']): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  const controller = new AbortController();
  if (signal.aborted) controller.abort();
  else signal.onabort = () => controller.abort();
  return controller.signal;
}

function urlOf(httpRequest: HttpRequest): string {
  const { protocol, hostname, port, path, query, username, password } = httpRequest;
  const queryString = query ? buildQueryString(query) : '';
  const auth =
    username != null || password != null
      ? `${encodeURIComponent(username ?? '')}:${encodeURIComponent(password ?? '')}@`
      : '';
  return `${protocol}//${auth}${hostname}${port ? `:${port}` : ''}${path}${queryString ? `?${queryString}` : ''}`;
}

function headersFor(headers: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!DROPPED_HEADERS.has(name.toLowerCase())) kept[name] = value;
  }
  return kept;
}

/** the SDK takes one string per header; a repeated header is joined as HTTP allows */
function flattenHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/**
 * undici's failures as the SDK's handler reports them: a dropped connection as `ECONNRESET` and a
 * timeout as a `TimeoutError` with `ETIMEDOUT`, which the SDK retries and lfsd reports as an
 * unavailable backend; a system error (`ECONNREFUSED`) and an abort pass as they are.
 */
function asSdkError(err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return abortError(signal);
  if (err instanceof errors.SocketError) return withCode(err, 'Error', 'ECONNRESET');
  if (
    err instanceof errors.ConnectTimeoutError ||
    err instanceof errors.HeadersTimeoutError ||
    err instanceof errors.BodyTimeoutError
  ) {
    return withCode(err, 'TimeoutError', 'ETIMEDOUT');
  }
  return err;
}

function withCode(cause: Error, name: string, code: string): Error {
  return Object.assign(new Error(cause.message, { cause }), { name, code });
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The request was aborted', { cause: signal.reason }), {
    name: 'AbortError',
  });
}
