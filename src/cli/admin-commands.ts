/**
 * Admin commands: users, tokens, repositories, grants. Each opens the same metadata a running
 * `serve` uses (--data-dir / --database-url / --config), acts as the operator through the admin
 * service layer (src/admin/: the rules live there, shared with the admin API), and works while
 * the server runs.
 */
import { Command } from 'commander';
import { OPERATOR } from '../admin/actor.js';
import { createAdminServices, type AdminServices } from '../admin/admin-services.js';
import { tokenState } from '../admin/token-service.js';
import type { MetadataStore, Repo } from '../metadata/metadata-store.js';
import { openMetadata } from '../server/build-deps.js';
import { parseDuration } from './duration.js';
import { addSettingOptions, METADATA_SETTINGS, settingsFrom } from './settings-options.js';

type Action = (
  services: AdminServices & { metadata: MetadataStore },
  args: string[],
  options: Record<string, unknown>,
) => Promise<void>;

/** A subcommand that opens the metadata, runs `action`, and closes it whatever happens. */
export function adminCommand(name: string, description: string, action: Action): Command {
  const command = new Command(name).description(description);
  addSettingOptions(command, METADATA_SETTINGS);
  command.action(async (...received: unknown[]) => {
    const cmd = received.at(-1) as Command;
    const options = cmd.opts();
    const metadata = await openMetadata(settingsFrom(options));
    try {
      await action({ ...createAdminServices(metadata), metadata }, cmd.args, options);
    } finally {
      await metadata.close();
    }
  });
  return command;
}

/** The repository at `path` (as an operator writes it: `alice/assets`, `/alice/assets.git`). */
export async function requireRepo(services: AdminServices, path: string): Promise<Repo> {
  return (await services.repos.get(OPERATOR, path)).repo;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export function userCommand(): Command {
  return new Command('user')
    .description('manage users')
    .addCommand(
      adminCommand('add', 'create a user', async ({ users }, [name], options) => {
        const password = options.passwordStdin ? await readStdin() : undefined;
        await users.add(OPERATOR, { name: name as string, admin: Boolean(options.admin), password });
        console.error(
          `created user ${name}${options.admin ? ' (admin)' : ''}${password === undefined ? ' without a password: use a token' : ''}`,
        );
      })
        .argument('<name>')
        .option('--admin', 'site admin: admin of every repository')
        .option('--password-stdin', 'read the password from standard input'),
    )
    .addCommand(
      adminCommand('passwd', 'set a user password read from standard input', async ({ users }, [name]) => {
        await users.setPassword(OPERATOR, name as string, await readStdin());
      }).argument('<name>'),
    )
    .addCommand(
      adminCommand('list', 'list users: name, then admin and disabled when they apply', async ({ users }) => {
        for (const user of await users.list(OPERATOR)) {
          console.log(
            [user.name, user.isAdmin && 'admin', user.disabled && 'disabled'].filter(Boolean).join('\t'),
          );
        }
      }),
    )
    .addCommand(
      adminCommand(
        'disable',
        'stop a user from signing in; their tokens, keys and transfers stop working at once',
        async ({ users }, [name]) => users.setDisabled(OPERATOR, name as string, true),
      ).argument('<name>'),
    )
    .addCommand(
      adminCommand('enable', 'let a disabled user sign in again', async ({ users }, [name]) =>
        users.setDisabled(OPERATOR, name as string, false),
      ).argument('<name>'),
    )
    .addCommand(
      adminCommand(
        'remove',
        'remove a user with their tokens, SSH keys, grants and locks',
        async ({ users }, [name]) => {
          await users.remove(OPERATOR, name as string);
          console.error(`removed user ${name}`);
        },
      ).argument('<name>'),
    );
}

export function tokenCommand(): Command {
  return new Command('token')
    .description('manage personal access tokens')
    .addCommand(
      adminCommand(
        'create',
        'create a token; prints it alone on stdout (shown only once)',
        async ({ tokens }, [name], options) => {
          const { token } = await tokens.create(OPERATOR, name as string, {
            name: (options.name as string | undefined) ?? null,
            expiresInMs: options.expiresIn ? parseDuration(options.expiresIn as string) : undefined,
            scopes: (options.scope as string[] | undefined) ?? [],
          });
          console.log(token);
        },
      )
        .argument('<user>')
        .option('--name <label>', 'a label to recognise the token by')
        .option('--expires-in <duration>', 'e.g. 30d, 12h; default never')
        .option('--scope <scope...>', 'extra scopes: tokens (may create further tokens)'),
    )
    .addCommand(
      adminCommand(
        'list',
        "list a user's tokens (never their secrets): id, label, state, created, expires, scopes",
        async ({ tokens }, [name]) => {
          for (const t of await tokens.list(OPERATOR, name as string)) {
            console.log(
              [
                t.id,
                t.name ?? '-',
                tokenState(t),
                t.createdAt.toISOString(),
                t.expiresAt?.toISOString() ?? 'never',
                t.scopes?.length ? t.scopes.join(',') : '-',
              ].join('\t'),
            );
          }
        },
      ).argument('<user>'),
    )
    .addCommand(
      adminCommand('revoke', 'revoke a token by id', async ({ tokens }, [name, id]) => {
        await tokens.revoke(OPERATOR, name as string, Number(id));
      })
        .argument('<user>')
        .argument('<id>'),
    );
}

export function keyCommand(): Command {
  return new Command('key')
    .description('manage SSH public keys (identity over SSH)')
    .addCommand(
      adminCommand(
        'add',
        "add one OpenSSH public key line read from standard input; prints the key's id and SHA256 fingerprint",
        async ({ keys }, [name], options) => {
          const key = await keys.add(
            OPERATOR,
            name as string,
            await readStdin(),
            options.name as string | undefined,
          );
          console.log(`${key.id}\t${key.fingerprint}`);
        },
      )
        .argument('<user>')
        .option('--name <label>', 'a label to recognise the key by (default: the key comment)'),
    )
    .addCommand(
      adminCommand(
        'list',
        "list a user's SSH keys: id, label, type, fingerprint, last use",
        async ({ keys }, [name]) => {
          for (const k of await keys.list(OPERATOR, name as string)) {
            console.log(
              [k.id, k.label ?? '-', k.type, k.fingerprint, k.lastUsedAt?.toISOString() ?? 'never'].join(
                '\t',
              ),
            );
          }
        },
      ).argument('<user>'),
    )
    .addCommand(
      adminCommand(
        'remove',
        'remove an SSH key by id; its open SSH sessions are refused from their next command',
        async ({ keys }, [name, id]) => {
          await keys.remove(OPERATOR, name as string, Number(id));
        },
      )
        .argument('<user>')
        .argument('<id>'),
    )
    .addCommand(
      adminCommand(
        'authorized-keys',
        "print an OpenSSH authorized_keys line for every key, forcing `lfsd ssh-command` (for a host's sshd)",
        async ({ keys }, _args, options) => {
          for (const line of await keys.authorizedKeys(OPERATOR, options.command as string))
            console.log(line);
        },
      ).option(
        '--command <command>',
        'the forced command, before --user/--key (add --config FILE here)',
        'lfsd ssh-command',
      ),
    );
}

export function repoCommand(): Command {
  return new Command('repo')
    .description('manage repositories')
    .addCommand(
      adminCommand(
        'create',
        'create a repository (private unless --public)',
        async ({ repos }, [path], options) => {
          await repos.create(OPERATOR, path as string, { isPublic: Boolean(options.public) });
        },
      )
        .argument('<path>')
        .option('--public', 'anyone may download without credentials'),
    )
    .addCommand(
      adminCommand('list', 'list repositories', async ({ repos }) => {
        for (const { repo } of await repos.list(OPERATOR))
          console.log(`${repo.path}${repo.isPublic ? '\tpublic' : ''}`);
      }),
    )
    .addCommand(
      adminCommand('public', 'let anyone download from a repository', async ({ repos }, [path]) =>
        repos.setPublic(OPERATOR, path as string, true),
      ).argument('<path>'),
    )
    .addCommand(
      adminCommand('private', 'make a repository private again', async ({ repos }, [path]) =>
        repos.setPublic(OPERATOR, path as string, false),
      ).argument('<path>'),
    );
}

export function grantCommands(): Command[] {
  const grant = adminCommand(
    'grant',
    'give a user read, write or admin on a repository',
    async ({ grants }, [name, path, level]) => {
      await grants.grant(OPERATOR, name as string, path as string, level as string);
    },
  )
    .argument('<user>')
    .argument('<path>')
    .argument('<permission>', 'read | write | admin');
  const revoke = adminCommand(
    'revoke',
    "remove a user's grant on a repository",
    async ({ grants }, [name, path]) => {
      await grants.revoke(OPERATOR, name as string, path as string);
    },
  )
    .argument('<user>')
    .argument('<path>');
  return [grant, revoke];
}
