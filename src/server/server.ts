/**
 * A running lfsd: the app listening on its address (HTTPS with tlsCert/tlsKey), an optional
 * separate metrics listener, and graceful shutdown (DESIGN.md "Operations"):
 *
 *   1. readiness turns false at once (/readyz answers 503; lfsd_draining = 1);
 *   2. the listener stops accepting connections; idle keep-alive connections close now, busy ones
 *      right after their response (every response while draining says `Connection: close`);
 *   3. in-flight requests (uploads, downloads, anything else) and SSH commands run to completion,
 *      up to `shutdownTimeout` seconds; past it the remaining connections are cut, and an upload
 *      cut that way aborts its put, which leaves nothing visible;
 *   4. the metrics listener closes, then the object store and the database pool.
 *
 * `exitOnSignals` runs this on SIGTERM/SIGINT and exits 0; a second signal exits at once.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import { constants } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ConfigError, maskedSettings } from '../config/load-settings.js';
import type { Settings } from '../config/settings.js';
import { buildApp, buildOpsApp } from '../http/app.js';
import { TEMP_GRACE_MS } from '../storage/object-store.js';
import type { SshServer } from '../ssh/ssh-server.js';
import { buildDeps, buildSshDeps, publicUrlOf, type BuiltDeps } from './build-deps.js';
import type { Acceptors, Bound } from './connection-hub.js';
import { formatAddress, splitHostPort } from './host-port.js';
import { trackConnections, type ConnectionTracker } from './idle-connections.js';
import { collectGarbageWhenIdle } from './idle-memory.js';

export interface RunningServer {
  app: FastifyInstance;
  deps: BuiltDeps;
  /** `http(s)://host:port` actually bound (port 0 resolved) */
  url: string;
  /** `http://host:port` of the separate metrics listener, when `metricsListen` is set */
  metricsUrl?: string;
  /** `host:port` of the built-in SSH server, when `sshListen` is set */
  sshAddress?: string;
  /**
   * With `StartOptions.bound`: where the connections the cluster's primary accepts go in (it
   * listens for every process of the cluster; connection-hub.ts); undefined when this process
   * listens itself.
   */
  acceptors?: Acceptors;
  /** drain in-flight requests (up to the shutdown deadline) and close everything; idempotent */
  close(): Promise<void>;
}

/** after the deadline cut the connections: how long handlers get to clean up (abort puts) */
const CLEANUP_GRACE_MS = 5000;

function boundAddress(app: FastifyInstance): string {
  return formatAddress(app.server.address() as AddressInfo);
}

function readTls(settings: Settings): { cert: Buffer; key: Buffer } | undefined {
  if (!settings.tlsCert || !settings.tlsKey) return undefined;
  const read = (name: 'tlsCert' | 'tlsKey', path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`${name}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  return { cert: read('tlsCert', settings.tlsCert), key: read('tlsKey', settings.tlsKey) };
}

/**
 * Uploads a crash or SIGKILL cut off leave temp data behind: removed at start (a dead writer's at
 * once, others once TEMP_GRACE_MS old) and by gc. A failure is logged, never fatal.
 */
async function sweepTemp(deps: BuiltDeps, logger: Logger): Promise<void> {
  const { store } = deps;
  if (!store.capabilities.has('temp-cleanup') || !store.cleanTemp) return;
  try {
    const removed = await store.cleanTemp(TEMP_GRACE_MS);
    if (removed > 0) logger.info({ removed }, 'removed temp files of uploads that died');
  } catch (err) {
    logger.warn({ err }, 'sweeping temp files failed');
  }
}

export interface StartOptions {
  /**
   * The addresses the cluster's primary listens on for this process (`host:port`, port 0
   * resolved), one per listener that `settings` asks for: the server then listens on none and
   * takes its connections through `RunningServer.acceptors`.
   */
  bound?: Bound;
}

export async function startServer(
  settings: Settings,
  logger: Logger,
  options: StartOptions = {},
): Promise<RunningServer> {
  const { bound: given } = options;
  const https = readTls(settings);
  const deps = await buildDeps(settings, logger, publicUrlOf(settings));
  await sweepTemp(deps, logger);
  let app: FastifyInstance | undefined;
  let ops: FastifyInstance | undefined;
  let ssh: SshServer | undefined;
  let sshAddress: string | undefined;
  let connections: ConnectionTracker | undefined;
  try {
    try {
      app = buildApp(deps, {
        https,
        metricsRoute: !settings.metricsListen,
        metricsAccess: { token: settings.metricsToken },
        idleTimeoutMs: settings.idleTimeout * 1000,
        connections: {
          headersTimeoutMs: settings.headersTimeout * 1000,
          maxHeaderSize: settings.maxHeaderSize,
          keepAliveTimeoutMs: settings.keepAliveTimeout * 1000,
          maxRequestsPerSocket: settings.maxRequestsPerSocket,
          maxConnections: settings.maxConnections,
        },
      });
    } catch (err) {
      if (!https) throw err;
      throw new ConfigError(
        `tlsCert, tlsKey: not a usable PEM certificate and key: ${(err as Error).message}`,
      );
    }
    connections = trackConnections(app.server);
    if (given) await app.ready();
    else await app.listen(splitHostPort(settings.listen));
    if (settings.metricsListen) {
      ops = buildOpsApp(deps);
      if (given) await ops.ready();
      else await ops.listen(splitHostPort(settings.metricsListen));
    }
    if (settings.sshListen) {
      // loaded only when asked for: ssh2 and its crypto add ~10 MB to every process otherwise
      const [{ SshServer }, { loadHostKey }] = await Promise.all([
        import('../ssh/ssh-server.js'),
        import('../ssh/host-key.js'),
      ]);
      ssh = new SshServer(buildSshDeps(deps, settings), loadHostKey(settings));
      if (given) {
        sshAddress = given.ssh;
      } else {
        const { host, port } = splitHostPort(settings.sshListen);
        sshAddress = await ssh.listen(host, port);
      }
    }
  } catch (err) {
    await app?.close();
    await ops?.close();
    await ssh?.drain(0);
    await deps.close();
    throw err;
  }
  deps.overload?.shedder?.forgetStartup();
  const bound = given?.http ?? boundAddress(app);
  deps.publicUrl = publicUrlOf(settings, bound);
  const url = `${https ? 'https' : 'http'}://${bound}`;
  const metricsUrl = ops && `http://${given?.metrics ?? boundAddress(ops)}`;
  const acceptors: Acceptors | undefined = given && {
    http: acceptInto(app.server),
    ...(ops && { metrics: acceptInto(ops.server) }),
    ...(ssh && { ssh: (socket: Socket) => handOver(socket, () => ssh!.accept(socket)) }),
  };
  logger.info(
    {
      listen: bound,
      publicUrl: deps.publicUrl,
      tls: Boolean(https),
      metricsUrl,
      ssh: sshAddress,
      settings: maskedSettings(settings),
    },
    'lfsd listening',
  );
  const idleCollector = collectGarbageWhenIdle({
    inFlight: () => deps.inFlight?.size ?? 0,
    started: () => deps.inFlight?.started ?? 0,
  });
  let closing: Promise<void> | undefined;
  const server = { app, deps, url, metricsUrl, sshAddress, acceptors };
  const open = { app, deps, connections: connections!, listening: !given };
  const deadlineMs = settings.shutdownTimeout * 1000;
  return {
    ...server,
    // SSH sessions drain alongside HTTP requests, under the same deadline
    close: () => {
      idleCollector.close();
      return (closing ??= drain(open, ops, deadlineMs, logger, ssh?.drain(deadlineMs)));
    },
  };
}

/**
 * A connection accepted by the cluster's primary, given to `server` as its own listener would:
 * the same per-process connection limit (Node enforces `maxConnections` only on connections its
 * listener accepts), then the server's connection handling.
 */
export function acceptInto(server: NetServer): (socket: Socket) => void {
  let open = 0;
  return (socket) => {
    if (server.maxConnections > 0 && open >= server.maxConnections) {
      socket.destroy();
      server.emit('drop');
      return;
    }
    open++;
    socket.once('close', () => open--);
    handOver(socket, () => server.emit('connection', socket));
  };
}

/** hands `socket` to its server; one the primary accepted paused starts reading only now */
function handOver(socket: Socket, give: () => void): void {
  give();
  if (socket.isPaused()) socket.resume();
}

async function drain(
  {
    app,
    deps,
    connections,
    listening,
  }: { app: FastifyInstance; deps: BuiltDeps; connections: ConnectionTracker; listening: boolean },
  ops: FastifyInstance | undefined,
  deadlineMs: number,
  logger: Logger,
  sshDrained?: Promise<void>,
): Promise<void> {
  const started = Date.now();
  deps.startDraining();
  const server: Server = app.server;
  // stop accepting; resolves once every connection has closed. net.Server's close, not
  // http.Server's: that one also runs Node's closeIdleConnections(), which cuts a download whose
  // last bytes still wait in the socket for a slow reader (idle-connections.ts)
  // (a cluster's process does not listen: its primary stops handing it connections)
  const closed = listening
    ? new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()))
    : connections.allClosed();
  // idle keep-alive connections close now, the others once their last response is out
  connections.closeWhenIdle();
  const inFlight = deps.inFlight;
  const drained = Promise.all([closed, inFlight?.idle()]).then(() => 'drained' as const);
  let deadline: NodeJS.Timeout | undefined;
  const cut = new Promise<'deadline'>(
    (resolve) => (deadline = setTimeout(() => resolve('deadline'), deadlineMs)),
  );
  logger.info(
    { deadline_s: deadlineMs / 1000, handlers: inFlight?.size },
    'draining: not ready, no new connections',
  );
  try {
    if ((await Promise.race([drained, cut])) === 'deadline') {
      logger.warn(
        {
          handlers: inFlight?.size,
          connections: connections.size,
          transfers: await transfersInFlight(deps),
        },
        'shutdown deadline reached: cutting the remaining connections',
      );
      connections.cutAll();
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([
        drained,
        new Promise((resolve) => (grace = setTimeout(resolve, CLEANUP_GRACE_MS))),
      ]);
      clearTimeout(grace);
    }
  } finally {
    clearTimeout(deadline);
  }
  await sshDrained; // SSH sessions use the stores closed below
  await app.close(); // onClose hooks; the server is already closed
  await ops?.close();
  // Fastify closes the idle keep-alive connections of a server only if it listens itself; in a
  // cluster (the primary accepts) a scrape's connection would otherwise idle on to its timeout
  if (!listening) ops?.server.closeIdleConnections();
  await deps.close();
  logger.info({ duration_ms: Date.now() - started }, 'shutdown complete');
}

async function transfersInFlight(deps: BuiltDeps): Promise<number> {
  const metric = await deps.metrics.transfersInFlight.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

/**
 * Drain and exit 0 on the first SIGTERM/SIGINT; exit at once on the second. Returns the
 * drain-and-exit step for other triggers (a cluster primary's word); running it twice is harmless.
 */
export function exitOnSignals(server: RunningServer, logger: Logger): () => void {
  let received = 0;
  const drainAndExit = () => {
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    received++;
    if (received > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    logger.info({ signal }, 'shutting down');
    drainAndExit();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return drainAndExit;
}
