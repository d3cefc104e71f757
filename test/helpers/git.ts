/**
 * Drives the real `git` and `git lfs` client in temp directories with an isolated HOME, so the
 * developer's own git config and credentials never take part.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface GitSandbox {
  root: string;
  env: NodeJS.ProcessEnv;
  /** run git in `cwd` (relative to root or absolute); rejects with stderr on failure */
  git(cwd: string, args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }>;
  cleanup(): Promise<void>;
}

/**
 * A sandbox whose git uses a credential helper answering `username`/`password` for every host,
 * as a user's stored credentials would.
 */
export async function createGitSandbox(credentials?: {
  username: string;
  password: string;
}): Promise<GitSandbox> {
  const root = await mkdtemp(join(tmpdir(), 'lfsd-git-'));
  const home = join(root, 'home');
  await mkdir(home);
  const lines = [
    '[user]',
    '\tname = Test User',
    '\temail = test@example.com',
    '[init]',
    '\tdefaultBranch = main',
    '[filter "lfs"]',
    '\tclean = git-lfs clean -- %f',
    '\tsmudge = git-lfs smudge -- %f',
    '\tprocess = git-lfs filter-process',
    '\trequired = true',
    '[lfs]',
    '\tlocksverify = false',
  ];
  if (credentials) {
    lines.push(
      '[credential]',
      `\thelper = "!f() { echo username=${credentials.username}; echo password=${credentials.password}; }; f"`,
    );
  }
  await writeFile(join(home, '.gitconfig'), lines.join('\n') + '\n');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    LANG: 'C',
  };
  return {
    root,
    env,
    async git(cwd, args, extraEnv = {}) {
      try {
        return await exec('git', args, {
          cwd: cwd.startsWith('/') ? cwd : join(root, cwd),
          env: { ...env, ...extraEnv },
          maxBuffer: 64 * 1024 * 1024,
        });
      } catch (err) {
        const e = err as Error & { stderr?: string; stdout?: string };
        throw new Error(`git ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
          cause: err,
        });
      }
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
