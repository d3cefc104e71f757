/**
 * Collects V8's young generation after every few MiB of buffers that transfers are done with, so
 * that those buffers are freed soon after they die instead of piling up until V8 decides to
 * collect. One per process, told by every upload (VerifyingStore, whatever the way in), by the S3
 * client for every response body (an S3 proxy download: storage/s3-http-handler.ts) and by the
 * SSH sessions, which drop more buffers per byte than HTTP does.
 *
 * Why: Node allocates a new buffer for every socket read (64 KiB), and ssh2 one for every packet
 * it decrypts or encrypts (up to 32 KiB). Their bytes live outside V8's heap (in malloc's), and
 * V8 frees them only when it collects the small objects that hold them: when its young generation
 * fills with JavaScript objects, or when memory outside its heap has grown by some 64 MB. A
 * buffer's objects are a few hundred bytes, so the young generation (16 MB and more) rarely fills:
 * a 200 MB push over SSH saw 7 scavenges on Node 24 and raised the server's RSS by 78-85 MB; and
 * malloc's heap, grown to hold that garbage, stayed large after the transfers (bench figure 5: 116
 * MB 40 s after them). A minor collection costs 0.3-2 ms: 0.3-0.4 in an idle lfsd (timed around
 * the call), 1-2 during an SSH transfer (`--trace-gc`), whose objects fill the young generation.
 * It spares the mark-compacts that outside memory forced: the SSH push spent a third of the GC
 * time it did before.
 */
import { v8Collector, type Collect } from './v8-gc.js';

/**
 * Bytes of dropped buffers between two minor collections. Measured: a collection every 4 MiB of
 * HTTP uploads took figure 5's peak growth from 52.5 to 26.5 MB, and cost a 64 MiB upload 7% more
 * server CPU (bench/compare-builds.ts); every 16 MiB left 101 MB after figure 5's transfers. More
 * often is not better: a buffer still in use at two collections (a write in flight) moves to the
 * old generation, where only a full collection frees it, and V8 grows its young generation when
 * many objects survive scavenges (a 2 MiB step over SSH: 32-70 MB).
 */
export const DEFAULT_EVERY_BYTES = 8 * 1024 * 1024;

export class TransferGarbage {
  private dropped = 0;
  /** minor collections run so far (tests) */
  collections = 0;

  constructor(
    private readonly everyBytes = DEFAULT_EVERY_BYTES,
    private collect?: Collect,
  ) {}

  /**
   * Records `bytes` of buffers a transfer is done with (and no longer references); collects the
   * young generation when enough have been.
   */
  drop(bytes: number): void {
    this.dropped += bytes;
    if (this.dropped < this.everyBytes) return;
    this.dropped = 0;
    this.collect ??= v8Collector();
    this.collect({ type: 'minor' });
    this.collections++;
  }
}
