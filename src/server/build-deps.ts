/**
 * The composition root: settings in, everything the HTTP app needs out. `lfsd serve` and the
 * end-to-end tests build a server through here; admin commands open only the metadata.
 */
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { Authenticator } from '../auth/authenticator.js';
import { CredentialChecker } from '../auth/credentials.js';
import { RemoteAuthTokens } from '../auth/remote-auth.js';
import { SignInLimits } from '../auth/sign-in-limits.js';
import { loadSigningKey } from '../auth/signing-key.js';
import { TransferTokens } from '../auth/transfer-token.js';
import type { Settings } from '../config/settings.js';
import type { AppDeps } from '../http/app-deps.js';
import { downloadOffloadOf } from '../http/download-offload.js';
import { InFlight } from '../http/in-flight.js';
import { buildOverloadControls } from '../limits/build-limits.js';
import { BatchPlanner } from '../lfs/batch-planner.js';
import { LockService } from '../lfs/lock-service.js';
import { TransferService } from '../lfs/transfer-service.js';
import type { SshDeps } from '../ssh/ssh-deps.js';
import { createSshMetrics } from '../ssh/ssh-metrics.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { openMetadataStore, parseDatabaseUrl } from '../metadata/open-metadata-store.js';
import { createMetrics, type LfsdMetrics } from '../observability/metrics.js';
import { buildObjectStore, type BuildObjectStoreOptions } from '../storage/build-object-store.js';
import { isClusterWorker } from './cluster.js';
import { TransferGarbage } from './transfer-garbage.js';

/** The metadata store; with `metrics`, its queries are timed into them. */
export async function openMetadata(settings: Settings, metrics?: LfsdMetrics): Promise<MetadataStore> {
  const databaseUrl = settings.databaseUrl as string;
  const { dialect } = parseDatabaseUrl(databaseUrl);
  const metadata = await openMetadataStore(databaseUrl, {
    // the primary of a cluster migrated before it started its workers (cluster.ts)
    migrate: !isClusterWorker(),
    poolSize: settings.databasePoolSize,
    onQuery: metrics && ((seconds, failed) => metrics.observeQuery(dialect, seconds, failed)),
  });
  metrics?.observePool(metadata.dialect, metadata.dialect === 'sqlite' ? 1 : settings.databasePoolSize, () =>
    metadata.poolStats?.(),
  );
  return metadata;
}

export function publicUrlOf(settings: Settings, boundAddress?: string): string {
  if (settings.publicUrl) return settings.publicUrl.replace(/\/+$/, '');
  return `${settings.tlsCert ? 'https' : 'http'}://${boundAddress ?? settings.listen}`;
}

export interface BuiltDeps extends AppDeps {
  /** the credential `git-lfs-authenticate` hands out over SSH (src/ssh) */
  remoteAuth: RemoteAuthTokens;
  /** paces young-generation collections by the buffers transfers are done with */
  garbage: TransferGarbage;
  /** readiness turns false (shutdown has begun) */
  startDraining(): void;
  /** close the stores; call after in-flight requests are done */
  close(): Promise<void>;
}

export interface BuildDepsOptions {
  /** tests: a layer right above the storage backend (FaultyStore) */
  wrapBackend?: BuildObjectStoreOptions['wrapBackend'];
}

export async function buildDeps(
  settings: Settings,
  logger: Logger,
  publicUrl: string,
  options: BuildDepsOptions = {},
): Promise<BuiltDeps> {
  const secret = await loadSigningKey(settings);
  const metrics = createMetrics();
  const metadata = await openMetadata(settings, metrics);
  const garbage = new TransferGarbage();
  let store;
  try {
    store = await buildObjectStore(settings, {
      metrics,
      wrapBackend: options.wrapBackend,
      onTransferBytes: (bytes) => garbage.drop(bytes),
    });
  } catch (err) {
    await metadata.close();
    throw err;
  }
  const tokens = new TransferTokens(secret, settings.transferTokenTtl);
  const credentials = new CredentialChecker(metadata);
  const remoteAuth = new RemoteAuthTokens(tokens, credentials);
  let draining = false;
  let overload;
  try {
    overload = await buildOverloadControls(
      settings,
      metrics,
      logger,
      () => metadata.poolStats?.()?.waiting ?? 0,
    );
  } catch (err) {
    await Promise.allSettled([store.close(), metadata.close()]);
    throw err;
  }
  return {
    logger,
    metadata,
    store,
    tokens,
    authenticator: new Authenticator(metadata, {
      limits: new SignInLimits(settings),
      onSignIn: (method, outcome) => metrics.signIns.inc({ method, outcome }),
      onPasswordCheck: () => metrics.passwordChecks.inc(),
      remoteAuth,
    }),
    credentials,
    remoteAuth,
    garbage,
    planner: new BatchPlanner({
      metadata,
      store,
      tokens,
      transferMode: settings.transferMode,
      presignTtlSeconds: settings.presignedUrlTtl,
    }),
    transfers: new TransferService({
      metadata,
      store,
      maxObjectSize: settings.maxObjectSize,
      transferMode: settings.transferMode,
    }),
    publicUrl,
    trustProxy: settings.trustProxy,
    downloadOffload: downloadOffloadOf(settings, store),
    limits: {
      maxObjects: settings.maxBatchObjects,
      maxObjectSize: settings.maxObjectSize,
      jsonBodyLimit: settings.jsonBodyLimit,
    },
    metrics,
    web: {
      console: settings.webConsole,
      sessionTtlSeconds: settings.webSessionTtl,
      csrfKey: createHmac('sha256', secret).update('lfsd web console csrf').digest('base64url'),
    },
    inFlight: new InFlight(),
    overload,
    isDraining: () => draining,
    startDraining() {
      draining = true;
      metrics.draining.set(1);
    },
    async close() {
      await Promise.allSettled([overload.close(), store.close(), metadata.close()]);
    },
  };
}

/** What the SSH commands need (src/ssh), from the same services the HTTP app uses. */
export function buildSshDeps(deps: BuiltDeps, settings: Settings): SshDeps {
  return {
    logger: deps.logger,
    metadata: deps.metadata,
    transfers: deps.transfers,
    decider: deps.planner.decider,
    locks: new LockService(deps.metadata),
    credentials: deps.credentials,
    remoteAuth: deps.remoteAuth,
    publicUrl: () => deps.publicUrl,
    limits: deps.limits,
    sshTransfer: settings.sshTransfer,
    metrics: createSshMetrics(deps.metrics.registry),
    garbage: deps.garbage,
  };
}
