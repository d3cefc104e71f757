/**
 * How big the read chunks of a download are. Big chunks are what makes a download fast: in the
 * bench (bench/, figure 2, 1 GiB) a download read in 2 MiB chunks cost the server 0.31 s of CPU
 * per GB, about what nginx with sendfile costs (0.29 s), and ran at 0.95 of nginx's speed; with
 * 512 KiB chunks it cost 0.45 to 0.6 s and ran at 0.6 to 0.7 (fewer reads, fewer socket writes
 * and fewer trips through the stream machinery per GB). But each download holds up to
 * READ_POOL_BUFFERS chunks, and many downloads at once must not each hold that much.
 *
 * So the downloads of one store share a budget: a download takes the biggest chunk size (from
 * MAX_CHUNK down to MIN_CHUNK) whose buffers fit in what the others left, and gives it back when
 * it ends. A lone download (the common case, and a large clone) gets MAX_CHUNK; the others read
 * MIN_CHUNK at a time, the size every download used before, so memory stays bounded by the
 * budget plus MIN_CHUNK x READ_POOL_BUFFERS per download. (A budget for two 4 MiB downloads
 * pushed 8 uploads + 8 downloads of 256 MiB past 64 MB of RSS growth: figure 5.)
 */
export const READ_POOL_BUFFERS = 2;
const MAX_CHUNK = 2 * 1024 * 1024;
const MIN_CHUNK = 512 * 1024;
/** small objects are read in one chunk of their size, rounded up to this */
const CHUNK_GRANULE = 64 * 1024;
/** one download at MAX_CHUNK */
const BUDGET_BYTES = MAX_CHUNK * READ_POOL_BUFFERS;

export class ReadBudget {
  private reserved = 0;

  /** bytes reserved by downloads in progress */
  get inUse(): number {
    return this.reserved;
  }

  /** The chunk size for reading `length` bytes; give it back with `release` when done. */
  reserve(length: number): number {
    const free = BUDGET_BYTES - this.reserved;
    let chunk = MAX_CHUNK;
    while (chunk > MIN_CHUNK && chunk * READ_POOL_BUFFERS > free) chunk /= 2;
    const needed = Math.max(CHUNK_GRANULE, Math.ceil(length / CHUNK_GRANULE) * CHUNK_GRANULE);
    chunk = Math.min(chunk, needed);
    this.reserved += chunk * READ_POOL_BUFFERS;
    return chunk;
  }

  release(chunk: number): void {
    this.reserved -= chunk * READ_POOL_BUFFERS;
  }
}
