/**
 * Every Prometheus metric lfsd exports (DESIGN.md "Operations"). One `LfsdMetrics` is built per
 * server by the composition root and passed in (AppDeps.metrics, MeteredStore); nothing imports
 * prom-client's global registry, so tests and several servers in one process never share counts.
 *
 * Label values are small, fixed sets (endpoint kinds, methods, status codes, backends,
 * operations): never raw URLs, repositories or users.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolStats } from '../metadata/metadata-store.js';

export const METRIC_PREFIX = 'lfsd_';

export type TransferDirection = 'upload' | 'download';

/** outcome of one object in a batch answer */
export type BatchOutcome = 'transfer' | 'present' | 'not_found' | 'rejected';

/** seconds: from a cached batch answer up to a multi-gigabyte transfer */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const STORE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const QUERY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface CreateMetricsOptions {
  /** process and Node.js metrics (CPU, memory, event loop, GC); default true */
  defaultMetrics?: boolean;
}

export class LfsdMetrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'lfsd_http_requests_total',
    help: 'HTTP requests answered, by route (LFS endpoint kind), method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'lfsd_http_request_duration_seconds',
    help: 'Time from a request arriving to its response ending, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  readonly batchObjects = new Counter({
    name: 'lfsd_batch_objects_total',
    help: 'Objects in batch answers, by operation and outcome (transfer: an action was handed out; present: already stored; not_found; rejected: invalid object)',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly signIns = new Counter({
    name: 'lfsd_sign_ins_total',
    help: 'Sign-in attempts with a password or a personal access token, by outcome (ok; failed: 401; limited: 429 after too many failures, nothing verified)',
    labelNames: ['method', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly passwordChecks = new Counter({
    name: 'lfsd_password_checks_total',
    help: 'Password hashes computed to check sign-ins (each costs an argon2id hash: ~20 ms of a core and 19 MiB)',
    registers: [this.registry],
  });
  readonly transferBytes = new Counter({
    name: 'lfsd_transfer_bytes_total',
    help: 'Object bytes received (upload) and sent (download) through the transfer endpoints',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  readonly transfers = new Counter({
    name: 'lfsd_transfers_total',
    help: 'Finished transfers through lfsd, by direction and outcome (ok, error: answered with an error status, aborted: connection closed before the end)',
    labelNames: ['direction', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly transfersInFlight = new Gauge({
    name: 'lfsd_transfers_in_flight',
    help: 'Uploads and downloads in progress',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  readonly storeDuration = new Histogram({
    name: 'lfsd_store_operation_duration_seconds',
    help: 'Object store call latency by backend, operation and outcome (get and put: until the last byte)',
    labelNames: ['backend', 'operation', 'outcome'] as const,
    buckets: STORE_BUCKETS,
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'lfsd_store_errors_total',
    help: 'Object store calls that failed in the backend (not counting client aborts and bad uploads), by backend and operation',
    labelNames: ['backend', 'operation'] as const,
    registers: [this.registry],
  });
  readonly storeBytes = new Counter({
    name: 'lfsd_store_bytes_total',
    help: 'Bytes written to and read from the object store backend',
    labelNames: ['backend', 'direction'] as const,
    registers: [this.registry],
  });
  readonly dbQueryDuration = new Histogram({
    name: 'lfsd_db_query_duration_seconds',
    help: 'Metadata database query latency by dialect and outcome',
    labelNames: ['dialect', 'outcome'] as const,
    buckets: QUERY_BUCKETS,
    registers: [this.registry],
  });
  /**
   * Lock API operations (create, list, verify, unlock) by outcome. The HTTP layer counts each
   * lock request once from its route, method and status (request-context.ts).
   */
  readonly lockOperations = new Counter({
    name: 'lfsd_lock_operations_total',
    help: 'Lock API operations by operation and outcome',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly draining = new Gauge({
    name: 'lfsd_draining',
    help: '1 once shutdown began (readiness false, in-flight transfers finishing), else 0',
    registers: [this.registry],
    aggregator: 'max', // over the workers of a cluster (cluster.ts)
  });

  /**
   * Requests refused by a limit (src/limits), by reason: rate_limit (rateLimit), transfers
   * (maxTransfers), user_transfers (maxTransfersPerUser), connections (maxConnections: the
   * connection was closed before any request)
   */
  readonly limitedRequests = new Counter({
    name: 'lfsd_limited_requests_total',
    help: 'Requests refused by a limit with 429 + Retry-After (connections: closed at once), by reason: rate_limit, transfers, user_transfers, connections',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly rateLimitFallbacks = new Counter({
    name: 'lfsd_rate_limit_fallbacks_total',
    help: 'Rate limit decisions made in this process because the shared store (redisUrl) was down or slow',
    registers: [this.registry],
  });
  readonly rateLimitStoreUp = new Gauge({
    name: 'lfsd_rate_limit_store_up',
    help: '1 while the shared rate limit store (redisUrl) answers, 0 while limits fall back to this process (and without redisUrl)',
    registers: [this.registry],
    aggregator: 'min',
  });
  readonly shedRequests = new Counter({
    name: 'lfsd_shed_requests_total',
    help: 'New batch requests turned away while overloaded, by reason: event_loop (delay past shedAtEventLoopDelay), db_pool (waiting past shedAtDbWaiting)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /** where lfsd_transfers_waiting and lfsd_overloaded read from (src/limits), when scraped */
  #overload: { waiting: () => number; overloaded: () => boolean } | undefined;
  readonly transfersWaiting: Gauge = new Gauge({
    name: 'lfsd_transfers_waiting',
    help: 'Transfers over maxTransfers or maxTransfersPerUser waiting for a slot (their body not read yet)',
    registers: [this.registry],
    collect: (): void => this.transfersWaiting.set(this.#overload?.waiting() ?? 0),
  });
  readonly eventLoopDelay = new Gauge({
    name: 'lfsd_event_loop_delay_seconds',
    help: 'Event loop delay, p99 over the last half second: what load shedding compares with shedAtEventLoopDelay',
    registers: [this.registry],
    aggregator: 'max',
  });
  readonly overloaded: Gauge = new Gauge({
    name: 'lfsd_overloaded',
    help: '1 while new batch requests are being shed (and /readyz answers 503), else 0',
    registers: [this.registry],
    aggregator: 'max',
    collect: (): void => this.overloaded.set(this.#overload?.overloaded() ? 1 : 0),
  });

  #pool: { dialect: string; max: number; stats: () => PoolStats | undefined } | undefined;

  constructor(options: CreateMetricsOptions = {}) {
    if (options.defaultMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
    const readPool = () => {
      const source = this.#pool;
      return source && { ...source, stats: source.stats() ?? { open: 0, inUse: 0, waiting: 0 } };
    };
    const registry = this.registry;
    // read from the metadata store when scraped (prom-client calls `collect` before serialising)
    const poolGauge = (
      name: string,
      help: string,
      value: (pool: NonNullable<ReturnType<typeof readPool>>) => number,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ['dialect'] as const,
        registers: [registry],
        collect(this: Gauge<'dialect'>) {
          const pool = readPool();
          if (pool) this.set({ dialect: pool.dialect }, value(pool));
        },
      });
    poolGauge('lfsd_db_pool_connections_open', 'Metadata database connections open', (p) => p.stats.open);
    poolGauge(
      'lfsd_db_pool_connections_in_use',
      'Metadata database connections in use',
      (p) => p.stats.inUse,
    );
    poolGauge(
      'lfsd_db_pool_waiting',
      'Callers waiting for a metadata database connection',
      (p) => p.stats.waiting,
    );
    poolGauge('lfsd_db_pool_connections_max', 'Metadata database pool size (connections)', (p) => p.max);
    this.draining.set(0);
  }

  /** where the pool gauges read from, once the metadata store is open */
  observePool(dialect: string, max: number, stats: () => PoolStats | undefined): void {
    this.#pool = { dialect, max, stats };
  }

  /** where the overload gauges read from (src/limits) */
  observeOverload(source: { waiting: () => number; overloaded: () => boolean }): void {
    this.#overload = source;
  }

  /** a hook for the metadata layer: one call per query */
  readonly observeQuery = (dialect: string, durationSeconds: number, failed: boolean): void => {
    this.dbQueryDuration.observe({ dialect, outcome: failed ? 'error' : 'ok' }, durationSeconds);
  };

  countBatch(operation: string, objects: readonly { actions?: object; error?: { code: number } }[]): void {
    const counts = new Map<BatchOutcome, number>();
    for (const object of objects) {
      const outcome: BatchOutcome = object.error
        ? object.error.code === 404
          ? 'not_found'
          : 'rejected'
        : object.actions
          ? 'transfer'
          : 'present';
      counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    }
    for (const [outcome, count] of counts) this.batchObjects.inc({ operation, outcome }, count);
  }

  #renderText: (() => Promise<string>) | undefined;

  /** in a cluster worker (server/cluster.ts): render the whole cluster's metrics, not this process's */
  renderWith(renderText: () => Promise<string>): void {
    this.#renderText = renderText;
  }

  /** Prometheus text exposition of every metric */
  async render(): Promise<{ contentType: string; body: string }> {
    const body = await (this.#renderText ? this.#renderText() : this.registry.metrics());
    return { contentType: this.registry.contentType, body };
  }
}

export function createMetrics(options: CreateMetricsOptions = {}): LfsdMetrics {
  return new LfsdMetrics(options);
}

/**
 * gc and fsck run as commands, not in the server: their figures go to a Prometheus textfile
 * (`--metrics-file`, for node_exporter's textfile collector), written by these names.
 */
export function lifecycleMetricsText(
  command: 'gc' | 'fsck',
  values: Record<string, { help: string; value: number }>,
): string {
  const lines: string[] = [];
  for (const [name, { help, value }] of Object.entries(values)) {
    const metric = `${METRIC_PREFIX}${command}_${name}`;
    lines.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} gauge`, `${metric} ${value}`);
  }
  return `${lines.join('\n')}\n`;
}
