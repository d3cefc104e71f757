/** The overload controls a server's settings ask for (README "Limits and overload"). */
import type { Settings } from '../config/settings.js';
import type { LfsdMetrics } from '../observability/metrics.js';
import type { OverloadControls } from './install-limits.js';
import { LoadShedder } from './load-shedder.js';
import { TransferSlots } from './transfer-slots.js';

export function buildOverloadControls(
  settings: Settings,
  metrics: LfsdMetrics,
  poolWaiting: () => number,
): OverloadControls {
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
    transferSlots,
    shedder,
    shedStatus: settings.shedStatus,
    trustProxy: settings.trustProxy,
    close() {
      transferSlots?.close();
      shedder?.close();
    },
  };
}
