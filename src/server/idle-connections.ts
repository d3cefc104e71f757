/**
 * Which connections of the main listener are idle, for the drain (server.ts): closed at the start
 * of the drain when idle, else as soon as they become idle; all of them cut at the deadline.
 *
 * Node's own `closeIdleConnections()` (which `http.Server.close()` calls since Node 19) cannot be
 * used: it counts a connection idle as soon as its response called `end()`, while the end of a
 * download may still wait in the socket for a slow reader, and destroying the socket then cuts the
 * download short (the client sees ECONNRESET; issue 11 item 18). Here a connection is idle only
 * when every request it carried has been read to its end and answered to the last byte (the
 * response emitted 'close', nothing left in the socket's buffer) and no byte of a next request has
 * arrived since.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

/** one connection, as its requests see it (the TLS socket under HTTPS) */
interface Connection {
  socket: Socket;
  /** requests whose body is not read to its end or whose response has not closed yet */
  open: number;
  /** `socket.bytesRead` when the last of those finished: more means a next request is arriving */
  answeredBytes: number;
}

export interface ConnectionTracker {
  /** connections still open (TCP connections, TLS handshakes included) */
  readonly size: number;
  /** closes the idle connections now, and from now on every connection once it is idle */
  closeWhenIdle(): void;
  /** destroys every connection left (the shutdown deadline) */
  cutAll(): void;
  /** resolves once no connection is open (for a server that does not listen itself) */
  allClosed(): Promise<void>;
}

export function trackConnections(server: Server): ConnectionTracker {
  /** every TCP socket accepted (and each TLS socket on top), for the cut at the deadline */
  const sockets = new Set<Socket>();
  const connections = new Map<Socket, Connection>();
  let draining = false;
  /** allClosed() callers, told when the last socket closes */
  let whenEmpty: (() => void)[] = [];

  const closeIfIdle = (connection: Connection) => {
    const { socket } = connection;
    if (!draining || socket.destroyed || connection.open > 0) return;
    // bytes of the last response not yet handed to the kernel, or a next request under way
    if (socket.writableLength > 0 || socket.bytesRead !== connection.answeredBytes) return;
    socket.destroy();
  };

  const remember = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size > 0) return;
      const waiting = whenEmpty;
      whenEmpty = [];
      for (const resolve of waiting) resolve();
    });
  };
  server.on('connection', remember);
  // under HTTPS, requests come on the TLS socket, which counts its own (decrypted) bytes
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
    if (socket !== undefined && !sockets.has(socket)) remember(socket);
    const connection: Connection = { socket, open: 0, answeredBytes: 0 };
    connections.set(socket, connection);
    socket.once('close', () => connections.delete(socket));
    // a socket that still held bytes when its last response closed is idle once they are out
    socket.on('drain', () => closeIfIdle(connection));
  });

  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const connection = connections.get(request.socket);
    if (!connection) return;
    connection.open++;
    let responded = false;
    let settled = false;
    const settle = () => {
      if (settled || !responded || !(request.complete || request.destroyed)) return;
      settled = true;
      connection.open--;
      if (connection.open === 0) connection.answeredBytes = connection.socket.bytesRead;
      closeIfIdle(connection);
    };
    response.once('close', () => {
      responded = true;
      settle();
    });
    // a body still arriving after the answer (a refused upload, read and discarded)
    request.once('end', settle);
    request.once('close', settle);
  });

  return {
    get size() {
      return sockets.size;
    },
    closeWhenIdle() {
      draining = true;
      for (const connection of connections.values()) closeIfIdle(connection);
    },
    cutAll() {
      for (const socket of sockets) socket.destroy();
    },
    allClosed() {
      return sockets.size === 0 ? Promise.resolve() : new Promise((resolve) => whenEmpty.push(resolve));
    },
  };
}
