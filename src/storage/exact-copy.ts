/**
 * Reading an upload's body to its exact declared size, for every store: written out in batches
 * (copyExactly), or only checked and dropped when the store already holds the content
 * (drainExactly).
 */
import type { Readable } from 'node:stream';
import { StoreError } from './object-store.js';

/**
 * Bytes gathered per `writev` of an upload; two batches at most are held per upload. 256 KiB
 * uploads as fast as 1 MiB did, and 8 concurrent uploads grew the RSS by about 36 MB, not 61.
 */
const WRITE_BATCH_BYTES = 256 * 1024;
/** and at most this many chunks per `writev`, whatever their sizes (a client sending tiny chunks) */
const WRITE_BATCH_BUFFERS = 256;

/**
 * Writes `body` with `writeBatch` (the disk store's `writeAll`: to its temp file), failing as soon
 * as more than `size` bytes arrive and at the end if fewer did.
 *
 * Chunks (64 KiB socket reads, typically) are gathered, without copying, into batches of
 * WRITE_BATCH_BYTES written with one `writev` each, and one batch is written while the next one
 * is read: a write per chunk, awaited before the next read, made uploads wait on the thread pool
 * for every 64 KiB. At most two batches are held at a time. When this returns or throws, no
 * write is still in flight, so the handle can be closed safely.
 */
export async function copyExactly(
  body: Readable,
  size: number,
  writeBatch: (buffers: Buffer[], position: number) => Promise<void>,
  signal?: AbortSignal,
) {
  // Destroying the body makes the loop below throw at its next read, even while it waits for data.
  const onAbort = () => body.destroy(new StoreError('aborted', 'put aborted', { cause: signal?.reason }));
  signal?.addEventListener('abort', onAbort, { once: true });
  let inFlight: Promise<void> = Promise.resolve();
  let writeFailure: StoreError | undefined;
  let position = 0;
  const write = async (batch: Buffer[], bytes: number) => {
    await inFlight;
    if (writeFailure) throw writeFailure;
    const at = position;
    position += bytes;
    // settles without rejecting: a failure is kept and thrown by the next write or at the end,
    // and stops the body so the loop does not wait for data nobody will write
    inFlight = writeBatch(batch, at).catch((err: StoreError) => {
      writeFailure = err;
      body.destroy(err);
    });
  };
  try {
    // the signal may have fired while the temp file was being opened
    if (signal?.aborted) throw new StoreError('aborted', 'put aborted', { cause: signal.reason });
    let received = 0;
    let batch: Buffer[] = [];
    let batched = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > size) throw new StoreError('size_mismatch', `body is longer than ${size} bytes`);
      batch.push(chunk);
      batched += chunk.length;
      if (batched >= WRITE_BATCH_BYTES || batch.length >= WRITE_BATCH_BUFFERS) {
        await write(batch, batched);
        batch = [];
        batched = 0;
      }
    }
    if (received !== size) {
      throw new StoreError('size_mismatch', `body ended after ${received} of ${size} bytes`);
    }
    if (batched > 0) await write(batch, batched);
    await inFlight;
    if (writeFailure) throw writeFailure;
  } catch (err) {
    await inFlight;
    // a write failure destroys the body with it, so the loop may report either
    if (writeFailure) throw writeFailure;
    // writeAll and the size checks throw StoreErrors; anything else is the body failing
    if (err instanceof StoreError) throw err;
    throw new StoreError('aborted', 'upload body failed', { cause: err });
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Reads `body` to its end and keeps nothing: a put of content the store already holds. The
 * verifier in front of the store still sees every byte, so a wrong size or hash fails the put
 * as it would any other (the client's proof of possession). Destroys the body on failure.
 */
export async function drainExactly(body: Readable, size: number, signal?: AbortSignal): Promise<void> {
  try {
    await copyExactly(body, size, async () => {}, signal);
  } catch (err) {
    body.destroy();
    throw err;
  }
}
