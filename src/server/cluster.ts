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
import { AggregatorRegistry } from 'prom-client';
import type { Settings } from '../config/settings.js';
import { migrateDatabase } from '../metadata/open-metadata-store.js';
import type { LfsdMetrics } from '../observability/metrics.js';
import { loadOrCreateSecret } from './server-secret.js';

/** a worker that died after it started is replaced, but not more often than this per minute */
const MAX_RESTARTS_PER_MINUTE = 10;

const METRICS_REQUEST = 'lfsd:metrics-request';
const METRICS_ANSWER = 'lfsd:metrics';
const SHUTDOWN = 'lfsd:shutdown';

interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: number;
}

interface MetricsAnswer {
  type: typeof METRICS_ANSWER;
  id: number;
  body?: string;
  error?: string;
}

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/**
 * Run as the primary of `settings.workers` workers until they have all exited after a shutdown;
 * resolves with the exit code for the process. Workers re-run this program with the same
 * arguments and environment, and find out that they are workers from node:cluster.
 */
export async function runPrimary(settings: Settings, logger: Logger): Promise<number> {
  // once here rather than racing in every worker: a bad database URL fails the start once
  const applied = await migrateDatabase(settings.databaseUrl as string);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  if (!settings.secret) loadOrCreateSecret(settings.dataDir);

  const aggregator = new AggregatorRegistry();
  const live = new Set<Worker>();
  const started = new Set<Worker>();
  /** workers stopped by a signal because they had not started serving yet */
  const stoppedEarly = new Set<Worker>();
  const restarts: number[] = [];
  let shuttingDown = false;
  let exitCode = 0;

  const fork = () => {
    const worker = cluster.fork();
    live.add(worker);
    worker.on('listening', () => started.add(worker));
    worker.on('message', (message: MetricsRequest) => {
      if (message?.type !== METRICS_REQUEST) return;
      const answer = (fields: Omit<MetricsAnswer, 'type' | 'id'>) => {
        if (worker.isConnected()) worker.send({ type: METRICS_ANSWER, id: message.id, ...fields });
      };
      aggregator.clusterMetrics().then(
        (body) => answer({ body }),
        (err: unknown) => answer({ error: (err as Error).message }),
      );
    });
    return worker;
  };

  const shutdown = () => {
    shuttingDown = true;
    for (const worker of live) {
      if (started.has(worker)) {
        // a message rather than a signal: on Ctrl-C the terminal already sent SIGINT to every
        // worker, and a second signal would make a worker exit at once instead of draining
        if (worker.isConnected()) worker.send({ type: SHUTDOWN });
      } else {
        // still starting, perhaps not yet listening for messages: nothing to drain
        stoppedEarly.add(worker);
        worker.process.kill('SIGTERM');
      }
    }
  };

  const done = new Promise<number>((resolve) => {
    cluster.on('exit', (worker, code, signal) => {
      live.delete(worker);
      const wasStarted = started.delete(worker);
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
        // dying before it listened is a configuration or startup problem that a restart repeats
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
 * In a worker, before its server starts: listen to the primary at once, so that a shutdown it
 * asks for while this worker is still starting is not lost (the worker then just exits: it serves
 * nothing yet). Call `serving` once the server listens: from then on `/metrics` renders the whole
 * cluster (any worker may get the scrape), and the primary's word, or its disappearance, drains
 * this worker.
 */
export function joinCluster(): { serving(metrics: LfsdMetrics, drainAndExit: () => void): void } {
  let drain: (() => void) | undefined;
  const stop = () => (drain ? drain() : process.exit(0));
  const pending = new Map<number, (answer: MetricsAnswer) => void>();
  process.on('message', (message: MetricsAnswer | { type: typeof SHUTDOWN }) => {
    if (message?.type === SHUTDOWN) stop();
    if (message?.type === METRICS_ANSWER) pending.get(message.id)?.(message);
  });
  process.on('disconnect', stop);
  return {
    serving(metrics, drainAndExit) {
      drain = drainAndExit;
      new AggregatorRegistry(); // installs the worker's answer to the primary's metrics requests
      AggregatorRegistry.setRegistries([metrics.registry]);
      let nextId = 0;
      metrics.renderWith(
        () =>
          new Promise<string>((resolve, reject) => {
            const id = nextId++;
            const timer = setTimeout(() => {
              pending.delete(id);
              reject(new Error('the cluster primary did not answer for metrics'));
            }, 10_000);
            pending.set(id, (answer) => {
              clearTimeout(timer);
              pending.delete(id);
              if (answer.body !== undefined) resolve(answer.body);
              else reject(new Error(answer.error ?? 'no metrics'));
            });
            process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
          }),
      );
    },
  };
}
