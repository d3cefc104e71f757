/**
 * Benchmark content: deterministic pseudo-random bytes, generated in 1 MiB chunks from one random
 * pool, each chunk stamped with (seed, index) so no two chunks of any object are alike. Objects are
 * either files on disk (fsynced, so their write-back never disturbs a measurement) or streams
 * generated on the fly (many large objects without writing them all first).
 */
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { MiB } from './stats.js';

const CHUNK = MiB;
const POOL_CHUNKS = 16;
const pool = randomBytes(POOL_CHUNKS * CHUNK);

/** Chunk `index` of object `seed`, `length` bytes (at most 1 MiB): a fresh buffer. */
export function chunkOf(seed: number, index: number, length = CHUNK): Buffer {
  const start = ((index * 7 + seed * 3) % POOL_CHUNKS) * CHUNK;
  const chunk = Buffer.allocUnsafe(length);
  pool.copy(chunk, 0, start, start + length);
  if (length >= 16) {
    chunk.writeUInt32LE(seed >>> 0, 0);
    chunk.writeUInt32LE(index >>> 0, 4);
    chunk.writeDoubleLE(seed * 1e6 + index, 8);
  }
  return chunk;
}

function* chunks(seed: number, size: number): Generator<Buffer> {
  for (let index = 0, left = size; left > 0; index++, left -= CHUNK)
    yield chunkOf(seed, index, Math.min(CHUNK, left));
}

export interface GeneratedObject {
  seed: number;
  size: number;
  oid: string;
}

/** The oid of generated object `seed` of `size` bytes (hashes it: about 1 s per GiB). */
export function generatedObject(seed: number, size: number): GeneratedObject {
  const hash = createHash('sha256');
  for (const chunk of chunks(seed, size)) hash.update(chunk);
  return { seed, size, oid: hash.digest('hex') };
}

/** The bytes of a generated object as a stream of 1 MiB chunks. */
export function generatedStream(object: { seed: number; size: number }): Readable {
  return Readable.from(chunks(object.seed, object.size), { objectMode: false });
}

/** Writes generated object `seed` to `path`, fsyncs it, and returns its oid. */
export async function writeGeneratedFile(path: string, seed: number, size: number): Promise<GeneratedObject> {
  const hash = createHash('sha256');
  const handle = await open(path, 'w');
  try {
    for (const chunk of chunks(seed, size)) {
      hash.update(chunk);
      await handle.write(chunk);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { seed, size, oid: hash.digest('hex') };
}
