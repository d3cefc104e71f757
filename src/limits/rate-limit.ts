/**
 * Rate limits over `rate-limiter-flexible`: a fixed window of `points` per `durationSeconds` per
 * key. The limiters live in this process's memory for now; `createRateLimit` takes a `backend`
 * so that a shared store (Redis, with an in-memory insurance limiter when it is down) can be
 * plugged in without changing callers.
 *
 * Only the memory limiter is loaded (not the package's index, which loads every store's code).
 */
import { createRequire } from 'node:module';
import type { FastifyReply } from 'fastify';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { lfsError, type LfsError } from '../errors.js';
import { LFS_JSON } from '../http/lfs-json.js';

export type RateDecision =
  { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

export interface RateLimitOptions {
  /** how many points a key may consume within one window */
  points: number;
  /** the window's length */
  durationSeconds: number;
  /** names this limit's keys, so that limits sharing a store do not mix */
  keyPrefix: string;
  /** the limiter behind the limit (default: this process's memory) */
  backend?: (options: { points: number; duration: number; keyPrefix: string }) => RateLimiterAbstract;
}

export interface RateLimit {
  readonly keyPrefix: string;
  readonly points: number;
  readonly durationSeconds: number;
  /** takes `points` (default 1) from `key`'s window; refused (nothing changes for the caller) past the limit */
  consume(key: string, points?: number): Promise<RateDecision>;
  /** adds `points` to `key`'s count without refusing */
  penalty(key: string, points?: number): Promise<void>;
  /** gives `points` back to `key` */
  reward(key: string, points?: number): Promise<void>;
  /** whether `key` may consume one more point now, without consuming it */
  get(key: string): Promise<RateDecision>;
  /** forgets `key`'s count */
  delete(key: string): Promise<void>;
}

const require = createRequire(import.meta.url);

function memoryBackend(options: {
  points: number;
  duration: number;
  keyPrefix: string;
}): RateLimiterAbstract {
  const { RateLimiterMemory } = {
    RateLimiterMemory: require('rate-limiter-flexible/lib/RateLimiterMemory.js'),
  } as {
    RateLimiterMemory: new (opts: typeof options) => RateLimiterAbstract;
  };
  return new RateLimiterMemory(options);
}

function isLimiterResult(value: unknown): value is RateLimiterRes {
  return typeof value === 'object' && value !== null && 'msBeforeNext' in value && !(value instanceof Error);
}

/** whole seconds until `msBeforeNext` has passed (at least 1: `Retry-After: 0` invites a tight loop) */
function secondsUntil(msBeforeNext: number): number {
  return Math.max(1, Math.ceil(msBeforeNext / 1000));
}

export function createRateLimit(options: RateLimitOptions): RateLimit {
  const { points, durationSeconds, keyPrefix } = options;
  if (!Number.isInteger(points) || points < 1) throw new Error(`rate limit ${keyPrefix}: points must be ≥ 1`);
  if (!(durationSeconds > 0)) throw new Error(`rate limit ${keyPrefix}: duration must be > 0`);
  const limiter = (options.backend ?? memoryBackend)({ points, duration: durationSeconds, keyPrefix });
  return {
    keyPrefix,
    points,
    durationSeconds,
    async consume(key, count = 1) {
      try {
        const res = await limiter.consume(key, count);
        return { allowed: true, remaining: res.remainingPoints };
      } catch (err) {
        // the limiter rejects with its result when the key is over the limit, with an Error when
        // its store failed (a shared store's own insurance limiter answers then)
        if (isLimiterResult(err))
          return { allowed: false, retryAfterSeconds: secondsUntil(err.msBeforeNext) };
        throw err;
      }
    },
    async penalty(key, count = 1) {
      await limiter.penalty(key, count);
    },
    async reward(key, count = 1) {
      await limiter.reward(key, count);
    },
    async get(key) {
      const res = await limiter.get(key);
      if (!res || res.consumedPoints < points) {
        return { allowed: true, remaining: Math.max(0, points - (res?.consumedPoints ?? 0)) };
      }
      return { allowed: false, retryAfterSeconds: secondsUntil(res.msBeforeNext) };
    },
    async delete(key) {
      await limiter.delete(key);
    },
  };
}

const DEFAULT_MESSAGE = 'Too many requests';

/** The 429 error for a refused request, thrown from below the HTTP layer (rendered in LFS JSON). */
export function rateLimitedError(retryAfterSeconds: number, message = DEFAULT_MESSAGE): LfsError {
  return lfsError('rate_limited', message, {
    'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))),
  });
}

/** Answers 429 with `Retry-After` in LFS JSON (LFS-PROTOCOL.md: the client waits that long, then retries). */
export function rateLimited(
  reply: FastifyReply,
  retryAfterSeconds: number,
  message = DEFAULT_MESSAGE,
): FastifyReply {
  const error = rateLimitedError(retryAfterSeconds, message);
  return reply
    .code(error.status)
    .headers(error.headers)
    .type(LFS_JSON)
    .send({ message: error.message, request_id: reply.request.id });
}

/**
 * A rate limit store shared by every replica and worker: Redis (`redisUrl`), through ioredis,
 * imported only when configured. Each limit built on it is a RateLimiterRedis whose
 * `insuranceLimiter` is a RateLimiterMemory: while Redis is down or slow, requests are decided in
 * this process's memory (per-replica limits) instead of failing. The first such decision of an
 * outage is logged, every one is counted (`onFallback`), and Redis being back is logged too.
 */
export interface SharedRateLimitStore {
  backend: NonNullable<RateLimitOptions['backend']>;
  /** whether Redis answers now */
  readonly up: boolean;
  close(): Promise<void>;
}

export interface RedisStoreOptions {
  /** warnings and recoveries, once per outage */
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** one call per operation the in-process insurance limiter decided */
  onFallback?: () => void;
  /** Redis came up (true) or went away (false) */
  onStatus?: (up: boolean) => void;
  /** ms one Redis command may take before the insurance limiter decides instead */
  commandTimeoutMs?: number;
}

/** the URL without its password, for logs */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis://…';
  }
}

export async function openRedisRateLimitStore(
  url: string,
  options: RedisStoreOptions,
): Promise<SharedRateLimitStore> {
  const { Redis } = await import('ioredis');
  const { RateLimiterRedis, RateLimiterMemory } = {
    RateLimiterRedis: require('rate-limiter-flexible/lib/RateLimiterRedis.js'),
    RateLimiterMemory: require('rate-limiter-flexible/lib/RateLimiterMemory.js'),
  } as {
    RateLimiterRedis: new (opts: object) => RateLimiterAbstract;
    RateLimiterMemory: new (opts: object) => RateLimiterAbstract;
  };
  const client = new Redis(url, {
    // a command while disconnected fails at once (the insurance limiter answers) instead of
    // waiting in a queue for a Redis that may not come back
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 500,
    // keep trying to reconnect, at most every 2 s
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: true,
  });
  const where = redactedUrl(url);
  let up = false;
  let fallingBack = false;
  client.on('ready', () => {
    up = true;
    if (fallingBack)
      options.log.info({ redis: where }, 'rate limits: Redis is back, limits are shared again');
    fallingBack = false;
    options.onStatus?.(true);
  });
  const down = (err?: Error) => {
    if (up) options.onStatus?.(false);
    up = false;
    if (!fallingBack) {
      fallingBack = true;
      options.log.warn(
        { redis: where, err: err?.message },
        'rate limits: Redis unreachable, limiting per process until it is back',
      );
    }
  };
  client.on('error', (err: Error) => down(err));
  client.on('close', () => down());
  // the first connection: a Redis that is down at start is not fatal either
  await client.connect().catch((err: Error) => down(err));

  const onFallback = () => {
    if (!fallingBack) {
      // Redis answers but too slowly, or failed a command: say so once
      fallingBack = true;
      options.log.warn({ redis: where }, 'rate limits: Redis failed a command, limiting per process');
    }
    options.onFallback?.();
  };
  /** the insurance limiter: counts every decision it makes */
  class InsuranceLimiter extends (RateLimiterMemory as unknown as new (opts: object) => RateLimiterAbstract) {
    override consume(key: string | number, points?: number, opts?: object) {
      onFallback();
      return super.consume(key, points, opts as never);
    }
    override get(key: string | number, opts?: object) {
      onFallback();
      return super.get(key, opts as never);
    }
  }
  return {
    get up() {
      return up;
    },
    backend: ({ points, duration, keyPrefix }) =>
      new RateLimiterRedis({
        storeClient: client,
        points,
        duration,
        keyPrefix: `lfsd:${keyPrefix}`,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new InsuranceLimiter({ points, duration, keyPrefix }),
      }),
    async close() {
      client.removeAllListeners('close');
      client.disconnect();
    },
  };
}
