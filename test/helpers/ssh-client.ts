/** An ssh2 client against lfsd's built-in SSH server, for tests: exec channels as streams. */
import { once } from 'node:events';
import ssh2, { type ClientChannel } from 'ssh2';
import type { LfsdServer } from './lfsd-process.js';

/** `host:port` of a running lfsd's SSH server (from its `lfsd listening` line) */
export function sshAddressOf(server: LfsdServer): { host: string; port: number } {
  const line = server.logs.find((l) => l.msg === 'lfsd listening');
  const address = line?.ssh as string | undefined;
  if (!address) throw new Error('lfsd has no SSH server');
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

export async function sshConnect(
  server: LfsdServer,
  privateKey: string,
  username = 'git',
): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  const { host, port } = sshAddressOf(server);
  const ready = once(client, 'ready');
  client.connect({ host, port, username, privateKey });
  await Promise.race([ready, once(client, 'error').then(([err]) => Promise.reject(err as Error))]);
  return client;
}

/**
 * A channel whose exit status and stderr are watched from the moment it opens: both may arrive in
 * the same read as the channel's confirmation, before an awaiting caller could listen.
 */
export type WatchedChannel = ClientChannel & { exited: Promise<number | null>; stderrText: () => string };

function watch(channel: ClientChannel): WatchedChannel {
  let stderr = '';
  channel.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(channel, 'exit').then(([code]) => code as number | null);
  return Object.assign(channel, { exited, stderrText: () => stderr });
}

type Opener = (callback: (err: Error | undefined, channel: ClientChannel) => void) => void;

export function sshOpen(open: Opener): Promise<WatchedChannel> {
  return new Promise((resolve, reject) =>
    open((err, channel) => (err ? reject(err) : resolve(watch(channel)))),
  );
}

export function sshExec(client: ssh2.Client, command: string): Promise<WatchedChannel> {
  return sshOpen((cb) => client.exec(command, cb));
}

/** runs a command to its end: exit code, stdout, stderr */
export async function sshRun(
  client: ssh2.Client,
  command: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  const channel = await sshOpen((cb) =>
    client.exec(command, (err, ch) => {
      ch?.on('data', (c: Buffer) => (stdout += c.toString()));
      cb(err, ch);
    }),
  );
  channel.end();
  const code = await channel.exited;
  return { code, stdout, stderr: channel.stderrText() };
}
