/**
 * The address a request comes from, for limits and logs. `X-Forwarded-For` is honoured only when
 * the `trustProxy` setting says how many proxies stand in front of lfsd: each proxy appends the
 * address it received the request from, so the client is the entry `trustProxy` hops from the
 * right of `[...X-Forwarded-For, socket address]`. Entries further left are whatever the client
 * wrote itself and are never trusted; with `trustProxy` 0 (the default) the header is ignored.
 */
import { isIP } from 'node:net';

export interface AddressSource {
  headers: Record<string, string | string[] | undefined>;
  socket: { remoteAddress?: string | undefined };
}

/** `::ffff:10.0.0.1` is `10.0.0.1`; anything that is not an IP address is undefined */
function normalize(address: string | undefined): string | undefined {
  if (!address) return undefined;
  let value = address.trim();
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(value)) value = value.slice(7);
  return isIP(value) ? value.toLowerCase() : undefined;
}

export function clientAddress(request: AddressSource, trustProxy: number): string {
  const socket = normalize(request.socket.remoteAddress) ?? 'unknown';
  if (trustProxy <= 0) return socket;
  const header = request.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const chain = [...forwarded, socket];
  // fewer entries than trusted proxies: the leftmost one came from a trusted proxy all the same
  const index = Math.max(0, chain.length - 1 - trustProxy);
  return normalize(chain[index]) ?? socket;
}

/**
 * The key a per-address limit counts under: the address itself for IPv4, its /64 network for
 * IPv6 (one host commonly holds a whole /64, so counting single IPv6 addresses limits nothing).
 */
export function addressLimitKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}
