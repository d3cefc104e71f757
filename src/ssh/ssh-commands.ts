/**
 * The commands an SSH client may run (LFS-PROTOCOL.md sections 5.2 and 5.3), for the built-in SSH
 * server (ssh-server.ts) and `lfsd ssh-command` under OpenSSH alike:
 *
 *   git-lfs-authenticate <repo> upload|download   one JSON line: the HTTP API's URL and a header
 *   git-lfs-transfer <repo> upload|download       a pure-SSH transfer session (transfer-session.ts)
 *
 * Anything else (a shell, another program, `git-lfs-transfer` when `sshTransfer` is off) is refused
 * with one line on stderr and exit status 1; the client then falls back (section 5.3).
 */
import type { Readable, Writable } from 'node:stream';
import { isLfsError } from '../errors.js';
import { lfsBaseUrl } from '../lfs/hrefs.js';
import { openRepo } from '../lfs/repo-access.js';
import { parseRepoPath, RuleViolation } from '../rules.js';
import { PktLineError } from './pkt-line.js';
import { currentCaller, type SshDeps, type SshIdentity } from './ssh-deps.js';
import { TransferSession } from './transfer-session.js';

export interface CommandIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/** What `git-lfs-authenticate` answers (section 5.2). */
export interface AuthenticateAnswer {
  href: string;
  header: { Authorization: string };
  expires_in: number;
}

/** A command line as SSH delivers it, split into words (quotes as git and git-lfs write them removed). */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  const pattern = /'([^']*)'|"([^"]*)"|(\S+)/g;
  for (let match = pattern.exec(line); match; match = pattern.exec(line)) {
    words.push(match[1] ?? match[2] ?? match[3] ?? '');
  }
  return words;
}

class Refusal extends Error {}

/**
 * Runs one command line for `identity`; resolves to the exit status. The answer goes to stdout,
 * a refusal or error as one line on stderr.
 */
export async function runSshCommand(
  deps: SshDeps,
  identity: SshIdentity,
  commandLine: string | undefined,
  io: CommandIo,
  signal: AbortSignal,
): Promise<number> {
  const words = splitCommand(commandLine ?? '');
  const [program = '', pathArg, operationArg] = words;
  const started = Date.now();
  const log = {
    command: program.slice(0, 100),
    fingerprint: identity.fingerprint,
    repo: pathArg?.slice(0, 200),
  };
  try {
    if (!commandLine)
      throw new Refusal('interactive shells are not available: this server serves Git LFS only');
    if (program !== 'git-lfs-authenticate' && (program !== 'git-lfs-transfer' || !deps.sshTransfer)) {
      throw new Refusal(
        `unknown command ${JSON.stringify(program.slice(0, 100))}: this server serves Git LFS only`,
      );
    }
    if (operationArg !== 'upload' && operationArg !== 'download') {
      throw new Refusal(`usage: ${program} <repository> upload|download`);
    }
    const repoPath = parseRepoPath(pathArg);
    const caller = await currentCaller(deps, identity);
    if (!caller) throw new Refusal('your SSH key or account was removed');
    if (program === 'git-lfs-authenticate') {
      const answer = await gitLfsAuthenticate(deps, caller, repoPath, operationArg);
      io.stdout.write(`${JSON.stringify(answer)}\n`);
      deps.metrics?.commands.inc({ command: program, outcome: 'ok' });
      return 0;
    }
    const session = new TransferSession(
      deps,
      identity,
      repoPath,
      operationArg,
      { input: io.stdin, output: io.stdout },
      signal,
    );
    try {
      await session.run();
    } finally {
      deps.logger.info(
        {
          ...log,
          user: caller.user.name,
          operation: operationArg,
          requests: session.requests,
          duration_ms: Date.now() - started,
        },
        'ssh session ended',
      );
    }
    return 0;
  } catch (err) {
    const message =
      err instanceof Refusal || err instanceof RuleViolation || err instanceof PktLineError || isLfsError(err)
        ? err.message
        : 'internal server error';
    if (!(
      err instanceof Refusal ||
      err instanceof RuleViolation ||
      err instanceof PktLineError ||
      isLfsError(err)
    )) {
      deps.logger.warn({ ...log, err }, 'ssh command failed');
    } else {
      deps.logger.info({ ...log, refused: message }, 'ssh command refused');
    }
    deps.metrics?.commands.inc({
      command: program === 'git-lfs-authenticate' || program === 'git-lfs-transfer' ? program : 'other',
      outcome: 'error',
    });
    io.stderr.write(`lfsd: ${message}\n`);
    return 1;
  }
}

/**
 * `git-lfs-authenticate`: the repository's HTTP LFS URL and a header good for that user,
 * repository and operation (auth/remote-auth.ts). The caller needs the access the operation
 * needs, as the batch request will (a private repository without a grant: "not found").
 */
export async function gitLfsAuthenticate(
  deps: Pick<SshDeps, 'metadata' | 'remoteAuth' | 'publicUrl'>,
  caller: Parameters<typeof openRepo>[1] & { kind: 'user' },
  repoPath: string,
  operation: 'upload' | 'download',
): Promise<AuthenticateAnswer> {
  await openRepo(deps.metadata, caller, repoPath, operation === 'upload' ? 'write' : 'read');
  const { authorization, expiresIn } = deps.remoteAuth.issue(caller, repoPath, operation);
  return {
    href: lfsBaseUrl(deps.publicUrl(), repoPath),
    header: { Authorization: authorization },
    expires_in: expiresIn,
  };
}
