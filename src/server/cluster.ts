/**
 * `workers > 1`: lfsd as several processes on one machine (node:cluster), because one Node
 * process answers requests on one core. The primary process serves nothing itself: it prepares
 * the database once, starts the workers, replaces one that dies, answers for the whole cluster's
 * metrics, and shuts the workers down on SIGTERM/SIGINT. Each worker is a complete server
 * (server.ts) on the shared listening socket; the primary hands it connections in turn.
 *
 * Everything a worker shares with the others lives in the database and the object store, exactly
 * as between replicas in the scale-out setup (DESIGN.md), so workers need no other coordination.
 */
import cluster, { type Worker } from 'node:cluster';
import { constants } from 'node:os';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { loadSigningKey } from '../auth/signing-key.js';
import type { Settings } from '../config/settings.js';
import { migrateDatabase } from '../metadata/open-metadata-store.js';
import type { LfsdMetrics } from '../observability/metrics.js';

/** a worker that died after it started is replaced, but not more often than this per minute */
const MAX_RESTARTS_PER_MINUTE = 10;

/** worker -> primary: its server is up (it drains on SHUTDOWN and answers COLLECT from now on) */
const SERVING = 'lfsd:serving';
/** worker -> primary: render the cluster's metrics for me; primary -> worker: METRICS */
const METRICS_REQUEST = 'lfsd:metrics-request';
const METRICS = 'lfsd:metrics';
/** primary -> serving worker: send me your metrics as JSON; worker -> primary: METRICS_PART */
const COLLECT = 'lfsd:collect';
const METRICS_PART = 'lfsd:metrics-part';
/** primary -> serving worker: drain and exit */
const SHUTDOWN = 'lfsd:shutdown';
/** a serving worker that does not send its metrics in this time fails the scrape */
const COLLECT_TIMEOUT_MS = 5000;

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

type ToPrimary =
  | { type: typeof SERVING }
  | { type: typeof METRICS_REQUEST; id: number }
  | { type: typeof METRICS_PART; id: number; metrics: MetricsJson };

type ToWorker =
  | { type: typeof METRICS; id: number; body?: string; error?: string }
  | { type: typeof COLLECT; id: number }
  | { type: typeof SHUTDOWN };

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/**
 * Run as the primary of `settings.workers` workers until they have all exited after a shutdown;
 * resolves with the exit code for the process. Workers re-run this program with the same
 * arguments and environment, and find out that they are workers from node:cluster.
 */
export async function runPrimary(settings: Settings, logger: Logger): Promise<number> {
  // before any worker starts: the workers all read the key this creates (or refuse the same way)
  await loadSigningKey(settings);
  // once here rather than racing in every worker: a bad database URL fails the start once
  const applied = await migrateDatabase(settings.databaseUrl as string);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');

  const live = new Set<Worker>();
  /** workers whose server is up: they drain on a message and answer for their metrics */
  const serving = new Set<Worker>();
  /** workers stopped by a signal because they were not serving yet */
  const stoppedEarly = new Set<Worker>();
  const restarts: number[] = [];
  let shuttingDown = false;
  let exitCode = 0;

  const collecting = new Map<number, (worker: Worker, metrics: MetricsJson) => void>();
  let nextCollect = 0;
  /** The metrics of every serving worker, aggregated (counters summed, see metrics.ts). */
  const clusterMetrics = async (): Promise<string> => {
    const id = nextCollect++;
    const asked = [...serving].filter((worker) => worker.isConnected());
    const parts = await new Promise<MetricsJson[]>((resolve, reject) => {
      const waiting = new Set(asked);
      const parts: MetricsJson[] = [];
      const finish = (error?: Error) => {
        clearTimeout(timer);
        collecting.delete(id);
        if (error) reject(error);
        else resolve(parts);
      };
      const timer = setTimeout(
        () => finish(new Error(`${waiting.size} worker(s) did not send their metrics`)),
        COLLECT_TIMEOUT_MS,
      );
      collecting.set(id, (worker, metrics) => {
        if (!waiting.delete(worker)) return;
        parts.push(metrics);
        if (waiting.size === 0) finish();
      });
      if (asked.length === 0) finish();
      for (const worker of asked) worker.send({ type: COLLECT, id } satisfies ToWorker);
    });
    return AggregatorRegistry.aggregate(parts).metrics();
  };

  const fork = () => {
    const worker = cluster.fork();
    live.add(worker);
    worker.on('message', (message: ToPrimary) => {
      switch (message?.type) {
        case SERVING:
          serving.add(worker);
          break;
        case METRICS_PART:
          collecting.get(message.id)?.(worker, message.metrics);
          break;
        case METRICS_REQUEST: {
          const answer = (fields: { body?: string; error?: string }) => {
            if (worker.isConnected())
              worker.send({ type: METRICS, id: message.id, ...fields } satisfies ToWorker);
          };
          clusterMetrics().then(
            (body) => answer({ body }),
            (err: unknown) => answer({ error: (err as Error).message }),
          );
          break;
        }
      }
    });
    return worker;
  };

  const shutdown = () => {
    shuttingDown = true;
    for (const worker of live) {
      if (serving.has(worker)) {
        // a message rather than a signal: on Ctrl-C the terminal already sent SIGINT to every
        // worker, and a second signal would make a worker exit at once instead of draining
        if (worker.isConnected()) worker.send({ type: SHUTDOWN } satisfies ToWorker);
      } else {
        // still starting, perhaps not yet listening for messages: nothing to drain yet
        stoppedEarly.add(worker);
        worker.process.kill('SIGTERM');
      }
    }
  };

  const done = new Promise<number>((resolve) => {
    cluster.on('exit', (worker, code, signal) => {
      live.delete(worker);
      const wasStarted = serving.delete(worker);
      const stopped = stoppedEarly.delete(worker);
      const alive = live.size;
      if (shuttingDown) {
        // a worker that failed to drain cleanly fails the whole shutdown
        if ((code !== 0 || signal) && !stopped) exitCode = 1;
        logger.info({ worker: worker.process.pid, code, signal, remaining: alive }, 'worker exited');
        if (alive === 0) resolve(exitCode);
        return;
      }
      logger.error({ worker: worker.process.pid, code, signal }, 'worker died');
      const now = Date.now();
      while (restarts.length > 0 && (restarts[0] as number) < now - 60_000) restarts.shift();
      if (!wasStarted || restarts.length >= MAX_RESTARTS_PER_MINUTE) {
        // dying before it served is a configuration or startup problem that a restart repeats
        logger.error(
          { started: wasStarted, restarts_last_minute: restarts.length },
          'not restarting the worker: stopping the cluster',
        );
        exitCode = 1;
        shutdown();
        if (alive === 0) resolve(exitCode);
        return;
      }
      restarts.push(now);
      fork();
    });
  });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: stopping the workers now');
      for (const worker of live) worker.process.kill('SIGKILL');
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    logger.info({ signal }, 'shutting down the workers');
    shutdown();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  logger.info({ workers: settings.workers }, 'lfsd starting workers');
  for (let i = 0; i < settings.workers; i++) fork();
  return done;
}

/**
 * In a worker, before its server starts: listen to the primary at once, so that the primary's
 * disappearance while this worker starts is not missed. Call `serving` once the server is up:
 * from then on the primary may ask for this worker's metrics and tell it to drain, and `/metrics`
 * renders the whole cluster's (any worker may get the scrape).
 */
export function joinCluster(): { serving(metrics: LfsdMetrics, drainAndExit: () => void): void } {
  let drain: (() => void) | undefined;
  let registry: Registry | undefined;
  let stopAsked = false;
  // the server may already listen before `serving`: remember the request, drain once it can
  const stop = () => (drain ? drain() : (stopAsked = true));
  const send = (message: ToPrimary) => {
    // a worker still draining after its primary died must not crash on a scrape
    if (process.connected) process.send?.(message);
  };
  const pending = new Map<number, (answer: { body?: string; error?: string }) => void>();
  process.on('message', (message: ToWorker) => {
    switch (message?.type) {
      case SHUTDOWN:
        stop();
        break;
      case COLLECT:
        void registry
          ?.getMetricsAsJSON()
          .then((metrics) => send({ type: METRICS_PART, id: message.id, metrics }));
        break;
      case METRICS:
        pending.get(message.id)?.(message);
        break;
    }
  });
  process.on('disconnect', stop);
  return {
    serving(metrics, drainAndExit) {
      drain = drainAndExit;
      registry = metrics.registry;
      if (stopAsked) return drainAndExit();
      send({ type: SERVING });
      let nextId = 0;
      metrics.renderWith(
        () =>
          new Promise<string>((resolve, reject) => {
            if (!process.connected) return reject(new Error('the cluster primary is gone'));
            const id = nextId++;
            const timer = setTimeout(() => {
              pending.delete(id);
              reject(new Error('the cluster primary did not answer for metrics'));
            }, 2 * COLLECT_TIMEOUT_MS);
            pending.set(id, (answer) => {
              clearTimeout(timer);
              pending.delete(id);
              if (answer.body !== undefined) resolve(answer.body);
              else reject(new Error(answer.error ?? 'no metrics'));
            });
            send({ type: METRICS_REQUEST, id });
          }),
      );
    },
  };
}
