/**
 * The built-in SSH server (`lfsd serve --ssh-listen HOST:PORT`, issue 13), on the `ssh2` package.
 *
 * - Identity comes from the client's public key alone (KeyService's keys, looked up by
 *   fingerprint, the signature checked); the SSH user name is ignored, so `ssh://git@host/...`
 *   and `ssh://alice@host/...` are the same. Passwords and other methods are refused.
 * - Exec channels run the commands of ssh-commands.ts; several channels on one connection run at
 *   once (the client's automultiplex). Shells, subsystems, ptys, port forwarding and agent
 *   forwarding are refused (a shell or subsystem with one line on stderr and exit status 1).
 * - The key is checked again before every command and every git-lfs-transfer request, so
 *   removing it ends open sessions at their next request.
 * - `drain` stops accepting, lets running commands finish up to a deadline, then cuts them.
 */
import type { AddressInfo, Socket } from 'node:net';
import ssh2, { type Connection, type ServerChannel } from 'ssh2';
import { formatAddress } from '../server/host-port.js';
import { publicKeyFromBlob } from './public-key.js';
import { runSshCommand } from './ssh-commands.js';
import type { SshDeps, SshIdentity } from './ssh-deps.js';

/** how often a drain looks whether the running commands are done */
const DRAIN_POLL_MS = 100;

/** the key type named inside a key blob (its first SSH string): `rsa-sha2-256` clients present `ssh-rsa` keys */
function blobType(blob: Buffer): string {
  if (blob.length < 4) return '';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + Math.min(length, 64)).toString('latin1');
}

export class SshServer {
  private readonly server: ssh2.Server;
  private readonly connections = new Set<Connection>();
  /** running commands: their abort controller and connection, by channel */
  private readonly running = new Map<ServerChannel, { abort: AbortController; client: Connection }>();
  private draining = false;

  constructor(
    private readonly deps: SshDeps,
    hostKey: Buffer,
  ) {
    this.server = new ssh2.Server({ hostKeys: [hostKey], ident: 'lfsd' }, (client) => this.serve(client));
    this.server.on('error', (err: Error) => deps.logger.warn({ err }, 'ssh server error'));
  }

  /** listens; resolves with the bound `host:port` */
  async listen(host: string, port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return formatAddress(this.server.address() as AddressInfo);
  }

  /** serves a connection accepted elsewhere (the cluster's primary: server/connection-hub.ts) */
  accept(socket: Socket): void {
    this.server.injectSocket(socket);
  }

  private serve(client: Connection): void {
    if (this.draining) {
      client.end();
      return;
    }
    this.connections.add(client);
    // answers are small packets the client waits on: no Nagle delay (as Node's HTTP server does)
    (client as Connection & { setNoDelay(noDelay: boolean): void }).setNoDelay(true);
    let identity: SshIdentity | undefined;
    client.on('close', () => this.connections.delete(client));
    client.on('error', (err) => this.deps.logger.debug({ err }, 'ssh connection error'));
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') {
        ctx.reject(['publickey']);
        return;
      }
      this.checkKey(ctx.key.data, ctx.signature, ctx.blob, ctx.hashAlgo).then(
        (found) => {
          if (!found) return ctx.reject(['publickey']);
          // without a signature the client only asks whether the key would do
          if (ctx.signature) identity = found;
          ctx.accept();
        },
        (err: unknown) => {
          this.deps.logger.warn({ err }, 'ssh key lookup failed');
          ctx.reject(['publickey']);
        },
      );
    });
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, info) => this.run(client, accept(), identity, info.command));
        session.on('shell', (accept) => this.run(client, accept(), identity, undefined));
        session.on('subsystem', (accept, _reject, info) =>
          refuse(accept(), `the ${info.name} subsystem is not available: this server serves Git LFS only`),
        );
        session.on('pty', (_accept, reject) => reject?.());
        session.on('x11', (_accept, reject) => reject?.());
        session.on('auth-agent', (_accept, reject) => reject?.());
        session.on('env', (accept) => accept?.());
      });
      client.on('tcpip', (_accept, reject) => reject());
      client.on('openssh.streamlocal', (_accept, reject) => reject());
      client.on('request', (_accept, reject) => reject?.());
    });
  }

  /** the identity a presented key stands for, once its signature (if any) checks out */
  private async checkKey(
    blob: Buffer,
    signature: Buffer | undefined,
    signed: Buffer | undefined,
    hashAlgo: string | undefined,
  ): Promise<SshIdentity | undefined> {
    const key = publicKeyFromBlob(blobType(blob), blob);
    if (!key) return undefined;
    const found = await this.deps.metadata.findSshKeyByFingerprint(key.fingerprint);
    if (!found || found.user.disabled) return undefined;
    if (signature && signed) {
      const parsed = ssh2.utils.parseKey(`${key.type} ${key.base64}`);
      if (parsed instanceof Error || Array.isArray(parsed)) return undefined;
      if (parsed.verify(signed, signature, hashAlgo) !== true) return undefined;
    }
    return { credential: { kind: 'ssh-key', id: String(found.key.id) }, fingerprint: key.fingerprint };
  }

  private run(
    client: Connection,
    channel: ServerChannel,
    identity: SshIdentity | undefined,
    command: string | undefined,
  ): void {
    if (!identity) return refuse(channel, 'not authenticated');
    if (this.draining) return refuse(channel, 'the server is shutting down: try again');
    const abort = new AbortController();
    this.running.set(channel, { abort, client });
    this.deps.metrics?.sessions.inc();
    channel.on('close', () => abort.abort());
    channel.on('error', () => abort.abort());
    void runSshCommand(
      this.deps,
      identity,
      command,
      { stdin: channel, stdout: channel, stderr: channel.stderr },
      abort.signal,
    )
      .catch((err: unknown) => {
        this.deps.logger.error({ err }, 'ssh command crashed');
        return 1;
      })
      .then((code) => {
        this.running.delete(channel);
        this.deps.metrics?.sessions.dec();
        if (channel.destroyed) return;
        channel.exit(code);
        channel.end();
      });
  }

  /**
   * Stops accepting connections and commands; running commands get until `deadlineMs` to finish,
   * then they are cut (a put cut that way leaves nothing visible). Idle connections close at once.
   */
  async drain(deadlineMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const deadline = Date.now() + deadlineMs;
    while (this.running.size > 0 && Date.now() < deadline) {
      for (const client of this.connections) if (!this.hasRunning(client)) client.end();
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
    for (const { abort } of this.running.values()) abort.abort();
    for (const channel of this.running.keys()) channel.destroy();
    for (const client of this.connections) client.end();
    await closed;
  }

  private hasRunning(client: Connection): boolean {
    for (const running of this.running.values()) if (running.client === client) return true;
    return false;
  }
}

/** one line on stderr, exit status 1 */
function refuse(channel: ServerChannel, message: string): void {
  channel.stderr.write(`lfsd: ${message}\n`);
  channel.exit(1);
  channel.end();
}
