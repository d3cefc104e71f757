import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticator.js';
import type { CredentialChecker } from '../auth/credentials.js';
import type { TransferTokens } from '../auth/transfer-token.js';
import type { BatchPlanner } from '../lfs/batch-planner.js';
import type { BatchLimits } from '../lfs/batch-request.js';
import type { TransferService } from '../lfs/transfer-service.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { LfsdMetrics } from '../observability/metrics.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { OverloadControls } from '../limits/install-limits.js';
import type { DownloadOffload } from './download-offload.js';
import type { InFlight } from './in-flight.js';

/** Everything the HTTP app needs, built once by the server (or a test) and passed in. */
export interface AppDeps {
  logger: Logger;
  metadata: MetadataStore;
  store: ObjectStore;
  authenticator: Authenticator;
  /** whether the credential behind a transfer token still stands (revocation) */
  credentials: CredentialChecker;
  tokens: TransferTokens;
  planner: BatchPlanner;
  transfers: TransferService;
  /** base URL clients reach this server at, without a trailing slash */
  publicUrl: string;
  limits: BatchLimits & { jsonBodyLimit: number };
  /**
   * This server's Prometheus metrics (passed in, never a global). HTTP requests, transfers and
   * lock operations are counted once per request by request-context.ts; batch outcomes by the batch handler;
   * store calls by MeteredStore; database pool and queries from the metadata store's hooks.
   */
  metrics: LfsdMetrics;
  /** set when a reverse proxy sends download bytes (download-offload.ts) */
  downloadOffload?: DownloadOffload;
  /** proxies in front of lfsd trusted to append X-Forwarded-For (limits/client-address.ts); default 0 */
  trustProxy?: number;
  /** the admin API and web console (web/); absent: API only, no console */
  web?: {
    /** serve the console at `/` (the `webConsole` setting) */
    console: boolean;
    sessionTtlSeconds: number;
    /** HMAC key binding CSRF tokens to a session; the same on every replica */
    csrfKey: string;
  };
  /** handlers still running, for graceful shutdown */
  inFlight?: InFlight;
  /** transfer slots and load shedding (src/limits); absent: no such limits */
  overload?: OverloadControls;
  /** true once shutdown began: /readyz answers 503 */
  isDraining?: () => boolean;
}
