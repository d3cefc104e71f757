import { createHash, randomBytes } from 'node:crypto';

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
