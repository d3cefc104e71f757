import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export interface TestObject {
  oid: string;
  size: number;
  content: Buffer;
}

export function objectOf(content: Buffer | string): TestObject {
  const buffer = Buffer.isBuffer(content) ? content : Buffer.from(content);
  return { oid: createHash('sha256').update(buffer).digest('hex'), size: buffer.length, content: buffer };
}

export function randomObject(size: number): TestObject {
  return objectOf(randomBytes(size));
}

export const LFS_JSON = 'application/vnd.git-lfs+json';

const MiB = 1024 * 1024;

/** random bytes streamed to `path`, 1 MiB at a time; resolves with their SHA-256 */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let left = size; left > 0; left -= MiB) {
    const chunk = randomBytes(Math.min(MiB, left));
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return hash.digest('hex');
}
