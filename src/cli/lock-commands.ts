/**
 * `lfsd lock list PATH` and `lfsd lock remove PATH ID`: operators' view of a repository's locks
 * and their way to break one (a force-unlock that needs no client). They open the same metadata
 * a running `serve` uses and work while it runs.
 */
import { Command } from 'commander';
import { LockService, toLockJson } from '../lfs/lock-service.js';
import { adminCommand, requireRepo } from './admin-commands.js';

export function lockCommand(): Command {
  return new Command('lock')
    .description("list and remove a repository's file locks")
    .addCommand(
      adminCommand(
        'list',
        'list the locks of a repository: id, path, owner, locked at',
        async (services, [path]) => {
          const repo = await requireRepo(services, path as string);
          let count = 0;
          for await (const lock of new LockService(services.metadata).all(repo)) {
            const json = toLockJson(lock);
            console.log([json.id, json.path, json.owner.name, json.locked_at].join('\t'));
            count++;
          }
          console.error(`${count} lock${count === 1 ? '' : 's'} on ${repo.path}`);
        },
      ).argument('<path>', 'repository, e.g. alice/assets'),
    )
    .addCommand(
      adminCommand('remove', 'remove a lock whoever owns it (force unlock)', async (services, [path, id]) => {
        const repo = await requireRepo(services, path as string);
        const lock = await new LockService(services.metadata).remove(repo, id as string);
        if (!lock) throw new Error(`${repo.path} has no lock ${id}`);
        console.error(`removed lock ${lock.id} on ${lock.path} held by ${lock.ownerName}`);
      })
        .argument('<path>', 'repository, e.g. alice/assets')
        .argument('<id>', 'lock id, as `lfsd lock list` shows it'),
    );
}
