/**
 * A tiny TCP load balancer on 127.0.0.1 for the multi-replica tests: the replicas' shared public
 * URL, as a Kubernetes Service or cloud load balancer would be. Each client connection goes to one
 * backend (round robin over live ones, or the one `pin` names) and stays there, like HTTP keep-alive
 * behind a layer-4 balancer. A backend that refuses a connection is marked dead and the next one is
 * tried. Tests can watch the bytes clients send (`onUpstream`) and `hold` new connections for a
 * while (they wait, queued, until `release`).
 */
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface Backend {
  name: string;
  host: string;
  port: number;
  alive: boolean;
}

export interface UpstreamChunk {
  backend: Backend;
  /** bytes this client connection has sent so far, this chunk included */
  total: number;
  /** stop forwarding this connection's bytes (the chunk in hand is not forwarded) */
  pause(): void;
}

export interface TcpBalancer {
  url: string;
  backends: Backend[];
  add(name: string, hostPort: string): Backend;
  /** send every new connection to this backend (undefined: round robin) */
  pin(name: string | undefined): void;
  hold(): void;
  release(): void;
  /** called for each chunk a client sends, before it is forwarded */
  onUpstream: ((chunk: UpstreamChunk) => void) | undefined;
  /** connections made to each backend so far */
  connections: Map<string, number>;
  close(): Promise<void>;
}

export async function startTcpBalancer(): Promise<TcpBalancer> {
  const backends: Backend[] = [];
  const sockets = new Set<Socket>();
  const held: Socket[] = [];
  const connections = new Map<string, number>();
  let pinned: string | undefined;
  let holding = false;
  let next = 0;

  function candidates(): Backend[] {
    const alive = backends.filter((b) => b.alive);
    if (pinned !== undefined) {
      const pin = alive.find((b) => b.name === pinned);
      if (pin) return [pin, ...alive.filter((b) => b !== pin)];
    }
    const start = next++;
    return alive.map((_, i) => alive[(start + i) % alive.length]!);
  }

  function connect(client: Socket, tried: Backend[] = candidates()): void {
    const backend = tried[0];
    if (!backend || client.destroyed) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: backend.host, port: backend.port });
    sockets.add(upstream);
    upstream.once('close', () => sockets.delete(upstream));
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      connections.set(backend.name, (connections.get(backend.name) ?? 0) + 1);
      pipe(client, upstream, backend);
    });
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      if (!connected && err.code === 'ECONNREFUSED') {
        backend.alive = false;
        connect(client, tried.slice(1));
        return;
      }
      client.destroy();
    });
  }

  function pipe(client: Socket, upstream: Socket, backend: Backend): void {
    let total = 0;
    let paused = false;
    client.on('data', (chunk: Buffer) => {
      if (paused) return;
      total += chunk.length;
      balancer.onUpstream?.({
        backend,
        total,
        pause() {
          paused = true;
          client.pause();
        },
      });
      if (!paused && !upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => {
          if (!paused) client.resume();
        });
      }
    });
    upstream.pipe(client);
    client.once('end', () => upstream.end());
    const teardown = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('close', teardown);
    upstream.once('close', teardown);
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.resume();
  }

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    if (holding) held.push(client);
    else connect(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;

  const balancer: TcpBalancer = {
    url: `http://127.0.0.1:${port}`,
    backends,
    connections,
    onUpstream: undefined,
    add(name, hostPort) {
      const at = hostPort.lastIndexOf(':');
      const backend = {
        name,
        host: hostPort.slice(0, at),
        port: Number(hostPort.slice(at + 1)),
        alive: true,
      };
      backends.push(backend);
      return backend;
    },
    pin(name) {
      pinned = name;
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const client of held.splice(0)) connect(client);
    },
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
  return balancer;
}
