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

export function sshExec(client: ssh2.Client, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) =>
    client.exec(command, (err, channel) => (err ? reject(err) : resolve(channel))),
  );
}

/** runs a command to its end: exit code, stdout, stderr */
export async function sshRun(
  client: ssh2.Client,
  command: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const channel = await sshExec(client, command);
  let stdout = '';
  let stderr = '';
  channel.on('data', (c: Buffer) => (stdout += c.toString()));
  channel.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  channel.end();
  const [code] = (await once(channel, 'exit')) as [number | null];
  return { code, stdout, stderr };
}
