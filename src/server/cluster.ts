/**
 * `workers > 1`: lfsd as several processes on one machine (node:cluster), because one Node
 * process answers requests on one core. The primary process is one of the `workers` servers: it
 * starts its own server first (which migrates the database and creates the signing key, as a
 * single process does), listens for the whole cluster and hands each accepted connection in turn
 * to itself or to a serving worker (connection-hub.ts), starts the other workers, replaces one
 * that dies, answers for the whole cluster's metrics, and on SIGTERM/SIGINT stops accepting,
 * shuts the workers down and drains its own server. Each worker is a complete server (server.ts)
 * that takes the connections the primary sends it.
 *
 * Everything a worker shares with the others lives in the database and the object store, exactly
 * as between replicas in the scale-out setup (DESIGN.md), so workers need no other coordination.
 * If the primary dies, its workers exit with it (node:cluster ends a worker whose IPC channel
 * closes; they would get no more connections anyway): a supervisor (systemd, Kubernetes) restarts
 * the whole, as it would a single process.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Settings } from '../config/settings.js';
import type { LfsdMetrics } from '../observability/metrics.js';
import {
  ConnectionHub,
  type Acceptors,
  type Bound,
  type ListenerName,
  type Member,
} from './connection-hub.js';

export type { Bound } from './connection-hub.js';

/** a worker that died after it started is replaced, but not more often than this per minute */
const MAX_RESTARTS_PER_MINUTE = 10;

/**
 * worker -> primary, first, once it listens for messages (one sent before would be lost):
 * primary -> worker: BOUND, where the cluster listens (the worker's URLs and log lines)
 */
const JOINED = 'lfsd:joined';
const BOUND = 'lfsd:bound';
/** worker -> primary: its server is up (it drains on SHUTDOWN and answers COLLECT from now on) */
const SERVING = 'lfsd:serving';
/** primary -> serving worker, with the socket: a connection the primary accepted for it */
const CONNECTION = 'lfsd:connection';
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
  | { type: typeof JOINED }
  | { type: typeof SERVING }
  | { type: typeof METRICS_REQUEST; id: number }
  | { type: typeof METRICS_PART; id: number; metrics: MetricsJson };

type ToWorker =
  | { type: typeof BOUND; bound: Bound }
  | { type: typeof CONNECTION; listener: ListenerName }
  | { type: typeof METRICS; id: number; body?: string; error?: string }
  | { type: typeof COLLECT; id: number }
  | { type: typeof SHUTDOWN };

/** what the cluster needs of a running server (server.ts RunningServer, or the bench's) */
export interface ClusterServer {
  acceptors?: Acceptors;
  metrics: LfsdMetrics;
  /** drain and close; the process exits after it */
  close(): Promise<void>;
}

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/**
 * Run as the primary of `settings.workers` processes until its own server has drained and every
 * worker has exited after a shutdown; resolves with the exit code for the process. `startServer`
 * starts this process's server on the addresses the primary listens on. Workers re-run this
 * program with the same arguments and environment, and find out that they are workers from
 * node:cluster (joinCluster).
 */
export async function runPrimary(
  settings: Settings,
  logger: Logger,
  startServer: (bound: Bound) => Promise<ClusterServer>,
): Promise<number> {
  const hub = new ConnectionHub();
  let own: ClusterServer;
  let bound: Bound;
  try {
    bound = {
      http: await hub.listen('http', settings.listen),
      ...(settings.metricsListen && {
        metrics: await hub.listen('metrics', settings.metricsListen),
      }),
      ...(settings.sshListen && { ssh: await hub.listen('ssh', settings.sshListen) }),
    };
    own = await startServer(bound);
  } catch (err) {
    await hub.close();
    throw err;
  }
  const local: Member = {
    open: true,
    take: (listener, socket) => give(own.acceptors, listener, socket),
  };
  hub.join(local);

  const live = new Set<Worker>();
  /** workers whose server is up: they take connections, drain on a message, answer for metrics */
  const serving = new Map<Worker, Member>();
  /** workers stopped by a signal because they were not serving yet */
  const stoppedEarly = new Set<Worker>();
  const restarts: number[] = [];
  let shuttingDown = false;
  let exitCode = 0;

  const collecting = new Map<number, (worker: Worker, metrics: MetricsJson) => void>();
  let nextCollect = 0;
  /** The metrics of this process and every serving worker, aggregated (counters summed). */
  const clusterMetrics = async (): Promise<string> => {
    const id = nextCollect++;
    const asked = [...serving.keys()].filter((worker) => worker.isConnected());
    const [mine, theirs] = await Promise.all([
      own.metrics.registry.getMetricsAsJSON(),
      new Promise<MetricsJson[]>((resolve, reject) => {
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
      }),
    ]);
    return AggregatorRegistry.aggregate([mine, ...theirs]).metrics();
  };
  own.metrics.renderWith(clusterMetrics);

  const fork = () => {
    const worker = cluster.fork();
    live.add(worker);
    worker.on('message', (message: ToPrimary) => {
      switch (message?.type) {
        case JOINED:
          worker.send({ type: BOUND, bound } satisfies ToWorker);
          break;
        case SERVING: {
          if (shuttingDown) {
            worker.send({ type: SHUTDOWN } satisfies ToWorker);
            break;
          }
          const member: Member = {
            // none once the cluster drains (the worker too) or the worker's channel is gone
            get open() {
              return !shuttingDown && worker.isConnected();
            },
            take: (listener: ListenerName, socket: Socket) => {
              if (!worker.isConnected()) return give(own.acceptors, listener, socket);
              // on failure the socket is still ours: this process serves it
              worker.send({ type: CONNECTION, listener } satisfies ToWorker, socket, (err) => {
                if (err) give(own.acceptors, listener, socket);
              });
            },
          };
          serving.set(worker, member);
          hub.join(member);
          logger.info({ worker: worker.process.pid }, 'worker serving');
          break;
        }
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

  let ownDrained: Promise<void> | undefined;
  const shutdown = () => {
    shuttingDown = true;
    // no new API or SSH connections, for anyone; the metrics listener stays up for this process's
    // own server (it answers /readyz 503 while draining) until the end
    void hub.close(['http', 'ssh']);
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
    ownDrained ??= own.close().catch((err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      exitCode = 1;
    });
  };

  /** resolves once every worker has exited after a shutdown */
  const workersGone = new Promise<void>((resolve) => {
    const resolveIfDone = () => {
      if (shuttingDown && live.size === 0) resolve();
    };
    cluster.on('exit', (worker, code, signal) => {
      live.delete(worker);
      const member = serving.get(worker);
      if (member) hub.leave(member);
      const wasStarted = serving.delete(worker);
      const stopped = stoppedEarly.delete(worker);
      if (shuttingDown) {
        // a worker that failed to drain cleanly fails the whole shutdown
        if ((code !== 0 || signal) && !stopped) exitCode = 1;
        logger.info({ worker: worker.process.pid, code, signal, remaining: live.size }, 'worker exited');
        resolveIfDone();
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
        resolveIfDone();
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
    logger.info({ signal }, 'shutting down the cluster');
    shutdown();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  logger.info({ workers: settings.workers }, 'lfsd starting workers');
  for (let i = 1; i < settings.workers; i++) fork();
  await workersGone;
  await ownDrained;
  // the metrics listener, kept for /readyz while draining; not awaited: a connection still open
  // on it ends with the process
  void hub.close();
  return exitCode;
}

/** a connection to this process's own server; none for that listener (cannot happen): closed */
function give(acceptors: Acceptors | undefined, listener: ListenerName, socket: Socket): void {
  const accept = acceptors?.[listener];
  if (accept) accept(socket);
  else socket.destroy();
}

/**
 * In a worker, before its server starts: listen to the primary at once, so that the primary's
 * disappearance while this worker starts is not missed. `bound` resolves with where the cluster
 * listens (start the server with it); call `serving` once the server is up: from then on the
 * primary sends this worker connections, may ask for its metrics and tell it to drain, and
 * `/metrics` renders the whole cluster's (any process may get the scrape).
 */
export function joinCluster(): {
  bound: Promise<Bound>;
  serving(server: ClusterServer, drainAndExit: () => void): void;
} {
  let drain: (() => void) | undefined;
  let server: ClusterServer | undefined;
  let stopAsked = false;
  let gotBound: (bound: Bound) => void = () => {};
  const bound = new Promise<Bound>((resolve) => (gotBound = resolve));
  // the server may already run before `serving`: remember the request, drain once it can
  const stop = () => (drain ? drain() : (stopAsked = true));
  const send = (message: ToPrimary) => {
    // a worker still draining after its primary died must not crash on a scrape
    if (process.connected) process.send?.(message);
  };
  const pending = new Map<number, (answer: { body?: string; error?: string }) => void>();
  process.on('message', (message: ToWorker, socket?: Socket) => {
    switch (message?.type) {
      case BOUND:
        gotBound(message.bound);
        break;
      case CONNECTION:
        if (socket) give(server?.acceptors, message.listener, socket);
        break;
      case SHUTDOWN:
        stop();
        break;
      case COLLECT:
        void server?.metrics.registry
          .getMetricsAsJSON()
          .then((metrics) => send({ type: METRICS_PART, id: message.id, metrics }));
        break;
      case METRICS:
        pending.get(message.id)?.(message);
        break;
    }
  });
  process.on('disconnect', stop);
  send({ type: JOINED });
  return {
    bound,
    serving(running, drainAndExit) {
      drain = drainAndExit;
      server = running;
      if (stopAsked) return drainAndExit();
      send({ type: SERVING });
      let nextId = 0;
      running.metrics.renderWith(
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
