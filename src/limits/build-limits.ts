/** The overload controls a server's settings ask for (README "Limits and overload"). */
import type { Logger } from 'pino';
import type { Settings } from '../config/settings.js';
import type { LfsdMetrics } from '../observability/metrics.js';
import type { OverloadControls } from './install-limits.js';
import { LoadShedder } from './load-shedder.js';
import { createRateLimit, openRedisRateLimitStore, type SharedRateLimitStore } from './rate-limit.js';
import { TransferSlots } from './transfer-slots.js';

export async function buildOverloadControls(
  settings: Settings,
  metrics: LfsdMetrics,
  logger: Logger,
  poolWaiting: () => number,
): Promise<OverloadControls> {
  let shared: SharedRateLimitStore | undefined;
  if (settings.rateLimit > 0 && settings.redisUrl) {
    shared = await openRedisRateLimitStore(settings.redisUrl, {
      log: logger,
      onFallback: () => metrics.rateLimitFallbacks.inc(),
      onStatus: (up) => metrics.rateLimitStoreUp.set(up ? 1 : 0),
    });
  }
  const requestRate =
    settings.rateLimit > 0
      ? createRateLimit({
          points: settings.rateLimit,
          durationSeconds: settings.rateLimitWindow,
          keyPrefix: 'requests',
          ...(shared ? { backend: shared.backend } : {}),
        })
      : undefined;
  const transferSlots =
    settings.maxTransfers > 0 || settings.maxTransfersPerUser > 0
      ? new TransferSlots({
          max: settings.maxTransfers,
          maxPerUser: settings.maxTransfersPerUser,
          queueTimeoutMs: settings.transferQueueTimeout * 1000,
        })
      : undefined;
  const shedder =
    settings.shedAtEventLoopDelay > 0 || settings.shedAtDbWaiting > 0
      ? new LoadShedder({
          eventLoopDelayMs: settings.shedAtEventLoopDelay,
          dbWaiting: settings.shedAtDbWaiting,
          poolWaiting,
          onSample: (seconds) => metrics.eventLoopDelay.set(seconds),
        })
      : undefined;
  metrics.observeOverload({
    waiting: () => transferSlots?.waiting ?? 0,
    overloaded: () => shedder?.overloaded() !== undefined,
  });
  return {
    requestRate,
    transferSlots,
    shedder,
    shedStatus: settings.shedStatus,
    trustProxy: settings.trustProxy,
    async close() {
      transferSlots?.close();
      shedder?.close();
      await shared?.close();
    },
  };
}
