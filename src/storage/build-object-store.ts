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
 * Direct-mode uploads (presignStagedUpload) do not stream through lfsd, so no layer sees their
 * bytes: S3 checks their signed SHA-256 and size, and commitStagedUpload (verify) checks them again
 * before it publishes them.
 */
import { ConfigError } from '../config/load-settings.js';
import type { Settings } from '../config/settings.js';
import type { LfsdMetrics } from '../observability/metrics.js';
import { DiskStore } from './disk-store.js';
import { MeteredStore } from './metered-store.js';
import type { ObjectStore, StoreCapability } from './object-store.js';
import { VerifyingStore } from './verifying-store.js';

export interface BuildObjectStoreOptions {
  metrics?: LfsdMetrics;
  /** tests: a layer right above the backend (FaultyStore), below metering and verification */
  wrapBackend?: (backend: ObjectStore) => ObjectStore;
  /**
   * told the size of every chunk of transfer data that passes and is dropped: each upload chunk
   * (VerifyingStore) and each chunk of an S3 response body (S3Store's HTTP handler): the process
   * paces its young-generation collections by it (server/transfer-garbage.ts)
   */
  onTransferBytes?: (bytes: number) => void;
}

export async function buildObjectStore(
  settings: Settings,
  options: BuildObjectStoreOptions = {},
): Promise<ObjectStore> {
  const backend = await buildBackend(settings, options.onTransferBytes);
  try {
    requireCapabilities(settings, backend.capabilities);
  } catch (err) {
    await backend.close();
    throw err;
  }
  const wrapped = options.wrapBackend ? options.wrapBackend(backend) : backend;
  const metered = options.metrics ? new MeteredStore(wrapped, options.metrics) : wrapped;
  return new VerifyingStore(metered, options.onTransferBytes);
}

/** What each setting needs of the store; a store that lacks it is refused at start, never ignored. */
const NEEDED: { setting: string; applies: (s: Settings) => boolean; needs: StoreCapability[] }[] = [
  {
    setting: 'transferMode: direct',
    applies: (s) => s.transferMode === 'direct',
    needs: ['presign', 'staged-upload'],
  },
  {
    setting: 'downloadOffload',
    applies: (s) => s.downloadOffload !== 'none',
    needs: ['local-file'],
  },
];

function requireCapabilities(settings: Settings, capabilities: ReadonlySet<StoreCapability>): void {
  for (const { setting, applies, needs } of NEEDED) {
    const missing = needs.filter((capability) => !capabilities.has(capability));
    if (applies(settings) && missing.length > 0) {
      throw new ConfigError(
        `${setting} needs a store with ${missing.join(' and ')}; storage ${settings.storage} has not`,
      );
    }
  }
}

/**
 * The backend alone, without the layers (gc and fsck: they read and delete whole objects and hash
 * what they read themselves).
 */
export async function buildBackend(
  settings: Settings,
  onTransferBytes?: (bytes: number) => void,
): Promise<ObjectStore> {
  switch (settings.storage) {
    case 'disk':
      return new DiskStore({ root: settings.dataDir });
    case 's3': {
      // loaded only when configured: the AWS SDK costs a running process about 30 MB
      const { S3Store } = await import('./s3-store.js');
      // credentials: the SDK's default chain (see s3-client.ts); loadSettings requires s3Bucket
      return new S3Store({
        bucket: settings.s3Bucket as string,
        prefix: settings.s3Prefix,
        endpoint: settings.s3Endpoint,
        region: settings.s3Region,
        forcePathStyle: settings.s3ForcePathStyle,
        onBodyBytes: onTransferBytes,
      });
    }
  }
}
