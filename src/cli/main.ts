#!/usr/bin/env node
/** `lfsd`: the command line (DESIGN.md "Layers": cli/). */
import './thread-pool.js'; // first: before anything starts libuv's thread pool
import { Command } from 'commander';
import { ConfigError, maskedSettings } from '../config/load-settings.js';
import { createLogger } from '../observability/logger.js';
import { migrateDatabase } from '../metadata/open-metadata-store.js';
import { grantCommands, keyCommand, repoCommand, tokenCommand, userCommand } from './admin-commands.js';
import {
  addRepoLifecycleCommands,
  fsckCommand,
  gcCommand,
  quotaCommand,
  usageCommand,
} from './lifecycle-commands.js';
import { lockCommand } from './lock-commands.js';
import { sshCommand } from './ssh-command.js';
import { addSettingOptions, METADATA_SETTINGS, settingsFrom } from './settings-options.js';

const program = new Command('lfsd').description('A Git LFS server').showHelpAfterError();

addSettingOptions(
  program.command('serve').description('run the server (embedded default: SQLite + local disk)'),
).action(async (options: Record<string, unknown>) => {
  // loaded for `serve` only: admin and lifecycle commands start without the HTTP server
  const [{ isClusterWorker, joinCluster, runPrimary }, { exitOnSignals, startServer }] = await Promise.all([
    import('../server/cluster.js'),
    import('../server/server.js'),
  ]);
  const settings = settingsFrom(options);
  const logger = createLogger(settings.logLevel, {
    pretty: settings.logFormat === 'auto' ? undefined : settings.logFormat === 'pretty',
  });
  const clusterServer = (server: Awaited<ReturnType<typeof startServer>>) => ({
    acceptors: server.acceptors,
    metrics: server.deps.metrics,
    close: server.close,
  });
  if (settings.workers > 1 && !isClusterWorker()) {
    // the primary serves too: its server takes its share of the connections it accepts
    const code = await runPrimary(settings, logger, async (bound) =>
      clusterServer(await startServer(settings, logger, { bound })),
    );
    process.exit(code);
  }
  if (isClusterWorker()) {
    const cluster = joinCluster();
    const server = await startServer(settings, logger, { bound: await cluster.bound });
    cluster.serving(clusterServer(server), exitOnSignals(server, logger));
    return;
  }
  exitOnSignals(await startServer(settings, logger), logger);
});

addSettingOptions(
  program.command('migrate').description('apply database migrations and exit'),
  METADATA_SETTINGS,
).action(async (options: Record<string, unknown>) => {
  const applied = await migrateDatabase(settingsFrom(options).databaseUrl as string);
  console.error(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database is up to date');
});

const config = program.command('config').description('configuration');
addSettingOptions(config.command('print').description('print the effective settings, secrets masked')).action(
  (options: Record<string, unknown>) => {
    console.log(JSON.stringify(maskedSettings(settingsFrom(options)), null, 2));
  },
);

program.addCommand(userCommand());
program.addCommand(tokenCommand());
program.addCommand(keyCommand());
program.addCommand(addRepoLifecycleCommands(repoCommand()));
for (const command of grantCommands()) program.addCommand(command);
program.addCommand(lockCommand());
program.addCommand(sshCommand());
for (const command of [usageCommand(), quotaCommand(), gcCommand(), fsckCommand()])
  program.addCommand(command);

program.parseAsync().catch((err: unknown) => {
  const message = err instanceof ConfigError ? `configuration error: ${err.message}` : (err as Error).message;
  console.error(`lfsd: ${message}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
