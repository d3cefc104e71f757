/**
 * Admin commands: users, tokens, repositories, grants. Each opens the same metadata a running
 * `serve` uses (--data-dir / --database-url / --config) and works while the server runs.
 */
import { Command } from 'commander';
import { generateAccessToken, hashAccessToken } from '../auth/access-token.js';
import { hashPassword } from '../auth/password-hash.js';
import type { MetadataStore, Permission } from '../metadata/metadata-store.js';
import { openMetadata } from '../server/build-deps.js';
import { parseDuration } from './duration.js';
import { addSettingOptions, METADATA_SETTINGS, settingsFrom } from './settings-options.js';

type Action = (metadata: MetadataStore, args: string[], options: Record<string, unknown>) => Promise<void>;

/** A subcommand that opens the metadata, runs `action`, and closes it whatever happens. */
export function adminCommand(name: string, description: string, action: Action): Command {
  const command = new Command(name).description(description);
  addSettingOptions(command, METADATA_SETTINGS);
  command.action(async (...received: unknown[]) => {
    const cmd = received.at(-1) as Command;
    const options = cmd.opts();
    const metadata = await openMetadata(settingsFrom(options));
    try {
      await action(metadata, cmd.args, options);
    } finally {
      await metadata.close();
    }
  });
  return command;
}

async function requireUser(metadata: MetadataStore, name: string) {
  const user = await metadata.findUserByName(name);
  if (!user) throw new Error(`no user named ${name}`);
  return user;
}

export async function requireRepo(metadata: MetadataStore, path: string) {
  const repo = await metadata.findRepo(normaliseRepoPath(path));
  if (!repo) throw new Error(`no repository ${path} (create it with: lfsd repo create ${path})`);
  return repo;
}

export function normaliseRepoPath(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '');
  if (
    !/^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/.test(trimmed) ||
    trimmed.includes('..')
  ) {
    throw new Error(`invalid repository path "${path}": expected segments like alice/assets`);
  }
  return trimmed;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

const PERMISSIONS: readonly Permission[] = ['read', 'write', 'admin'];

export function userCommand(): Command {
  return new Command('user')
    .description('manage users')
    .addCommand(
      adminCommand('add', 'create a user', async (metadata, [name], options) => {
        if (!name || !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/.test(name))
          throw new Error('user names are letters, digits, . _ -');
        const password = options.passwordStdin ? await readStdin() : undefined;
        if (password !== undefined && password.length < 8)
          throw new Error('password must be at least 8 characters');
        await metadata.createUser({
          name,
          isAdmin: Boolean(options.admin),
          passwordHash: password === undefined ? null : await hashPassword(password),
        });
        console.error(
          `created user ${name}${options.admin ? ' (admin)' : ''}${password === undefined ? ' without a password: use a token' : ''}`,
        );
      })
        .argument('<name>')
        .option('--admin', 'site admin: admin of every repository')
        .option('--password-stdin', 'read the password from standard input'),
    )
    .addCommand(
      adminCommand('passwd', 'set a user password read from standard input', async (metadata, [name]) => {
        const user = await requireUser(metadata, name as string);
        const password = await readStdin();
        if (password.length < 8) throw new Error('password must be at least 8 characters');
        await metadata.setPasswordHash(user.id, await hashPassword(password));
      }).argument('<name>'),
    )
    .addCommand(
      adminCommand('list', 'list users', async (metadata) => {
        for (const user of await metadata.listUsers())
          console.log(`${user.name}${user.isAdmin ? '\tadmin' : ''}`);
      }),
    );
}

export function tokenCommand(): Command {
  return new Command('token')
    .description('manage personal access tokens')
    .addCommand(
      adminCommand(
        'create',
        'create a token; prints it alone on stdout (shown only once)',
        async (metadata, [name], options) => {
          const user = await requireUser(metadata, name as string);
          const expiresIn = options.expiresIn ? parseDuration(options.expiresIn as string) : undefined;
          const expiresAt = expiresIn === undefined ? null : new Date(Date.now() + expiresIn);
          // 0s would make a token dead on arrival; a huge one an invalid date ("Invalid time value")
          if (expiresAt && (expiresIn === 0 || Number.isNaN(expiresAt.getTime()))) {
            throw new Error(
              `--expires-in ${String(options.expiresIn)}: expected a positive duration that ends within the date range, e.g. 30d`,
            );
          }
          const token = generateAccessToken();
          await metadata.createToken({
            userId: user.id,
            name: (options.name as string | undefined) ?? null,
            secretHash: hashAccessToken(token),
            expiresAt,
          });
          console.log(token);
        },
      )
        .argument('<user>')
        .option('--name <label>', 'a label to recognise the token by')
        .option('--expires-in <duration>', 'e.g. 30d, 12h; default never'),
    )
    .addCommand(
      adminCommand('list', "list a user's tokens (never their secrets)", async (metadata, [name]) => {
        const user = await requireUser(metadata, name as string);
        for (const t of await metadata.listTokens(user.id)) {
          const state = t.revokedAt
            ? 'revoked'
            : t.expiresAt && t.expiresAt <= new Date()
              ? 'expired'
              : 'active';
          console.log(
            [
              t.id,
              t.name ?? '-',
              state,
              t.createdAt.toISOString(),
              t.expiresAt?.toISOString() ?? 'never',
            ].join('\t'),
          );
        }
      }).argument('<user>'),
    )
    .addCommand(
      adminCommand('revoke', 'revoke a token by id', async (metadata, [name, id]) => {
        const user = await requireUser(metadata, name as string);
        if (!(await metadata.revokeToken(user.id, Number(id))))
          throw new Error(`user ${name} has no token ${id}`);
      })
        .argument('<user>')
        .argument('<id>'),
    );
}

export function repoCommand(): Command {
  return new Command('repo')
    .description('manage repositories')
    .addCommand(
      adminCommand(
        'create',
        'create a repository (private unless --public)',
        async (metadata, [path], options) => {
          await metadata.createRepo(normaliseRepoPath(path as string), { isPublic: Boolean(options.public) });
        },
      )
        .argument('<path>')
        .option('--public', 'anyone may download without credentials'),
    )
    .addCommand(
      adminCommand('list', 'list repositories', async (metadata) => {
        for (const repo of await metadata.listRepos())
          console.log(`${repo.path}${repo.isPublic ? '\tpublic' : ''}`);
      }),
    );
}

export function grantCommands(): Command[] {
  const grant = adminCommand(
    'grant',
    'give a user read, write or admin on a repository',
    async (metadata, [name, path, level]) => {
      if (!PERMISSIONS.includes(level as Permission))
        throw new Error(`permission must be one of ${PERMISSIONS.join(', ')}`);
      const user = await requireUser(metadata, name as string);
      const repo = await requireRepo(metadata, path as string);
      await metadata.setGrant(user.id, repo.id, level as Permission);
    },
  )
    .argument('<user>')
    .argument('<path>')
    .argument('<permission>', 'read | write | admin');
  const revoke = adminCommand(
    'revoke',
    "remove a user's grant on a repository",
    async (metadata, [name, path]) => {
      const user = await requireUser(metadata, name as string);
      const repo = await requireRepo(metadata, path as string);
      if (!(await metadata.removeGrant(user.id, repo.id))) throw new Error(`${name} has no grant on ${path}`);
    },
  )
    .argument('<user>')
    .argument('<path>');
  return [grant, revoke];
}
