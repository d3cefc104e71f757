/**
 * Collects V8's young generation after every few MiB that a transfer moves through a transport
 * that allocates a fresh buffer for each packet, so that those buffers are freed soon after they
 * die instead of piling up until V8 decides to collect.
 *
 * Why: over SSH, ssh2 allocates a new Buffer for every packet it decrypts or encrypts (up to 32
 * KiB), Node one for every socket read (64 KiB), and a pkt-line that spans two packets is copied.
 * Their bytes live outside V8's heap (in malloc's), and V8 frees them only when it collects the
 * small objects that hold them: when its young generation fills with JavaScript objects, or when
 * memory outside its heap has grown by some 64 MB. A packet's objects are a few hundred bytes, so
 * the young generation (16 MB and more) rarely fills: a 200 MB push over SSH saw 7 scavenges on
 * Node 24, and raised the server's RSS by 78-85 MB (59-60 MB on Node 20). A minor collection
 * costs well under a millisecond when the young generation holds only a transfer's garbage
 * (`--trace-gc`), so one every 4 MiB costs little beside the 4 MiB's decryption and hashing.
 * Counted over all transfers of the process: eight sessions moving 512 KiB each also collect.
 */
import { v8Collector, type Collect } from './v8-gc.js';

/** bytes moved between two minor collections */
export const DEFAULT_EVERY_BYTES = 4 * 1024 * 1024;

export class TransferGarbage {
  private moved = 0;
  /** minor collections run so far (tests, metrics) */
  collections = 0;

  constructor(
    private readonly everyBytes = DEFAULT_EVERY_BYTES,
    private collect?: Collect,
  ) {}

  /** records `bytes` moved by a transfer; collects the young generation when enough have */
  passed(bytes: number): void {
    this.moved += bytes;
    if (this.moved < this.everyBytes) return;
    this.moved = 0;
    this.collect ??= v8Collector();
    this.collect({ type: 'minor' });
    this.collections++;
  }
}
