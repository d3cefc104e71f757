/**
 * `lfsd ssh-command --user NAME [--key ID]`: one SSH command from SSH_ORIGINAL_COMMAND on standard
 * input/output, for hosts whose own sshd runs it from an authorized_keys `command=` line
 * (README "LFS over SSH"; `lfsd key authorized-keys` writes those lines). It opens the same
 * metadata and store as `serve` and runs the same commands as the built-in SSH server.
 *
 * Identity: with `--key`, that SSH key of the user (removing it ends access at once); without,
 * sshd's word for the user, which stands until the user is disabled or removed or their password
 * changes. Logs go to standard error (standard output carries the protocol), warnings and up
 * unless logLevel asks for more detail than `info`.
 */
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { passwordCredential } from '../auth/caller.js';
import { buildDeps, buildSshDeps, publicUrlOf } from '../server/build-deps.js';
import { runSshCommand } from '../ssh/ssh-commands.js';
import type { SshIdentity } from '../ssh/ssh-deps.js';
import { addSettingOptions, settingsFrom } from './settings-options.js';

export function sshCommand(): Command {
  const command = new Command('ssh-command').description(
    'run one git-lfs-transfer/git-lfs-authenticate command from SSH_ORIGINAL_COMMAND (for an authorized_keys command= line)',
  );
  command.addOption(new Option('--user <name>', 'the user the SSH key belongs to').makeOptionMandatory());
  command.addOption(new Option('--key <id>', "the user's SSH key id (lfsd key list)"));
  addSettingOptions(command);
  command.action(async (options: Record<string, unknown>) => {
    const settings = settingsFrom(options);
    const level = settings.logLevel === 'info' ? 'warn' : settings.logLevel;
    const logger = pino({ level, base: { service: 'lfsd', pid: process.pid } }, pino.destination(2));
    const deps = await buildDeps(settings, logger, publicUrlOf(settings));
    let code = 1;
    try {
      const identity = await identityOf(
        deps.metadata,
        options.user as string,
        options.key as string | undefined,
      );
      if (!identity) {
        process.stderr.write('lfsd: this SSH key or user is not known to lfsd\n');
      } else {
        const abort = new AbortController();
        process.once('SIGTERM', () => abort.abort());
        process.stdout.on('error', () => abort.abort());
        code = await runSshCommand(
          buildSshDeps(deps, settings),
          identity,
          process.env.SSH_ORIGINAL_COMMAND,
          { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
          abort.signal,
        );
      }
    } finally {
      await deps.close();
    }
    process.stdout.write('', () => process.exit(code));
  });
  return command;
}

async function identityOf(
  metadata: Awaited<ReturnType<typeof buildDeps>>['metadata'],
  userName: string,
  keyId: string | undefined,
): Promise<SshIdentity | undefined> {
  if (keyId !== undefined) {
    const found = /^[0-9]{1,15}$/.test(keyId) ? await metadata.findSshKeyById(Number(keyId)) : undefined;
    if (!found || found.user.name !== userName || found.user.disabled) return undefined;
    return { credential: { kind: 'ssh-key', id: String(found.key.id) }, fingerprint: found.key.fingerprint };
  }
  const user = await metadata.findUserByName(userName);
  return user && !user.disabled ? { credential: passwordCredential(user) } : undefined;
}
