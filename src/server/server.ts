/**
 * A running lfsd: the app listening on its address, with graceful shutdown (DESIGN.md
 * "Operations"): on SIGTERM/SIGINT readiness turns false, the listener stops accepting, idle
 * keep-alive connections close, in-flight transfers run to completion up to the deadline, then
 * the stores close. A second signal exits at once.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { maskedSettings } from '../config/load-settings.js';
import type { Settings } from '../config/settings.js';
import { buildApp } from '../http/app.js';
import { buildDeps, publicUrlOf } from './build-deps.js';

export interface RunningServer {
  app: FastifyInstance;
  /** `http://host:port` actually bound (port 0 resolved) */
  url: string;
  /** drain in-flight requests (up to the shutdown deadline) and close everything */
  close(): Promise<void>;
}

export function splitHostPort(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  return { host: listen.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(listen.slice(at + 1)) };
}

export async function startServer(settings: Settings, logger: Logger): Promise<RunningServer> {
  const deps = await buildDeps(settings, logger, publicUrlOf(settings));
  const app = buildApp(deps);
  const { host, port } = splitHostPort(settings.listen);
  await app.listen({ host, port });
  const address = app.server.address() as AddressInfo;
  const bound = `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  deps.publicUrl = publicUrlOf(settings, bound);
  logger.info(
    { listen: bound, publicUrl: deps.publicUrl, settings: maskedSettings(settings) },
    'lfsd listening',
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const deadline = setTimeout(() => {
        logger.warn('shutdown deadline reached: closing remaining connections');
        app.server.closeAllConnections();
      }, settings.shutdownTimeout * 1000);
      deadline.unref();
      deps.startDraining();
      await app.close();
      clearTimeout(deadline);
      await deps.close();
    })());
  return { app, url: `http://${bound}`, close };
}

/** Exit cleanly on the first SIGTERM/SIGINT, at once on the second. */
export function exitOnSignals(server: RunningServer, logger: Logger): void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received++;
    if (received > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
