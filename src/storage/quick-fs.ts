/**
 * The file-system calls of the disk store. Those that a local disk answers in microseconds
 * without waiting for anything (opening a file or directory for reading, fstat, closing a
 * descriptor, reading a small object whole) run on the event loop while they stay that fast;
 * every other one goes through libuv's thread pool.
 *
 * Why: a call through the thread pool costs the process about 40 µs of CPU (a wake-up of a pool
 * thread, a wake-up of the loop, a promise) against under 10 µs for these system calls, and a
 * small upload made about a dozen calls, a small download four. Why not more of them: with
 * concurrent uploads fsyncing, a call that changes the file system waits for the journal, and on
 * the loop that wait blocks every request. Measured during 8 concurrent 10 KiB uploads on ext4
 * (calls timed in place): creating the temp file 330 µs on average (half of them over 0.3 ms),
 * mkdir 84 µs, rename 49 µs, against 10 µs for opening a directory and 7 µs for a close.
 *
 * The guard: a network file system can take milliseconds to answer even these calls. So each
 * call in place is timed, and once their moving average (over about 16 calls) is above `slowMs`,
 * calls go through the thread pool for `cooldownMs`; then they try in place again, from an average
 * of half the limit, so that a file system that is still slow sends them back after a few calls.
 * A single stall does not trip it, or one journal commit would send every call to the pool.
 */
import * as fs from 'node:fs';
import { promisify } from 'node:util';

const openAsync = promisify(fs.open);
const closeAsync = promisify(fs.close);
const renameAsync = promisify(fs.rename);
const mkdirAsync = promisify(fs.mkdir);
const writevAsync = promisify(fs.writev);
const fsyncAsync = promisify(fs.fsync);
const fstatAsync = promisify(fs.fstat);
const readAsync = promisify(fs.read);

/** the largest read `readSmall` makes: one socket read's worth, what a small LFS object is */
export const SMALL_READ_BYTES = 64 * 1024;

export interface QuickFsOptions {
  /** an average call in place slower than this sends calls to the thread pool (default 1 ms) */
  slowMs?: number;
  /** for how long (default 60 s) */
  cooldownMs?: number;
  /** the clock calls are timed by, in ms (default performance.now; tests pass their own) */
  now?: () => number;
}

export class QuickFs {
  readonly #slowMs: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  /** performance.now() until which calls go through the thread pool; 0 when they run in place */
  #poolUntil = 0;
  /** moving average of the duration of calls in place, ms */
  #average = 0;
  /** how often the guard tripped (tests, and a hint in a heap dump) */
  slowSpells = 0;

  constructor(options: QuickFsOptions = {}) {
    this.#slowMs = options.slowMs ?? 1;
    this.#cooldownMs = options.cooldownMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** true while calls go through the thread pool */
  get pooled(): boolean {
    return this.#now() < this.#poolUntil;
  }

  /** opens a file or a directory (to fsync it) for reading and returns its descriptor */
  openForReading(path: string): Promise<number> {
    return this.#call(
      () => fs.openSync(path, 'r'),
      () => openAsync(path, 'r'),
    );
  }

  /** creates a new file (fails if it exists) and returns its descriptor: in the thread pool */
  create(path: string): Promise<number> {
    return openAsync(path, 'wx');
  }

  /** the size of an open file */
  async size(fd: number): Promise<number> {
    const stats = await this.#call(
      () => fs.fstatSync(fd),
      () => fstatAsync(fd),
    );
    return stats.size;
  }

  close(fd: number): Promise<void> {
    return this.#call(
      () => fs.closeSync(fd),
      () => closeAsync(fd),
    );
  }

  /** in the thread pool */
  rename(from: string, to: string): Promise<void> {
    return renameAsync(from, to);
  }

  /** mkdir -p, in the thread pool; resolves with the first directory it created, if any */
  mkdirp(dir: string): Promise<string | undefined> {
    return mkdirAsync(dir, { recursive: true });
  }

  /** always through the thread pool: a write can wait for the disk (dirty-page throttling) */
  async writev(fd: number, buffers: Buffer[], position: number): Promise<number> {
    return (await writevAsync(fd, buffers, position)).bytesWritten;
  }

  /**
   * Reads a small object whole (at most SMALL_READ_BYTES), in place while calls stay quick: a
   * file just opened in place costs the disk what reading its few blocks does (the same cold
   * inode, directory and extent), and a pooled read cost a 10 KiB download more CPU than its
   * bytes. Resolves with the bytes read (fewer at the file's end).
   */
  readSmall(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
    if (length > SMALL_READ_BYTES) throw new RangeError(`${length} bytes is not a small read`);
    return this.#call(
      () => fs.readSync(fd, buffer, 0, length, position),
      () => this.read(fd, buffer, length, position),
    );
  }

  /** always through the thread pool: a read can wait for the disk; resolves with the bytes read */
  async read(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
    return (await readAsync(fd, buffer, 0, length, position)).bytesRead;
  }

  /** always through the thread pool: it waits for the disk */
  fsync(fd: number): Promise<void> {
    return fsyncAsync(fd);
  }

  async #call<T>(inPlace: () => T, pooled: () => Promise<T>): Promise<T> {
    const start = this.#now();
    if (start < this.#poolUntil) return pooled();
    if (this.#poolUntil !== 0) {
      // back from a cooldown: a fresh chance
      this.#poolUntil = 0;
      this.#average = this.#slowMs / 2;
    }
    try {
      return inPlace();
    } finally {
      const end = this.#now();
      this.#average += (end - start - this.#average) / 16;
      if (this.#average > this.#slowMs) {
        this.slowSpells++;
        this.#poolUntil = end + this.#cooldownMs;
      }
    }
  }
}
