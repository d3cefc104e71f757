/**
 * The composition root: settings in, everything the HTTP app needs out. `lfsd serve` and the
 * end-to-end tests build a server through here; admin commands open only the metadata.
 */
import type { Logger } from 'pino';
import { Authenticator } from '../auth/authenticator.js';
import { TransferTokens } from '../auth/transfer-token.js';
import type { Settings } from '../config/settings.js';
import type { AppDeps } from '../http/app-deps.js';
import { BatchPlanner } from '../lfs/batch-planner.js';
import { TransferService } from '../lfs/transfer-service.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { openMetadataStore } from '../metadata/open-metadata-store.js';
import { buildObjectStore } from '../storage/build-object-store.js';
import { loadOrCreateSecret } from './server-secret.js';

export function openMetadata(settings: Settings): Promise<MetadataStore> {
  return openMetadataStore(settings.databaseUrl as string, { poolSize: settings.databasePoolSize });
}

export function publicUrlOf(settings: Settings, boundAddress?: string): string {
  if (settings.publicUrl) return settings.publicUrl.replace(/\/+$/, '');
  return `http://${boundAddress ?? settings.listen}`;
}

export interface BuiltDeps extends AppDeps {
  /** readiness turns false (shutdown has begun) */
  startDraining(): void;
  /** close the stores; call after in-flight requests are done */
  close(): Promise<void>;
}

export async function buildDeps(settings: Settings, logger: Logger, publicUrl: string): Promise<BuiltDeps> {
  const secret = settings.secret ?? loadOrCreateSecret(settings.dataDir);
  const metadata = await openMetadata(settings);
  const store = await buildObjectStore(settings);
  const tokens = new TransferTokens(secret, settings.transferTokenTtl);
  let draining = false;
  return {
    logger,
    metadata,
    store,
    tokens,
    authenticator: new Authenticator(metadata),
    planner: new BatchPlanner({ metadata, store, tokens, transferMode: settings.transferMode }),
    transfers: new TransferService({ metadata, store, maxObjectSize: settings.maxObjectSize }),
    publicUrl,
    limits: {
      maxObjects: settings.maxBatchObjects,
      maxObjectSize: settings.maxObjectSize,
      jsonBodyLimit: settings.jsonBodyLimit,
    },
    isDraining: () => draining,
    startDraining() {
      draining = true;
    },
    async close() {
      await Promise.allSettled([store.close(), metadata.close()]);
    },
  };
}
