/** `lfsd_ssh_*`: SSH sessions open, commands by name and outcome, bytes moved by `git-lfs-transfer`. */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface SshMetrics {
  sessions: Gauge;
  commands: Counter<'command' | 'outcome'>;
  bytes: Counter<'direction'>;
}

export function createSshMetrics(registry: Registry): SshMetrics {
  return {
    sessions: new Gauge({
      name: 'lfsd_ssh_sessions',
      help: 'SSH exec channels running a command',
      registers: [registry],
    }),
    commands: new Counter({
      name: 'lfsd_ssh_commands_total',
      help: 'SSH commands (git-lfs-transfer requests, git-lfs-authenticate) by name and outcome',
      labelNames: ['command', 'outcome'],
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'lfsd_ssh_bytes_total',
      help: 'object bytes moved over git-lfs-transfer (in: put-object, out: get-object)',
      labelNames: ['direction'],
      registers: [registry],
    }),
  };
}
