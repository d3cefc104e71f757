/**
 * The ONLY place where object stores are composed (DESIGN.md "ObjectStore"). Order, outermost
 * first:
 *   VerifyingStore  - SHA-256 and size checked while bytes stream; outermost because it must see
 *                     exactly the bytes the client sent, and it makes a bad body fail before the
 *                     backend sees its end, so the backend never publishes it
 *   MeteredStore    - latency, errors and bytes by backend and operation to Prometheus; right
 *                     above the backend so it measures the backend alone (present when the
 *                     caller passes metrics: `lfsd serve` does, admin commands need not)
 *   backend         - DiskStore (embedded default) or S3Store (scale-out)
 */
import type { Settings } from '../config/settings.js';
import type { LfsdMetrics } from '../observability/metrics.js';
import { DiskStore } from './disk-store.js';
import { MeteredStore } from './metered-store.js';
import type { ObjectStore } from './object-store.js';
import { VerifyingStore } from './verifying-store.js';

export interface BuildObjectStoreOptions {
  metrics?: LfsdMetrics;
}

export async function buildObjectStore(
  settings: Settings,
  options: BuildObjectStoreOptions = {},
): Promise<ObjectStore> {
  const backend = await buildBackend(settings);
  const metered = options.metrics ? new MeteredStore(backend, options.metrics) : backend;
  return new VerifyingStore(metered);
}

async function buildBackend(settings: Settings): Promise<ObjectStore> {
  switch (settings.storage) {
    case 'disk':
      return new DiskStore({ root: settings.dataDir });
    case 's3':
      throw new Error('storage s3 is not available in this build yet');
  }
}
