import { randomUUID } from 'node:crypto';
import { constants, access, mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, addAbortSignal } from 'node:stream';
import {
  type ByteRange,
  type CallOptions,
  type PutOptions,
  type PutResult,
  type ObjectStore,
  type LocalFile,
  type StoreCapability,
  type StoredObject,
  StoreError,
} from './object-store.js';
import { isValidOid } from '../rules.js';
import { backendErrorCode } from './backend-failure.js';
import { copyExactly, drainExactly } from './exact-copy.js';
import { READ_POOL_BUFFERS, ReadBudget } from './read-budget.js';
import { QuickFs, SMALL_READ_BYTES, type QuickFsOptions } from './quick-fs.js';

/** how often a put in progress touches its temp file, so that cleanTemp knows it is alive */
const HEARTBEAT_MS = 60_000;
/** this machine, as temp file names spell it (no dots: they separate the name's fields) */
const MACHINE = hostname().replace(/[^A-Za-z0-9-]/g, '_') || 'localhost';

/**
 * `<oid>.<machine>-<pid>.<uuid>.tmp`: unique, and naming its writer, so that a sweep can tell a
 * dead process's leftovers (same machine, pid not running) from an upload still in progress.
 */
/** temp files of this process's puts in progress (every DiskStore's), touched every HEARTBEAT_MS */
const writing = new Set<string>();
let heartbeat: NodeJS.Timeout | undefined;

function startWriting(tmpPath: string): void {
  writing.add(tmpPath);
  heartbeat ??= setInterval(() => {
    const now = new Date();
    for (const path of writing) void utimes(path, now, now).catch(() => undefined);
  }, HEARTBEAT_MS).unref();
}

function stopWriting(tmpPath: string): void {
  writing.delete(tmpPath);
  if (writing.size === 0) {
    clearInterval(heartbeat);
    heartbeat = undefined;
  }
}

function tempName(oid: string): string {
  return `${oid}.${MACHINE}-${process.pid}.${randomUUID()}.tmp`;
}

/** True when the temp file's writer ran on this machine and is no longer running. */
function writerIsDead(name: string): boolean {
  const writer = /^[0-9a-f]{64}\.(.+)-(\d+)\.[0-9a-f-]{36}\.tmp$/.exec(name);
  if (!writer || writer[1] !== MACHINE) return false;
  const pid = Number(writer[2]);
  // this process: its live puts are in `writing` (checked first); the rest are a previous
  // process's that had the same pid (pid 1 in a container, restarted)
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: the process exists, under another user
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** names of the two fan-out directory levels (`objects/ab/cd/<oid>`) */
const FAN_OUT = /^[0-9a-f]{2}$/;

export interface DiskStoreOptions {
  /** data directory; objects live in `<root>/objects/ab/cd/<oid>`, uploads in progress in `<root>/tmp/` */
  root: string;
  /** when the quick file-system calls leave the event loop (quick-fs.ts); tests set a 0 ms limit */
  quickFs?: QuickFsOptions;
}

/**
 * Objects as plain files on a local disk (DESIGN.md "ObjectStore", embedded mode).
 *
 * A put streams into a uniquely named temp file in `<root>/tmp/`, fsyncs it and renames it into
 * place, so readers only ever see complete objects: rename is atomic within one file system, which
 * is why tmp/ sits under the same root. A put of content the caller knows as stored
 * (`PutOptions.stored`), whose file is there with that size, reads its body but leaves the file
 * as it is (confirmStored). This backend only checks the byte count;
 * the SHA-256 check is VerifyingStore's job, which wraps every store in production.
 */
export class DiskStore implements ObjectStore {
  readonly kind = 'disk';
  readonly capabilities: ReadonlySet<StoreCapability> = new Set(['local-file', 'quarantine', 'temp-cleanup']);
  readonly root: string;
  private readonly objectsDir: string;
  private readonly tmpDir: string;
  /** read chunk sizes of the downloads in progress (read-budget.ts) */
  readonly readBudget = new ReadBudget();
  /** the file-system calls of puts and gets */
  readonly fs: QuickFs;

  constructor(options: DiskStoreOptions) {
    this.root = options.root;
    this.fs = new QuickFs(options.quickFs);
    this.objectsDir = join(options.root, 'objects');
    this.tmpDir = join(options.root, 'tmp');
  }

  async stat(oid: string): Promise<{ size: number } | undefined> {
    try {
      const info = await stat(this.pathOf(oid));
      return info.isFile() ? { size: info.size } : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async get(
    oid: string,
    options: CallOptions & { range?: ByteRange } = {},
  ): Promise<StoredObject | undefined> {
    const path = this.pathOf(oid);
    if (options.signal?.aborted)
      throw new StoreError('aborted', 'get aborted', { cause: options.signal.reason });
    // Open first and take the size from the open file, so a concurrent delete or replace cannot
    // make the size and the bytes disagree.
    let fd: number;
    try {
      fd = await this.fs.openForReading(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    let bytes: Buffer;
    let size: number;
    try {
      size = await this.fs.size(fd);
      const { start, end } = resolveRange(options.range, size);
      const last = end ?? size - 1;
      const length = last + 1 - start;
      if (length > SMALL_READ_BYTES) {
        // the stream owns the descriptor from here: it closes it at its end or when destroyed
        const chunkBytes = this.readBudget.reserve(length);
        const body = new FileBody(this.fs, fd, start, last, chunkBytes, () =>
          this.readBudget.release(chunkBytes),
        );
        if (options.signal) addAbortSignal(options.signal, body);
        return { size, body };
      }
      // a small object (most of a repository's, by count) is read whole now, so its download
      // costs one call in place instead of a stream of pooled reads and a pooled close
      bytes = Buffer.allocUnsafe(length);
      const read = length > 0 ? await this.fs.readSmall(fd, bytes, length, start) : 0;
      if (read !== length) throw new StoreError('io', `object ${oid} ended ${length - read} bytes early`);
    } catch (err) {
      await this.fs.close(fd);
      throw err;
    }
    await this.fs.close(fd);
    const body = new Readable({ read() {} });
    if (bytes.length > 0) body.push(bytes);
    body.push(null);
    if (options.signal) addAbortSignal(options.signal, body);
    return { size, body };
  }

  async put(oid: string, size: number, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    const { signal } = options;
    const finalPath = this.pathOf(oid);
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid object size ${size}`);
    const { fs } = this;
    // content the metadata records as stored (a fork): kept if the file is there with that size
    const stored = options.stored ? await this.openStored(finalPath, size) : undefined;
    if (stored !== undefined) {
      await confirmStored(fs, stored, finalPath, body, size, signal);
      return 'already-stored';
    }
    const tmpPath = join(this.tmpDir, tempName(oid));
    let fd: number | undefined;
    startWriting(tmpPath);
    try {
      if (signal?.aborted) throw new StoreError('aborted', 'put aborted', { cause: signal.reason });
      fd = await openCreatingDir(fs, tmpPath);
      const file = fd;
      await copyExactly(body, size, (buffers, position) => writeAll(fs, file, buffers, position), signal);
      // All bytes are in: from here on a late abort no longer undoes the put.
      await fs.fsync(fd); // the bytes must be durable before the name makes them visible
      const written = fd;
      fd = undefined;
      await fs.close(written);
      await renameCreatingDir(fs, tmpPath, finalPath);
    } catch (err) {
      body.destroy(); // stop reading at once; the put owns the body it was given
      if (fd !== undefined) await fs.close(fd).catch(() => undefined);
      await rm(tmpPath, { force: true }).catch(() => undefined); // cleanTemp() sweeps what this misses
      throw asStoreError(err, signal);
    } finally {
      stopWriting(tmpPath);
    }
    await syncDirectory(fs, dirname(finalPath));
    return 'written';
  }

  /**
   * The descriptor of the object's file when it is already stored with `size` bytes (uploaded
   * before, maybe for another repository); undefined when it is missing or has another size
   * (truncated or damaged: the put then replaces it), or cannot be opened (the put then reports
   * what the file system says).
   */
  private async openStored(path: string, size: number): Promise<number | undefined> {
    let fd: number;
    try {
      fd = await this.fs.openForReading(path);
    } catch {
      return undefined;
    }
    try {
      if ((await this.fs.size(fd)) === size) return fd;
    } catch {
      // as if missing: the put writes the object again
    }
    await this.fs.close(fd).catch(() => undefined);
    return undefined;
  }

  async delete(oid: string): Promise<void> {
    await rm(this.pathOf(oid), { force: true });
  }

  /** Renames the object into `<root>/quarantine/<oid>.<time>` (same file system: atomic). */
  async quarantine(oid: string): Promise<string | undefined> {
    const dir = join(this.root, 'quarantine');
    await mkdir(dir, { recursive: true });
    const target = join(dir, `${oid}.${new Date().toISOString().replace(/[:.]/g, '-')}`);
    try {
      await rename(this.pathOf(oid), target);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    await syncDirectory(this.fs, dir);
    return target;
  }

  async *list(): AsyncIterable<{ oid: string; size: number }> {
    for (const a of await namesIn(this.objectsDir)) {
      if (!FAN_OUT.test(a)) continue;
      for (const b of await namesIn(join(this.objectsDir, a))) {
        if (!FAN_OUT.test(b)) continue;
        for (const name of await namesIn(join(this.objectsDir, a, b))) {
          // skip strays (editor backups, files in the wrong directory) rather than trusting names
          if (!isValidOid(name) || !name.startsWith(a + b)) continue;
          const found = await this.stat(name);
          if (found) yield { oid: name, size: found.size };
        }
      }
    }
  }

  async ping(): Promise<void> {
    try {
      const info = await stat(this.root);
      if (!info.isDirectory()) throw new Error(`${this.root} is not a directory`);
      await access(this.root, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (err) {
      throw new StoreError('io', `data directory ${this.root} is not usable`, { cause: err });
    }
  }

  async close(): Promise<void> {}

  /**
   * Removes temp files of uploads that died (ObjectStore.cleanTemp) and returns how many it
   * removed: at once when their writer (named in the file name) is a process of this machine that
   * no longer runs, else once older than `olderThanMs`. A put in progress touches its file every
   * HEARTBEAT_MS, so a live upload of another process or machine is never that old.
   */
  async cleanTemp(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of await namesIn(this.tmpDir)) {
      const path = join(this.tmpDir, name);
      if (writing.has(path)) continue;
      try {
        if (!writerIsDead(name) && (await stat(path)).mtimeMs >= cutoff) continue;
        await rm(path, { force: true });
        removed++;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return removed;
  }

  localFile(oid: string): LocalFile {
    return { path: this.pathOf(oid), relative: `${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}` };
  }

  private pathOf(oid: string): string {
    // the oid becomes a path: never let anything but 64 hex characters near the file system
    if (!isValidOid(oid)) throw new TypeError(`invalid oid ${JSON.stringify(oid)}`);
    return join(this.objectsDir, oid.slice(0, 2), oid.slice(2, 4), oid);
  }
}

/**
 * The bytes `start`..`end` (inclusive) of an open file, read in chunks of the size the store's
 * ReadBudget grants it.
 *
 * Fresh buffers for every chunk cost about as much CPU as the read itself (the kernel maps and
 * zeroes new pages for each one, and the garbage collector frees them again). So a consumer that
 * knows when it is done with a chunk (the HTTP response, once the chunk has gone to the socket)
 * may hand it back with `recycle(chunk)`, and later reads reuse its buffer: at most
 * READ_POOL_BUFFERS buffers are pooled (through the HTTP app, where a counting stream also holds
 * chunks, about one chunk in three still gets a fresh buffer: test/http/download-recycle.test.ts).
 * Only chunks this stream produced, each once, are taken back (a stale or repeated recycle is ignored); a consumer that never recycles gets a
 * new buffer per chunk, as with `fs.createReadStream`.
 */
export class FileBody extends Readable {
  private position: number;
  private readonly end: number;
  private readonly free: Buffer[] = [];
  private pooled = 0;
  /** chunk handed out -> the pool buffer under it, until recycled */
  private readonly lent = new WeakMap<Buffer, Buffer>();
  /** the read in flight: the descriptor is closed only after it, so that its number cannot be
   * reused by another open while the thread pool still reads it */
  private reading: Promise<void> | undefined;

  constructor(
    private readonly fs: QuickFs,
    private readonly fd: number,
    start: number,
    end: number,
    private readonly chunkBytes: number,
    /** called once, when the stream is destroyed (at its end, too) */
    private readonly onDestroy: () => void,
  ) {
    super({ highWaterMark: chunkBytes });
    this.position = start;
    this.end = end + 1;
  }

  /** Gives back a chunk this stream produced, once nothing refers to its bytes any more. */
  recycle(chunk: Buffer): void {
    const buffer = this.lent.get(chunk);
    if (!buffer) return;
    this.lent.delete(chunk);
    if (!this.destroyed) this.free.push(buffer);
  }

  override _read(): void {
    const length = Math.min(this.chunkBytes, this.end - this.position);
    if (length <= 0) {
      this.push(null);
      return;
    }
    let buffer = this.free.pop();
    const fromPool = buffer !== undefined || this.pooled < READ_POOL_BUFFERS;
    if (!buffer) {
      buffer = Buffer.allocUnsafeSlow(this.chunkBytes);
      if (fromPool) this.pooled++;
    }
    const target = buffer;
    this.reading = this.fs.read(this.fd, target, length, this.position).then(
      (bytesRead) => {
        this.reading = undefined;
        if (this.destroyed) return;
        if (bytesRead === 0)
          return void this.destroy(new Error(`file ended ${this.end - this.position} bytes early`));
        this.position += bytesRead;
        // a fresh view per chunk, so that a recycle is tied to this chunk and not to the buffer
        const chunk = Buffer.from(target.buffer, target.byteOffset, bytesRead);
        if (fromPool) this.lent.set(chunk, target);
        this.push(chunk);
      },
      (err: Error) => {
        this.reading = undefined;
        if (!this.destroyed) this.destroy(err);
      },
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.free.length = 0;
    this.onDestroy();
    (this.reading ?? Promise.resolve())
      .then(() => this.fs.close(this.fd))
      .then(
        () => callback(error),
        (closeError: unknown) => callback(error ?? (closeError as Error)),
      );
  }
}

/**
 * A put of content the store already holds: the body is read to its end all the same, so that
 * the verifier in front of the store checks its size and hash (the client's proof of possession),
 * but not written again, which would only replace the file with the same bytes (and cost a
 * temp file, its writes, a rename and a freed inode per upload: a fork or a push to a new
 * repository uploads every object again). Before the put resolves, the file and its directory
 * are flushed: the upload that stored them may not have synced the directory yet (it renames
 * first), and what an acknowledged upload refers to must survive a power loss. Content that gc
 * deletes meanwhile is the link's concern, as for any put (TransferService.link).
 */
async function confirmStored(
  fs: QuickFs,
  fd: number,
  path: string,
  body: Readable,
  size: number,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await drainExactly(body, size, signal); // refuses an aborted signal; destroys the body on failure
    await fs.fsync(fd);
  } catch (err) {
    throw asStoreError(err, signal);
  } finally {
    await fs.close(fd).catch(() => undefined);
  }
  await syncDirectory(fs, dirname(path));
}

/** Writes all of `buffers` at `position`, resuming after short writes. */
async function writeAll(fs: QuickFs, fd: number, buffers: Buffer[], position: number): Promise<void> {
  try {
    let pending = buffers;
    while (pending.length > 0) {
      const bytesWritten = await fs.writev(fd, pending, position);
      position += bytesWritten;
      pending = skipBytes(pending, bytesWritten);
    }
  } catch (err) {
    throw new StoreError(backendErrorCode(err), 'writing the upload to disk failed', { cause: err });
  }
}

/** `buffers` without their first `bytes` bytes (views, no copies). */
function skipBytes(buffers: Buffer[], bytes: number): Buffer[] {
  let index = 0;
  while (index < buffers.length && bytes >= (buffers[index] as Buffer).length) {
    bytes -= (buffers[index] as Buffer).length;
    index++;
  }
  const rest = buffers.slice(index);
  if (bytes > 0 && rest.length > 0) rest[0] = (rest[0] as Buffer).subarray(bytes);
  return rest;
}

/**
 * Errors that are already StoreErrors keep their code (size_mismatch, a body failure, or a
 * verifier's hash_mismatch arriving through the body); what is left came from the file system.
 */
function asStoreError(err: unknown, signal?: AbortSignal): StoreError {
  if (err instanceof StoreError) return err;
  if (signal?.aborted) return new StoreError('aborted', 'put aborted', { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new StoreError(backendErrorCode(err), `disk error: ${message}`, { cause: err });
}

/**
 * Opens a new file for writing; creates its directory only when missing. A put no longer asks
 * for a `mkdir` it almost never needs (one file-system call less per upload, on the thread pool
 * that the fsyncs of concurrent uploads keep busy).
 */
async function openCreatingDir(fs: QuickFs, path: string): Promise<number> {
  try {
    return await fs.create(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdirDurably(fs, dirname(path));
  return fs.create(path);
}

/** rename, creating the target's directory when missing (see openCreatingDir) */
async function renameCreatingDir(fs: QuickFs, from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdirDurably(fs, dirname(to));
  await fs.rename(from, to);
}

/**
 * mkdir -p, and fsync the parent of every directory it created: a new object's directory entry
 * is only durable once the entries of the directories leading to it are. (The last directory
 * itself is synced after the rename into it.)
 */
async function mkdirDurably(fs: QuickFs, dir: string): Promise<void> {
  const first = await fs.mkdirp(dir);
  if (first === undefined) return;
  for (let created = dir; ; created = dirname(created)) {
    await syncDirectory(fs, dirname(created));
    if (created === first || dirname(created) === created) break;
  }
}

/** Persists a rename: fsync on the directory. Best effort, some file systems refuse it. */
async function syncDirectory(fs: QuickFs, dir: string): Promise<void> {
  try {
    const fd = await fs.openForReading(dir);
    try {
      await fs.fsync(fd);
    } finally {
      await fs.close(fd);
    }
  } catch {
    // the object is in place and readable either way
  }
}

/** Clamps `end` to the object like HTTP does; a range that starts outside the object is an error. */
function resolveRange(range: ByteRange | undefined, size: number): { start: number; end?: number } {
  if (!range) return { start: 0 };
  const { start, end } = range;
  if (
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(end) ||
    start < 0 ||
    end < start ||
    start >= size
  ) {
    throw new RangeError(`range ${start}-${end} is not satisfiable for ${size} bytes`);
  }
  return { start, end: Math.min(end, size - 1) };
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
