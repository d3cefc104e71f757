/**
 * Collects V8's young generation after every few MiB that transfers move, so that the buffers
 * their bytes arrived or left in are freed soon after they die instead of piling up until V8
 * decides to collect. One per process, told by every upload (VerifyingStore, whatever the way in)
 * and every SSH download (ssh2 encrypts each packet into a new buffer).
 *
 * Why: Node allocates a new buffer for every socket read (64 KiB), and ssh2 one for every packet
 * it decrypts or encrypts (up to 32 KiB). Their bytes live outside V8's heap (in malloc's), and
 * V8 frees them only when it collects the small objects that hold them: when its young generation
 * fills with JavaScript objects, or when memory outside its heap has grown by some 64 MB. A
 * buffer's objects are a few hundred bytes, so the young generation (16 MB and more) rarely fills:
 * a 200 MB push over SSH saw 7 scavenges on Node 24 and raised the server's RSS by 78-85 MB; and
 * malloc's heap, grown to hold that garbage, stayed large after the transfers (bench figure 5: 116
 * MB 40 s after them). With a minor collection every 4 MiB: 38-44 MB for the SSH push, and figure
 * 5's peak growth 52.5 -> 26.5 MB, 116 -> 95.5 MB after the transfers. A minor collection costs
 * about a millisecond when the young generation holds only a transfer's garbage (`--trace-gc`),
 * and it spares the mark-compacts: the SSH push spent a third of the GC time it did before. Every
 * 2 MiB was no better (more buffers still in use survive twice and are promoted), every 8 MiB
 * worse (50-55 MB).
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
