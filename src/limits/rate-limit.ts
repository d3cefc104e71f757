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
