/**
 * A real OpenSSH sshd for tests, started as the current user on a loopback port with its own
 * config, host key and AuthorizedKeysFile (Debian openssh-server: /usr/sbin/sshd). Unavailable
 * (no sshd binary) is reported so that a test can skip with its reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { ed25519KeyPair } from './ssh-keys.js';

export const SSHD = '/usr/sbin/sshd';

export async function sshdMissing(): Promise<string | undefined> {
  try {
    await access(SSHD);
    return undefined;
  } catch {
    return `${SSHD} is not installed`;
  }
}

export interface Sshd {
  port: number;
  user: string;
  authorizedKeys: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** waits until the port answers with an SSH banner */
async function waitForBanner(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${stderr()}`);
    const banner = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('data', (d: Buffer) => {
        socket.destroy();
        resolve(d.toString());
      });
      socket.once('error', () => resolve(''));
    });
    if (banner.startsWith('SSH-')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sshd did not answer: ${stderr()}`);
}

/**
 * sshd on 127.0.0.1 with `authorized_keys` in `dir` (write it before logging in). The port is
 * found free, then bound by sshd: another process may take it between the two, so a failed start
 * is tried again on another port.
 */
export async function startSshd(dir: string): Promise<Sshd> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSshdOnce(dir, await freePort());
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function startSshdOnce(dir: string, port: number): Promise<Sshd> {
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  await writeFile(hostKey, ed25519KeyPair().private, { mode: 0o600 });
  const authorizedKeys = join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, '');
  const user = userInfo().username;
  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  // as root sshd chroots its unprivileged child into /run/sshd (Debian's service creates it)
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    await waitForBanner(port, child, () => stderr);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    port,
    user,
    authorizedKeys,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
