/** `host:port` settings (listen, metricsListen, sshListen) and the addresses bound for them. */
import type { AddressInfo } from 'node:net';

/** `127.0.0.1:8080`, `[::1]:8080` -> host and port */
export function splitHostPort(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  return { host: listen.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(listen.slice(at + 1)) };
}

/** a bound address as `host:port`, an IPv6 host in brackets */
export function formatAddress(address: AddressInfo): string {
  return `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}
