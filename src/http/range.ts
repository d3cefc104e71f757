/**
 * Single-range `Range: bytes=...` requests (LFS-PROTOCOL.md section 3.1: the client resumes a
 * download with `bytes=<have>-<size-1>` and accepts only a 206 starting where it asked).
 */
import type { ByteRange } from '../storage/object-store.js';

/**
 * - `undefined`: no usable Range; serve the whole object with 200 (also for multi-range and
 *   malformed headers, which RFC 9110 allows a server to ignore);
 * - `'unsatisfiable'`: answer 416 with `Content-Range: bytes *\/size`;
 * - otherwise the inclusive range to serve with 206.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '') {
    // suffix range: the last N bytes
    const length = Number(last);
    if (length === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}
