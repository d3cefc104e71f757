/**
 * The listeners of lfsd as several processes (`workers > 1`, cluster.ts): the primary accepts
 * every connection and hands them out in turn, to its own server and to each serving worker, as
 * node:cluster's round-robin does, but with the primary as one of the servers, so that `workers`
 * processes serve and none is spent on distribution alone (figure 5: each Node process holds
 * ~29 MB of its own at rest).
 *
 * Why not let every process accept on the shared socket: the kernel then gives a burst of new
 * connections to whichever process wakes first: in a test here (ten rounds of eight keep-alive
 * connections), one process took all eight in four rounds and seven in the other six. Accepted
 * sockets are paused until their server takes them, so no byte is read by a process that does
 * not serve the connection.
 */
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import { formatAddress, splitHostPort } from './host-port.js';

/** the listeners a cluster shares: the API (HTTP or HTTPS), the metrics listener, SSH */
export type ListenerName = 'http' | 'metrics' | 'ssh';

/** takes a connection accepted by the primary; `socket` may be paused (pauseOnConnect) */
export type Accept = (socket: Socket) => void;

/** the addresses the primary listens on (`host:port`, port 0 resolved), one per listener */
export interface Bound {
  http: string;
  metrics?: string;
  ssh?: string;
}

/** where a member's connections come from: each listener's accept function */
export type Acceptors = Partial<Record<ListenerName, Accept>>;

/** a process that serves connections: the primary itself, or a worker reached over IPC */
export interface Member {
  /** false once it can no longer take a connection (a worker gone, an IPC channel closed) */
  readonly open: boolean;
  take(listener: ListenerName, socket: Socket): void;
}

export class ConnectionHub {
  private readonly servers = new Map<ListenerName, NetServer>();
  private readonly members: Member[] = [];
  private readonly turn = new Map<ListenerName, number>();
  /** connections accepted before the first member was there (the primary's server starting) */
  private waiting: { listener: ListenerName; socket: Socket }[] = [];

  /** listens on `address` (`host:port`); resolves with the bound `host:port` (port 0 resolved) */
  async listen(listener: ListenerName, address: string): Promise<string> {
    const { host, port } = splitHostPort(address);
    const server = new NetServer({ pauseOnConnect: true }, (socket) => this.dispatch(listener, socket));
    this.servers.set(listener, server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // a failed accept (EMFILE, ...) is the kernel's word on one connection, not fatal
    server.on('error', () => {});
    return formatAddress(server.address() as AddressInfo);
  }

  join(member: Member): void {
    this.members.push(member);
    const waiting = this.waiting;
    this.waiting = [];
    for (const { listener, socket } of waiting) this.dispatch(listener, socket);
  }

  leave(member: Member): void {
    const at = this.members.indexOf(member);
    if (at >= 0) this.members.splice(at, 1);
  }

  /**
   * Stops accepting on `listeners` (default: all). The drain closes the API and SSH listeners
   * first and the metrics listener last, so that /readyz answers 503 while the processes drain,
   * as one process does; connections already handed out are their servers' business.
   */
  close(listeners: ListenerName[] = [...this.servers.keys()]): Promise<void> {
    for (const { listener, socket } of this.waiting) if (listeners.includes(listener)) socket.destroy();
    this.waiting = this.waiting.filter(({ listener }) => !listeners.includes(listener));
    const closing = listeners.map((name) => {
      const server = this.servers.get(name);
      this.servers.delete(name);
      return server && new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return Promise.all(closing).then(() => undefined);
  }

  private dispatch(listener: ListenerName, socket: Socket): void {
    if (!this.servers.has(listener)) {
      socket.destroy(); // accepted just before its listener closed
      return;
    }
    for (let tries = this.members.length; tries > 0; tries--) {
      const at = (this.turn.get(listener) ?? 0) % this.members.length;
      this.turn.set(listener, at + 1);
      const member = this.members[at] as Member;
      if (member.open) {
        member.take(listener, socket);
        return;
      }
    }
    this.waiting.push({ listener, socket });
  }
}
