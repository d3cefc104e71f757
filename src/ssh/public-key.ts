/**
 * OpenSSH public keys as users paste them (`ssh-ed25519 AAAA... comment`): parsed, checked and
 * fingerprinted without any SSH library, so that the key commands stay light. Accepted: ed25519,
 * ECDSA (nistp256/384/521) and RSA of at least 2048 bits.
 */
import { createHash } from 'node:crypto';
import { RuleViolation } from '../rules.js';

export interface PublicKey {
  type: string;
  /** base64 of the wire-format blob */
  base64: string;
  blob: Buffer;
  /** `SHA256:<unpadded base64>`, as `ssh-keygen -l` prints it */
  fingerprint: string;
  /** the comment after the key, if any */
  comment: string | undefined;
}

export const MIN_RSA_BITS = 2048;

const ECDSA_CURVES: Record<string, string> = {
  'ecdsa-sha2-nistp256': 'nistp256',
  'ecdsa-sha2-nistp384': 'nistp384',
  'ecdsa-sha2-nistp521': 'nistp521',
};

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Reads SSH wire-format strings (uint32 length + bytes) from a blob. */
class WireReader {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}

  string(): Buffer {
    if (this.offset + 4 > this.buffer.length) throw new Error('truncated');
    const length = this.buffer.readUInt32BE(this.offset);
    const start = this.offset + 4;
    if (start + length > this.buffer.length) throw new Error('truncated');
    this.offset = start + length;
    return this.buffer.subarray(start, start + length);
  }

  get done(): boolean {
    return this.offset === this.buffer.length;
  }
}

function bitLength(mpint: Buffer): number {
  let i = 0;
  while (i < mpint.length && mpint[i] === 0) i++;
  if (i === mpint.length) return 0;
  return (mpint.length - i - 1) * 8 + (32 - Math.clz32(mpint[i] as number));
}

/** What is wrong with the key blob of `type`, or undefined when it is a key lfsd accepts. */
function blobProblem(type: string, blob: Buffer): string | undefined {
  try {
    const reader = new WireReader(blob);
    if (reader.string().toString('latin1') !== type) return 'the key data does not match its type';
    if (type === 'ssh-ed25519') {
      if (reader.string().length !== 32) return 'an ed25519 key has 32 bytes';
    } else if (type === 'ssh-rsa') {
      reader.string(); // e
      const bits = bitLength(reader.string());
      if (bits < MIN_RSA_BITS) return `RSA keys need at least ${MIN_RSA_BITS} bits (this one has ${bits})`;
    } else if (ECDSA_CURVES[type]) {
      if (reader.string().toString('latin1') !== ECDSA_CURVES[type]) return 'the ECDSA curve does not match';
      if (reader.string().length === 0) return 'the ECDSA point is empty';
    } else {
      return `unsupported key type ${type}: use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa`;
    }
    return reader.done ? undefined : 'trailing bytes after the key';
  } catch {
    return 'the key data is truncated';
  }
}

/** Parse one OpenSSH public key line; RuleViolation when it is not a key lfsd accepts. */
export function parsePublicKey(line: string): PublicKey {
  const fields = line.trim().split(/\s+/);
  const [type = '', data = ''] = fields;
  if (!type || !data || !/^[A-Za-z0-9+/]+={0,2}$/.test(data)) {
    throw new RuleViolation('public key', 'expected one OpenSSH public key line: TYPE BASE64 [COMMENT]');
  }
  const blob = Buffer.from(data, 'base64');
  const problem = blobProblem(type, blob);
  if (problem) throw new RuleViolation('public key', problem);
  const comment = fields.slice(2).join(' ') || undefined;
  return { type, base64: blob.toString('base64'), blob, fingerprint: fingerprintOf(blob), comment };
}

/** Parse a key blob as an SSH client presents it (type and blob); undefined when not accepted. */
export function publicKeyFromBlob(type: string, blob: Buffer): PublicKey | undefined {
  if (blobProblem(type, blob)) return undefined;
  return {
    type,
    base64: blob.toString('base64'),
    blob,
    fingerprint: fingerprintOf(blob),
    comment: undefined,
  };
}
